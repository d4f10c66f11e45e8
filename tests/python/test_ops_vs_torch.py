"""Issue 3's table-driven test: every op of tests/python/op_table.py (the IR registry plus the
Python-level composites), for every dtype and case, against PyTorch 2.13.0: the forward
result (shape and dtype first, then values) and, for float dtypes, the gradients of
sum(out * cotangent) with respect to every float input, dumbtorch's backward() against torch's.

Tolerances: float32 rtol 1e-5, float64 rtol 1e-10, with an absolute floor of 1e-6 (f32) or
1e-12 (f64) times the largest magnitude in the expected tensor (at least 1), for values that
cancel to near 0. Integers and bools must be equal; NaN must be NaN in the same places.
"""

from __future__ import annotations

import functools
import operator
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

import dumbtorch as dt
from op_table import TABLE, F, cases, registry_coverage

REPO = Path(__file__).resolve().parents[2]

# Ops that no table entry needs to cover, and why.
EXCLUDED = {
    "kernel": "a fused kernel is made by the fusion pass from other ops; users never call it",
    "const": "a literal; eager tensors are data, and Python scalars are tested through the *_scalar entries",
}

DTYPE_NAMES = ("float32", "float64", "int64", "bool")
RTOL = {"float32": 1e-5, "float64": 1e-10}
ATOL = {"float32": 1e-6, "float64": 1e-12}


def registry_ops() -> list[str]:
    text = (REPO / "ir" / "Ops.def").read_text()
    return re.findall(r'^OP\(\s*\w+\s*,\s*"(\w+)"', text, flags=re.M)


def dtype_name(m, dtype) -> str:
    for name in DTYPE_NAMES:
        if dtype == getattr(m, name):
            return name
    raise AssertionError(f"unknown dtype {dtype!r}")


def as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def make_inputs(m, arrays, requires_grad: bool) -> list:
    """Fresh leaf tensors of module m holding the arrays; float ones require grad if asked."""
    tensors = []
    for a in arrays:
        t = m.from_numpy(np.array(a, copy=True))
        if requires_grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        tensors.append(t)
    return tensors


def to_numpy(t) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def assert_same(got, want, dtype_of_case: str, what: str) -> None:
    """Shape and dtype first, then values."""
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {tuple(got.shape)}, torch {tuple(want.shape)}"
    got_dtype, want_dtype = dtype_name(dt, got.dtype), dtype_name(torch, want.dtype)
    assert got_dtype == want_dtype, f"{what}: dtype {got_dtype}, torch {want_dtype}"
    g, w = to_numpy(got), want.detach().numpy()
    assert g.shape == w.shape, f"{what}: numpy() gives shape {g.shape} for a tensor of shape {tuple(got.shape)}"
    if want_dtype in RTOL:
        finite = np.abs(w[np.isfinite(w)])
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        np.testing.assert_allclose(g, w, rtol=RTOL[want_dtype], atol=ATOL[want_dtype] * scale, equal_nan=True,
                                   err_msg=f"{what} ({dtype_of_case})")
    else:
        np.testing.assert_array_equal(g, w, err_msg=f"{what} ({dtype_of_case})")


ALL = cases()
GRAD = cases(grad_only=True)


@pytest.mark.parametrize("entry,dtype,case", [c[:3] for c in ALL], ids=[c[3] for c in ALL])
def test_forward(entry, dtype, case):
    arrays = case.arrays(entry, dtype, f"{entry.name}-{dtype}-{case.id()}")
    want = as_list(entry.fn(torch, *make_inputs(torch, arrays, False), **case.kwargs))
    got = as_list(entry.fn(dt, *make_inputs(dt, arrays, False), **case.kwargs))
    assert len(got) == len(want), f"{len(got)} outputs, torch {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert_same(g, w, dtype, f"output {i}")
        assert not g.requires_grad, f"output {i} requires grad though no input does"


@pytest.mark.parametrize("entry,dtype,case", [c[:3] for c in GRAD], ids=[c[3] for c in GRAD])
def test_backward(entry, dtype, case):
    seed_text = f"{entry.name}-{dtype}-{case.id()}"
    arrays = case.arrays(entry, dtype, seed_text)
    t_in = make_inputs(torch, arrays, True)
    d_in = make_inputs(dt, arrays, True)
    t_out = as_list(entry.fn(torch, *t_in, **case.kwargs))
    d_out = as_list(entry.fn(dt, *d_in, **case.kwargs))
    assert len(d_out) == len(t_out), f"{len(d_out)} outputs, torch {len(t_out)}"
    for i, (g, w) in enumerate(zip(d_out, t_out)):
        assert_same(g, w, dtype, f"output {i}")
        assert g.requires_grad == w.requires_grad, \
            f"output {i}: requires_grad {g.requires_grad}, torch {w.requires_grad}"
    diff = [i for i, w in enumerate(t_out) if w.requires_grad]
    assert diff, f"table error: {entry.name} is marked differentiable but no torch output requires grad"

    rng = np.random.default_rng(zlib.crc32(("cotangent-" + seed_text).encode()))
    cts = {i: rng.uniform(-1.0, 1.0, size=tuple(t_out[i].shape)).astype(t_out[i].detach().numpy().dtype)
           for i in diff}
    t_loss = functools.reduce(operator.add, [(t_out[i] * torch.from_numpy(cts[i])).sum() for i in diff])
    d_loss = functools.reduce(operator.add, [(d_out[i] * dt.from_numpy(cts[i].copy())).sum() for i in diff])
    t_loss.backward()
    d_loss.backward()
    for k, (tx, dx) in enumerate(zip(t_in, d_in)):
        if not tx.requires_grad:
            continue
        if tx.grad is None:
            assert dx.grad is None, f"input {k}: torch has no gradient but dumbtorch has one"
            continue
        assert dx.grad is not None, f"input {k}: no gradient (torch has one)"
        assert_same(dx.grad, tx.grad, dtype, f"grad of input {k}")


def test_table_covers_the_registry():
    ops = registry_ops()
    assert len(ops) > 30, f"parsed only {len(ops)} ops from ir/Ops.def"
    covered = registry_coverage()
    missing = sorted(set(ops) - covered - set(EXCLUDED))
    assert not missing, f"registry ops with no entry in tests/python/op_table.py: {missing}"
    stale = sorted(covered - set(ops))
    assert not stale, f"op_table.py claims to cover ops that are not in ir/Ops.def: {stale}"
    assert set(EXCLUDED) <= set(ops), f"excluded ops not in the registry: {sorted(set(EXCLUDED) - set(ops))}"


def test_table_is_well_formed():
    names = [e.name for e in TABLE]
    assert len(names) == len(set(names)), "duplicate entry names"
    ids = [c[3] for c in ALL]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for e in TABLE:
        assert e.cases, f"{e.name} has no cases"
        assert set(e.dtypes) <= set(DTYPE_NAMES), f"{e.name}: unknown dtypes {e.dtypes}"
        if e.grad:
            assert set(e.dtypes) & set(F) or e.dtypes == ("int64",), f"{e.name}: differentiable without float dtypes"
