"""dt.nn.functional: softmax, log_softmax, one_hot, pad (native composites, see frontend/TensorOps.h)
plus the layer functions and losses of dt.nn (``_ops.py``, ``_losses.py``), re-exported here.

Every function is a composition of eager ops, so autograd differentiates it through the one VJP
table.
"""

from __future__ import annotations

import importlib as _importlib

from .. import _C
from .._C import Tensor


def _reexport(module_name: str) -> list[str]:
    """The public functions defined in a sibling module (absent modules are skipped)."""
    try:
        mod = _importlib.import_module(f"{__package__}.{module_name}")
    except ModuleNotFoundError:
        return []
    names = []
    for name, obj in vars(mod).items():
        if not name.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == mod.__name__:
            globals()[name] = obj
            names.append(name)
    return names


_exported = _reexport("_ops") + _reexport("_losses")


def _check_tensor(x, fn: str, arg: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed stably (shifted by the detached max)."""
    _check_tensor(input, "softmax")
    if dim is None:
        dim = 0 if input.dim() in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return _C.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x) along dim, computed stably."""
    _check_tensor(input, "log_softmax")
    if dim is None:
        dim = 0 if input.dim() in (0, 1, 3) else 1
    return _C.log_softmax(input, dim, dtype)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of int64 class indices (num_classes = max + 1 when -1)."""
    _check_tensor(tensor, "one_hot", "tensor")
    return _C.one_hot(tensor, num_classes)


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pads the last len(pad) // 2 dims: pad = (before_last, after_last, before_2nd_last, ...);
    negative entries crop. Only mode="constant" (fill ``value``, default 0)."""
    _check_tensor(input, "pad")
    if mode != "constant":
        raise NotImplementedError(f"pad(): mode '{mode}' is not supported (only 'constant')")
    return _C._pad(input, pad, value)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    _check_tensor(input, "logsumexp")
    return _C.logsumexp(input, dim, keepdim)


for _name, _fn in (("relu", _C.relu), ("sigmoid", _C.sigmoid), ("tanh", _C.tanh)):
    if _name not in globals():
        globals()[_name] = _fn

__all__ = sorted(set(_exported) | {"softmax", "log_softmax", "one_hot", "pad", "logsumexp", "relu", "sigmoid", "tanh"})
