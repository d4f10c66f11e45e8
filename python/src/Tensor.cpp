// dumbtorch._C.Tensor over dt::Tensor: the dtypes, argument conversion, numpy sharing
// (from_numpy / numpy()), data conversion (dt.tensor), queries, Python operators with numbers,
// indexing, autograd state, creation and dt.autograd's entry points. The eager functions and
// methods are bound in TensorFunctions.cpp; Python-level additions (Size, repr, iteration) live in
// python/dumbtorch/tensor.py.
//
// The GIL is released while ops and backward run (run() in TensorArgs.h): arguments are
// converted before, results after. Buffers that wrap numpy arrays drop their reference under the
// GIL from whichever thread frees them.
#include "Bindings.h"
#include "Convert.h"
#include "TensorArgs.h"

#include "frontend/Trace.h"

#include "frontend/TensorOps.h"
#include "ir/Error.h"

#include <pybind11/stl.h>

#include <cstring>

namespace py = pybind11;

using dt::Operand;
using dt::Scalar;
using dt::Tensor;
using dt::ir::DType;
using dt::ir::Shape;

namespace dt::py_bind {

// --- argument conversion --------------------------------------------------------------------

py::module_ numpy() { return py::module_::import("numpy"); }

std::string typeName(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }

bool isTensor(py::handle h) { return py::isinstance<Tensor>(h); }

/// Whether a pybind11 instance holds a constructed C++ object. One made by Type.__new__ without
/// __init__ does not, and pybind11 would hand out a dangling reference to it.
bool constructed(py::handle h) {
  auto *inst = reinterpret_cast<py::detail::instance *>(h.ptr());
  py::detail::value_and_holder vh = inst->get_value_and_holder();
  return vh && vh.holder_constructed() && vh.value_ptr();
}

Tensor &selfTensor(py::handle h) {
  if (!isTensor(h)) throw dt::TypeError(dt::fmt("expected a dumbtorch Tensor, got ", typeName(h)));
  if (!constructed(h)) throw dt::TypeError("a dumbtorch Tensor was used before Tensor.__init__ was called");
  return *h.cast<Tensor *>();
}

const Tensor &argTensor(py::handle h, const char *fn, const char *arg) {
  if (!isTensor(h)) throw dt::TypeError(dt::fmt(fn, "(): argument '", arg, "' must be Tensor, not ", typeName(h)));
  const Tensor &t = selfTensor(h);
  if (!t.defined()) throw dt::ValueError(dt::fmt(fn, "(): argument '", arg, "' is an uninitialized Tensor"));
  return t;
}

/// numpy's scalar types, looked up once (leaked: they live as long as the interpreter).
struct NumpyTypes {
  PyObject *generic, *boolType, *integer, *floating;
};
const NumpyTypes &numpyTypes() {
  static NumpyTypes t = [] {
    py::module_ np = numpy();
    return NumpyTypes{py::object(np.attr("generic")).inc_ref().ptr(), py::object(np.attr("bool_")).inc_ref().ptr(),
                      py::object(np.attr("integer")).inc_ref().ptr(), py::object(np.attr("floating")).inc_ref().ptr()};
  }();
  return t;
}

bool isInstance(py::handle h, PyObject *type) { return PyObject_IsInstance(h.ptr(), type) == 1; }

bool isNumpyInteger(py::handle h) { return isInstance(h, numpyTypes().integer); }

/// A Python (or numpy) number as a wrapped scalar; nullopt for anything else.
std::optional<Scalar> maybeScalar(py::handle h) {
  PyObject *o = h.ptr();
  if (PyBool_Check(o)) return Scalar(o == Py_True);
  if (PyFloat_Check(o)) return Scalar(PyFloat_AS_DOUBLE(o));
  bool npInt = false;
  if (!PyLong_Check(o)) {
    const NumpyTypes &np = numpyTypes();
    if (!isInstance(h, np.generic)) return std::nullopt;
    if (isInstance(h, np.boolType)) return Scalar(PyObject_IsTrue(o) == 1);
    if (isInstance(h, np.floating)) return Scalar(PyFloat_AsDouble(o));
    npInt = isInstance(h, np.integer);
    if (!npInt) return std::nullopt;
  }
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow) throw std::runtime_error(dt::fmt("Overflow when unpacking long: ", std::string(py::str(h))));
  return Scalar(v);
}

std::optional<Operand> maybeOperand(py::handle h) {
  if (isTensor(h)) {
    if (!constructed(h)) return std::nullopt;
    const Tensor &t = *h.cast<const Tensor *>();
    if (!t.defined()) return std::nullopt;
    return Operand(t);
  }
  if (auto s = maybeScalar(h)) return Operand(*s);
  return std::nullopt;
}

Operand argOperand(py::handle h, const char *fn, const char *arg) {
  if (auto o = maybeOperand(h)) return *o;
  throw dt::TypeError(dt::fmt(fn, "(): argument '", arg, "' must be Tensor or Number, not ", typeName(h)));
}

Scalar argScalar(py::handle h, const char *fn, const char *arg) {
  if (auto s = maybeScalar(h)) return *s;
  if (isTensor(h) && constructed(h)) { // a one-element tensor counts as its number (as PyTorch)
    const Tensor &t = selfTensor(h);
    if (t.defined() && t.dim() == 0) {
      py::object v = h.attr("item")();
      if (auto s = maybeScalar(v)) return *s;
    }
  }
  throw dt::TypeError(dt::fmt(fn, "(): argument '", arg, "' must be Number, not ", typeName(h)));
}

