// dumbtorch._C._Trace: the C++ trace (frontend/Trace.h) that dumbtorch.compiler drives — begin,
// bind the arguments, call the Python function, end, compile, run — dumbtorch.TraceError, and
// _fast_call: a compiled function's repeat call (signature, guards, run, results) in one C call.
#include "Bindings.h"
#include "TensorArgs.h"

#include "frontend/Trace.h"
#include "ir/Error.h"

#include <pybind11/stl.h>

#include <cstring>

namespace py = pybind11;
using dt::Tensor;
using dt::Trace;

namespace {

/// One tensor argument's part of a signature (as _signature describes it).
struct ArgSig {
  dt::ir::DType dtype;
  dt::ir::Shape shape;
  bool requiresGrad;
  size_t first; ///< the index of an earlier argument that is the same object, else its own
};

/// One guard of a compiled function's entry (dumbtorch.compiler): a getter and its value at trace
/// time, and for the fixed forms (guard_values, guard_identities, guard_nested_identities) what a
/// check in C++ needs. A fixed form whose objects are not the plain types it knows is checked
/// through its getter, so the result is always the getter's.
struct Guard {
  enum class Kind { Getter, Values, Identities, NestedIdentities };
  Kind kind = Kind::Getter;
  py::object getter, value;
  py::object mapping, key;        ///< the dict (NestedIdentities: its owner); the key of the sequence (its attribute)
  std::vector<py::object> keys;   ///< Values, NestedIdentities
  Py_ssize_t length = 0;          ///< Values: len(mapping)
  std::vector<py::object> values; ///< Values: mapping.get(k) for each key
  std::vector<uintptr_t> ids;     ///< Identities, NestedIdentities: the objects' ids
};

PyTypeObject *defaultDictType() {
  static PyTypeObject *t = reinterpret_cast<PyTypeObject *>(
      py::object(py::module_::import("collections").attr("defaultdict")).release().ptr()); // leaked: lives until exit
  return t;
}

/// A dict whose get() is dict.get (a dict, or a collections.defaultdict).
bool plainDict(PyObject *o) { return PyDict_CheckExact(o) || Py_TYPE(o) == defaultDictType(); }

/// mapping.get(key) as a new reference (None when absent); null when the lookup raised (cleared).
PyObject *dictGet(PyObject *mapping, PyObject *key) {
  PyObject *v = PyDict_GetItemWithError(mapping, key);
  if (!v) {
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return nullptr;
    }
    v = Py_None;
  }
  Py_INCREF(v);
  return v;
}

/// 1: the guard holds, 0: it failed, -1: not a form checked here (ask the getter).
int checkNative(const Guard &g) {
  PyObject *d = g.mapping.ptr();
  switch (g.kind) {
  case Guard::Kind::Getter: return -1;
  case Guard::Kind::Values: {
    if (!plainDict(d)) return -1;
    if (PyDict_GET_SIZE(d) != g.length) return 0;
    for (size_t i = 0; i < g.keys.size(); ++i) {
      PyObject *v = dictGet(d, g.keys[i].ptr());
      if (!v) return 0;
      int changed = PyObject_RichCompareBool(v, g.values[i].ptr(), Py_NE); // as the getter's tuple compares
      Py_DECREF(v);
      if (changed != 0) {
        if (changed < 0) PyErr_Clear();
        return 0;
      }
    }
    return 1;
  }
  case Guard::Kind::Identities: {
    if (!plainDict(d)) return -1;
    PyObject *seq = dictGet(d, g.key.ptr());
    if (!seq || seq == Py_None) { // the getter raises (KeyError, or iterating None): a failed guard
      Py_XDECREF(seq);
      return 0;
    }
    int r = -1;
    if (PyList_CheckExact(seq) || PyTuple_CheckExact(seq)) {
      Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
      PyObject **items = PySequence_Fast_ITEMS(seq);
      r = size_t(n) == g.ids.size() ? 1 : 0;
      for (Py_ssize_t i = 0; r == 1 && i < n; ++i)
        if (reinterpret_cast<uintptr_t>(items[i]) != g.ids[size_t(i)]) r = 0;
    }
    Py_DECREF(seq);
    return r;
  }
  case Guard::Kind::NestedIdentities: {
    py::object owned = py::reinterpret_steal<py::object>(PyObject_GetAttr(g.mapping.ptr(), g.key.ptr()));
    if (!owned) { // the getter raises: a failed guard
      PyErr_Clear();
      return 0;
    }
    d = owned.ptr();
    if (!plainDict(d)) return -1;
    size_t at = 0;
    for (const py::object &k : g.keys) {
      PyObject *inner = dictGet(d, k.ptr());
      if (!inner) return 0;
      if (!PyDict_CheckExact(inner)) { // None (the getter raises: a failed guard) or another type
        bool none = inner == Py_None;
        Py_DECREF(inner);
        return none ? 0 : -1;
      }
      Py_ssize_t pos = 0;
      PyObject *key, *value;
      bool same = true;
      while (same && PyDict_Next(inner, &pos, &key, &value)) {
        same = at < g.ids.size() && reinterpret_cast<uintptr_t>(value) == g.ids[at];
        ++at;
      }
      Py_DECREF(inner);
      if (!same) return 0;
    }
    return at == g.ids.size() ? 1 : 0;
  }
  }
  return -1;
}

