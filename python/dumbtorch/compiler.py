"""``dt.compile``: trace a Python function once per input signature into one graph, compile it
(autodiff, simplify, CSE, DCE, fusion, LLVM) and run every later call as one native program.

A whole training step compiles: ``opt.zero_grad()``, the forward, ``loss.backward()`` and
``opt.step()`` become one graph whose in-place updates are written back into the parameters,
gradients and optimizer state after each run, so compiled and eager steps leave the same state.
See docs/compiler.md for the rules of tracing: what is captured, what retraces, what raises
:class:`TraceError`.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
import time
from itertools import chain

from . import _C
from .tensor import Tensor

TraceError = _C.TraceError
TraceError.__module__ = "dumbtorch"
TraceError.__doc__ = ("An operation needed a tensor's value while dt.compile was tracing (bool(t), t.item(), "
                      "t.numpy(), print(t), ...), or the function does something a trace cannot capture.")

#: The pass pipeline every compiled function runs (``dtc opt --passes=...`` takes the same names).
DEFAULT_PASSES = _C._default_passes  # "simplify,cse,dce,fusion", shared with eager backward()

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_state = threading.local()


def is_tracing() -> bool:
    """Whether dt.compile is tracing a function on this thread."""
    return _C._is_tracing()


def guard(getter, description: str) -> None:
    """Inside a trace, declares that the compiled program is valid only while ``getter()`` returns
    what it returns now (Python values read during tracing are baked in as constants). A change
    retraces, and ``DT_LOG=recompiles`` prints ``description``. Outside a trace it does nothing.
    The optimizers guard their hyperparameters (``lr``, ``momentum``, ...) this way."""
    _record(getter, description, None)


# Guards of fixed forms, checked in C++ at each call of the compiled function (no Python call):
# each is also an ordinary getter (the reference, used when a check fails, to say why).

class _Identities(tuple):
    """Object identities compared exactly, printed short (in DT_LOG=recompiles)."""

    def __repr__(self) -> str:
        return f"<the identities of {len(self)} entries>"


def guard_values(mapping: dict, keys, description: str) -> None:
    """:func:`guard` of ``(len(mapping), *(mapping.get(k) for k in keys))``: valid while the dict
    has as many entries and these values (compared with ``==``)."""
    keys = tuple(keys)
    _record(lambda: (len(mapping), *map(mapping.get, keys)), description, ("values", mapping, keys))


def guard_identities(mapping: dict, key, description: str) -> None:
    """:func:`guard` that ``mapping[key]`` (a list or tuple) holds the same objects, in order."""
    _record(lambda: _Identities(map(id, mapping[key])), description, ("identities", mapping, key))


def guard_nested_identities(owner, attr: str, keys, description: str) -> None:
    """:func:`guard` that ``getattr(owner, attr).get(k)``, for each of ``keys``, is a dict whose
    values are the same objects, in order (an optimizer's ``state`` tensors: ``owner.state`` is
    read at each call, since ``load_state_dict`` replaces it)."""
    keys = tuple(keys)
    _record(lambda: _Identities(map(id, chain.from_iterable(map(dict.values, map(getattr(owner, attr).get, keys))))),
            description, ("nested_identities", owner, keys, attr))


def _record(getter, description: str, spec) -> None:
    guards = getattr(_state, "guards", None)
    if guards is not None:
        guards.append((getter, getter(), description, spec))


def _log(kind: str) -> bool:
    return kind in os.environ.get("DT_LOG", "").replace(" ", "").split(",")


# --- pytrees ----------------------------------------------------------------------------------

def _flatten(obj, tensors: list):
    """Appends obj's tensors to `tensors`; returns the structure with tensors as indices."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return ("T", len(tensors) - 1)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("N", type(obj), tuple(_flatten(x, tensors) for x in obj))
    if isinstance(obj, (tuple, list)):
        return ("L" if isinstance(obj, list) else "U", tuple(_flatten(x, tensors) for x in obj))
    if isinstance(obj, dict):
        return ("D", tuple((k, _flatten(v, tensors)) for k, v in obj.items()))
    return ("C", obj)


def _unflatten(tree, tensors: list):
    kind = tree[0]
    if kind == "T":
        return tensors[tree[1]]
    if kind == "N":
        return tree[1](*(_unflatten(x, tensors) for x in tree[2]))
    if kind in ("L", "U"):
        items = [_unflatten(x, tensors) for x in tree[1]]
        return items if kind == "L" else tuple(items)
    if kind == "D":
        return {k: _unflatten(v, tensors) for k, v in tree[1]}
    return tree[1]


def _static_key(tree):
    """The hashable part of an argument structure: numbers by value, other objects by identity."""
    kind = tree[0]
    if kind in ("T", "F"):  # F: only positional tensor arguments (the fast path of __call__)
        return tree
    if kind == "N":
        return ("N", tree[1], tuple(_static_key(x) for x in tree[2]))
    if kind in ("L", "U"):
        return (kind, tuple(_static_key(x) for x in tree[1]))
    if kind == "D":
        return ("D", tuple((k, _static_key(v)) for k, v in tree[1]))
    v = tree[1]
    if v is None or isinstance(v, (bool, int, float, str, bytes)):
        return ("C", type(v), v)
    return ("O", id(v))


