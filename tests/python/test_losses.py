"""dt.nn.functional losses and their modules against torch 2.13.0: values and gradients for every
reduction, class indices and probabilities, weights, ignore_index, label_smoothing, pos_weight;
numerical stability at extreme logits; PyTorch's errors; and several SGD steps through each loss
with the same parameters as PyTorch after every step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import dumbtorch as dt
from nn_helpers import assert_close, assert_params_equal, copy_weights, to_dt, torch_one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DF = dt.nn.functional
DTYPES = [torch.float32, torch.float64]
REDUCTIONS = ["mean", "sum", "none"]


def _data(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(6, 5, generator=g, dtype=dtype) * 3).requires_grad_(True)
    target = torch.randint(0, 5, (6,), generator=g)
    probs = torch.softmax(torch.randn(6, 5, generator=g, dtype=dtype), 1)
    weight = torch.rand(5, generator=g, dtype=dtype) + 0.5
    return logits, target, probs, weight


def _check(fn_t, fn_d, inputs, what):
    """fn_t(*torch tensors) vs fn_d(*dumbtorch tensors): value, then gradient of every float input
    that requires grad under a random cotangent."""
    d_inputs = [to_dt(x) if isinstance(x, torch.Tensor) else x for x in inputs]
    y = fn_t(*inputs)
    yd = fn_d(*d_inputs)
    assert_close(yd, y, f"{what} value")
    cot = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(3))
    (y * cot).sum().backward()
    (yd * to_dt(cot)).sum().backward()
    for x, xd in zip(inputs, d_inputs):
        if isinstance(x, torch.Tensor) and x.requires_grad:
            assert_close(xd.grad, x.grad, f"{what} grad")


# --- regression -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses(name, reduction, dtype):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, generator=g, dtype=dtype).requires_grad_(True)
    y = torch.randn(4, 3, generator=g, dtype=dtype).requires_grad_(True)
    _check(lambda a, b: getattr(TF, name)(a, b, reduction=reduction),
           lambda a, b: getattr(DF, name)(a, b, reduction=reduction), [x, y], f"{name} {reduction}")


def test_mse_loss_broadcasts_with_torchs_warning():
    x, y = torch.randn(4, 3), torch.randn(3)
    with pytest.warns(UserWarning, match="different to the input size"):
        out = DF.mse_loss(to_dt(x), to_dt(y))
    assert_close(out, TF.mse_loss(x, y.expand(4, 3)), "broadcast mse")


# --- cross entropy and nll ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2], ids=["", "smooth"])
def test_cross_entropy_class_indices(smoothing, weighted, reduction, dtype):
    logits, target, _, weight = _data(dtype)
    target[2] = -100  # one ignored target
    w = weight if weighted else None
    _check(lambda x, t, w_: TF.cross_entropy(x, t, weight=w_, reduction=reduction, label_smoothing=smoothing),
           lambda x, t, w_: DF.cross_entropy(x, t, weight=w_, reduction=reduction, label_smoothing=smoothing),
           [logits, target, w], f"cross_entropy {reduction} w={weighted} ls={smoothing}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3], ids=["", "smooth"])
def test_cross_entropy_probabilities(smoothing, weighted, reduction, dtype):
    logits, _, probs, weight = _data(dtype, seed=4)
    w = weight if weighted else None
    _check(lambda x, p, w_: TF.cross_entropy(x, p, weight=w_, reduction=reduction, label_smoothing=smoothing),
           lambda x, p, w_: DF.cross_entropy(x, p, weight=w_, reduction=reduction, label_smoothing=smoothing),
           [logits, probs, w], f"cross_entropy probs {reduction}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_and_spatial(reduction):
    g = torch.Generator().manual_seed(5)
    x1 = torch.randn(7, generator=g, dtype=torch.float64).requires_grad_(True)
    t1 = torch.tensor(3)
    _check(lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1),
           lambda x, t: DF.cross_entropy(x, t, reduction=reduction, label_smoothing=0.1), [x1, t1], "unbatched")
    x3 = torch.randn(2, 4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    t3 = torch.randint(0, 4, (2, 3), generator=g)
    _check(lambda x, t: TF.cross_entropy(x, t, reduction=reduction),
           lambda x, t: DF.cross_entropy(x, t, reduction=reduction), [x3, t3], "(N, C, d)")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
def test_nll_loss(weighted, reduction, dtype):
    logits, target, _, weight = _data(dtype, seed=2)
    target[0] = 1
    target[4] = 1
    logp = torch.log_softmax(logits.detach(), 1).requires_grad_(True)
    _check(lambda x, t, w: TF.nll_loss(x, t, weight=w, ignore_index=1, reduction=reduction),
           lambda x, t, w: DF.nll_loss(x, t, weight=w, ignore_index=1, reduction=reduction),
           [logp, target, weight if weighted else None], f"nll_loss {reduction}")


def test_all_targets_ignored_gives_nan_like_torch():
    x = torch.randn(3, 4)
    t = torch.full((3,), -100)
    assert torch.isnan(TF.cross_entropy(x, t))
    assert np.isnan(DF.cross_entropy(to_dt(x), to_dt(t)).item())


def test_cross_entropy_is_stable_at_extreme_logits():
    x = torch.tensor([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 1.0], [88.0, 89.0, 90.0]]).requires_grad_(True)
    t = torch.tensor([1, 1, 0])
    _check(lambda a, b: TF.cross_entropy(a, b, reduction="none"),
           lambda a, b: DF.cross_entropy(a, b, reduction="none"), [x, t], "extreme cross_entropy")
    assert np.isfinite(DF.cross_entropy(to_dt(x), to_dt(t)).item())


def test_classification_errors():
    x = dt.randn(4, 3)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        DF.cross_entropy(x, dt.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        DF.cross_entropy(x, dt.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="int64"):
        DF.nll_loss(x, dt.tensor([0.0, 1.0, 2.0, 1.0]).reshape(2, 2))
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        DF.cross_entropy(x, dt.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="weight tensor should be defined"):
        DF.cross_entropy(x, dt.tensor([0, 1, 2, 0]), weight=dt.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        DF.cross_entropy(x, dt.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="must be Tensor"):
        DF.cross_entropy([[1.0]], dt.tensor([0]))


# --- binary ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weight"])
def test_binary_cross_entropy(weighted, reduction, dtype):
    g = torch.Generator().manual_seed(6)
    p = (torch.rand(5, 4, generator=g, dtype=dtype) * 0.98 + 0.01).requires_grad_(True)
    t = torch.rand(5, 4, generator=g, dtype=dtype)
    w = torch.rand(4, generator=g, dtype=dtype) if weighted else None
    _check(lambda a, b, w_: TF.binary_cross_entropy(a, b, weight=w_, reduction=reduction),
           lambda a, b, w_: DF.binary_cross_entropy(a, b, weight=w_, reduction=reduction), [p, t, w], "bce")


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-30], dtype=torch.float64)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    pd = to_dt(p).requires_grad_(True)
    out = DF.binary_cross_entropy(pd, to_dt(t), reduction="none")
    assert_close(out, TF.binary_cross_entropy(p, t, reduction="none"), "bce at 0 and 1")
    out.sum().backward()
    assert np.isfinite(pd.grad.numpy()).all()  # the clamped branches pass a finite gradient
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        DF.binary_cross_entropy(dt.tensor([1.5]), dt.tensor([1.0]))
    with pytest.raises(ValueError, match="same size"):
        DF.binary_cross_entropy(dt.tensor([0.5, 0.5]), dt.tensor([1.0]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weighted", [False, True], ids=["", "pos_weight"])
def test_binary_cross_entropy_with_logits(pos_weighted, reduction, dtype):
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(5, 4, generator=g, dtype=dtype) * 4).requires_grad_(True)
    t = torch.rand(5, 4, generator=g, dtype=dtype)
    w = torch.rand(4, generator=g, dtype=dtype)
    pw = torch.rand(4, generator=g, dtype=dtype) * 3 if pos_weighted else None
    _check(lambda a, b, w_, pw_: TF.binary_cross_entropy_with_logits(a, b, weight=w_, reduction=reduction,
                                                                      pos_weight=pw_),
           lambda a, b, w_, pw_: DF.binary_cross_entropy_with_logits(a, b, weight=w_, reduction=reduction,
                                                                      pos_weight=pw_),
           [x, t, w, pw], "bce_with_logits")


def test_binary_cross_entropy_with_logits_is_stable():
    x = torch.tensor([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0], dtype=torch.float64).requires_grad_(True)
    t = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    _check(lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="none"),
           lambda a, b: DF.binary_cross_entropy_with_logits(a, b, reduction="none"), [x, t], "extreme logits")


# --- modules --------------------------------------------------------------------------------


def test_loss_modules_match_functional_and_repr():
    logits, target, probs, weight = _data(torch.float64)
    x = logits.detach()
    cases = [
        (torch.nn.MSELoss(), dt.nn.MSELoss(), (x, probs)),
        (torch.nn.L1Loss(reduction="sum"), dt.nn.L1Loss(reduction="sum"), (x, probs)),
        (torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=0.1),
         dt.nn.CrossEntropyLoss(weight=to_dt(weight), label_smoothing=0.1), (x, target)),
        (torch.nn.NLLLoss(), dt.nn.NLLLoss(), (torch.log_softmax(x, 1), target)),
        (torch.nn.BCELoss(), dt.nn.BCELoss(), (torch.sigmoid(x), probs)),
        (torch.nn.BCEWithLogitsLoss(pos_weight=weight), dt.nn.BCEWithLogitsLoss(pos_weight=to_dt(weight)),
         (x, probs)),
    ]
    for tl, dl, args in cases:
        assert repr(dl) == repr(tl)
        assert_close(dl(*[to_dt(a) for a in args]), tl(*args), type(tl).__name__)
    assert [n for n, _ in dt.nn.CrossEntropyLoss(weight=dt.ones(3)).named_buffers()] == ["weight"]


# --- training through each loss -------------------------------------------------------------


def _targets(name, dtype, n, g):
    if name in ("cross_entropy", "nll_loss"):
        return torch.randint(0, 3, (n,), generator=g)
    if name == "cross_entropy_probs":
        return torch.softmax(torch.randn(n, 3, generator=g, dtype=dtype), 1)
    return torch.rand(n, 3, generator=g, dtype=dtype)


_TRAIN = {
    "mse_loss": (lambda F, y, t: F.mse_loss(y, t)),
    "l1_loss": (lambda F, y, t: F.l1_loss(y, t)),
    "cross_entropy": (lambda F, y, t: F.cross_entropy(y, t, label_smoothing=0.05)),
    "cross_entropy_probs": (lambda F, y, t: F.cross_entropy(y, t)),
    "nll_loss": (lambda F, y, t: F.nll_loss(F.log_softmax(y, dim=1), t)),
    "binary_cross_entropy": (lambda F, y, t: F.binary_cross_entropy(F.sigmoid(y), t)),
    "binary_cross_entropy_with_logits": (lambda F, y, t: F.binary_cross_entropy_with_logits(y, t)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(_TRAIN))
def test_training_steps_through_each_loss_match_torch(name, dtype):
    """Same initial weights in both frameworks, 5 SGD (momentum) steps on fresh batches: the
    parameters agree after every step."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(11)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).to(dtype)
    dm = dt.nn.Sequential(dt.nn.Linear(4, 6), dt.nn.Tanh(), dt.nn.Linear(6, 3))
    dm.to(dt.float32 if dtype == torch.float32 else dt.float64)
    copy_weights(tm, dm)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9, foreach=False)
    dopt = dt.optim.SGD(dm.parameters(), lr=0.1, momentum=0.9)
    fn = _TRAIN[name]
    for step in range(5):
        x = torch.randn(8, 4, generator=g, dtype=dtype)
        t = _targets(name, dtype, 8, g)
        topt.zero_grad()
        lt = fn(TF, tm(x), t)
        lt.backward()
        topt.step()
        dopt.zero_grad()
        ld = fn(DF, dm(to_dt(x)), to_dt(t))
        ld.backward()
        dopt.step()
        assert_close(ld.detach(), lt.detach(), f"{name} loss at step {step}")
        assert_params_equal(dm, tm, f"{name} after step {step}")
