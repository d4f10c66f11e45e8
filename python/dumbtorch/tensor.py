"""dumbtorch.Tensor: the native class ``_C.Tensor`` plus what is simpler in Python.

The class itself (storage, ops, operators, indexing, autograd) is bound in python/src/Tensor.cpp;
this module adds ``dt.Size``, ``t.shape``, ``repr``, iteration, ``tolist``, the numpy protocol,
``any``/``all``, the ``new_*`` constructors, copying and pickling.
"""

from __future__ import annotations

import builtins

import numpy as np

from . import _C
from ._display import format_tensor

Tensor = _C.Tensor
Tensor.__module__ = "dumbtorch"


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``dumbtorch.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"dumbtorch.Size({list(self)!r})"

    __str__ = __repr__

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def _shape(self) -> Size:
    return Size(self._shape)


def _repr(self) -> str:
    if self._traced:
        _C._value_needed("print(t) / repr(t) / str(t)")
    return format_tensor(self)


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self._shape[0]))


def _tolist(self):
    """Nested Python lists of Python numbers (a number for a 0-d tensor)."""
    if self._traced:
        _C._value_needed("t.tolist()")
    return self.detach().numpy().tolist()


def _array(self, dtype=None, copy=None):
    if self._traced:
        _C._value_needed("np.asarray(t)")
    a = self.detach().numpy()
    if dtype is not None and np.dtype(dtype) != a.dtype:
        return a.astype(dtype)
    if copy:
        return a.copy()
    return a


def _format(self, spec: str) -> str:
    if self.dim() == 0:
        return format(self.item(), spec)
    return format(repr(self), spec)


def _any(self, dim=None, keepdim: bool = False):
    """Whether any element is nonzero (over ``dim`` when given), as a bool tensor."""
    nz = (self != 0) if self.dtype != _C.bool else self
    return nz.long().sum(dim=dim, keepdim=keepdim) > 0


def _all(self, dim=None, keepdim: bool = False):
    """Whether every element is nonzero (over ``dim`` when given), as a bool tensor."""
    nz = (self != 0) if self.dtype != _C.bool else self
    return (~nz).long().sum(dim=dim, keepdim=keepdim) == 0


def _contains(self, element) -> builtins.bool:
    if not isinstance(element, (Tensor, int, float, builtins.bool)):
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}.")
    return builtins.bool((self == element).any())


def _new_full(self, size, fill_value, dtype=None, requires_grad: builtins.bool = False):
    t = _C._full(tuple(size), fill_value, dtype if dtype is not None else self.dtype)
    return t.requires_grad_(True) if requires_grad else t


def _new_zeros(self, *size, dtype=None, requires_grad: builtins.bool = False):
    return _new_full(self, _size_args(size), 0, dtype, requires_grad)


def _new_ones(self, *size, dtype=None, requires_grad: builtins.bool = False):
    return _new_full(self, _size_args(size), 1, dtype, requires_grad)


def _new_tensor(self, data, dtype=None, requires_grad: builtins.bool = False):
    t = _C._tensor(data, dtype if dtype is not None else self.dtype)
    return t.requires_grad_(True) if requires_grad else t


def _size_args(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _rebuild(values: np.ndarray, requires_grad: builtins.bool):
    t = _C._tensor(values)
    return t.requires_grad_(True) if requires_grad else t


def _reduce_ex(self, protocol):
    if not self.is_leaf:
        raise RuntimeError("only leaf tensors (no grad_fn) can be pickled; detach() it first")
    return (_rebuild, (np.array(self.detach().numpy(), copy=True), self.requires_grad))


def _deepcopy(self, memo):
    if not self.is_leaf:
        raise RuntimeError(
            "Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the moment."
        )
    if id(self) in memo:
        return memo[id(self)]
    new = Tensor(self.detach().clone())
    if self.requires_grad:
        new.requires_grad_(True)
    if self.grad is not None:
        new.grad = self.grad.detach().clone()
    memo[id(self)] = new
    return new


Tensor.shape = property(_shape, doc="The shape, a dumbtorch.Size.")
Tensor.__repr__ = _repr
# Hashed by identity (as torch.Tensor), at C speed: tensors key the optimizers' state, which a
# compiled step's guards look up at every call.
Tensor.__hash__ = object.__hash__
Tensor.__str__ = _repr
Tensor.__iter__ = _iter
Tensor.__array__ = _array
Tensor.__array_priority__ = 1000  # numpy defers to our reflected operators
Tensor.__format__ = _format
Tensor.__contains__ = _contains
Tensor.__reduce_ex__ = _reduce_ex
Tensor.__deepcopy__ = _deepcopy
Tensor.tolist = _tolist
Tensor.any = _any
Tensor.all = _all
Tensor.new_full = _new_full
Tensor.new_zeros = _new_zeros
Tensor.new_ones = _new_ones
Tensor.new_empty = _new_zeros
Tensor.new_tensor = _new_tensor

__all__ = ["Tensor", "Size"]
