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


__all__ = ["Graph", "CompiledGraph", "parse", "interpret", "compile"]