def _describe(desc) -> str:
    """'f32[64,784] requires_grad=False' for one entry of _C._signature."""
    return f"{desc[0]}[{','.join(str(d) for d in desc[1:-2])}] requires_grad={desc[-2]}"


# --- errors -----------------------------------------------------------------------------------

def _user_frame(tb):
    """The innermost traceback frame outside the dumbtorch package: where the user's line is."""
    found = None
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if not os.path.abspath(f).startswith(_PACKAGE_DIR + os.sep):
            found = tb
        tb = tb.tb_next
    return found


def _located(err: BaseException, fn_name: str) -> TraceError:
    tb = _user_frame(err.__traceback__)
    where = ""
    if tb is not None:
        import linecache

        code = tb.tb_frame.f_code
        line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
        where = f"\n  at {code.co_filename}:{tb.tb_lineno} in {code.co_name}: {line}"
    return TraceError(f"while tracing {fn_name}: {err}{where}")


# --- the compiled function ----------------------------------------------------------------------

_MISS = object()  # what a _C._fast_call function returns when the call is not the one it runs

class _Entry:
    __slots__ = ("trace", "out_tree", "guards", "one_shot", "tensor_descs")

    def __init__(self, trace, out_tree, guards, one_shot, tensor_descs):
        self.trace, self.out_tree, self.guards, self.one_shot = trace, out_tree, guards, one_shot
        self.tensor_descs = tensor_descs

    def why_invalid(self) -> str:
        for getter, value, description, _ in self.guards:
            try:
                now = getter()
            except Exception as e:  # noqa: BLE001 - a guard that cannot be read is a failed guard
                return f"{description}: could not be read ({e})"
            if now != value:
                return f"{description} changed from {value!r} to {now!r}"
        return self.trace.check_guards()


