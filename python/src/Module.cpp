// The extension dumbtorch._C: the IR (parse, print, verify), the interpreter and the JIT on numpy
// arrays, and the runtime's counters. Errors become ValueError / TypeError / IndexError /
// RuntimeError; the GIL is released while graphs compile and run.
#include "Bindings.h"
#include "Convert.h"

#include "frontend/GraphBuilder.h"
#include "frontend/Inspect.h"
#include "frontend/Passes.h"
#include "frontend/Runtime.h"
#include "ir/Error.h"
#include "ir/Text.h"
#include "ir/Verifier.h"

#include <pybind11/stl.h>

namespace py = pybind11;
using dt::py_bind::toArrays;
using dt::py_bind::toNumpyList;

namespace {

void translateException(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const dt::ValueError &e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const dt::TypeError &e) {
    PyErr_SetString(PyExc_TypeError, e.what());
  } catch (const dt::IndexError &e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::invalid_argument &e) { // as pybind11 maps it; only logic errors below are bugs
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::out_of_range &e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::logic_error &e) { // DT_ASSERT: our bug, reported, never a crash
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
}

/// (name, dtype, shape) for each value, as Graph.inputs / Graph.outputs show them.
py::list valueInfo(const std::vector<dt::ir::Value *> &values) {
  py::list out;
  for (const dt::ir::Value *v : values) {
    py::tuple shape(v->type.shape.size());
    for (size_t k = 0; k < v->type.shape.size(); ++k) shape[k] = py::int_(v->type.shape[k]);
    out.append(py::make_tuple(v->name, std::string(dt::ir::dtypeName(v->type.dtype)), shape));
  }
  return out;
}

std::string graphRepr(const dt::ir::Graph &g, std::string_view cls) {
  return dt::fmt("<", cls, " @", g.name, ": ", g.inputs.size(), " inputs, ", g.nodes.size(), " nodes, ",
                 g.outputs.size(), " outputs>");
}

void bindIR(py::module_ &m) {
  using dt::ir::Graph;
  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph",
                                            "An SSA graph of the dumbtorch IR. Make one with parse(text); str() "
                                            "prints the text form, which parses back to an equal graph.")
      .def("__str__", [](const Graph &g) { return dt::ir::print(g); })
      .def("__repr__", [](const Graph &g) { return graphRepr(g, "dumbtorch.ir.Graph"); })
      .def(
          "__eq__", [](const Graph &a, const Graph &b) { return a.equals(b); }, py::is_operator(),
          "Structural equality: names, types, ops, attributes and regions.")
      .def(
          "verify", [](const Graph &g) { dt::ir::verify(g); },
          "Checks the graph; raises ValueError/TypeError naming the first bad node (with line:col "
          "when it came from text).")
      .def_property_readonly("name", [](const Graph &g) { return g.name; }, "The function name (without '@').")
      .def_property_readonly(
          "inputs", [](const Graph &g) { return valueInfo(g.inputs); }, "[(name, dtype, shape)] of the inputs.")
      .def_property_readonly(
          "outputs", [](const Graph &g) { return valueInfo(g.outputs); }, "[(name, dtype, shape)] of the outputs.");

  m.def(
      "parse", [](std::string_view text) { return std::shared_ptr<Graph>(dt::ir::parse(text)); }, py::arg("text"),
      "Parses one function of IR text (not verified). Raises ValueError with 'line:col: ...'.");

  m.def(
      "run_passes",
      [](const Graph &g, const std::string &passes) {
        py::gil_scoped_release nogil;
        dt::ir::verify(g);
        return std::shared_ptr<Graph>(dt::runPipeline(g.clone(), passes));
      },
      py::arg("graph"), py::arg("passes"),
      "A new graph: `graph` after the pass pipeline `passes` (\"simplify,cse,dce,fusion\"; the names "
      "of `dtc opt --passes`), verified after each pass.");
  m.def(
      "explain_fusion", [](const Graph &g) { return dt::explainFusion(g); }, py::arg("graph"),
      "Why fusion leaves each neighbouring pair of nodes unfused, one line per pair.");
  m.def(
      "emit_llvm",
      [](const Graph &g, bool optimized) {
        py::gil_scoped_release nogil;
        dt::ir::verify(g);
        return dt::emitLLVM(g, optimized);
      },
      py::arg("graph"), py::arg("optimized") = true, "The LLVM IR of the graph's kernels (after O3 by default).");
  m.def(
      "emit_asm",
      [](const Graph &g) {
        py::gil_scoped_release nogil;
        dt::ir::verify(g);
        return dt::emitAsm(g);
      },
      py::arg("graph"), "The host assembly of the graph's kernels.");

