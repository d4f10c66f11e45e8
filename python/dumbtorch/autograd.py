"""dt.autograd: grad mode (no_grad, enable_grad, set_grad_enabled), grad(), backward(),
gradcheck and anomaly detection (detect_anomaly, set_detect_anomaly, DT_CHECK_NAN=1).
Gradients come from the native tape -> IR -> autodiff -> JIT path (python/src/Tensor.cpp binds
it); grad mode and anomaly mode are per thread, as in PyTorch.
"""

from __future__ import annotations

import functools
import linecache
import math
import os
import sys
import threading

from . import _C
from .gradcheck import GradcheckError, gradcheck
from .tensor import Tensor

is_grad_enabled = _C.is_grad_enabled


class _GradMode:
    """A context manager that is also a decorator (``@dt.no_grad()`` and bare ``@dt.no_grad``)."""

    _mode: bool

    def __new__(cls, orig_func=None):
        if orig_func is None or not callable(orig_func):
            return super().__new__(cls)
        return cls()(orig_func)

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)
        return None

    def __exit__(self, exc_type, exc, tb):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Ops in this scope are not recorded: results do not require grad (context manager or decorator)."""

    _mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a no_grad scope (context manager or decorator)."""

    _mode = True


class set_grad_enabled:
    """``set_grad_enabled(False)`` turns grad mode off now; used as a context manager it restores
    the previous mode on exit."""

    def __init__(self, mode: bool):
        self._prev = _C.is_grad_enabled()
        self._mode = bool(mode)
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        return None

    def __exit__(self, exc_type, exc, tb):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        mode = self._mode
        _C._set_grad_enabled(self._prev)  # as a decorator it only applies inside the function

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """The gradients of sum(grad_outputs[i] * outputs[i]) with respect to each input, as a tuple.

    With ``create_graph=True`` the gradients are themselves recorded, so they can be
    differentiated again (higher-order derivatives). ``allow_unused`` lets an input the outputs do
    not depend on get None (or zeros with ``materialize_grads``).
    """
    if is_grads_batched:
        raise NotImplementedError("grad(): is_grads_batched is not supported")
    if is_anomaly_enabled():
        outs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
        gos = None if grad_outputs is None else ((grad_outputs,) if isinstance(grad_outputs, Tensor) else grad_outputs)
        _C._check_backward_anomaly(outs, gos)
    unused = bool(allow_unused) or materialize_grads
    grads = _C._grad(outputs, inputs, grad_outputs, retain_graph, create_graph, unused)
    if materialize_grads:
        ins = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        grads = tuple(g if g is not None else _C._full(x._shape, 0, x.dtype) for g, x in zip(grads, ins))
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None):
    """Accumulates the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves' .grad."""
    if inputs is not None:
        raise NotImplementedError("backward(): the inputs argument is not supported; use dt.autograd.grad")
    ts = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if grad_tensors is None:
        gs = (None,) * len(ts)
    else:
        gs = (grad_tensors,) if isinstance(grad_tensors, Tensor) else tuple(grad_tensors)
    if len(gs) != len(ts):
        raise ValueError(f"backward(): got {len(gs)} grad_tensors for {len(ts)} tensors")
    for i, (t, g) in enumerate(zip(ts, gs)):
        last = i == len(ts) - 1
        t.backward(g, retain_graph=retain_graph if last else True, create_graph=create_graph)


# --- anomaly detection ------------------------------------------------------------------------
#
# While anomaly mode is on in any thread, the eager ops below (dt.*, _C.* and Tensor methods and
# operators) are wrapped: a float result holding NaN/inf computed from finite operands raises
# RuntimeError naming the op and the user's source line. Tensor.backward and autograd.grad first
# run the backward node by node (frontend/Anomaly.cpp) and raise PyTorch's "Function
# 'LogBackward0' returned nan values in its 0th output." for the first node whose backward makes
# a NaN/inf. When no thread has it on, the wrappers are removed: the normal path is untouched.

_CHECKED_OPS = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide", "remainder", "pow",
    "maximum", "minimum", "neg", "negative", "abs", "exp", "log", "sqrt", "sigmoid", "tanh", "relu", "floor",
    "clamp", "clip", "where", "matmul", "mm", "sum", "mean", "max", "min", "amax", "amin", "softmax",
    "log_softmax", "logsumexp", "var", "std", "gather", "scatter_add", "add_", "sub_", "mul_", "div_",
    "scatter_add_",
)
_CHECKED_DUNDERS = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__",
    "__neg__", "__abs__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
)
_ANOMALY_ENV = os.environ.get("DT_CHECK_NAN", "") not in ("", "0")
_anomaly = threading.local()
_anomaly_lock = threading.Lock()
_anomaly_users = 0  # threads (plus DT_CHECK_NAN) with anomaly mode on
_originals: dict = {}  # (owner, name) -> the unwrapped attribute
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on in this thread (DT_CHECK_NAN=1 turns it on by default)."""
    return getattr(_anomaly, "on", _ANOMALY_ENV)


def is_anomaly_check_nan_enabled() -> bool:
    return is_anomaly_enabled()


def _set_anomaly(on: bool) -> None:
    """This thread's flag; the wrappers stay installed while any thread (or DT_CHECK_NAN) counts."""
    global _anomaly_users
    _anomaly.on = on
    if on == getattr(_anomaly, "counted", False):
        return
    with _anomaly_lock:
        _anomaly.counted = on
        _anomaly_users += 1 if on else -1
        _install_checks(_anomaly_users > 0)