class CompiledFunction:
    """What ``dt.compile(fn)`` returns: call it like ``fn``. The first call for each input
    signature (the pytree structure, each tensor's dtype, shape and requires_grad, and the values of
    non-tensor arguments) traces ``fn`` and compiles it; later calls run the compiled program."""

    def __init__(self, fn, passes: str = DEFAULT_PASSES, name: str | None = None):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._passes = passes
        self._name = name or getattr(fn, "__qualname__", getattr(fn, "__name__", "fn"))
        self._cache: dict = {}
        self._retrace_reason: dict = {}
        self._stats = {"calls": 0, "traces": 0, "compiles": 0, "cache_hits": 0, "compile_seconds": 0.0}
        self._last_key = None
        self._last = None
        # The repeat call of the last positional-tensor signature, in one C call (_C._fast_call:
        # signature check, the entry's guards, the run, the results), and the entry it runs.
        self._fast = None
        self._fast_entry = None

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<dumbtorch compiled function {self._name}>"

    # -- calling ------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        fast = self._fast
        if fast is not None and not kwargs:
            # The hot path: the same signature as the last call, whose entry still holds (checked
            # in C++; a miss has no effect and takes the full path below).
            out = fast(args)
            if out is not _MISS:
                return out
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        if _C._is_tracing():  # called from a function being traced: becomes part of that trace
            return self._fn(*args, **kwargs)
        self._stats["calls"] += 1
        if not kwargs and all(type(a) is Tensor for a in args):  # positional tensors only: no pytree walk
            tensors, tree = args, ("F", len(args))
        else:
            tensors = []
            tree = _flatten((args, kwargs), tensors)
        entry = self._entry(tree, tensors, args, kwargs)
        self._set_fast(entry if tree[0] == "F" and not entry.one_shot else None, args)
        outs = entry.trace.run(tensors)
        if entry.one_shot:
            self._drop(entry)
        return _unflatten(entry.out_tree, outs)

    def _set_fast(self, entry, args) -> None:
        """Makes `entry` (for the signature of `args`) the hot path's, or none."""
        if self._fast is not None:  # its calls count as calls and cache hits
            hits = _C._fast_call_hits(self._fast)
            self._stats["calls"] += hits
            self._stats["cache_hits"] += hits
        self._fast = self._fast_entry = None
        if entry is not None:
            tree = entry.out_tree
            single = tree[0] == "T" and tree[1] == 0
            unflatten = None if single else functools.partial(_unflatten, tree)
            self._fast = _C._fast_call(entry.trace, args, entry.guards, unflatten, _MISS)
            self._fast_entry = entry

    def _key(self, tree, tensors):
        descs = _C._signature(tensors)
        return (_static_key(tree), descs), descs

    def _entry(self, tree, tensors, args, kwargs, count_hit=True):
        key, descs = self._key(tree, tensors)
        reason = None
        for entry in self._cache.get(key, ()):
            why = entry.why_invalid()
            if not why:
                if count_hit:
                    self._stats["cache_hits"] += 1
                return entry
            reason = reason or "guard failed: " + why  # the newest entry's reason (entries are newest first)
        if reason is None:
            reason = self._retrace_reason.pop(key, None) or self._new_signature_reason(descs)
        entry = self._trace(args, kwargs, tensors, descs)
        if self._stats["traces"] > 1 and _log("recompiles"):
            print(f"dt.compile: {self._name}: trace {self._stats['traces']}: {reason}", file=sys.stderr)
        if not entry.one_shot:
            self._cache.setdefault(key, []).insert(0, entry)
        else:
            self._retrace_reason[key] = (
                "the previous trace created tensors that outlived it (" + ", ".join(entry.trace.escapes[:3])
                + (", ..." if len(entry.trace.escapes) > 3 else "")
                + "; e.g. optimizer state made on the first step): traced again now that they exist")
        self._last_key = key
        return entry

    def _new_signature_reason(self, descs) -> str:
        if not self._cache:
            return "first call"
        old = next(iter(self._cache))[1]
        for i, (a, b) in enumerate(zip(descs, old)):
            if a != b:
                return f"new signature: tensor argument {i} is {_describe(a)} (cached: {_describe(b)})"
        return f"new signature ({len(descs)} tensor arguments, cached: {len(old)}; or other arguments changed)"

    def _drop(self, entry) -> None:
        if self._fast_entry is entry:
            self._set_fast(None, ())
        for key, entries in list(self._cache.items()):
            if entry in entries:
                entries.remove(entry)

    def _trace(self, args, kwargs, tensors, descs) -> _Entry:
        t0 = time.perf_counter()
        trace = _C._Trace(self._name)
        guards: list = []
        _state.guards = guards
        trace.begin()
        try:
            for t in tensors:
                trace.add_arg(t)
            result = self._fn(*args, **kwargs)
            outs: list = []
            out_tree = _flatten(result, outs)
            trace.end(outs)
        except TraceError as e:
            trace.abort()
            raise _located(e, self._name) from None
        except BaseException:
            trace.abort()
            raise
        finally:
            _state.guards = None
        del result, outs
        gc.collect(0)
        trace.compile(self._passes)
        self._stats["traces"] += 1
        self._stats["compiles"] += 1
        self._stats["compile_seconds"] += time.perf_counter() - t0
        self._last = trace
        self._dump(trace)
        return _Entry(trace, out_tree, guards, trace.escaped, descs)

    def _dump(self, trace) -> None:
        directory = os.environ.get("DT_DUMP")
        if not directory:
            return
        os.makedirs(directory, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in self._name)
        for i, stage in enumerate(("traced", "grad", "optimized", "fused")):
            path = os.path.join(directory, f"{safe}.{self._stats['traces']}.{i}-{stage}.ir")
            with open(path, "w") as f:
                f.write(trace.stage(stage))

    # -- inspection -----------------------------------------------------------------------------

    def _inspect(self, args, kwargs):
        if _C._is_tracing():
            raise TraceError("inspecting a compiled function inside a trace is not supported")
        tensors: list = []
        tree = _flatten((args, kwargs), tensors)
        return self._entry(tree, tensors, args, kwargs, count_hit=False).trace

    def ir(self, *args, stage: str = "fused", **kwargs) -> str:
        """The IR text of one compile stage for these arguments (traced and compiled if needed,
        not run): ``traced`` (the forward, up to the first backward), ``grad`` (the whole function
        as traced: forward, the backward autodiff derived, the functionalized updates),
        ``optimized`` (after simplify, CSE, DCE) or ``fused`` (after fusion). Every stage parses
        back with ``dt.ir.parse``."""
        return self._inspect(args, kwargs).stage(stage)

    def asm(self, *args, **kwargs) -> str:
        """The host assembly of the compiled kernels for these arguments."""
        return self._inspect(args, kwargs).assembly()

    def stats(self) -> dict:
        """Counters: ``calls``, ``traces``, ``compiles``, ``cache_hits``, ``compile_seconds`` (total
        of tracing, passes and LLVM), and ``last``: the newest compile's graph sizes and per-stage
        seconds (``trace_seconds``, ``pass_seconds``, ``codegen_seconds``, ``kernels``, ...)."""
        s = dict(self._stats)
        if self._fast is not None:
            hits = _C._fast_call_hits(self._fast)
            s["calls"] += hits
            s["cache_hits"] += hits
        s["last"] = dict(self._last.stats) if self._last is not None else None
        return s

    def reset(self) -> None:
        """Forgets every compiled program (the next call traces again)."""
        self._cache.clear()
        self._set_fast(None, ())
        self._retrace_reason.clear()


def compile(fn=None, *, passes: str = DEFAULT_PASSES, name: str | None = None):  # noqa: A001 - the API name
    """Compiles ``fn`` (usable as ``@dt.compile`` or ``@dt.compile(passes=...)``); see
    :class:`CompiledFunction`."""
    if fn is None:
        return lambda f: CompiledFunction(f, passes=passes, name=name)
    if not callable(fn):
        raise TypeError(f"dt.compile expects a callable, got {type(fn).__name__}")
    return CompiledFunction(fn, passes=passes, name=name)


__all__ = ["compile", "CompiledFunction", "TraceError", "is_tracing", "guard", "guard_values", "guard_identities",
           "guard_nested_identities", "DEFAULT_PASSES"]
