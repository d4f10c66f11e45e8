"""Tensor creation: dt.tensor, zeros/ones/full/empty, arange/linspace/eye, the *_like forms, and
random tensors (rand, randn, randint) drawn from one numpy Generator seeded by dt.manual_seed.

Sizes are given PyTorch's ways: ``zeros(2, 3)`` or ``zeros((2, 3))``. Defaults follow PyTorch:
float32 for floating point, int64 for integers (arange with int arguments, randint).
"""

from __future__ import annotations

import builtins

import numpy as np

from . import _C
from .tensor import Tensor

_float32 = _C.float32
_float64 = _C.float64
_int64 = _C.int64

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seeds the generator behind rand/randn/randint (and returns it)."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, builtins.bool):
        raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def default_generator() -> np.random.Generator:
    """The numpy Generator that random tensors (and dt.nn initializers) draw from."""
    return _rng


def _size(size, fn: str) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, builtins.bool) or not isinstance(s, (int, np.integer)):
            if isinstance(s, Tensor) and s.dim() == 0 and not s.is_floating_point():
                s = s.item()
            else:
                raise TypeError(f"{fn}(): argument 'size' must be a tuple of ints, but found element of type "
                                f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"{fn}(): Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, numpy arrays, tensors).

    The dtype is inferred as PyTorch does: bools -> bool, ints -> int64, floats -> float32 (numpy
    float64 arrays stay float64).
    """
    return _finish(_C._tensor(data, dtype), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` itself when it is already a tensor of that dtype, else dt.tensor(data, dtype)."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is None:
        try:
            return _C.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return _C._tensor(data, dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing the array's memory (float32, float64, int64 or bool; read-only arrays are copied)."""
    return _C.from_numpy(ndarray)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype from the value: bool, int64 or float32)."""
    return _finish(_C._full(_size((size,), "full"), fill_value, dtype), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(_C._full(_size(size, "zeros"), 0, dtype if dtype is not None else _float32), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(_C._full(_size(size, "ones"), 1, dtype if dtype is not None else _float32), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Like zeros (the memory is always zero-filled here)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def _like(input, fn: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be Tensor, not {type(input).__name__}")


def zeros_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "zeros_like")
    return _finish(_C._full(input._shape, 0, dtype if dtype is not None else input.dtype), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "ones_like")
    return _finish(_C._full(input._shape, 1, dtype if dtype is not None else input.dtype), requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "empty_like")
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "full_like")
    return _finish(_C._full(input._shape, fill_value, dtype if dtype is not None else input.dtype), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values start, start + step, ... below end: ceil((end - start) / step) of them; int64 when
    every argument is an int, else float32."""
    if end is None:
        start, end = 0, start
    return _finish(_C._arange(start, end, step, dtype), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive (float32 by default)."""
    return _finish(_C._linspace(start, end, steps, dtype), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An n x m (n x n) identity matrix."""
    return _finish(_C._eye(n, m, dtype), requires_grad)


def _float_dtype(dtype, fn: str):
    dtype = _float32 if dtype is None else dtype
    if dtype not in (_float32, _float64):
        raise TypeError(f"{fn}(): expected a floating point dtype, got {dtype}")
    return dtype


def _np_float(dtype):
    return np.float32 if dtype == _float32 else np.float64


def _refuse_in_trace(name: str) -> None:
    """Random numbers drawn while dt.compile traces would be frozen into every later call."""
    if _C._is_tracing():
        raise _C.TraceError(
            f"dt.{name} inside a compiled function: the samples drawn while tracing would be baked into every "
            "later call (e.g. one dropout mask forever). Draw them outside the compiled function and pass them "
            "in as an argument, or leave this function eager.")


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    _refuse_in_trace("rand")
    dtype = _float_dtype(dtype, "rand")
    g = generator if generator is not None else _rng
    values = g.random(_size(size, "rand"), dtype=_np_float(dtype))
    return _finish(_C._tensor(values, dtype), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    _refuse_in_trace("randn")
    dtype = _float_dtype(dtype, "randn")
    g = generator if generator is not None else _rng
    values = g.standard_normal(_size(size, "randn"), dtype=_np_float(dtype))
    return _finish(_C._tensor(values, dtype), requires_grad)


def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """randint(high, size) or randint(low, high, size): integers in [low, high), int64 by default."""
    _refuse_in_trace("randint")
    if size is None:
        if len(args) == 2:
            (high, size), low = args, 0
        elif len(args) == 3:
            low, high, size = args
        else:
            raise TypeError("randint() expects (high, size) or (low, high, size)")
    elif len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint() expects (high, size) or (low, high, size)")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    g = generator if generator is not None else _rng
    values = g.integers(low, high, size=_size((size,), "randint"), dtype=np.int64)
    return _finish(_C._tensor(values, dtype if dtype is not None else _int64), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "rand_like")
    return rand(input._shape, dtype=dtype if dtype is not None else input.dtype, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "randn_like")
    return randn(input._shape, dtype=dtype if dtype is not None else input.dtype, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _like(input, "randint_like")
    if high is None:
        low, high = 0, low
    return randint(low, high, input._shape, dtype=dtype if dtype is not None else input.dtype,
                   requires_grad=requires_grad)


__all__ = [
    "manual_seed", "tensor", "as_tensor", "from_numpy", "full", "zeros", "ones", "empty", "zeros_like", "ones_like",
    "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn", "randint", "rand_like", "randn_like",
    "randint_like",
]
