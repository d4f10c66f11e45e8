"""dt.optim against torch.optim 2.13.0 (single-tensor implementations, foreach=False): the same
model and weights in both, several steps on the same batches, the same parameters after every
step (f64 within 1e-10, f32 within 1e-5) for every optimizer and option; parameter groups,
zero_grad, state_dict round trips, and the StepLR / CosineAnnealingLR schedules."""

from __future__ import annotations

import warnings

import pytest
import torch

import dumbtorch as dt
from nn_helpers import assert_close, assert_params_equal, copy_weights, to_dt, torch_one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DTYPES = [torch.float32, torch.float64]

# (name, torch factory, dumbtorch factory) with the same keyword arguments.
CONFIGS = [
    ("SGD", "SGD", dict(lr=0.1)),
    ("SGD-momentum", "SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD-dampening", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD-nesterov", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD-weight_decay", "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("SGD-maximize", "SGD", dict(lr=0.01, maximize=True)),
    ("Adam", "Adam", dict(lr=0.01)),
    ("Adam-weight_decay", "Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.05)),
    ("Adam-amsgrad", "Adam", dict(lr=0.02, amsgrad=True, eps=1e-6)),
    ("AdamW", "AdamW", dict(lr=0.01)),
    ("AdamW-amsgrad", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", "RMSprop", dict(lr=0.01)),
    ("RMSprop-centered", "RMSprop", dict(lr=0.01, centered=True, alpha=0.9)),
    ("RMSprop-momentum", "RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("RMSprop-all", "RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.02, maximize=True)),
]


def _models(dtype, seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).to(dtype)
    dm = dt.nn.Sequential(dt.nn.Linear(5, 8), dt.nn.Tanh(), dt.nn.Linear(8, 3))
    dm.to(dt.float32 if dtype == torch.float32 else dt.float64)
    copy_weights(tm, dm)
    return tm, dm


def _batches(dtype, n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 5, generator=g, dtype=dtype), torch.randint(0, 3, (16,), generator=g)) for _ in range(n)]


def _torch_opt(kind, params, kwargs):
    return getattr(torch.optim, kind)(params, foreach=False, **kwargs)


def _step_both(tm, dm, topt, dopt, x, y):
    topt.zero_grad()
    torch.nn.functional.cross_entropy(tm(x), y).backward()
    topt.step()
    dopt.zero_grad()
    dt.nn.functional.cross_entropy(dm(to_dt(x)), to_dt(y)).backward()
    dopt.step()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,kind,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_optimizer_matches_torch_step_for_step(name, kind, kwargs, dtype):
    tm, dm = _models(dtype)
    topt = _torch_opt(kind, tm.parameters(), kwargs)
    dopt = getattr(dt.optim, kind)(dm.parameters(), **kwargs)
    params = list(dm.parameters())
    for step, (x, y) in enumerate(_batches(dtype, 6)):
        _step_both(tm, dm, topt, dopt, x, y)
        assert_params_equal(dm, tm, f"{name} after step {step + 1}")
    # The optimizer updated the module's own Parameter objects.
    assert all(a is b for a, b in zip(params, dm.parameters()))
    # Its state has PyTorch's keys.
    tstate = topt.state_dict()["state"]
    dstate = dopt.state_dict()["state"]
    assert sorted(dstate) == sorted(tstate)
    for k in tstate:
        assert sorted(dstate[k]) == sorted(tstate[k]), f"{name} state keys"
        for key, v in tstate[k].items():
            if key != "step" and isinstance(v, torch.Tensor):
                assert_close(dstate[k][key], v, f"{name} state {key}")