class detect_anomaly:
    """Context manager (or decorator) turning anomaly detection on in this thread: the first eager
    op that turns finite operands into a NaN/inf raises RuntimeError naming it, and backward
    raises "Function 'XBackward0' returned nan values in its 0th output." for the first node whose
    gradient is NaN/inf (PyTorch's message). Slow: debugging only."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)

    def __enter__(self) -> None:
        self._prev = is_anomaly_enabled()
        _set_anomaly(self.check_nan)

    def __exit__(self, exc_type, exc, tb) -> bool:
        _set_anomaly(self._prev)
        return False

    def __call__(self, func):
        check_nan = self.check_nan

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` turns anomaly detection on now; as a context manager it
    restores the previous mode on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._prev = is_anomaly_enabled()
        _set_anomaly(bool(mode) and bool(check_nan))

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        _set_anomaly(self._prev)
        return False


def _user_line() -> str:
    """' at file:line: source' for the innermost frame outside the dumbtorch package."""
    f = sys._getframe(2)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        f = f.f_back
    if f is None:
        return ""
    src = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"; called at {f.f_code.co_filename}:{f.f_lineno}" + (f": {src}" if src else "")


def _tensors(objs):
    for o in objs:
        if isinstance(o, Tensor):
            yield o
        elif isinstance(o, (tuple, list)):
            yield from (x for x in o if isinstance(x, Tensor))


def _finite_operands(args, kwargs) -> bool:
    for o in (*args, *kwargs.values()):
        if isinstance(o, float) and not math.isfinite(o):
            return False
    return not any(_C._nonfinite(t) for t in _tensors((*args, *kwargs.values())))


def _check_result(label: str, out, args, kwargs) -> None:
    outs = (out,) if isinstance(out, Tensor) else tuple(_tensors(out if isinstance(out, tuple) else ()))
    for o in outs:
        bad = _C._nonfinite(o)
        if bad and _finite_operands(args, kwargs):
            raise RuntimeError(
                f"{label} produced {'nan' if bad == 1 else 'inf'} values from finite operands (anomaly detection: "
                f"DT_CHECK_NAN=1 or dt.autograd.detect_anomaly()){_user_line()}"
            )


def _checked(fn, label: str):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        out = fn(*args, **kwargs)
        if getattr(_anomaly, "on", _ANOMALY_ENV):
            _check_result(label, out, args, kwargs)
        return out

    op._dt_unchecked = fn
    return op


def _checked_backward(fn):
    @functools.wraps(fn)
    def backward(self, gradient=None, retain_graph=None, create_graph=False, *args, **kwargs):
        if getattr(_anomaly, "on", _ANOMALY_ENV):
            _C._check_backward_anomaly((self,), (gradient,))
        return fn(self, gradient, retain_graph, create_graph, *args, **kwargs)

    return backward


def _install_checks(on: bool) -> None:
    """Wraps (on) or restores (off) the checked ops in _C, dumbtorch and Tensor."""
    import dumbtorch

    if on == bool(_originals):
        return
    if not on:
        for (owner, name), orig in _originals.items():
            setattr(owner, name, orig)
        _originals.clear()
        return
    for name in _CHECKED_OPS:
        fn = getattr(_C, name, None)
        if fn is not None:
            _originals[(_C, name)] = fn
            wrapped = _checked(fn, f"dt.{name}")
            setattr(_C, name, wrapped)
            if getattr(dumbtorch, name, None) is fn:
                _originals[(dumbtorch, name)] = fn
                setattr(dumbtorch, name, wrapped)
    for name in (*_CHECKED_OPS, *_CHECKED_DUNDERS):
        fn = Tensor.__dict__.get(name)
        if fn is not None:
            _originals[(Tensor, name)] = fn
            setattr(Tensor, name, _checked(fn, f"Tensor.{name}"))
    _originals[(Tensor, "backward")] = Tensor.__dict__["backward"]
    Tensor.backward = _checked_backward(Tensor.__dict__["backward"])


def _init_anomaly_from_env() -> None:
    """DT_CHECK_NAN=1: anomaly detection on from import, in every thread (dumbtorch/__init__)."""
    global _anomaly_users
    if _ANOMALY_ENV:
        with _anomaly_lock:
            _anomaly_users += 1
            _install_checks(True)


__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad", "backward", "gradcheck",
           "GradcheckError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]