  m.def(
      "interpret",
      [](const Graph &g, const py::args &args) {
        std::vector<dt::Array> in = toArrays(g, args, "interpret @" + g.name);
        std::vector<dt::Array> out;
        {
          py::gil_scoped_release nogil;
          out = dt::interpret(g, in);
        }
        return toNumpyList(out);
      },
      py::arg("graph").none(false),
      "Verifies the graph and runs the reference interpreter: one numpy array per input (dtype and "
      "shape must match exactly), a list of numpy arrays back.");

  py::class_<dt::CompiledGraph, std::shared_ptr<dt::CompiledGraph>>(
      m, "CompiledGraph", "A graph compiled to native code: call it with one numpy array per input.")
      .def(
          "__call__",
          [](const dt::CompiledGraph &cg, const py::args &args) {
            std::vector<dt::Array> in = toArrays(cg.graph(), args, "compiled graph @" + cg.graph().name);
            std::vector<dt::Array> out;
            {
              py::gil_scoped_release nogil;
              out = cg(in);
            }
            return toNumpyList(out);
          },
          "Runs the compiled graph; returns a list of numpy arrays, one per graph output.")
      .def_property_readonly(
          "graph", [](const dt::CompiledGraph &cg) { return std::shared_ptr<Graph>(cg.graph().clone()); },
          "A copy of the graph that was compiled.")
      .def("__repr__", [](const dt::CompiledGraph &cg) { return graphRepr(cg.graph(), "dumbtorch.ir.CompiledGraph"); });

  m.def(
      "compile",
      [](const Graph &g) {
        py::gil_scoped_release nogil;
        return std::make_shared<dt::CompiledGraph>(g);
      },
      py::arg("graph").none(false), "Verifies the graph and JIT-compiles it (LLVM ORC) into a CompiledGraph.");

  // A test hook: the data address each converted input has when the runtime sees it, so tests can
  // prove that C-contiguous arrays reach the kernels without a copy.
  m.def(
      "_input_addresses",
      [](const Graph &g, const py::args &args) {
        std::vector<dt::Array> in = toArrays(g, args, "_input_addresses @" + g.name);
        py::list out;
        for (const dt::Array &a : in) out.append(py::int_(reinterpret_cast<uintptr_t>(a.buffer->data())));
        return out;
      },
      py::arg("graph").none(false));
}

} // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "dumbtorch's native core: the IR, the reference interpreter and the LLVM JIT.";
  py::register_exception_translator(translateException);

  py::module_ ir = m.def_submodule("ir", "The IR: parse, print, verify, interpret, compile.");
  bindIR(ir);

  m.def(
      "cache_stats",
      [] {
        dt::CacheStats s = dt::cacheStats();
        py::dict d;
        d["kernels_compiled"] = s.kernelsCompiled;
        d["kernel_cache_hits"] = s.kernelCacheHits;
        d["disk_hits"] = s.diskHits;
        d["disk_misses"] = s.diskMisses;
        d["disk_writes"] = s.diskWrites;
        d["disk_corrupt"] = s.diskCorrupt;
        d["llvm_optimize_seconds"] = s.optimizeSeconds;
        d["llvm_codegen_seconds"] = s.codegenSeconds;
        return d;
      },
      "The JIT's counters: kernels compiled and served from the cache, modules loaded from / written to the disk "
      "cache, and the seconds spent in LLVM's O3 and machine-code generation.");
  m.def("host_cpu", &dt::hostCPU, "The CPU the JIT generates code for, e.g. 'skylake-avx512'.");
  bindTensor(m);
  bindTrace(m);
  bindThreads(m);
}