def test_param_groups_with_their_own_hyperparameters():
    tm, dm = _models(torch.float64)
    tgroups = [{"params": tm[0].parameters()}, {"params": tm[2].parameters(), "lr": 0.001, "momentum": 0.5}]
    dgroups = [{"params": dm[0].parameters()}, {"params": dm[2].parameters(), "lr": 0.001, "momentum": 0.5}]
    topt = torch.optim.SGD(tgroups, lr=0.1, momentum=0.9, foreach=False)
    dopt = dt.optim.SGD(dgroups, lr=0.1, momentum=0.9)
    assert [g["lr"] for g in dopt.param_groups] == [0.1, 0.001]
    assert [g["momentum"] for g in dopt.param_groups] == [0.9, 0.5]
    for x, y in _batches(torch.float64, 4):
        _step_both(tm, dm, topt, dopt, x, y)
        assert_params_equal(dm, tm, "param groups")
    extra = dt.nn.Parameter(dt.zeros(2))
    dopt.add_param_group({"params": [extra], "lr": 0.5})
    assert dopt.param_groups[2]["momentum"] == 0.9 and dopt.param_groups[2]["lr"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        dopt.add_param_group({"params": [extra]})


def test_optimizer_argument_errors_match_torch():
    p = [dt.nn.Parameter(dt.zeros(2))]
    with pytest.raises(ValueError, match="empty parameter list"):
        dt.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        dt.optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        dt.optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        dt.optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="non-leaf"):
        x = dt.ones(2, requires_grad=True)
        dt.optim.SGD([x * 2], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        dt.optim.SGD(p[0], lr=0.1)


def test_zero_grad_set_to_none_and_skipped_parameters():
    a, b = dt.nn.Parameter(dt.ones(2)), dt.nn.Parameter(dt.ones(2))
    opt = dt.optim.SGD([a, b], lr=0.5)
    (a * 3).sum().backward()
    opt.step()  # b has no grad: left alone
    assert a.tolist() == [-0.5, -0.5] and b.tolist() == [1.0, 1.0]
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0] and b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_closure_is_called_with_grad_enabled():
    p = dt.nn.Parameter(dt.tensor([2.0]))
    opt = dt.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 4.0 and p.tolist() == [1.0]


@pytest.mark.parametrize("kind,kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5))])
def test_state_dict_round_trip_resumes_exactly(kind, kwargs, tmp_path):
    """3 steps, save model + optimizer (through dt.save), load into fresh objects, 3 more steps:
    the same parameters as 6 uninterrupted steps, and as PyTorch."""
    batches = _batches(torch.float64, 6)
    tm, dm = _models(torch.float64)
    topt = _torch_opt(kind, tm.parameters(), kwargs)
    dopt = getattr(dt.optim, kind)(dm.parameters(), **kwargs)
    for x, y in batches[:3]:
        _step_both(tm, dm, topt, dopt, x, y)
    path = tmp_path / "ckpt.dt"
    dt.save({"model": dm.state_dict(), "optim": dopt.state_dict()}, path)
    ck = dt.load(path)
    _, dm2 = _models(torch.float64, seed=5)
    dopt2 = getattr(dt.optim, kind)(dm2.parameters(), lr=123.0)
    dm2.load_state_dict(ck["model"])
    dopt2.load_state_dict(ck["optim"])
    assert dopt2.param_groups[0]["lr"] == kwargs["lr"]
    for x, y in batches[3:]:
        _step_both(tm, dm2, topt, dopt2, x, y)
        assert_params_equal(dm2, tm, f"{kind} resumed")


def test_load_state_dict_rejects_mismatched_groups():
    p = [dt.nn.Parameter(dt.zeros(2)), dt.nn.Parameter(dt.zeros(3))]
    opt = dt.optim.Adam(p)
    sd = dt.optim.Adam(p[:1]).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(sd)
    sd2 = dt.optim.Adam([{"params": p[:1]}, {"params": p[1:]}]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(sd2)


# --- schedulers -----------------------------------------------------------------------------


def _lrs(mod, sched_name, kwargs, epochs=25):
    p = [torch.nn.Parameter(torch.zeros(1))] if mod is torch else [dt.nn.Parameter(dt.zeros(1))]
    opt = mod.optim.SGD(p, lr=0.1)
    sched = getattr(mod.optim.lr_scheduler, sched_name)(opt, **kwargs)
    out = [sched.get_last_lr()[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
    return out, sched


@pytest.mark.parametrize("sched_name,kwargs", [
    ("StepLR", dict(step_size=3)),
    ("StepLR", dict(step_size=5, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
])
def test_schedulers_match_torch(sched_name, kwargs):
    ours, sched = _lrs(dt, sched_name, kwargs)
    theirs, _ = _lrs(torch, sched_name, kwargs)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-13, abs=1e-16), f"{sched_name} epoch {i}"
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 25


def test_scheduler_state_dict_resumes():
    p = [dt.nn.Parameter(dt.zeros(1))]
    opt = dt.optim.SGD(p, lr=0.1)
    s = dt.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    for _ in range(3):
        opt.step()
        s.step()
    sd = s.state_dict()
    opt2 = dt.optim.SGD([dt.nn.Parameter(dt.zeros(1))], lr=0.1)
    s2 = dt.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=8)
    s2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(3):
        s.step()
        s2.step()
    assert s2.get_last_lr() == s.get_last_lr()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        dt.optim.lr_scheduler.StepLR(object(), step_size=1)
