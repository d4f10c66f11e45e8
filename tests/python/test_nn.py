"""dt.nn against torch.nn 2.13.0: Module registration and traversal, state_dict, modes, dtype
conversion, repr, Parameter, every layer's forward and gradients (weights copied from torch),
PyTorch's default Linear initialisation, dt.nn.init, Dropout and Embedding."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import dumbtorch as dt
from nn_helpers import assert_close, copy_weights, to_dt, torch_one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DTYPES = [torch.float32, torch.float64]


# --- Parameter ------------------------------------------------------------------------------


def test_parameter_is_a_tensor_that_requires_grad():
    p = dt.nn.Parameter(dt.ones(2, 3))
    assert isinstance(p, dt.nn.Parameter) and isinstance(p, dt.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert not dt.nn.Parameter(dt.ones(2), requires_grad=False).requires_grad
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2, 3)))
    # Ops on a Parameter give plain tensors with history.
    y = p * 2
    assert type(y) is dt.Tensor and y.grad_fn is not None


def test_parameter_shares_storage_with_its_data():
    t = dt.zeros(3)
    p = dt.nn.Parameter(t)
    with dt.no_grad():
        p.add_(1.0)
    assert t.tolist() == [1.0, 1.0, 1.0]


def test_parameter_rejects_integer_data_and_non_tensors():
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        dt.nn.Parameter(dt.tensor([1, 2]))
    with pytest.raises(TypeError):
        dt.nn.Parameter([1.0, 2.0])


# --- Module protocol ------------------------------------------------------------------------


class _Net:
    """The same two-level model in both frameworks (a buffer, a nested Sequential, a ModuleList)."""

    @staticmethod
    def build(nn, torchlike):
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
                self.register_buffer("scale", torchlike.ones(3))
                self.register_buffer("tmp", torchlike.zeros(1), persistent=False)

            def forward(self, x):
                return self.fc(x) * self.scale

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = nn.Sequential(nn.Tanh(), nn.Linear(3, 2, bias=False))
                self.extra = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])

            def forward(self, x):
                h = self.head(self.block(x))
                for m in self.extra:
                    h = m(h)
                return h

        return Net()


def test_registration_and_traversal_match_torch():
    tm = _Net.build(torch.nn, torch)
    dm = _Net.build(dt.nn, dt)
    assert [n for n, _ in dm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in dm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in dm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in dm.named_children()] == [n for n, _ in tm.named_children()]
    assert list(dm.state_dict().keys()) == list(tm.state_dict().keys())
    assert len(list(dm.parameters())) == len(list(tm.parameters()))
    assert len(list(dm.modules())) == len(list(tm.modules()))
    assert len(list(dm.children())) == 3
    assert dm.get_submodule("head.1") is dm.head[1]
    assert dm.get_parameter("block.fc.bias") is dm.block.fc.bias
    assert repr(dm) == repr(tm)


def test_forward_with_copied_weights_matches_torch():
    torch.manual_seed(0)
    tm = _Net.build(torch.nn, torch).double()
    dm = _Net.build(dt.nn, dt).double()
    copy_weights(tm, dm)
    x = torch.randn(5, 4, dtype=torch.float64)
    assert_close(dm(to_dt(x)), tm(x), "Net forward")


def test_setattr_rules():
    m = dt.nn.Module()
    m.w = dt.nn.Parameter(dt.zeros(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = dt.zeros(2)  # a plain tensor cannot replace a parameter
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    m.sub = dt.nn.Linear(1, 1)
    assert "sub" in m._modules
    with pytest.raises(TypeError, match="child module"):
        m.sub = 3
    m.register_buffer("b", dt.ones(1))
    m.b = dt.zeros(1)
    assert m._buffers["b"].tolist() == [0.0]
    with pytest.raises(TypeError):
        m.b = 3
    m.plain = 5  # plain attributes stay plain
    assert m.plain == 5 and "plain" not in m._parameters
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        m.nothing
    with pytest.raises(KeyError):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError):
        m.register_parameter("q", dt.zeros(1))


def test_module_without_super_init_and_without_forward():
    class Bad(dt.nn.Module):
        def __init__(self):
            self.x = 1

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Bad()(dt.zeros(1))

    with pytest.raises(NotImplementedError, match="forward"):
        dt.nn.Module()(dt.zeros(1))

    class BadParam(dt.nn.Module):
        def __init__(self):
            self.w = dt.nn.Parameter(dt.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        BadParam()


def test_state_dict_is_detached_and_shares_storage():
    m = dt.nn.Linear(3, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict) and list(sd) == ["weight", "bias"]
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], dt.nn.Parameter)
    with dt.no_grad():
        m.weight.fill_(2.0)
    assert sd["weight"].tolist() == [[2.0] * 3] * 2
    kv = m.state_dict(keep_vars=True)
    assert kv["weight"] is m.weight


def test_load_state_dict_copies_and_reports_problems_like_torch():
    m = dt.nn.Linear(3, 2)
    w = m.weight
    m.load_state_dict({"weight": dt.ones(2, 3), "bias": dt.zeros(2)})
    assert m.weight is w and m.weight.tolist() == [[1.0] * 3] * 2 and m.weight.requires_grad
    tm = torch.nn.Linear(3, 2)
    for bad in ({"weight": dt.ones(2, 3)}, {"weight": dt.ones(2, 3), "bias": dt.zeros(2), "extra": dt.zeros(1)}):
        with pytest.raises(RuntimeError) as ours:
            m.load_state_dict(bad)
        with pytest.raises(RuntimeError) as theirs:
            tm.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in bad.items()})
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape "
                                           r"dumbtorch.Size\(\[3, 3\]\) from checkpoint, the shape in current model is "
                                           r"dumbtorch.Size\(\[2, 3\]\)"):
        m.load_state_dict({"weight": dt.ones(3, 3), "bias": dt.zeros(2)})
    missing, unexpected = m.load_state_dict({"weight": dt.ones(2, 3), "zzz": dt.ones(1)}, strict=False)
    assert missing == ["bias"] and unexpected == ["zzz"]


def test_train_eval_propagate():
    m = dt.nn.Sequential(dt.nn.Linear(2, 2), dt.nn.Sequential(dt.nn.Dropout(), dt.nn.ReLU()))
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())


def test_zero_grad_and_requires_grad():
    m = dt.nn.Linear(2, 1)
    m(dt.ones(3, 2)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.tolist() == [[0.0, 0.0]]
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_dtype_keeps_parameter_objects():
    m = dt.nn.Sequential(dt.nn.Linear(2, 3), dt.nn.Linear(3, 1))
    before = list(m.parameters())
    values = [p.detach().numpy().astype(np.float64) for p in before]
    assert m.to(dt.float64) is m
    after = list(m.parameters())
    assert all(a is b for a, b in zip(before, after))
    assert all(p.dtype == dt.float64 and isinstance(p, dt.nn.Parameter) and p.requires_grad for p in after)
    for v, p in zip(values, after):
        np.testing.assert_array_equal(p.detach().numpy(), v)
    m.float()
    assert all(p.dtype == dt.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="floating point"):
        m.to(dt.int64)


def test_hooks():
    m = dt.nn.Linear(2, 2)
    seen = []
    h = m.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)))
    m(dt.zeros(3, 2))
    h.remove()
    m(dt.zeros(3, 2))
    assert seen == [(3, 2)]


# --- containers -----------------------------------------------------------------------------


def test_sequential_and_modulelist_behave_like_torch():
    layers = [dt.nn.Linear(2, 3), dt.nn.ReLU(), dt.nn.Linear(3, 1)]
    s = dt.nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert isinstance(s[1:], dt.nn.Sequential) and len(s[1:]) == 2
    assert list(s) == layers
    s.append(dt.nn.Sigmoid())
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError):
        s[10]
    named = dt.nn.Sequential(OrderedDict([("fc", dt.nn.Linear(1, 1)), ("act", dt.nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    ml = dt.nn.ModuleList([dt.nn.Linear(1, 1)])
    ml.append(dt.nn.Linear(1, 2))
    ml += [dt.nn.ReLU()]
    assert len(ml) == 3 and [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    tml = torch.nn.ModuleList([torch.nn.Linear(1, 1), torch.nn.Linear(1, 2), torch.nn.ReLU()])
    assert repr(ml) == repr(tml)


# --- layers against torch -------------------------------------------------------------------


def _layer_cases():
    return [
        ("Linear", lambda nn: nn.Linear(5, 3), (4, 5)),
        ("Linear-nobias", lambda nn: nn.Linear(5, 3, bias=False), (2, 7, 5)),
        ("ReLU", lambda nn: nn.ReLU(), (4, 5)),
        ("Sigmoid", lambda nn: nn.Sigmoid(), (4, 5)),
        ("Tanh", lambda nn: nn.Tanh(), (4, 5)),
        ("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), (4, 5)),
        ("GELU", lambda nn: nn.GELU(), (6, 50)),
        ("GELU-tanh", lambda nn: nn.GELU(approximate="tanh"), (6, 50)),
        ("Softmax", lambda nn: nn.Softmax(dim=1), (4, 5)),
        ("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1), (4, 5)),
        ("Flatten", lambda nn: nn.Flatten(), (2, 3, 4)),
        ("Flatten-0", lambda nn: nn.Flatten(0, 1), (2, 3, 4)),
        ("Identity", lambda nn: nn.Identity(7, x=1), (3,)),
        ("Dropout-eval", lambda nn: nn.Dropout(0.3).eval(), (4, 5)),
        ("MLP", lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 8), nn.Tanh(),
                                         nn.Linear(8, 3), nn.LogSoftmax(dim=1)), (4, 3, 4)),
    ]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,make,shape", _layer_cases(), ids=[c[0] for c in _layer_cases()])
def test_layer_forward_and_gradients_match_torch(name, make, shape, dtype):
    torch.manual_seed(1)
    tm = make(torch.nn).to(dtype)
    dm = make(dt.nn).to(dt.float32 if dtype == torch.float32 else dt.float64)
    if any(True for _ in tm.parameters()):
        copy_weights(tm, dm)
    assert repr(dm) == repr(tm)
    x = (torch.randn(*shape, dtype=dtype) * 3).requires_grad_(True)
    xd = to_dt(x)
    y, yd = tm(x), dm(xd)
    assert_close(yd, y, f"{name} forward")
    cot = torch.randn(*y.shape, dtype=dtype)
    (y * cot).sum().backward()
    (yd * to_dt(cot)).sum().backward()
    assert_close(xd.grad, x.grad, f"{name} input grad")
    for (n, p), (_, q) in zip(tm.named_parameters(), dm.named_parameters()):
        assert_close(q.grad, p.grad, f"{name} grad of {n}")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_over_the_whole_erf_range(approximate):
    # Every branch of the erf approximation (|x|/sqrt2 below 0.47, up to 4, beyond 4) and the tails.
    x = torch.cat([torch.linspace(-12, 12, 2001, dtype=torch.float64), torch.tensor([0.0, -0.66291, 0.66291,
                                                                                  -5.6568, 5.6568, 40.0, -40.0],
                                                                                 dtype=torch.float64)])
    x.requires_grad_(True)
    xd = to_dt(x)
    y = torch.nn.functional.gelu(x, approximate=approximate)
    yd = dt.nn.functional.gelu(xd, approximate=approximate)
    assert_close(yd, y, "gelu f64")
    y.sum().backward()
    yd.sum().backward()
    assert_close(xd.grad, x.grad, "gelu' f64")


def test_erf_matches_math_erf():
    xs = np.concatenate([np.linspace(-7, 7, 4001), [0.0, 0.46875, -0.46875, 4.0, -4.0, 30.0]])
    got = dt.nn.functional.erf(dt.tensor(xs, dtype=dt.float64)).numpy()
    want = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-16)


def test_softmax_without_dim_warns_and_picks_torchs_dim():
    x = torch.randn(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        yd = dt.nn.Softmax()(to_dt(x))
    assert_close(yd, torch.softmax(x, 1), "Softmax()")


# --- initialisation -------------------------------------------------------------------------


def test_linear_default_init_is_pytorchs_distribution():
    dt.manual_seed(0)
    m = dt.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): mean 0, variance bound^2 / 3; 120,000 samples pin both down.
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert np.abs(w).max() > 0.99 * bound
    tw = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert abs(tw.var() / w.var() - 1) < 0.03  # same distribution as torch's


def test_manual_seed_makes_init_reproducible():
    dt.manual_seed(123)
    a = dt.nn.Linear(5, 4).weight.detach().numpy().copy()
    dt.manual_seed(123)
    b = dt.nn.Linear(5, 4).weight.detach().numpy().copy()
    c = dt.nn.Linear(5, 4).weight.detach().numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_init_functions():
    dt.manual_seed(0)
    t = dt.empty(200, 300)
    assert dt.nn.init.uniform_(t, -2.0, 3.0) is t
    v = t.numpy()
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.05
    dt.nn.init.normal_(t, 1.0, 2.0)
    assert abs(t.numpy().mean() - 1.0) < 0.05 and abs(t.numpy().std() - 2.0) < 0.05
    dt.nn.init.zeros_(t)
    assert not t.numpy().any()
    dt.nn.init.ones_(t)
    assert (t.numpy() == 1).all()
    dt.nn.init.xavier_uniform_(t, gain=2.0)
    a = 2.0 * math.sqrt(6.0 / (200 + 300))
    assert np.abs(t.numpy()).max() <= a and np.abs(t.numpy()).max() > 0.99 * a
    dt.nn.init.kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="relu")
    b = math.sqrt(2.0) * math.sqrt(3.0 / 300)
    assert np.abs(t.numpy()).max() <= b and np.abs(t.numpy()).max() > 0.99 * b
    dt.nn.init.kaiming_uniform_(t, mode="fan_out")
    b = math.sqrt(2.0) * math.sqrt(3.0 / 200)  # a=0 is the gain's negative slope: sqrt(2 / (1 + 0^2))
    assert np.abs(t.numpy()).max() <= b and np.abs(t.numpy()).max() > 0.99 * b
    for g in ("linear", "relu", "tanh", "sigmoid", "leaky_relu", "selu"):
        assert dt.nn.init.calculate_gain(g) == torch.nn.init.calculate_gain(g)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        dt.nn.init.xavier_uniform_(dt.empty(3))
    # Parameters are filled in place and keep requiring grad.
    p = dt.nn.Parameter(dt.empty(3, 3))
    dt.nn.init.ones_(p)
    assert p.requires_grad and p.tolist() == [[1.0] * 3] * 3


# --- Dropout and Embedding ------------------------------------------------------------------


def test_dropout_masks_scales_and_is_seeded():
    x = dt.ones(200, 500, requires_grad=True)
    d = dt.nn.Dropout(0.3)
    dt.manual_seed(7)
    y = d(x)
    v = y.detach().numpy()
    kept = v != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), v)  # d(out)/dx = mask / (1 - p)
    dt.manual_seed(7)
    np.testing.assert_array_equal(d(x).detach().numpy(), v)
    d.eval()
    assert d(x) is x
    assert not dt.nn.functional.dropout(x, 1.0).detach().numpy().any()
    with pytest.raises(ValueError):
        dt.nn.Dropout(1.5)


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_matches_torch(padding_idx):
    torch.manual_seed(0)
    te = torch.nn.Embedding(6, 4, padding_idx=padding_idx)
    de = dt.nn.Embedding(6, 4, padding_idx=padding_idx)
    if padding_idx is not None:
        assert not de.weight.detach().numpy()[padding_idx].any()
    copy_weights(te, de)
    idx = torch.tensor([[0, 1, 5], [1, 3, 3]])
    y, yd = te(idx), de(to_dt(idx))
    assert_close(yd, y, "Embedding forward")
    cot = torch.randn(2, 3, 4)
    (y * cot).sum().backward()
    (yd * to_dt(cot)).sum().backward()
    assert_close(de.weight.grad, te.weight.grad, "Embedding weight grad")
    assert repr(de) == repr(te)
    with pytest.raises(IndexError, match="out of range"):
        de(dt.tensor([6]))
