"""repr(t) prints like PyTorch: the formatter (dumbtorch/_display.py) against torch's own repr on
many value families and shapes (int mode, 4 decimals, sci mode, nan/inf, empty, summarised,
line wrapping, suffixes), then dumbtorch tensors' repr through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dumbtorch as dt
from dumbtorch._display import format_array, format_tensor

NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


def _family(rng, kind: str, shape: tuple) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=shape)
    if kind == "integral":
        return rng.integers(-100, 100, size=shape).astype(np.float64)
    if kind == "wide":  # magnitudes 1e-12 .. 1e12: sci mode
        return rng.normal(size=shape) * 10.0 ** rng.integers(-12, 12, size=shape)
    if kind == "huge":
        return rng.normal(size=shape) * 1e9
    if kind == "tiny":
        return rng.normal(size=shape) * 1e-5
    if kind == "special":
        return rng.choice([0.0, np.nan, np.inf, -np.inf, 1.0, -0.0, 2.5], size=shape)
    if kind == "nonfinite":
        return rng.choice([0.0, np.nan, np.inf, -np.inf, -0.0], size=shape)
    if kind == "bigints":
        return rng.integers(-10**12, 10**12, size=shape).astype(np.float64)
    if kind == "ratio":  # max/min just around 1000
        return rng.uniform(1.0, 1100.0, size=shape)
    raise AssertionError(kind)


KINDS = ("normal", "integral", "wide", "huge", "tiny", "special", "nonfinite", "bigints", "ratio")
SHAPES = [(), (1,), (0,), (5,), (0, 3), (3, 0, 2), (2, 3), (4, 1, 3), (2, 2, 2, 2), (17,), (3, 11), (1, 40),
          (2000,), (1001,), (50, 30), (10, 10, 20), (3, 400), (400, 3), (7, 7, 7, 7)]


def _cases():
    out = []
    for si, shape in enumerate(SHAPES):
        for ki, kind in enumerate(KINDS):
            for dtype in NP:
                if dtype in ("int64", "bool") and kind not in ("normal", "integral"):
                    continue
                out.append((shape, kind, dtype, 1000 * si + 10 * ki + list(NP).index(dtype)))
    return out


def _array(shape, kind, dtype, seed) -> np.ndarray:
    v = _family(np.random.default_rng(seed), kind, shape)
    return np.asarray(v > 0) if dtype == "bool" else np.asarray(v).astype(NP[dtype])


CASES = _cases()


@pytest.mark.parametrize("shape,kind,dtype,seed", CASES,
                         ids=[f"{dt_}-{k}-{'x'.join(map(str, s)) or 'scalar'}" for s, k, dt_, _ in CASES])
def test_formatter_matches_torch(shape, kind, dtype, seed):
    a = _array(shape, kind, dtype, seed)
    t = torch.from_numpy(a.copy())
    assert format_array(a, package="torch") == repr(t)
    if dtype.startswith("float") and a.size:
        assert format_array(a, requires_grad=True, package="torch") == repr(t.clone().requires_grad_())
        y = t.clone().requires_grad_() * 1
        assert format_array(a, grad_fn_name="MulBackward0", package="torch") == repr(y)


def test_formatter_examples():
    assert format_array(np.array([1.0, 2.0, 3.0], np.float32)) == "tensor([1., 2., 3.])"
    assert format_array(np.array([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert format_array(np.array(3.5, np.float32)) == "tensor(3.5000)"
    assert format_array(np.array([0.1, 0.2], np.float32)) == "tensor([0.1000, 0.2000])"
    assert format_array(np.array([1e10, 1.0], np.float32)) == "tensor([1.0000e+10, 1.0000e+00])"
    assert format_array(np.array([1.0, 2.0])) == "tensor([1., 2.], dtype=dumbtorch.float64)"
    assert format_array(np.zeros((0, 3), np.float32)) == "tensor([], size=(0, 3))"
    assert format_array(np.zeros((0,), np.int64)) == "tensor([], dtype=dumbtorch.int64)"
    assert format_array(np.array([np.nan, np.inf, -np.inf], np.float32)) == "tensor([nan, inf, -inf])"
    assert format_array(np.array([True, False])) == "tensor([ True, False])"


# --- dumbtorch tensors ----------------------------------------------------------------------------

def _pair(values, dtype: str):
    a = np.asarray(values).astype(NP[dtype])
    return dt.from_numpy(a.copy()), torch.from_numpy(a.copy())


def _torch_repr(t) -> str:
    return repr(t).replace("torch.", "dumbtorch.")


@pytest.mark.parametrize("shape,kind,dtype,seed", CASES[::7],
                         ids=[f"{dt_}-{k}-{'x'.join(map(str, s)) or 'scalar'}" for s, k, dt_, _ in CASES[::7]])
def test_tensor_repr_uses_the_formatter(shape, kind, dtype, seed):
    a = _array(shape, kind, dtype, seed)
    d = dt.from_numpy(a.copy())
    assert repr(d) == format_array(a)
    assert str(d) == repr(d)
    assert format_tensor(d) == repr(d)


@pytest.mark.parametrize("values,dtype", [
    ([1.0, 2.0, 3.0], "float32"), ([[1, 2], [3, 4]], "int64"), (3.5, "float32"), ([0.1, 0.2], "float32"),
    ([1.0, 2.0], "float64"), ([True, False, True], "bool"), ([1e10, 1.0, 3e-5], "float32"),
    ([np.nan, 1.5, np.inf], "float64"), (np.arange(12.0).reshape(3, 4) / 7, "float32"), (7, "int64"),
])
def test_tensor_repr_matches_torch(values, dtype):
    d, t = _pair(values, dtype)
    assert repr(d) == _torch_repr(t)


def test_dtype_names():
    for name in ("float32", "float64", "int64", "bool"):
        assert str(getattr(dt, name)) == f"dumbtorch.{name}"


def test_empty_and_summarised():
    d, t = _pair(np.zeros((0, 3)), "float32")
    assert repr(d) == "tensor([], size=(0, 3))" == _torch_repr(t)
    d, t = _pair(np.arange(2000) % 97, "int64")
    assert repr(d) == _torch_repr(t)
    assert "..." in repr(d)


def test_requires_grad_and_grad_fn():
    a = np.array([1.5, -2.0, 0.25], np.float32)
    x, tx = dt.from_numpy(a.copy()).requires_grad_(), torch.from_numpy(a.copy()).requires_grad_()
    y, ty = dt.from_numpy(a[::-1].copy()), torch.from_numpy(a[::-1].copy())
    assert repr(x) == _torch_repr(tx) == "tensor([ 1.5000, -2.0000,  0.2500], requires_grad=True)"
    for f in (lambda m, x, y: x + y, lambda m, x, y: x * y, lambda m, x, y: x - y, lambda m, x, y: x / y,
              lambda m, x, y: m.exp(x), lambda m, x, y: m.relu(x), lambda m, x, y: m.tanh(x),
              lambda m, x, y: m.sigmoid(x), lambda m, x, y: -x, lambda m, x, y: x.sum(),
              lambda m, x, y: m.sqrt(x * x), lambda m, x, y: m.log(x * x)):
        assert repr(f(dt, x, y)) == _torch_repr(f(torch, tx, ty))
    # Leaves made under no_grad, and detached tensors, print no suffix.
    assert repr(x.detach()) == "tensor([ 1.5000, -2.0000,  0.2500])"
    with dt.no_grad():
        assert repr(x * 2) == _torch_repr(tx.detach() * 2)


def test_float64_grad_fn_suffix_order():
    a = np.linspace(-1, 1, 5)
    x, tx = dt.from_numpy(a.copy()).requires_grad_(), torch.from_numpy(a.copy()).requires_grad_()
    assert repr(x * 3) == _torch_repr(tx * 3)
    assert repr(x) == _torch_repr(tx)
