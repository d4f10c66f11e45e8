"""The dumbtorch IR from Python: parse text into a Graph, print it, verify it, run it with the
reference interpreter or compile it with the LLVM JIT. Arrays are numpy arrays whose dtype
(float32, float64, int64, bool) and shape match the graph's inputs exactly."""

from . import _C

Graph = _C.ir.Graph
CompiledGraph = _C.ir.CompiledGraph


def parse(text: str) -> Graph:
    """Parse one ``func @name(...) -> (...) { ... }`` of IR text into a Graph (not verified).

    Raises ValueError whose message starts with ``line:col``.
    """
    return _C.ir.parse(text)


def interpret(graph: Graph, *arrays):
    """Verify ``graph`` and run it with the reference interpreter.

    Takes one numpy array per graph input; returns a list of numpy arrays, one per output.
    Raises ValueError for a wrong count or shape, TypeError for a wrong dtype or a non-array.
    """
    return _C.ir.interpret(graph, *arrays)


def compile(graph: Graph) -> CompiledGraph:
    """Verify ``graph`` and JIT-compile it; call the result with one numpy array per input.

    C-contiguous inputs are read in place (no copy); outputs are numpy arrays that own their
    memory's runtime buffer.
    """
    return _C.ir.compile(graph)


def run_passes(graph: Graph, passes: str) -> Graph:
    """A new graph: ``graph`` after the pass pipeline ``passes``, e.g. ``"simplify,cse,dce,fusion"``
    (the names ``dtc opt --passes`` takes; ``dtc passes`` lists them). Each pass's output is verified."""
    return _C.ir.run_passes(graph, passes)


def explain_fusion(graph: Graph) -> str:
    """Why the fusion pass leaves each neighbouring producer -> consumer pair of ``graph`` unfused,
    one line per pair (``"%p -> %c: reason"``); empty when everything fuses."""
    return _C.ir.explain_fusion(graph)


def emit_llvm(graph: Graph, optimized: bool = True) -> str:
    """The LLVM IR codegen makes for the graph's kernels (after LLVM's O3 unless ``optimized=False``)."""
    return _C.ir.emit_llvm(graph, optimized)


def emit_asm(graph: Graph) -> str:
    """The host assembly of the graph's kernels."""
    return _C.ir.emit_asm(graph)


__all__ = ["Graph", "CompiledGraph", "parse", "interpret", "compile", "run_passes", "explain_fusion", "emit_llvm",
           "emit_asm"]