/// Whether the guard holds now: checked in C++ when it can be, else by calling its getter.
bool guardHolds(const Guard &g) {
  if (int r = checkNative(g); r >= 0) return r == 1;
  PyObject *now = PyObject_CallNoArgs(g.getter.ptr());
  if (!now) { // a guard that cannot be read fails; the full path reports it
    PyErr_Clear();
    return false;
  }
  int changed = PyObject_RichCompareBool(now, g.value.ptr(), Py_NE);
  Py_DECREF(now);
  if (changed < 0) PyErr_Clear();
  return changed == 0;
}

/// The Guard of one entry of a compiled entry's guard list: (getter, value, description, spec).
Guard makeGuard(py::handle entry) {
  auto t = py::reinterpret_borrow<py::tuple>(entry);
  Guard g;
  g.getter = t[0];
  g.value = t[1];
  if (t.size() < 4 || t[3].is_none()) return g;
  auto spec = py::reinterpret_borrow<py::tuple>(t[3]);
  std::string form = spec[0].cast<std::string>();
  g.mapping = spec[1];
  auto ids = [&] {
    for (py::handle id : py::reinterpret_borrow<py::tuple>(g.value)) g.ids.push_back(uintptr_t(PyLong_AsVoidPtr(id.ptr())));
    if (PyErr_Occurred()) throw py::error_already_set();
  };
  if (form == "values") {
    g.kind = Guard::Kind::Values;
    for (py::handle k : py::reinterpret_borrow<py::tuple>(spec[2])) g.keys.push_back(py::reinterpret_borrow<py::object>(k));
    auto v = py::reinterpret_borrow<py::tuple>(g.value);
    g.length = v[0].cast<Py_ssize_t>();
    for (size_t i = 1; i < v.size(); ++i) g.values.push_back(v[i]);
    if (g.values.size() != g.keys.size()) throw dt::ValueError("guard_values: the value does not match the keys");
  } else if (form == "identities") {
    g.kind = Guard::Kind::Identities;
    g.key = spec[2];
    ids();
  } else if (form == "nested_identities") {
    g.kind = Guard::Kind::NestedIdentities;
    g.key = spec[3];
    for (py::handle k : py::reinterpret_borrow<py::tuple>(spec[2])) g.keys.push_back(py::reinterpret_borrow<py::object>(k));
    ids();
  } else {
    throw dt::ValueError("unknown guard form '" + form + "'");
  }
  return g;
}

/// The state of one `_fast_call` function: what the last positional-tensor call of a compiled
/// function was (its signature, the entry's Python guards and trace) and how to hand back the
/// results. Owned by the capsule that is the function's `self`.
struct FastCall {
  py::object traceObj; ///< the _Trace (keeps `trace` alive)
  Trace *trace = nullptr;
  std::vector<ArgSig> sig;
  std::vector<Guard> guards;
  py::object unflatten;                                  ///< None: the one result itself
  py::object miss;                                       ///< returned when the call is not this one's
  PyTypeObject *tensorType = nullptr;                    ///< exactly _C.Tensor (as the Python fast path)
  int64_t hits = 0;
};

constexpr const char *kFastCallCapsule = "dumbtorch._FastCall";

/// The tensor of `o` when `o` is exactly a constructed, defined `type` instance; else null.
const Tensor *exactTensor(PyObject *o, PyTypeObject *type) {
  if (Py_TYPE(o) != type) return nullptr;
  auto *inst = reinterpret_cast<py::detail::instance *>(o);
  py::detail::value_and_holder vh = inst->get_value_and_holder();
  if (!vh || !vh.holder_constructed() || !vh.value_ptr()) return nullptr;
  const auto *t = static_cast<const Tensor *>(vh.value_ptr());
  return t->defined() ? t : nullptr;
}