int64_t argInt(py::handle h, const char *fn, const char *arg) {
  if (PyBool_Check(h.ptr()) || !(PyLong_Check(h.ptr()) || isNumpyInteger(h) || PyIndex_Check(h.ptr())))
    throw dt::TypeError(dt::fmt(fn, "(): argument '", arg, "' must be int, not ", typeName(h)));
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow) throw dt::ValueError(dt::fmt(fn, "(): argument '", arg, "' is too large: ", std::string(py::str(h))));
  return v;
}

std::vector<int64_t> argInts(py::handle h, const char *fn, const char *arg) {
  if (!PyTuple_Check(h.ptr()) && !PyList_Check(h.ptr()))
    return {argInt(h, fn, arg)};
  std::vector<int64_t> out;
  for (py::handle x : py::reinterpret_borrow<py::sequence>(h)) out.push_back(argInt(x, fn, arg));
  return out;
}

/// A dims argument: None (absent), an int, or a tuple/list of ints.
std::optional<std::vector<int64_t>> argDims(py::handle h, const char *fn) {
  if (h.is_none()) return std::nullopt;
  return argInts(h, fn, "dim");
}

/// Sizes given as varargs ints (t.view(2, 3)) or as one sequence (t.view((2, 3))).
Shape argShape(const py::args &args, const char *fn) {
  if (args.size() == 1 && (PyTuple_Check(args[0].ptr()) || PyList_Check(args[0].ptr())))
    return argInts(args[0], fn, "size");
  Shape s;
  for (py::handle a : args) s.push_back(argInt(a, fn, "size"));
  return s;
}

// --- dtypes ---------------------------------------------------------------------------------

struct DTypeObj {
  DType t;
};

PyObject *gDTypes[4] = {nullptr, nullptr, nullptr, nullptr}; // leaked on purpose: live until exit

const DTypeObj &selfDType(py::handle h) {
  if (!py::isinstance<DTypeObj>(h) || !constructed(h)) throw dt::TypeError("not an initialized dumbtorch dtype");
  return *h.cast<DTypeObj *>();
}

const dt::TapeNode &selfNode(py::handle h) {
  if (!py::isinstance<dt::TapeNode>(h) || !constructed(h)) throw dt::TypeError("not an initialized grad_fn object");
  return *h.cast<dt::TapeNode *>();
}

py::object dtypeObject(DType t) { return py::reinterpret_borrow<py::object>(gDTypes[int(t)]); }

std::string_view publicName(DType t) {
  switch (t) {
  case DType::F32: return "float32";
  case DType::F64: return "float64";
  case DType::I64: return "int64";
  case DType::Bool: return "bool";
  }
  return "?";
}

std::optional<DType> maybeDType(py::handle h) {
  if (py::isinstance<DTypeObj>(h)) return selfDType(h).t;
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyFloat_Type)) return DType::F64;
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyLong_Type)) return DType::I64;
  if (h.ptr() == reinterpret_cast<PyObject *>(&PyBool_Type)) return DType::Bool;
  if (py::isinstance<py::str>(h)) {
    std::string s = h.cast<std::string>();
    for (DType t : dt::ir::kAllDTypes)
      if (s == publicName(t) || s == dt::ir::dtypeName(t)) return t;
    return std::nullopt;
  }
  try { // numpy dtypes and scalar types
    py::dtype d = py::dtype::from_args(py::reinterpret_borrow<py::object>(h));
    for (DType t : dt::ir::kAllDTypes)
      if (d.equal(dt::py_bind::numpyDType(t))) return t;
  } catch (py::error_already_set &) {
  }
  return std::nullopt;
}

std::optional<DType> argDType(py::handle h, const char *fn) {
  if (h.is_none()) return std::nullopt;
  if (auto t = maybeDType(h)) return t;
  throw dt::TypeError(dt::fmt(fn, "(): argument 'dtype' must be a dumbtorch dtype (dumbtorch.float32, float64, int64 "
                              "or bool), not ", std::string(py::repr(h))));
}

// --- autograd -------------------------------------------------------------------------------

std::vector<Tensor> tensorList(py::handle h, const char *fn, const char *arg) {
  std::vector<Tensor> out;
  if (isTensor(h)) {
    out.push_back(argTensor(h, fn, arg));
    return out;
  }
  if (!PyTuple_Check(h.ptr()) && !PyList_Check(h.ptr()))
    throw dt::TypeError(dt::fmt(fn, "(): argument '", arg, "' must be a Tensor or a sequence of Tensors, not ",
                                typeName(h)));
  for (py::handle x : py::reinterpret_borrow<py::sequence>(h)) out.push_back(argTensor(x, fn, arg));
  return out;
}


// --- return types ---------------------------------------------------------------------------

namespace {
PyObject *gMaxType = nullptr, *gMinType = nullptr; // namedtuples (values, indices), leaked on purpose
} // namespace

py::object valuesIndices(bool isMax, std::pair<Tensor, Tensor> r) {
  return py::reinterpret_borrow<py::object>(isMax ? gMaxType : gMinType)(py::cast(std::move(r.first)),
                                                                         py::cast(std::move(r.second)));
}

} // namespace dt::py_bind

using namespace dt::py_bind;

