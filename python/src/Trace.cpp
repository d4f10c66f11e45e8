// dumbtorch._C._Trace: the C++ trace (frontend/Trace.h) that dumbtorch.compiler drives — begin,
// bind the arguments, call the Python function, end, compile, run — and dumbtorch.TraceError.
#include "Bindings.h"
#include "TensorArgs.h"

#include "frontend/Trace.h"

#include <pybind11/stl.h>

namespace py = pybind11;
using dt::Tensor;
using dt::Trace;

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
             std::vector<Tensor> in;
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