/// The `first` entry of _signature for argument i: the last earlier index holding the same object.
size_t firstOccurrence(PyObject *const *items, size_t i) {
  size_t first = i;
  for (size_t k = 0; k < i; ++k)
    if (items[k] == items[i]) first = k;
  return first;
}

PyObject *newRef(const py::object &o) {
  Py_INCREF(o.ptr());
  return o.ptr();
}

/// fast(args_tuple): runs the compiled program when `args` has the recorded signature and every
/// guard holds (Python guards, then the trace's own); else returns the miss sentinel without any
/// effect, and the caller takes the full path (which finds out why, retraces, ...).
PyObject *fastCallImpl(PyObject *self, PyObject *const *argv, Py_ssize_t nargs) {
  auto *f = static_cast<FastCall *>(PyCapsule_GetPointer(self, kFastCallCapsule));
  if (!f) return nullptr;
  if (nargs != 1 || !PyTuple_Check(argv[0])) {
    PyErr_SetString(PyExc_TypeError, "_fast_call expects one tuple of arguments");
    return nullptr;
  }
  if (dt::activeTrace()) return newRef(f->miss); // called inside a trace: the caller inlines it
  PyObject *tuple = argv[0];
  const size_t n = size_t(PyTuple_GET_SIZE(tuple));
  if (n != f->sig.size()) return newRef(f->miss);
  PyObject *const *items = &PyTuple_GET_ITEM(tuple, 0);
  constexpr size_t kLocal = 16;
  const Tensor *local[kLocal];
  std::vector<const Tensor *> heap;
  const Tensor **args = local;
  if (n > kLocal) {
    heap.resize(n);
    args = heap.data();
  }
  for (size_t i = 0; i < n; ++i) {
    const Tensor *t = exactTensor(items[i], f->tensorType);
    if (!t) return newRef(f->miss);
    const ArgSig &s = f->sig[i];
    const dt::TensorImpl &ti = t->impl();
    if (ti.dtype != s.dtype || ti.requiresGrad != s.requiresGrad || ti.shape != s.shape ||
        firstOccurrence(items, i) != s.first)
      return newRef(f->miss);
    args[i] = t;
  }
  for (const Guard &g : f->guards)
    if (!guardHolds(g)) return newRef(f->miss);
  try {
    if (!f->trace->checkGuards().empty()) return newRef(f->miss);
    std::vector<Tensor> outs;
    {
      py::gil_scoped_release nogil;
      outs = f->trace->run(std::span<const Tensor *const>(args, n));
    }
    ++f->hits;
    if (f->unflatten.is_none()) return py::cast(std::move(outs.at(0))).release().ptr();
    py::list results(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) results[i] = py::cast(std::move(outs[i]));
    return f->unflatten(results).release().ptr();
  } catch (py::error_already_set &e) {
    e.restore();
    return nullptr;
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

PyMethodDef gFastCallDef = {"compiled_fast_call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fastCallImpl)),
                            METH_FASTCALL, "A compiled function's repeat call (dumbtorch.compiler)."};

FastCall &fastCallOf(py::handle fn) {
  py::object self = py::getattr(fn, "__self__", py::none());
  auto *f = PyCapsule_IsValid(self.ptr(), kFastCallCapsule)
                ? static_cast<FastCall *>(PyCapsule_GetPointer(self.ptr(), kFastCallCapsule))
                : nullptr;
  if (!f) throw dt::TypeError("not a _fast_call function");
  return *f;
}

} // namespace

void bindTrace(py::module_ &m) {
  py::register_exception<dt::TraceError>(m, "TraceError", PyExc_RuntimeError);

  m.attr("_default_passes") = dt::kCompilePipeline;
  m.def(
      "_value_needed", [](const std::string &what) { dt::traceValueNeeded(what); },
      "Raises TraceError: `what` needs a traced tensor's value.");
  m.def(
      "_signature",
      [](py::sequence tensors) {
        // One entry per tensor: (dtype, shape..., requires_grad, index of its first occurrence).
        py::tuple out(tensors.size());
        std::vector<PyObject *> seen;
        for (size_t i = 0; i < tensors.size(); ++i) {
          py::handle h = tensors[i];
          const Tensor &t = dt::py_bind::argTensor(h, "compile", "argument");
          size_t first = i;
          for (size_t k = 0; k < seen.size(); ++k)
            if (seen[k] == h.ptr()) first = k;
          seen.push_back(h.ptr());
          py::tuple d(t.dim() + 3);
          d[0] = py::str(dt::ir::dtypeName(t.dtype()));
          for (int64_t k = 0; k < t.dim(); ++k) d[size_t(k) + 1] = py::int_(t.shape()[size_t(k)]);
          d[size_t(t.dim()) + 1] = py::bool_(t.requiresGrad());
          d[size_t(t.dim()) + 2] = py::int_(first);
          out[i] = d;
        }
        return out;
      },
      "The signature of a sequence of tensors, as dt.compile keys its cache.");
  m.def(
      "_fast_call",
      [](py::object trace, py::tuple args, py::list guards, py::object unflatten, py::object miss) {
        auto f = std::make_unique<FastCall>();
        f->traceObj = trace;
        f->trace = trace.cast<Trace *>();
        f->tensorType = reinterpret_cast<PyTypeObject *>(py::type::of<Tensor>().ptr());
        PyObject *const *items = &PyTuple_GET_ITEM(args.ptr(), 0);
        for (size_t i = 0; i < args.size(); ++i) {
          const Tensor *t = exactTensor(items[i], f->tensorType);
          if (!t) throw dt::TypeError(dt::fmt("_fast_call: argument ", i, " is not a dumbtorch Tensor"));
          f->sig.push_back({t->dtype(), t->shape(), t->requiresGrad(), firstOccurrence(items, i)});
        }
        for (py::handle g : guards) f->guards.push_back(makeGuard(g));
        f->unflatten = unflatten;
        f->miss = miss;
        py::capsule self(f.get(), kFastCallCapsule, [](PyObject *o) {
          delete static_cast<FastCall *>(PyCapsule_GetPointer(o, kFastCallCapsule));
        });
        f.release();
        PyObject *fn = PyCFunction_NewEx(&gFastCallDef, self.ptr(), nullptr);
        if (!fn) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(fn);
      },
      py::arg("trace"), py::arg("args"), py::arg("guards"), py::arg("unflatten"), py::arg("miss"),
      "A function fast(args) that runs `trace` when the tensors `args` have this call's signature "
      "and the guards [(getter, value, description, spec)] hold, else returns `miss`; with `unflatten` None it "
      "returns the one result, else unflatten(results).");
  m.def(
      "_fast_call_hits", [](py::handle fn) { return fastCallOf(fn).hits; },
      "How many calls a _fast_call function ran.");
  m.def("_is_tracing", [] { return dt::activeTrace() != nullptr; },
        "Whether a dt.compile trace is active on this thread.");

  py::class_<Trace>(m, "_Trace", "A trace of one call of a compiled function (used by dumbtorch.compiler).")
      .def(py::init<std::string>(), py::arg("name"))
      .def("begin", &Trace::begin)
      .def("add_arg", [](Trace &t, py::handle x) { t.addArg(dt::py_bind::argTensor(x, "compile", "argument")); })
      .def("end",
           [](Trace &t, py::handle outputs) {
             std::vector<Tensor> outs;
             for (py::handle o : outputs) outs.push_back(dt::py_bind::argTensor(o, "compile", "result"));
             t.end(outs);
           })
      .def("abort", &Trace::abort)
      .def(
          "compile",
          [](Trace &t, const std::string &passes) {
            py::gil_scoped_release nogil;
            t.compile(passes);
          },
          py::arg("passes"))
      .def("run",
           [](Trace &t, py::handle args) {
             std::vector<Tensor> in; // (copies: `args` may change while the GIL is released)
             for (py::handle a : args) in.push_back(dt::py_bind::argTensor(a, "compiled function", "argument"));
             std::vector<Tensor> out;
             {
               py::gil_scoped_release nogil;
               out = t.run(in);
             }
             return out;
           })
      .def("check_guards", &Trace::checkGuards)
      .def_property_readonly("escaped", &Trace::escaped)
      .def_property_readonly("escapes", &Trace::escapes)
      .def("stage", &Trace::stage, py::arg("name"))
      .def("assembly",
           [](const Trace &t) {
             py::gil_scoped_release nogil;
             return t.assembly();
           })
      .def_property_readonly("stats", [](const Trace &t) {
        const dt::TraceStats &s = t.stats();
        py::dict d;
        d["nodes"] = s.nodes;
        d["inputs"] = s.inputs;
        d["outputs"] = s.outputs;
        d["writebacks"] = s.writebacks;
        d["kernels"] = s.kernels;
        d["planned_bytes"] = s.plannedBytes;
        d["unplanned_bytes"] = s.unplannedBytes;
        d["trace_seconds"] = s.traceSeconds;
        d["pass_seconds"] = s.passSeconds;
        d["codegen_seconds"] = s.codegenSeconds;
        return d;
      });
}
