"""dt.autograd: grad mode (no_grad, enable_grad, set_grad_enabled), grad(), backward() and
gradcheck. Gradients come from the native tape -> IR -> autodiff -> JIT path (python/src/Tensor.cpp
binds it); grad mode is per thread, as in PyTorch.
"""

from __future__ import annotations

import functools

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


__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad", "backward", "gradcheck",
           "GradcheckError"]