namespace {

// --- numpy ----------------------------------------------------------------------------------

std::optional<DType> numpyToDType(const py::dtype &d) {
  for (DType t : dt::ir::kAllDTypes)
    if (d.equal(dt::py_bind::numpyDType(t))) return t;
  return std::nullopt;
}

bool pythonFinalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

/// Drops a numpy array's reference under the GIL, from whichever thread frees the buffer.
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

/// A contiguous tensor holding a copy of `arr` (of one of our dtypes).
Tensor copyNumpy(const py::array &arr, DType t) {
  // asarray(order="C"), not ascontiguousarray: that one turns a 0-d array into 1-d.
  py::array c = py::reinterpret_steal<py::array>(
      numpy().attr("asarray")(arr, dt::py_bind::numpyDType(t), "C").release());
  Shape shape(c.shape(), c.shape() + c.ndim());
  Tensor out = Tensor::empty(t, shape);
  if (out.numel()) std::memcpy(out.data(), c.data(), size_t(out.numel()) * dt::ir::dtypeSize(t));
  return out;
}

/// dt.from_numpy: a tensor viewing the array's memory (shape and strides kept). Read-only or
/// misaligned arrays are copied (writing through a tensor must never fault).
Tensor shareNumpy(py::handle h) {
  if (!py::isinstance<py::array>(h)) throw dt::TypeError(dt::fmt("expected np.ndarray (got ", typeName(h), ")"));
  py::array arr = py::reinterpret_borrow<py::array>(h);
  std::optional<DType> t = numpyToDType(arr.dtype());
  if (!t)
    throw dt::TypeError(dt::fmt("can't convert np.ndarray of type numpy.", std::string(py::str(arr.dtype())),
                                ". The only supported types are: float64, float32, int64, and bool."));
  int64_t es = int64_t(dt::ir::dtypeSize(*t));
  Shape shape(arr.shape(), arr.shape() + arr.ndim());
  std::vector<int64_t> strides;
  int64_t extent = 1;
  bool empty = dt::ir::numElements(shape) == 0;
  for (py::ssize_t k = 0; k < arr.ndim(); ++k) {
    int64_t s = int64_t(arr.strides(k));
    if (s < 0)
      throw dt::ValueError("At least one stride in the given numpy array is negative, and tensors with negative strides "
                           "are not currently supported. (You can probably work around this by making a copy of your "
                           "array  with array.copy().) ");
    if (s % es)
      throw dt::ValueError("given numpy array strides not a multiple of the element byte size. Copy the numpy array "
                           "to reallocate the memory.");
    strides.push_back(s / es);
    if (!empty) extent += (shape[k] - 1) * (s / es);
  }
  bool aligned = (arr.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
  if (!arr.writeable() || !aligned) return copyNumpy(arr, *t);
  if (empty) return Tensor::empty(*t, shape);
  std::shared_ptr<void> owner(new py::object(arr), releaseWithGIL);
  auto buf = dt::rt::Buffer::wrap(arr.mutable_data(), size_t(extent * es), std::move(owner));
  return Tensor::fromBuffer(*t, shape, std::move(buf), strides, 0);
}

/// t.numpy(): an ndarray sharing the tensor's memory (any strides).
py::array toNumpy(const Tensor &t, bool force) {
  if (t.requiresGrad() && !force)
    throw std::runtime_error("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  py::dtype d = dt::py_bind::numpyDType(t.dtype());
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.numel() == 0) return py::array(d, shape);
  if (force) return py::array(toNumpy(clone(t.detach()), false));
  std::vector<py::ssize_t> strides;
  for (int64_t s : t.strides()) strides.push_back(py::ssize_t(s * int64_t(dt::ir::dtypeSize(t.dtype()))));
  auto *keep = new std::shared_ptr<dt::rt::Buffer>(t.impl().storage);
  py::capsule base(keep, [](void *p) { delete static_cast<std::shared_ptr<dt::rt::Buffer> *>(p); });
  return py::array(d, shape, strides, t.data(), base);
}

/// dt.tensor(data): always a copy. Python bools -> bool, ints -> int64, floats -> float32;
/// numpy arrays keep float64 (other numpy integer types become int64).
Tensor tensorFromData(py::handle data, std::optional<DType> dtype) {
  if (isTensor(data)) {
    const Tensor &src = argTensor(data, "tensor", "data");
    Tensor c = run([&] { return dt::clone(src.detach()); });
    return dtype ? run([&] { return dt::to(c, *dtype); }) : c;
  }
  bool fromNumpy = py::isinstance<py::array>(data) || py::isinstance(data, numpy().attr("generic"));
  py::array arr;
  try {
    arr = py::reinterpret_steal<py::array>(numpy().attr("asarray")(data).release());
  } catch (py::error_already_set &e) {
    if (e.matches(PyExc_ValueError) || e.matches(PyExc_TypeError))
      throw dt::ValueError(dt::fmt("tensor(): could not convert the data (a ", typeName(data), "): ", e.what()));
    throw;
  }
  std::optional<DType> inferred;
  switch (arr.dtype().kind()) {
  case 'b': inferred = DType::Bool; break;
  case 'i':
  case 'u': inferred = DType::I64; break;
  case 'f': inferred = fromNumpy && arr.dtype().itemsize() == 8 ? DType::F64 : DType::F32; break;
  default: break;
  }
  if (!inferred)
    throw dt::TypeError(dt::fmt("tensor(): could not infer the dtype of a ", typeName(data), " (numpy dtype ",
                                std::string(py::str(arr.dtype())), "); expected numbers, bools or nested lists of them"));
  return copyNumpy(arr, dtype.value_or(*inferred));
}

// --- indexing -------------------------------------------------------------------------------

/// A list or array used as an index: an i64 or bool tensor.
Tensor sequenceIndex(py::handle h) {
  py::array arr = py::reinterpret_steal<py::array>(numpy().attr("asarray")(h).release());
  char kind = arr.dtype().kind();
  if (arr.size() == 0) return Tensor::empty(DType::I64, Shape(arr.shape(), arr.shape() + arr.ndim()));
  if (kind == 'b') return copyNumpy(arr, DType::Bool);
  if (kind == 'i' || kind == 'u') return copyNumpy(arr, DType::I64);
  throw dt::IndexError(dt::fmt("tensors used as indices must be long, int, byte or bool tensors (got a ", typeName(h),
                               " of ", std::string(py::str(arr.dtype())), ")"));
}

std::optional<int64_t> sliceBound(PyObject *o) {
  if (o == Py_None) return std::nullopt;
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
  if (!i) {
    PyErr_Clear();
    throw dt::TypeError("slice indices must be integers or None or have an __index__ method");
  }
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow) return v = overflow > 0 ? INT64_MAX : INT64_MIN;
  return v;
}

dt::IndexItem indexItem(py::handle h) {
  if (h.is_none()) return dt::NewAxis{};
  if (h.ptr() == Py_Ellipsis) return dt::EllipsisItem{};
  if (PySlice_Check(h.ptr())) {
    auto *s = reinterpret_cast<PySliceObject *>(h.ptr());
    return dt::Slice{sliceBound(s->start), sliceBound(s->stop), sliceBound(s->step)};
  }
  if (isTensor(h)) return argTensor(h, "index", "indices");
  if (!PyBool_Check(h.ptr()) && (PyLong_Check(h.ptr()) || isNumpyInteger(h))) {
    py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow) throw dt::IndexError(dt::fmt("index ", std::string(py::str(h)), " is out of bounds"));
    return int64_t(v);
  }
  if (PyList_Check(h.ptr()) || py::isinstance<py::array>(h)) return sequenceIndex(h);
  if (py::isinstance<py::str>(h)) // PyTorch: a TypeError for a str, an IndexError for other kinds
    throw dt::TypeError(dt::fmt("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                                "are valid indices (got str)"));
  throw dt::IndexError(dt::fmt("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                               "valid indices (got ", typeName(h), ")"));
}

std::vector<dt::IndexItem> indexItems(py::handle idx) {
  std::vector<dt::IndexItem> items;
  if (PyTuple_Check(idx.ptr())) {
    for (py::handle h : py::reinterpret_borrow<py::tuple>(idx)) items.push_back(indexItem(h));
  } else {
    items.push_back(indexItem(idx));
  }
  return items;
}

// --- scalars out ----------------------------------------------------------------------------

/// `t`, which an op needs the values of (TraceError when it is traced).
const Tensor &valued(const Tensor &t, const char *what) {
  if (dt::traceHidesValue(t.impl())) dt::traceValueNeeded(what);
  return t;
}

py::object itemOf(const Tensor &t) {
  if (t.numel() != 1)
    throw std::runtime_error(dt::fmt("a Tensor with ", t.numel(), " elements cannot be converted to Scalar"));
  Tensor c = run([&] { return dt::clone(t.detach()); });
  switch (t.dtype()) {
  case DType::F32: return py::float_(double(*static_cast<const float *>(c.data())));
  case DType::F64: return py::float_(*static_cast<const double *>(c.data()));
  case DType::I64: return py::int_(*static_cast<const int64_t *>(c.data()));
  case DType::Bool: return py::bool_(*static_cast<const uint8_t *>(c.data()) != 0);
  }
  return py::none();
}

py::object oneElement(const Tensor &t) {
  if (t.numel() != 1) throw dt::ValueError("only one element tensors can be converted to Python scalars");
  return itemOf(t);
}

// --- binding helpers ------------------------------------------------------------------------


/// A Python binary operator: NotImplemented for operands we do not handle.
auto dunder(BinaryFn f, bool reflected) {
  return [f, reflected](py::handle self_h, py::handle other) -> py::object {
    const Tensor &self = selfTensor(self_h);
    std::optional<Operand> o = maybeOperand(other);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Operand me(self);
    return py::cast(run([&] { return reflected ? f(*o, me) : f(me, *o); }));
  };
}

/// An in-place Python operator (+= ...): updates self, returns it.
auto inplaceDunder(Tensor &(*f)(Tensor &, const Operand &)) {
  return [f](py::object self, py::handle other) -> py::object {
    std::optional<Operand> o = maybeOperand(other);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Tensor &t = selfTensor(self);
    run([&] { f(t, *o); });
    return self;
  };
}

} // namespace

void bindTensor(py::module_ &m) {
  bindErrors(m); // registered after Module.cpp's translator, so it is tried first
  bindAnomaly(m);
  // --- dtypes ---------------------------------------------------------------------------------
  py::class_<DTypeObj>(m, "dtype", "A tensor element type: dumbtorch.float32, float64, int64 or bool.")
      .def("__repr__", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return "dumbtorch." + std::string(publicName(d.t));
      })
      .def("__str__", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return "dumbtorch." + std::string(publicName(d.t));
      })
      .def("__reduce__", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return std::string(publicName(d.t));
      })
      .def("__copy__", [](py::object self) { return self; })
      .def("__deepcopy__", [](py::object self, py::handle) { return self; })
      .def("__hash__", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return int(d.t);
      })
      .def_property_readonly("is_floating_point", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return dt::ir::isFloat(d.t);
      })
      .def_property_readonly("itemsize", [](py::handle d_h) {
        const DTypeObj &d = selfDType(d_h);
        return dt::ir::dtypeSize(d.t);
      });
  for (DType t : dt::ir::kAllDTypes) {
    py::object o = py::cast(DTypeObj{t});
    m.attr(std::string(publicName(t)).c_str()) = o;
    gDTypes[int(t)] = o.inc_ref().ptr();
  }

  py::object namedtuple = py::module_::import("collections").attr("namedtuple");
  gMaxType = namedtuple("max", py::make_tuple("values", "indices")).inc_ref().ptr();
  gMinType = namedtuple("min", py::make_tuple("values", "indices")).inc_ref().ptr();
  m.attr("_return_type_max") = py::reinterpret_borrow<py::object>(gMaxType);
  m.attr("_return_type_min") = py::reinterpret_borrow<py::object>(gMinType);

  // --- grad_fn --------------------------------------------------------------------------------
  py::class_<dt::TapeNode, std::shared_ptr<dt::TapeNode>>(m, "Node", "A recorded op (a tensor's grad_fn).")
      .def("name", [](py::handle h) { return selfNode(h).name(); }, "PyTorch-style name, e.g. 'AddBackward0'.")
      .def("__repr__", [](py::handle n_h) {
        const dt::TapeNode &n = selfNode(n_h);
        return "<" + n.name() + " object>";
      })
      .def_property_readonly(
          "next_functions",
          [](py::handle n_h) {
            const dt::TapeNode &n = selfNode(n_h);
            py::list out;
            for (const dt::TapeNode::Input &in : n.inputs)
              out.append(py::make_tuple(in.node ? py::cast(in.node) : py::none(), 0));
            return py::tuple(out);
          },
          "The grad_fn of each operand that has one (None for leaves and constants), as (node, 0).");

  // --- the class ------------------------------------------------------------------------------
  py::class_<Tensor> cls(m, "Tensor", py::dynamic_attr(),
                         "A tensor: storage + shape + strides, a dtype, and autograd state. Create one with "
                         "dumbtorch.tensor / zeros / ...; every op runs a compiled kernel and is recorded for "
                         "backward() when an operand requires grad.");
  cls.def(py::init([](py::args args) {
            if (args.size() == 0) return Tensor::empty(DType::F32, {0});
            if (args.size() == 1 && isTensor(args[0])) return argTensor(args[0], "Tensor", "data").detach();
            if (args.size() == 1 && !PyLong_Check(args[0].ptr())) return tensorFromData(args[0], DType::F32);
            return Tensor::empty(DType::F32, argShape(args, "Tensor"));
          }),
          "Tensor(data) aliases a tensor's storage without history; Tensor(list) makes a float32 copy; "
          "Tensor(*sizes) a zero-filled float32 tensor.");

  // Queries.
  cls.def_property_readonly("dtype", [](py::handle t_h) {
    const Tensor &t = selfTensor(t_h);
    return dtypeObject(t.dtype());
  })
      .def_property_readonly("_shape",
                             [](py::handle t_h) {
                               const Tensor &t = selfTensor(t_h);
                               py::tuple s(t.shape().size());
                               for (size_t i = 0; i < t.shape().size(); ++i) s[i] = py::int_(t.shape()[i]);
                               return s;
                             })
      .def("dim", [](py::handle h) { return selfTensor(h).dim(); })
      .def("ndimension", [](py::handle h) { return selfTensor(h).dim(); })
      .def_property_readonly("ndim", [](py::handle h) { return selfTensor(h).dim(); })
      .def("numel", [](py::handle h) { return selfTensor(h).numel(); })
      .def("nelement", [](py::handle h) { return selfTensor(h).numel(); })
      .def("element_size", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return dt::ir::dtypeSize(t.dtype());
      })
      .def("is_floating_point", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return dt::ir::isFloat(t.dtype());
      })
      .def("is_contiguous", [](py::handle h) { return selfTensor(h).isContiguous(); })
      .def(
          "stride",
          [](py::handle t_h, py::handle dim) -> py::object {
            const Tensor &t = selfTensor(t_h);
            if (dim.is_none()) return py::tuple(py::cast(t.strides()));
            int64_t d = dt::ir::normalizeAxis(argInt(dim, "stride", "dim"), t.dim(), "stride");
            return py::int_(t.dim() ? t.strides()[d] : 1);
          },
          py::arg("dim") = py::none(), "Strides in elements (a tuple, or one dim's).")
      .def("storage_offset", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return t.impl().offset;
      })
      .def(
          "data_ptr", [](py::handle h) { return reinterpret_cast<uintptr_t>(selfTensor(h).data()); },
          "Address of the first element.")
      .def_property_readonly("device", [](py::handle) { return "cpu"; })
      .def("cpu", [](py::object self) { return self; })
      .def(
          "size",
          [](py::handle t_h, py::handle dim) -> py::object {
            const Tensor &t = selfTensor(t_h);
            if (dim.is_none()) return py::module_::import("dumbtorch").attr("Size")(py::cast(t.shape()));
            int64_t d = dt::ir::normalizeAxis(argInt(dim, "size", "dim"), t.dim(), "size");
            if (t.dim() == 0) throw dt::IndexError("size(): a 0-d tensor has no dimensions");
            return py::int_(t.shape()[d]);
          },
          py::arg("dim") = py::none(), "The shape (a dumbtorch.Size), or the size of one dim.");

  // Conversions out.
  cls.def(
         "item", [](py::handle h) { return itemOf(valued(selfTensor(h), "t.item()")); },
         "The value of a one-element tensor as a Python number.")
      .def(
          "numpy", [](py::handle h, bool force) { return toNumpy(valued(selfTensor(h), "t.numpy()"), force); }, py::arg("force") = false,
           "An ndarray sharing this tensor's memory (force=True: a detached copy).")
      .def("__float__", [](py::handle t_h) {
        const Tensor &t = valued(selfTensor(t_h), "float(t)");
        return py::float_(oneElement(t));
      })
      .def("__int__", [](py::handle t_h) {
        const Tensor &t = valued(selfTensor(t_h), "int(t)");
        return py::int_(oneElement(t));
      })
      .def("__index__",
           [](py::handle t_h) {
             const Tensor &t = valued(selfTensor(t_h), "using a tensor as an index");
             if (t.numel() != 1 || dt::ir::isFloat(t.dtype()))
               throw dt::TypeError("only integer tensors of a single element can be converted to an index");
             return py::int_(itemOf(t));
           })
      .def("__bool__",
           [](py::handle t_h) {
             const Tensor &t = valued(selfTensor(t_h), "bool(t) (an `if`/`while` on a tensor, `and`/`or`/`not`)");
             if (t.numel() == 0) throw std::runtime_error("Boolean value of Tensor with no values is ambiguous");
             if (t.numel() > 1) throw std::runtime_error("Boolean value of Tensor with more than one value is ambiguous");
             return bool(PyObject_IsTrue(itemOf(t).ptr()));
           })
      .def("__len__",
           [](py::handle t_h) {
             const Tensor &t = selfTensor(t_h);
             if (t.dim() == 0) throw dt::TypeError("len() of a 0-d tensor");
             return t.shape()[0];
           })
      .def("__hash__", [](py::handle self) { return py::hash(py::int_(reinterpret_cast<uintptr_t>(self.ptr()))); });
  // (python/dumbtorch/tensor.py replaces this __hash__ with object.__hash__: the same identity
  // hash without the pybind11 call.)

  // Autograd state.
  cls.def_property(
         "requires_grad", [](py::handle t_h) {
           const Tensor &t = selfTensor(t_h);
           return t.requiresGrad();
         },
         [](py::handle t_h, bool on) {
           Tensor &t = selfTensor(t_h);
           t.setRequiresGrad(on);
         })
      .def(
          "requires_grad_",
          [](py::object self, bool on) {
            selfTensor(self).setRequiresGrad(on);
            return self;
          },
          py::arg("requires_grad") = true)
      .def_property(
          "grad",
          [](py::handle t_h) -> py::object {
            const Tensor &t = selfTensor(t_h);
            Tensor g = t.grad();
            return g.defined() ? py::cast(g) : py::none();
          },
          [](py::handle t_h, py::handle g) {
            Tensor &t = selfTensor(t_h);
            if (g.is_none()) t.setGrad(Tensor());
            else t.setGrad(argTensor(g, "grad", "value"));
          })
      .def_property_readonly("grad_fn",
                             [](py::handle t_h) -> py::object {
                               const Tensor &t = selfTensor(t_h);
                               return t.gradFn() ? py::cast(t.gradFn()) : py::none();
                             })
      .def_property_readonly("is_leaf", [](py::handle h) { return selfTensor(h).isLeaf(); })
      .def_property_readonly("_traced", [](py::handle h) { return dt::traceHidesValue(selfTensor(h).impl()); },
                             "Whether reading this tensor's values now is refused (inside dt.compile's trace, "
                             "every tensor the trace did not create)")
      .def_property(
          "data", [](py::handle t_h) {
            const Tensor &t = selfTensor(t_h);
            return t.detach();
          },
          [](py::handle t_h, py::handle v) {
            Tensor &t = selfTensor(t_h);
            const Tensor &src = argTensor(v, "data", "value");
            dt::TensorImpl &ti = t.impl();
            ti.storage = src.impl().storage;
            ti.dtype = src.dtype();
            ti.shape = src.shape();
            ti.strides = src.strides();
            ti.offset = src.impl().offset;
          },
          "The tensor without history (sharing storage); assigning replaces the contents.")
      .def("detach", [](py::handle h) { return selfTensor(h).detach(); }, "A tensor sharing storage, without autograd history.")
      .def(
          "detach_",
          [](py::object self) {
            Tensor &t = selfTensor(self);
            t.impl().gradFn = nullptr;
            t.impl().requiresGrad = false;
            return self;
          })
      .def(
          "backward",
          [](py::handle t_h, py::handle gradient, py::handle retain, bool create) {
            const Tensor &t = selfTensor(t_h);
            Tensor g = gradient.is_none() ? Tensor() : argTensor(gradient, "backward", "gradient");
            std::optional<bool> r = retain.is_none() ? std::nullopt : std::optional<bool>(PyObject_IsTrue(retain.ptr()) == 1);
            if (create && PyErr_WarnEx(PyExc_UserWarning,
                                       "Using backward() with create_graph=True will create a reference cycle between the "
                                       "parameter and its gradient which can cause a memory leak. We recommend using "
                                       "autograd.grad when creating the graph to avoid this. If you have to use this "
                                       "function, make sure to reset the .grad fields of your parameters to None after "
                                       "use to break the cycle and avoid the leak. (as PyTorch)",
                                       1) != 0)
              throw py::error_already_set(); // warnings turned into errors
            run([&] { dt::backward(t, g, r, create); });
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = py::none(), py::arg("create_graph") = false,
          "Accumulates gradients into the .grad of the leaves (PyTorch's backward()).");

  // Operators.
  cls.def("__add__", dunder(&dt::add, false), py::is_operator())
      .def("__radd__", dunder(&dt::add, true), py::is_operator())
      .def("__sub__", dunder(&dt::sub, false), py::is_operator())
      .def("__rsub__", dunder(&dt::sub, true), py::is_operator())
      .def("__mul__", dunder(&dt::mul, false), py::is_operator())
      .def("__rmul__", dunder(&dt::mul, true), py::is_operator())
      .def("__truediv__", dunder(&dt::div, false), py::is_operator())
      .def("__rtruediv__", dunder(&dt::div, true), py::is_operator())
      .def("__floordiv__", dunder(&dt::floorDivide, false), py::is_operator())
      .def("__rfloordiv__", dunder(&dt::floorDivide, true), py::is_operator())
      .def("__mod__", dunder(&dt::remainder, false), py::is_operator())
      .def("__rmod__", dunder(&dt::remainder, true), py::is_operator())
      .def("__pow__", dunder(&dt::pow, false), py::is_operator())
      .def("__rpow__", dunder(&dt::pow, true), py::is_operator())
      .def("__and__", dunder(&dt::logicalAnd, false), py::is_operator())
      .def("__rand__", dunder(&dt::logicalAnd, true), py::is_operator())
      .def("__or__", dunder(&dt::logicalOr, false), py::is_operator())
      .def("__ror__", dunder(&dt::logicalOr, true), py::is_operator())
      .def("__xor__", dunder(&dt::logicalXor, false), py::is_operator())
      .def("__rxor__", dunder(&dt::logicalXor, true), py::is_operator())
      .def("__eq__", dunder(&dt::eq, false), py::is_operator())
      .def("__ne__", dunder(&dt::ne, false), py::is_operator())
      .def("__lt__", dunder(&dt::lt, false), py::is_operator())
      .def("__le__", dunder(&dt::le, false), py::is_operator())
      .def("__gt__", dunder(&dt::gt, false), py::is_operator())
      .def("__ge__", dunder(&dt::ge, false), py::is_operator())
      .def("__iadd__", inplaceDunder(&dt::add_), py::is_operator())
      .def("__isub__", inplaceDunder(&dt::sub_), py::is_operator())
      .def("__imul__", inplaceDunder(&dt::mul_), py::is_operator())
      .def("__itruediv__", inplaceDunder(&dt::div_), py::is_operator())
      .def(
          "__matmul__",
          [](py::handle a_h, py::handle b) -> py::object {
            const Tensor &a = selfTensor(a_h);
            if (!isTensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
            const Tensor &bt = argTensor(b, "matmul", "other");
            return py::cast(run([&] { return dt::matmul(a, bt); }));
          },
          py::is_operator())
      .def(
          "__rmatmul__",
          [](py::handle b_h, py::handle a) -> py::object {
            const Tensor &b = selfTensor(b_h);
            if (!isTensor(a)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
            const Tensor &at = argTensor(a, "matmul", "other");
            return py::cast(run([&] { return dt::matmul(at, b); }));
          },
          py::is_operator())
      .def("__neg__", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return run([&] { return dt::neg(t); });
      })
      .def("__pos__", [](py::object self) { return self; })
      .def("__abs__", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return run([&] { return dt::abs(t); });
      })
      .def("__invert__", [](py::handle t_h) {
        const Tensor &t = selfTensor(t_h);
        return run([&] { return dt::logicalNot(t); });
      });

  // Indexing.
  cls.def(
         "__getitem__",
         [](py::handle t_h, py::handle idx) {
           const Tensor &t = selfTensor(t_h);
           std::vector<dt::IndexItem> items = indexItems(idx);
           return run([&] { return dt::index(t, items); });
         })
      .def("__setitem__", [](py::handle t_h, py::handle idx, py::handle value) {
        Tensor &t = selfTensor(t_h);
        std::vector<dt::IndexItem> items = indexItems(idx);
        std::optional<Operand> v = maybeOperand(value);
        Tensor converted;
        if (!v) {
          if (!(PyList_Check(value.ptr()) || PyTuple_Check(value.ptr()) || py::isinstance<py::array>(value)))
            throw dt::TypeError(dt::fmt("can't assign a ", typeName(value), " to a Tensor"));
          converted = tensorFromData(value, t.dtype());
          v = Operand(converted);
        }
        run([&] { dt::indexPut(t, items, *v); });
      });

  bindTensorFunctions(m, cls);

  // --- creation -------------------------------------------------------------------------------
  m.def(
      "_tensor", [](py::handle data, py::handle dtype) { return tensorFromData(data, argDType(dtype, "tensor")); },
      py::arg("data"), py::arg("dtype") = py::none());
  m.def("from_numpy", &shareNumpy, py::arg("ndarray"),
        "A tensor sharing the ndarray's memory (float32, float64, int64 or bool; non-negative strides).");
  m.def(
      "_full",
      [](py::handle shape, py::handle value, py::handle dtype) {
        Shape s = argInts(shape, "full", "size");
        Scalar v = argScalar(value, "full", "fill_value");
        auto d = argDType(dtype, "full");
        return run([&] { return dt::full(s, v, d); });
      },
      py::arg("size"), py::arg("fill_value"), py::arg("dtype") = py::none());
  m.def(
      "_arange",
      [](py::handle start, py::handle end, py::handle step, py::handle dtype) {
        Scalar a = argScalar(start, "arange", "start"), b = argScalar(end, "arange", "end"),
               c = argScalar(step, "arange", "step");
        auto d = argDType(dtype, "arange");
        return run([&] { return dt::arange(a, b, c, d); });
      },
      py::arg("start"), py::arg("end"), py::arg("step"), py::arg("dtype") = py::none());
  m.def(
      "_linspace",
      [](py::handle start, py::handle end, py::handle steps, py::handle dtype) {
        double a = argScalar(start, "linspace", "start").v, b = argScalar(end, "linspace", "end").v;
        int64_t n = argInt(steps, "linspace", "steps");
        DType d = argDType(dtype, "linspace").value_or(DType::F32);
        return run([&] { return dt::linspace(a, b, n, d); });
      },
      py::arg("start"), py::arg("end"), py::arg("steps"), py::arg("dtype") = py::none());
  m.def(
      "_eye",
      [](py::handle n, py::handle mm, py::handle dtype) {
        int64_t rows = argInt(n, "eye", "n");
        int64_t cols = mm.is_none() ? -1 : argInt(mm, "eye", "m");
        if (cols < -1) throw std::runtime_error(dt::fmt("m must be greater or equal to 0, got ", cols));
        DType d = argDType(dtype, "eye").value_or(DType::F32);
        return run([&] { return dt::eye(rows, cols, d); });
      },
      py::arg("n"), py::arg("m") = py::none(), py::arg("dtype") = py::none());
  m.def(
      "result_type",
      [](py::handle a, py::handle b) {
        return dtypeObject(dt::resultType({argOperand(a, "result_type", "tensor1"), argOperand(b, "result_type", "tensor2")}));
      },
      py::arg("tensor1"), py::arg("tensor2"), "The dtype PyTorch's type promotion gives these operands.");
  m.def(
      "promote_types",
      [](py::handle a, py::handle b) {
        return dtypeObject(dt::promoteTypes(*argDType(a, "promote_types"), *argDType(b, "promote_types")));
      },
      py::arg("type1"), py::arg("type2"));
  m.def(
      "can_cast", [](py::handle a, py::handle b) { return dt::canCast(*argDType(a, "can_cast"), *argDType(b, "can_cast")); },
      py::arg("from_"), py::arg("to"));

  // --- autograd -------------------------------------------------------------------------------
  m.def("is_grad_enabled", &dt::gradEnabled, "Whether ops are recorded for backward().");
  m.def("_set_grad_enabled", &dt::setGradEnabled, py::arg("mode"));
  m.def(
      "_grad",
      [](py::handle outputs, py::handle inputs, py::handle gradOutputs, py::handle retain, bool create,
         bool allowUnused) {
        std::vector<Tensor> outs = tensorList(outputs, "grad", "outputs");
        std::vector<Tensor> ins = tensorList(inputs, "grad", "inputs");
        std::vector<Tensor> gos;
        if (!gradOutputs.is_none()) {
          py::sequence seq = isTensor(gradOutputs) ? py::sequence(py::make_tuple(gradOutputs))
                                                   : py::reinterpret_borrow<py::sequence>(gradOutputs);
          if (!PyTuple_Check(seq.ptr()) && !PyList_Check(seq.ptr()))
            throw dt::TypeError(dt::fmt("grad(): grad_outputs must be a Tensor or a sequence, not ", typeName(gradOutputs)));
          for (py::handle g : seq) gos.push_back(g.is_none() ? Tensor() : argTensor(g, "grad", "grad_outputs"));
          if (gos.size() != outs.size())
            throw dt::ValueError(dt::fmt("grad(): got ", gos.size(), " grad_outputs for ", outs.size(), " outputs"));
        }
        bool r = retain.is_none() ? create : PyObject_IsTrue(retain.ptr()) == 1;
        std::vector<Tensor> gs = run([&] { return dt::grad(outs, ins, gos, r, create, allowUnused); });
        py::tuple out(gs.size());
        for (size_t i = 0; i < gs.size(); ++i) out[i] = gs[i].defined() ? py::cast(gs[i]) : py::none();
        return out;
      },
      py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs") = py::none(), py::arg("retain_graph") = py::none(),
      py::arg("create_graph") = false, py::arg("allow_unused") = false);
  m.def("_autograd_stats", [] {
    dt::AutogradStats s = dt::autogradStats();
    py::dict d;
    d["backward_compiles"] = s.backwardCompiles;
    d["backward_cache_hits"] = s.backwardCacheHits;
    d["eager_kernel_compiles"] = s.eagerKernelCompiles;
    d["eager_kernel_hits"] = s.eagerKernelHits;
    return d;
  });
  m.def("_live_buffers", &dt::rt::Buffer::liveCount, "Buffers allocated by the runtime and not yet freed.");
}
