// numpy <-> dt::Array: the checks and the zero-copy wrapping promised in Convert.h.
#include "Convert.h"

#include "ir/Error.h"

#include <cstring>

namespace dt::py_bind {

namespace {

std::string_view numpyName(ir::DType t) {
  switch (t) {
  case ir::DType::F32: return "float32";
  case ir::DType::F64: return "float64";
  case ir::DType::I64: return "int64";
  case ir::DType::Bool: return "bool";
  }
  DT_ASSERT(false, "unhandled dtype");
}

py::module_ numpy() { return py::module_::import("numpy"); }

bool pythonFinalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

/// The deleter of a wrapped ndarray's owner: drops the reference under the GIL, from whatever
/// thread releases the last rt::Buffer (a kernel thread, or code that released the GIL).
void releaseWithGIL(void *p) {
  auto *obj = static_cast<py::object *>(p);
  if (!Py_IsInitialized() || pythonFinalizing()) {
    obj->release(); // too late to touch Python objects: leak the reference
    delete obj;
    return;
  }
  py::gil_scoped_acquire gil;
  delete obj;
}

/// An Array viewing a C-contiguous, aligned ndarray of exactly type `t`; it keeps `arr` alive.
Array wrapNoCopy(const py::array &arr, const ir::Type &t) {
  void *data = const_cast<void *>(arr.data()); // inputs are only read, so read-only arrays are fine
  std::shared_ptr<void> owner(new py::object(arr), releaseWithGIL);
  return Array{t, rt::Buffer::wrap(data, t.bytes(), std::move(owner))};
}

std::string shapeOf(const py::array &arr) {
  ir::Shape s;
  for (py::ssize_t k = 0; k < arr.ndim(); ++k) s.push_back(int64_t(arr.shape(k)));
  return ir::shapeStr(s);
}

/// Python scalars and (nested) lists: converted to the input's dtype when that loses no kind
/// (ints or bools into floats, bools into ints), never from floats into ints or bools.
py::array fromPythonValue(py::handle obj, const ir::Type &want, const std::string &where) {
  py::array a;
  try {
    a = py::reinterpret_steal<py::array>(numpy().attr("asarray")(obj).release());
  } catch (py::error_already_set &e) {
    throw ValueError(fmt(where, " expects ", want.str(), ", got a ", Py_TYPE(obj.ptr())->tp_name,
                         " that numpy cannot convert: ", e.what()));
  }
  char kind = a.dtype().kind();
  bool ok = false;
  switch (want.dtype) {
  case ir::DType::F32:
  case ir::DType::F64: ok = kind == 'b' || kind == 'i' || kind == 'u' || kind == 'f'; break;
  case ir::DType::I64: ok = kind == 'b' || kind == 'i'; break;
  case ir::DType::Bool: ok = kind == 'b'; break;
  }
  if (!ok)
    throw TypeError(fmt(where, " expects ", want.str(), " (numpy ", numpyName(want.dtype), "), got a Python ",
                        Py_TYPE(obj.ptr())->tp_name, " of ", std::string(py::str(a.dtype()))));
  return py::reinterpret_steal<py::array>(a.attr("astype")(numpyDType(want.dtype)).release());
}

Array toArray(py::handle obj, const ir::Value &in, size_t index, const std::string &who) {
  const ir::Type &want = in.type;
  std::string where = fmt(who, ": input ", index, " (%", in.name, ")");
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else if (py::isinstance(obj, numpy().attr("generic"))) {
    arr = py::reinterpret_steal<py::array>(numpy().attr("asarray")(obj).release()); // np.float32(1) etc.
  } else if (PyBool_Check(obj.ptr()) || PyLong_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) ||
             PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
    arr = fromPythonValue(obj, want, where);
  } else {
    throw TypeError(fmt(where, " expects a numpy array of ", want.str(), " (numpy ", numpyName(want.dtype), "), got ",
                        Py_TYPE(obj.ptr())->tp_name));
  }

  if (!arr.dtype().equal(numpyDType(want.dtype)))
    throw TypeError(fmt(where, " expects ", want.str(), " (numpy ", numpyName(want.dtype), "), got a ",
                        std::string(py::str(arr.dtype())), " array of shape ", shapeOf(arr)));
  bool sameShape = arr.ndim() == want.rank();
  for (py::ssize_t k = 0; sameShape && k < arr.ndim(); ++k) sameShape = int64_t(arr.shape(k)) == want.shape[k];
  if (!sameShape)
    throw ValueError(fmt(where, " expects ", want.str(), ", got ", ir::dtypeName(want.dtype), shapeOf(arr)));

  auto contiguous = [](const py::array &a) { return (a.flags() & py::array::c_style) != 0; };
  auto aligned = [](const py::array &a) { return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0; };
  if (!contiguous(arr) || !aligned(arr)) {
    arr = py::reinterpret_steal<py::array>(numpy().attr("ascontiguousarray")(arr).release());
    if (!aligned(arr)) arr = py::reinterpret_steal<py::array>(arr.attr("copy")().release());
  }
  DT_ASSERT(contiguous(arr) && aligned(arr) && size_t(arr.nbytes()) == want.bytes(), where,
            ": conversion did not produce a contiguous array of ", want.str());
  return wrapNoCopy(arr, want);
}

} // namespace

py::dtype numpyDType(ir::DType t) {
  switch (t) {
  case ir::DType::F32: return py::dtype::of<float>();
  case ir::DType::F64: return py::dtype::of<double>();
  case ir::DType::I64: return py::dtype::of<int64_t>();
  case ir::DType::Bool: return py::dtype::of<bool>();
  }
  DT_ASSERT(false, "unhandled dtype");
}

std::vector<Array> toArrays(const ir::Graph &g, const py::args &args, const std::string &who) {
  if (args.size() != g.inputs.size()) {
    std::string list;
    for (size_t i = 0; i < g.inputs.size(); ++i)
      list += fmt(i ? ", " : "", "%", g.inputs[i]->name, ": ", g.inputs[i]->type.str());
    throw ValueError(fmt(who, ": expects ", g.inputs.size(), " input", g.inputs.size() == 1 ? "" : "s", " (", list,
                         "), got ", args.size()));
  }
  std::vector<Array> out;
  out.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) out.push_back(toArray(args[i], *g.inputs[i], i, who));
  return out;
}

py::array toNumpy(const Array &a) {
  const ir::Type &t = a.type;
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  if (t.numel() == 0) return py::array(numpyDType(t.dtype), shape); // nothing to view
  DT_ASSERT(a.buffer && a.buffer->size() == t.bytes(), "output array of ", t.str(), " has no matching buffer");
  std::vector<py::ssize_t> strides;
  for (int64_t s : ir::contiguousStrides(t.shape)) strides.push_back(py::ssize_t(s * int64_t(ir::dtypeSize(t.dtype))));
  // The capsule owns a reference to the buffer; the ndarray (writable) keeps the capsule as base.
  auto *keep = new std::shared_ptr<rt::Buffer>(a.buffer);
  py::capsule base(keep, [](void *p) { delete static_cast<std::shared_ptr<rt::Buffer> *>(p); });
  return py::array(numpyDType(t.dtype), shape, strides, a.buffer->data(), base);
}

py::list toNumpyList(const std::vector<Array> &arrays) {
  py::list out;
  for (const Array &a : arrays) out.append(toNumpy(a));
  return out;
}

} // namespace dt::py_bind
