"""Shared helpers of the issue-4 tests: moving tensors and weights between PyTorch and dumbtorch,
and the comparison used everywhere (shape and dtype first, then values: float64 within 1e-10,
float32 within 1e-5, relative, with an absolute floor scaled by the largest expected magnitude)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dumbtorch as dt

TOL = {torch.float32: (1e-5, 1e-6), torch.float64: (1e-10, 1e-12)}
DT_OF = {torch.float32: dt.float32, torch.float64: dt.float64, torch.int64: dt.int64, torch.bool: dt.bool}


def to_dt(t: torch.Tensor, requires_grad: bool | None = None) -> dt.Tensor:
    out = dt.tensor(t.detach().numpy().copy(), dtype=DT_OF[t.dtype])
    rg = t.requires_grad if requires_grad is None else requires_grad
    return out.requires_grad_(True) if rg else out


def copy_weights(src: torch.nn.Module, dst: dt.nn.Module) -> None:
    """Loads the torch module's state_dict into the dumbtorch one (names must match)."""
    dst.load_state_dict({k: to_dt(v, False) for k, v in src.state_dict().items()})


def assert_close(actual: dt.Tensor, expected: torch.Tensor, what: str = "", tol: tuple | None = None) -> None:
    assert isinstance(actual, dt.Tensor), f"{what}: expected a dumbtorch Tensor, got {type(actual).__name__}"
    assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == DT_OF[expected.dtype], f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a = actual.detach().numpy().astype(np.float64)
    e = expected.detach().numpy().astype(np.float64)
    if expected.dtype in (torch.int64, torch.bool):
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    rtol, atol = tol if tol is not None else TOL[expected.dtype]
    scale = max(1.0, float(np.nanmax(np.abs(e)))) if e.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def assert_params_equal(dt_model: dt.nn.Module, torch_model: torch.nn.Module, what: str = "") -> None:
    dp = dict(dt_model.named_parameters())
    tp = dict(torch_model.named_parameters())
    assert list(dp) == list(tp), f"{what}: parameter names {list(dp)} != {list(tp)}"
    for name in tp:
        assert_close(dp[name], tp[name], f"{what} {name}")


@pytest.fixture
def torch_one_thread():
    """PyTorch on one thread, as dumbtorch runs: its thread pool thrashes on 2 shared cores, which
    made the torch side of these tests several times slower than the dumbtorch side."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
