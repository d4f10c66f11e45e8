"""Numerics at extreme logits (issue 7, item 6): softmax, log_softmax, sigmoid, logsigmoid,
logsumexp, cross_entropy (class and probability targets, label smoothing), nll_loss and
binary_cross_entropy_with_logits stay finite and match PyTorch 2.13.0 for logits of +-1e4, +-1e30
and mixes with 0, in float32 and float64, forward and gradient.

Each case runs the same function on dumbtorch and torch tensors built from the same numpy array:
the outputs must agree (same non-finite positions, close values) and so must the gradients of
sum(w * out) for a fixed random weight w.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dumbtorch as dt

# Rows of 4 logits each; every row is one sample of 4 classes.
LOGITS = {
    "pm1e4": [[1e4, -1e4, 0.0, 1.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, 0.0, -1e4]],
    "pm1e30": [[1e30, -1e30, 0.0, 2.0], [-1e30, -1e30, -1e30, -1e30], [1e30, 1e30, 1e30, -1e30]],
    "mixed_zero": [[0.0, 0.0, 0.0, 0.0], [0.0, 1e4, 0.0, 0.0], [-1e30, 0.0, 1e30, 0.0]],
    "moderate": [[30.0, -30.0, 20.0, -20.0], [88.0, -88.0, 104.0, -104.0], [710.0, -745.0, 0.5, -0.5]],
}
TARGET = [0, 2, 1]  # class indices, one per row
BIN_TARGET = [[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.0], [0.25, 1.0, 0.0, 0.0]]


class _TorchLogsumexp(torch.autograd.Function):
    """torch.logsumexp whose gradient is softmax(x): PyTorch's own backward, exp(x - lse),
    loses the log(n) of n tied maxima when |max| >> log(n) (at 1e30 it returns n times the
    gradient), so the reference gradient is the exact identity instead."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.save_for_backward(x)
        ctx.dim = dim
        return torch.logsumexp(x, dim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        dims = ctx.dim if isinstance(ctx.dim, tuple) else (ctx.dim,)
        sm = torch.exp(x - x.amax(dims, keepdim=True))
        sm = sm / sm.sum(dims, keepdim=True)
        for d in sorted(dims):
            g = g.unsqueeze(d)
        return g * sm, None


def _logsumexp(lib, x, dim):
    return _TorchLogsumexp.apply(x, dim) if lib is torch else lib.logsumexp(x, dim)


def _fns():
    """name -> f(lib, F, x): the function under test, written once for both libraries."""

    def tgt(lib):
        return lib.tensor(TARGET)

    def probs(lib, x):
        return lib.tensor([[0.7, 0.1, 0.1, 0.1], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=x.dtype)

    def bin_t(lib, x):
        return lib.tensor(BIN_TARGET, dtype=x.dtype)

    return {
        "softmax": lambda lib, F, x: F.softmax(x, dim=1),
        "softmax_dim0": lambda lib, F, x: lib.softmax(x, 0),
        "log_softmax": lambda lib, F, x: F.log_softmax(x, dim=1),
        "log_softmax_dim0": lambda lib, F, x: lib.log_softmax(x, 0),
        "sigmoid": lambda lib, F, x: lib.sigmoid(x),
        "logsigmoid": lambda lib, F, x: F.logsigmoid(x),
        "logsumexp": lambda lib, F, x: _logsumexp(lib, x, 1),
        "logsumexp_all": lambda lib, F, x: _logsumexp(lib, x, (0, 1)),
        "cross_entropy": lambda lib, F, x: F.cross_entropy(x, tgt(lib), reduction="none"),
        "cross_entropy_mean": lambda lib, F, x: F.cross_entropy(x, tgt(lib)),
        "cross_entropy_smooth": lambda lib, F, x: F.cross_entropy(x, tgt(lib), label_smoothing=0.1, reduction="none"),
        "cross_entropy_probs": lambda lib, F, x: F.cross_entropy(x, probs(lib, x), reduction="none"),
        "nll_loss": lambda lib, F, x: F.nll_loss(F.log_softmax(x, dim=1), tgt(lib), reduction="none"),
        "bce_with_logits": lambda lib, F, x: F.binary_cross_entropy_with_logits(x, bin_t(lib, x), reduction="none"),
        "bce_with_logits_pos_weight": lambda lib, F, x: F.binary_cross_entropy_with_logits(
            x, bin_t(lib, x), pos_weight=lib.tensor([1.0, 2.0, 0.5, 3.0], dtype=x.dtype), reduction="none"),
    }


FNS = _fns()
DTYPES = {"f32": (np.float32, dt.float32, torch.float32), "f64": (np.float64, dt.float64, torch.float64)}


def _compare(ours: np.ndarray, theirs: np.ndarray, dtype: str, what: str) -> None:
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN positions differ")
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs), err_msg=f"{what}: inf positions differ")
    fin = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~fin], theirs[~fin], err_msg=f"{what}: infinities differ")
    rtol, atol = (2e-5, 1e-6) if dtype == "f32" else (1e-12, 1e-12)
    np.testing.assert_allclose(ours[fin], theirs[fin], rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("case", sorted(LOGITS))
@pytest.mark.parametrize("fn", sorted(FNS))
def test_extreme_logits_match_torch(fn, case, dtype):
    np_t, dt_t, torch_t = DTYPES[dtype]
    data = np.array(LOGITS[case], dtype=np_t)
    w = np.random.default_rng(0).uniform(0.5, 1.5, size=16).astype(np_t)

    x = dt.tensor(data, dtype=dt_t, requires_grad=True)
    tx = torch.tensor(data, dtype=torch_t, requires_grad=True)
    out = FNS[fn](dt, dt.nn.functional, x)
    tout = FNS[fn](torch, torch.nn.functional, tx)
    ours, theirs = out.detach().numpy(), tout.detach().numpy()
    assert ours.dtype == theirs.dtype
    _compare(ours, theirs, dtype, f"{fn} forward")
    if np.isfinite(theirs).all():
        assert np.isfinite(ours).all()

    wf = w[: max(ours.size, 1)].reshape(ours.shape)
    (out * dt.tensor(wf)).sum().backward()
    (tout * torch.tensor(wf)).sum().backward()
    _compare(x.grad.numpy(), tx.grad.numpy(), dtype, f"{fn} gradient")


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_logsigmoid_keeps_tiny_values(dtype):
    """log(sigmoid(x)) for large positive x is about -exp(-x): a log(1 + exp(-x)) that rounds
    1 + exp(-x) to 1 would return 0; log1p keeps the value."""
    np_t, dt_t, torch_t = DTYPES[dtype]
    data = np.array([20.0, 40.0, 80.0, 700.0, -20.0, 1e-3], dtype=np_t)
    x = dt.tensor(data, dtype=dt_t, requires_grad=True)
    tx = torch.tensor(data, dtype=torch_t, requires_grad=True)
    y, ty = dt.nn.functional.logsigmoid(x), torch.nn.functional.logsigmoid(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5 if dtype == "f32" else 1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5 if dtype == "f32" else 1e-12)
