"""The PyTorch-style Python API (``import dumbtorch as dt``): creation and dtype inference, shapes,
views that share memory, numpy sharing, scalars out, operators with Python numbers, indexing, the
in-place rules, grad mode, backward() and autograd.grad, cache reuse and the tape freeing itself.
Values are compared with numpy or literal expectations."""

import copy
import pickle
import threading

import numpy as np
import pytest

import dumbtorch as dt


def check(t, want, dtype=None):
    """Shape and dtype first, then values."""
    want = np.asarray(want)
    assert isinstance(t, dt.Tensor)
    assert tuple(t.shape) == want.shape, (t.shape, want.shape)
    if dtype is not None:
        assert t.dtype is dtype, (t.dtype, dtype)
    got = t.detach().numpy()
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_array_equal(got, want)


# --- creation and dtypes ----------------------------------------------------------------------


def test_tensor_infers_dtypes_like_pytorch():
    assert dt.tensor([True, False]).dtype is dt.bool
    assert dt.tensor([1, 2]).dtype is dt.int64
    assert dt.tensor([1, 2.5]).dtype is dt.float32
    assert dt.tensor(3.0).dtype is dt.float32
    assert dt.tensor(np.arange(3.0)).dtype is dt.float64  # numpy float64 stays
    assert dt.tensor(np.arange(3, dtype=np.int32)).dtype is dt.int64
    assert dt.tensor([]).dtype is dt.float32
    check(dt.tensor([[1, 2], [3, 4]], dtype=dt.float64), [[1.0, 2.0], [3.0, 4.0]], dt.float64)
    check(dt.tensor(7), np.array(7), dt.int64)
    assert dt.tensor(3.0).shape == () and dt.tensor(3.0).dim() == 0


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = dt.tensor(a)
    a[0] = 100
    check(t, [1.0, 2.0])
    u = dt.tensor(t)
    assert not np.shares_memory(u.numpy(), t.numpy())


def test_bad_data_raises():
    with pytest.raises(ValueError):
        dt.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        dt.tensor("abc")
    with pytest.raises(TypeError):
        dt.tensor([1, None])
    with pytest.raises(TypeError):
        dt.zeros(2, dtype="complex64")
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        dt.tensor([1, 2], requires_grad=True)


def test_creation_functions():
    check(dt.zeros(2, 3), np.zeros((2, 3)), dt.float32)
    check(dt.zeros((2, 3), dtype=dt.int64), np.zeros((2, 3)), dt.int64)
    check(dt.ones([2]), [1.0, 1.0], dt.float32)
    check(dt.empty(0, 4), np.zeros((0, 4)), dt.float32)
    check(dt.full((2,), 7), [7, 7], dt.int64)
    check(dt.full((2,), 0.5), [0.5, 0.5], dt.float32)
    check(dt.full((1,), True), [True], dt.bool)
    check(dt.arange(5), np.arange(5), dt.int64)
    check(dt.arange(1, 2.5, 0.5), [1.0, 1.5, 2.0], dt.float32)
    check(dt.arange(10, 0, -3), [10, 7, 4, 1], dt.int64)
    assert dt.arange(0, 1, 0.3).numel() == 4  # ceil((end - start) / step)
    with pytest.raises(RuntimeError):
        dt.arange(0, 5, -1)
    check(dt.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1], dt.float32)
    check(dt.eye(2, 3, dtype=dt.float64), np.eye(2, 3), dt.float64)
    x = dt.tensor([[1.5, 2.5]], dtype=dt.float64)
    check(dt.zeros_like(x), [[0.0, 0.0]], dt.float64)
    check(dt.ones_like(x, dtype=dt.int64), [[1, 1]], dt.int64)
    check(dt.full_like(x, 3), [[3.0, 3.0]], dt.float64)
    check(dt.empty_like(x), [[0.0, 0.0]], dt.float64)
    assert dt.zeros(3, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError):
        dt.zeros(-1)
    with pytest.raises(TypeError):
        dt.zeros(2.5)


def test_random_tensors_follow_the_seed():
    dt.manual_seed(123)
    a = dt.rand(3, 4)
    b = dt.randn(2, dtype=dt.float64)
    c = dt.randint(0, 10, (5,))
    dt.manual_seed(123)
    check(dt.rand(3, 4), a.numpy(), dt.float32)
    check(dt.randn(2, dtype=dt.float64), b.numpy(), dt.float64)
    check(dt.randint(0, 10, (5,)), c.numpy(), dt.int64)
    assert ((a.numpy() >= 0) & (a.numpy() < 1)).all()
    assert ((c.numpy() >= 0) & (c.numpy() < 10)).all()
    assert dt.randint(5, (2, 2)).shape == (2, 2)
    assert dt.rand_like(b).dtype is dt.float64
    assert dt.randn_like(a).shape == (3, 4)
    with pytest.raises(TypeError):
        dt.rand(2, dtype=dt.int64)


def test_dtype_objects():
    assert repr(dt.float32) == "dumbtorch.float32"
    assert str(dt.int64) == "dumbtorch.int64"
    assert dt.float is dt.float32 and dt.double is dt.float64 and dt.long is dt.int64
    assert dt.float32.is_floating_point and not dt.int64.is_floating_point
    assert pickle.loads(pickle.dumps(dt.float64)) is dt.float64
    t = dt.tensor([1.7, -1.7])
    check(t.long(), [1, -1], dt.int64)
    check(t.double(), [1.7, -1.7], dt.float64)
    check(t.bool(), [True, True], dt.bool)
    check(dt.tensor([0, 3]).float(), [0.0, 3.0], dt.float32)
    assert t.to(dt.float32) is t and t.float() is t
    assert t.to(dt.float64).dtype is dt.float64
    assert t.to(dtype=dt.int64).dtype is dt.int64
    assert dt.result_type(dt.tensor([1]), 2.5) is dt.float32
    assert dt.promote_types(dt.int64, dt.float32) is dt.float32
    assert dt.can_cast(dt.int64, dt.float32) and not dt.can_cast(dt.float32, dt.int64)


# --- shapes and views -------------------------------------------------------------------------


def test_shape_queries():
    t = dt.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple) and isinstance(t.shape, dt.Size)
    assert repr(t.shape) == "dumbtorch.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == 3 and t.ndim == 3 and t.numel() == 24 and len(t) == 2
    assert t.shape.numel() == 24
    with pytest.raises(IndexError):
        t.size(3)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(dt.tensor(1.0))


def test_views_share_memory():
    base = dt.arange(12.0)
    m = base.view(3, 4)
    views = [m, base.view((2, 6)), m.T, m.t(), m[1], m[:, 2], m[1:, ::2], m.transpose(0, 1), m.permute(1, 0),
             m.unsqueeze(0), m[None], m.flatten(), m.reshape(4, 3), m.expand(2, 3, 4), m[..., 1:2].squeeze(1)]
    for v in views:
        assert np.shares_memory(v.numpy(), base.numpy()), v.shape
    with dt.no_grad():
        m[1:, ::2].mul_(-1)
    check(base, [0, 1, 2, 3, -4, 5, -6, 7, -8, 9, -10, 11])
    assert not np.shares_memory(m.T.reshape(12).numpy(), base.numpy())  # reshape of a transpose copies
    assert not np.shares_memory(m.clone().numpy(), base.numpy())
    assert not np.shares_memory(m.T.contiguous().numpy(), base.numpy())


def test_view_rules():
    m = dt.arange(6.0).view(2, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
        m.T.view(6)
    check(m.T.reshape(6), [0, 3, 1, 4, 2, 5])
    check(m.view(-1, 2), [[0, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError):
        m.view(4, 2)
    check(m.expand(2, 2, -1), np.broadcast_to(np.arange(6.0).reshape(2, 3), (2, 2, 3)))
    with pytest.raises(ValueError):
        m.expand(4, 3)
    with pytest.raises(ValueError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        dt.zeros(2, 3, 4).t()
    assert dt.zeros(2, 3, 4).T.shape == (4, 3, 2)
    assert dt.zeros(1, 3, 1).squeeze().shape == (3,)
    assert dt.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert dt.zeros(2, 3, 4).flatten(1).shape == (2, 12)
    assert dt.zeros(2, 3).permute(1, 0).shape == (3, 2)
    assert dt.zeros(2, 3).permute((1, 0)).shape == (3, 2)
    assert dt.zeros(3).unsqueeze(-1).shape == (3, 1)


# --- numpy ----------------------------------------------------------------------------------


def test_from_numpy_and_numpy_share_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = dt.from_numpy(a)
    assert t.dtype is dt.float64
    a[0, 0] = 42
    assert t[0, 0].item() == 42
    with dt.no_grad():
        t.add_(1)
    assert a[1, 2] == 6
    n = t.numpy()
    assert np.shares_memory(n, a)
    n[1, 1] = -5
    assert t[1, 1].item() == -5
    # Positive strides are kept (a strided view, no copy); negative strides are refused.
    s = dt.from_numpy(a[:, ::2])
    assert s.shape == (2, 2) and not s.is_contiguous()
    assert np.shares_memory(s.numpy(), a)
    check(s + 0, a[:, ::2])
    with pytest.raises(ValueError, match="negative"):
        dt.from_numpy(a[:, ::-1])
    with pytest.raises(TypeError, match="int32"):
        dt.from_numpy(np.zeros(2, dtype=np.int32))
    with pytest.raises(TypeError, match="expected np.ndarray"):
        dt.from_numpy([1, 2])
    for np_dtype, want in [(np.float32, dt.float32), (np.int64, dt.int64), (np.bool_, dt.bool)]:
        assert dt.from_numpy(np.zeros(2, dtype=np_dtype)).dtype is want
    ro = np.arange(3.0)
    ro.flags.writeable = False
    c = dt.from_numpy(ro)  # read-only memory is copied, never written through
    with dt.no_grad():
        c.add_(1)
    check(c, [1.0, 2.0, 3.0])
    assert ro[0] == 0


def test_numpy_of_a_tensor_that_requires_grad():
    w = dt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        w.numpy()
    assert not np.shares_memory(w.numpy(force=True), w.detach().numpy())
    np.testing.assert_array_equal(np.asarray(w), [1.0, 1.0])  # __array__ detaches


def test_scalars_out():
    assert dt.tensor([2.5]).item() == 2.5 and isinstance(dt.tensor(2.5).item(), float)
    big = 2**62 + 1
    assert dt.tensor([big]).item() == big  # exact, not through a double
    assert dt.tensor(True).item() is True
    assert dt.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert dt.tensor(1.5).tolist() == 1.5
    assert float(dt.tensor([3])) == 3.0 and int(dt.tensor(3.9)) == 3
    assert [10, 20, 30][dt.tensor(1)] == 20
    with pytest.raises(TypeError):
        [1, 2][dt.tensor(1.0)]
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(dt.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="no values"):
        bool(dt.tensor([]))
    with pytest.raises(ValueError, match="only one element tensors"):
        float(dt.ones(2))
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        dt.ones(2).item()
    assert [x.item() for x in dt.tensor([1, 2, 3])] == [1, 2, 3]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(dt.tensor(1))
    assert 2 in dt.tensor([1, 2]) and 5 not in dt.tensor([1, 2])
    assert f"{dt.tensor(3.14159):.2f}" == "3.14"


def test_repr():
    assert repr(dt.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(dt.tensor([1, 2])) == "tensor([1, 2])"
    assert "requires_grad=True" in repr(dt.ones(2, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(dt.ones(2, requires_grad=True) * 2)


# --- operators and functions ------------------------------------------------------------------


def test_operators_with_python_numbers():
    a = np.array([1.5, -2.0, 3.0], dtype=np.float32)
    t = dt.tensor(a)
    check(t + 1, a + 1, dt.float32)
    check(1 + t, 1 + a)
    check(t - 2, a - 2)
    check(2 - t, 2 - a)
    check(t * 3, a * 3)
    check(3 * t, 3 * a)
    check(t / 4, a / 4)
    check(4 / t, 4 / a)
    check(t**2, a**2)
    check(2**t, 2**a)
    check(-t, -a)
    check(abs(t), np.abs(a))
    check(+t, a)
    check(t // 2, a // 2)
    check(t % 2, np.mod(a, 2))
    check(t == 3, a == 3, dt.bool)
    check(t != 3, a != 3, dt.bool)
    check(t < 0, a < 0, dt.bool)
    check(t >= 1.5, a >= 1.5, dt.bool)
    check(t + np.float64(1.0), a + 1, dt.float32)  # a numpy scalar is a number too
    check(t * True, a, dt.float32)


def test_type_promotion():
    i = dt.tensor([1, 2, 3])
    check(i + 2.5, [3.5, 4.5, 5.5], dt.float32)
    check(i + 2, [3, 4, 5], dt.int64)
    check(i / 2, [0.5, 1.0, 1.5], dt.float32)
    check(i + dt.tensor([0.5], dtype=dt.float64), [1.5, 2.5, 3.5], dt.float64)
    check(dt.tensor([1.0], dtype=dt.float64) + 2.5, [3.5], dt.float64)
    check(dt.tensor([1.0]) + dt.tensor(2.0, dtype=dt.float64), [3.0], dt.float32)  # 0-d does not widen
    check(dt.tensor([True, False]) + 1, [2, 1], dt.int64)
    check(dt.tensor([True, False]) + dt.tensor([False, False]), [True, False], dt.bool)
    check(i < 1.5, [True, False, False], dt.bool)
    check(dt.tensor([-7, 7]) // 2, [-4, 3], dt.int64)
    check(dt.tensor([-7, 7]) % 3, [2, 1], dt.int64)
    check(i**2, [1, 4, 9], dt.int64)
    check(i**0.5, np.sqrt([1.0, 2.0, 3.0]), dt.float32)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        i // dt.tensor([1, 0, 1])
    with pytest.raises(TypeError, match="Subtraction, the `-` operator, with two bool tensors"):
        dt.tensor([True]) - dt.tensor([False])
    with pytest.raises(TypeError, match="Negation"):
        -dt.tensor([True])


def test_bool_logic_and_errors_for_unsupported_operands():
    a, b = dt.tensor([True, True, False]), dt.tensor([True, False, False])
    check(a & b, [True, False, False], dt.bool)
    check(a | b, [True, True, False], dt.bool)
    check(a ^ b, [False, True, False], dt.bool)
    check(~a, [False, False, True], dt.bool)
    t = dt.ones(2)
    with pytest.raises(TypeError):
        t + "a"
    with pytest.raises(TypeError):
        "a" * t
    with pytest.raises(TypeError):
        t @ 2
    assert (t == None) is False  # noqa: E711 - identity fallback, as PyTorch
    with pytest.raises(TypeError, match="exp\\(\\): argument 'input' must be Tensor, not str"):
        dt.exp("a")
    with pytest.raises(TypeError, match="must be Tensor or Number, not list"):
        dt.add(t, [1, 2])
    with pytest.raises(TypeError):
        dt.cat([t, 1.0])
    with pytest.raises(ValueError, match=r"f32\[2\].*f32\[3\]|f32\[3\].*f32\[2\]"):
        t + dt.ones(3)


def test_matmul_cases():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    v = np.array([1.0, -1.0, 2.0], dtype=np.float32)
    check(dt.tensor(a) @ dt.tensor(v), a @ v)
    check(dt.tensor(v) @ dt.tensor(v), np.array(v @ v))
    check(dt.tensor(v) @ dt.tensor(a.T), v @ a.T)
    check(dt.matmul(dt.tensor(a), dt.tensor(a.T)), a @ a.T)
    b = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    check(dt.tensor(v) @ dt.tensor(b), v @ b)
    with pytest.raises(ValueError):
        dt.tensor(v) @ dt.ones(2)
    with pytest.raises(ValueError, match="at least 1D"):
        dt.tensor(1.0) @ dt.tensor(v)


def test_reductions_match_numpy():
    a = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=np.float32)
    t = dt.tensor(a)
    check(t.sum(), a.sum())
    check(t.sum(dim=1), a.sum(axis=1))
    check(t.sum(dim=(0, 1), keepdim=True), a.sum(axis=(0, 1), keepdims=True))
    check(dt.sum(t, 0), a.sum(axis=0))
    check(t.mean(dim=-1, keepdim=True), a.mean(axis=-1, keepdims=True))
    check(t.max(), a.max())
    check(t.min(), a.min())
    check(t.amax(dim=0), a.max(axis=0))
    check(t.amin(dim=1, keepdim=True), a.min(axis=1, keepdims=True))
    check(t.argmax(), np.array(a.argmax()), dt.int64)
    check(t.argmax(dim=1), a.argmax(axis=1), dt.int64)
    check(t.argmin(dim=0, keepdim=True), a.argmin(axis=0)[None], dt.int64)
    r = t.max(dim=1)
    assert isinstance(r, tuple) and r._fields == ("values", "indices")
    check(r.values, a.max(axis=1))
    check(r.indices, a.argmax(axis=1), dt.int64)
    values, indices = dt.min(t, dim=0, keepdim=True)
    check(values, a.min(axis=0, keepdims=True))
    check(indices, a.argmin(axis=0)[None], dt.int64)
    check(dt.max(t, dt.tensor([3.0])), np.maximum(a, 3))
    check(t.var(), a.var(ddof=1))
    check(t.var(1, unbiased=False), a.var(axis=1))
    check(t.std(dim=0, correction=0), a.std(axis=0))
    check(dt.tensor([1, 2, 3]).sum(), np.array(6), dt.int64)
    check(dt.tensor([True, True, False]).sum(), np.array(2), dt.int64)
    check(dt.tensor([1, 2]).sum(dtype=dt.float64), np.array(3.0), dt.float64)
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        dt.tensor([1, 2]).mean()
    assert t.any().item() and not t.all(dim=0).logical_not().any().item()


def test_composites_match_numpy():
    a = np.array([[1.0, 2.0, 3.0], [1e4, -1e4, 0.0]], dtype=np.float64)
    t = dt.tensor(a)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    check(t.softmax(1), softmax)
    check(dt.softmax(t, dim=-1), softmax)
    check(dt.nn.functional.softmax(t, dim=1), softmax)
    lse = a.max(axis=1) + np.log(e.sum(axis=1))
    check(dt.logsumexp(t, 1), lse)
    check(t.logsumexp(dim=1, keepdim=True), lse[:, None])
    check(dt.log_softmax(t, 1), a - lse[:, None])
    check(dt.nn.functional.log_softmax(t, dim=1), a - lse[:, None])
    check(t.clamp(0, 2.5), np.clip(a, 0, 2.5))
    check(t.clamp(min=1.5), np.maximum(a, 1.5))
    check(dt.clamp(t, max=0), np.minimum(a, 0))
    check(dt.where(t > 1, t, 0.0), np.where(a > 1, a, 0))
    check(dt.where(t > 1, 1, 0), np.where(a > 1, 1, 0), dt.int64)
    with pytest.raises(TypeError, match="where expected condition to be a boolean tensor"):
        dt.where(t, t, t)
    check(dt.nn.functional.one_hot(dt.tensor([0, 2])), [[1, 0, 0], [0, 0, 1]], dt.int64)
    check(dt.nn.functional.one_hot(dt.tensor([1]), num_classes=4), [[0, 1, 0, 0]], dt.int64)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        dt.nn.functional.one_hot(dt.tensor([4]), 3)
    check(dt.cat([dt.ones(1, 2), dt.zeros(2, 2, dtype=dt.int64)]), [[1, 1], [0, 0], [0, 0]], dt.float32)
    check(dt.stack([dt.tensor([1, 2]), dt.tensor([3, 4])], dim=1), [[1, 3], [2, 4]], dt.int64)
    check(dt.gather(dt.tensor(a), 1, dt.tensor([[2], [0]])), [[3.0], [1e4]], dt.float64)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        dt.gather(t, 1, dt.tensor([[3], [0]]))
    index = np.array([[0, 0, 2], [1, 1, 1]])
    src = np.arange(6.0).reshape(2, 3)
    want = np.zeros((2, 3))
    for i in range(2):
        for j in range(3):
            want[i, index[i, j]] += src[i, j]
    check(dt.zeros(2, 3, dtype=dt.float64).scatter_add(1, dt.tensor(index), dt.tensor(src)), want, dt.float64)
    check(dt.scatter_add(dt.zeros(2, 3, dtype=dt.float64), 1, dt.tensor(index), dt.tensor(src)), want)
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        dt.zeros(2, 3).scatter_add(1, dt.tensor([[3]]), dt.ones(1, 1))
    F = dt.nn.functional
    b = np.arange(6.0).reshape(2, 3)
    check(F.pad(dt.tensor(b), (1, 2)), np.pad(b, ((0, 0), (1, 2))), dt.float64)
    check(F.pad(dt.tensor(b), (0, 0, 1, 0), value=-1.0), np.pad(b, ((1, 0), (0, 0)), constant_values=-1.0))
    check(F.pad(dt.tensor(b), (-1, 1)), np.pad(b[:, 1:], ((0, 0), (0, 1))))
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(dt.tensor(b), (1,))


# --- indexing ---------------------------------------------------------------------------------


def test_indexing_matches_numpy():
    a = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    t = dt.tensor(a)
    for idx in [1, -1, (1, 2), (0, -1, 3), slice(None), slice(1, None), (slice(None), 1), (Ellipsis, 2),
                (None, 0), (0, None, slice(None, None, 2)), (slice(None), slice(0, 3, 2), slice(1, -1)),
                (slice(-100, 100),), (slice(2, 1),), (1, Ellipsis, None)]:
        check(t[idx], a[idx])
    for idx in [[1, 0], (slice(None), [2, 0, 2]), ([0, 1], [2, 0]), (0, [1, 2], slice(None)),
                (slice(None), [0, 2], [1, 3]), ([1, 0], slice(None), [3, 0])]:
        check(t[idx], a[tuple(np.array(i) if isinstance(i, list) else i for i in idx)]
              if isinstance(idx, tuple) else a[np.array(idx)])
    check(t[dt.tensor([[1], [0]])], a[np.array([[1], [0]])])
    check(t[t > 20], a[a > 20])
    check(t[0][dt.tensor([True, False, True])], a[0][np.array([True, False, True])])
    check(t[np.array([1, -2])], a[np.array([1, -2])])


def test_index_errors():
    t = dt.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        t[5]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        t[0, -5]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        t[dt.tensor([0, 3])]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="only integers, slices"):
        t[1.5]
    with pytest.raises(TypeError, match="only integers, slices"):  # as PyTorch (a str is a TypeError)
        t["a"]
    with pytest.raises(IndexError):
        t[dt.tensor([0.5])]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]
    with pytest.raises(IndexError, match="single ellipsis"):
        t[..., ...]
    with pytest.raises(IndexError):
        t[2**70]


def test_setitem():
    a = np.zeros((3, 4), dtype=np.float32)
    t = dt.tensor(a)
    for idx, v in [((0, 1), 5.0), ((slice(None), 2), 7), (1, np.array([1, 2, 3, 4], np.float32)),
                   ((2, slice(1, None, 2)), dt.tensor([8.0, 9.0])), (([0, 2], [0, 0]), -1.0)]:
        t[idx] = v
        np_idx = tuple(np.array(i) if isinstance(i, list) else i for i in idx) if isinstance(idx, tuple) else idx
        a[np_idx] = v.numpy() if isinstance(v, dt.Tensor) else v
        check(t, a)
    t[t > 4] = 0
    a[a > 4] = 0
    check(t, a)
    i = dt.tensor([1, 2, 3])
    i[0] = 9.7  # the value is converted to the tensor's dtype
    check(i, [9, 2, 3], dt.int64)
    with pytest.raises(ValueError, match="shape mismatch"):
        t[0] = dt.ones(3)
    with pytest.raises(TypeError):
        t[0] = "x"


# --- in-place rules ---------------------------------------------------------------------------


def test_inplace_on_a_leaf_that_requires_grad():
    w = dt.ones(3, requires_grad=True)
    for op in [lambda: w.add_(1), lambda: w.mul_(2), lambda: w.sub_(w), lambda: w.div_(2), lambda: w.zero_()]:
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                               "operation."):
            op()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w[0].mul_(2)
    with pytest.raises(RuntimeError, match="a leaf Variable"):
        w[0] = 3.0
    check(w, [1, 1, 1])


def test_inplace_under_no_grad_writes_into_storage():
    w = dt.ones(3, requires_grad=True)
    alias = w.detach()
    obj = id(w)
    with dt.no_grad():
        w -= 0.25
        w *= 2
        w[0] = 10.0
        w.add_(dt.tensor([1.0, 2.0, 3.0]))
    assert id(w) == obj and w.is_leaf and w.requires_grad
    check(alias, [11.0, 3.5, 4.5])  # the same storage
    i = dt.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i += 1.5
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        i /= 2
    i += True
    check(i, [2, 3], dt.int64)
    with pytest.raises(ValueError, match="doesn't match the broadcast shape"):
        dt.zeros(3).add_(dt.zeros(2, 3))
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        dt.zeros(1).expand(3).add_(1)


def test_inplace_on_a_non_leaf_is_recorded():
    x = dt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y += x
    y *= 2
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    check(x.grad, [8.0, 8.0])
    acc = dt.zeros(2)
    acc += x
    assert acc.requires_grad and not acc.is_leaf


# --- grad mode --------------------------------------------------------------------------------


def test_no_grad_context_manager_and_decorator():
    x = dt.ones(2, requires_grad=True)
    assert dt.is_grad_enabled()
    with dt.no_grad():
        assert not dt.is_grad_enabled()
        assert not (x * 2).requires_grad
        with dt.enable_grad():
            assert (x * 2).requires_grad
        assert not dt.is_grad_enabled()
    assert dt.is_grad_enabled() and (x * 2).requires_grad

    @dt.no_grad()
    def f(t):
        return t * 2

    @dt.no_grad
    def g(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert f.__name__ == "f" and dt.is_grad_enabled()
    with dt.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert dt.is_grad_enabled()
    dt.set_grad_enabled(False)
    assert not dt.is_grad_enabled()
    dt.set_grad_enabled(True)
    try:
        with dt.no_grad():
            raise KeyError("boom")
    except KeyError:
        pass
    assert dt.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []

    def worker():
        seen.append(dt.is_grad_enabled())

    with dt.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
    assert seen == [True]


def test_ops_run_in_parallel_threads():
    a = np.arange(1000.0, dtype=np.float32)
    results = [None] * 4

    def worker(k):
        t = dt.tensor(a)
        for _ in range(20):
            t = (t * 1.0 + k) - k
        results[k] = t.sum().item()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [float(a.sum())] * 4


# --- autograd ---------------------------------------------------------------------------------


def test_backward_and_grad_attributes():
    x = dt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.is_leaf and x.grad is None and x.grad_fn is None
    y = (x * x).sum()
    assert not y.is_leaf and y.grad_fn.name() == "SumBackward0"
    assert repr(y.grad_fn) == "<SumBackward0 object>"
    y.backward()
    check(x.grad, [2.0, 4.0, 6.0])
    (x * 2).sum().backward()  # accumulates
    check(x.grad, [4.0, 6.0, 8.0])
    x.grad = None
    (x**2).backward(dt.tensor([1.0, 0.0, 1.0]))
    check(x.grad, [2.0, 0.0, 6.0])
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    c = x.clone()
    assert c.requires_grad and not c.is_leaf
    x.grad = dt.zeros(3)
    with pytest.raises(ValueError):
        x.grad = dt.zeros(2)
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_backward_errors_have_pytorchs_messages():
    x = dt.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not have a grad_fn"):
        dt.tensor([1.0]).sum().backward()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    check(x.grad, [2.0 + 2.0 + 2.0, 4.0 + 4.0 + 4.0])
    with pytest.raises(TypeError):
        z.backward(gradient="one")


def test_autograd_grad_and_higher_order():
    x = dt.tensor([0.5, 2.0], dtype=dt.float64, requires_grad=True)
    y = (x**3).sum()
    (g,) = dt.autograd.grad(y, x, create_graph=True)
    check(g, [0.75, 12.0], dt.float64)
    assert g.requires_grad
    (gg,) = dt.autograd.grad(g.sum(), [x])
    check(gg, [3.0, 12.0], dt.float64)
    assert x.grad is None  # grad() does not accumulate
    a = dt.tensor([1.0], requires_grad=True)
    b = dt.tensor([2.0], requires_grad=True)
    out = (a * 3).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        dt.autograd.grad(out, [a, b], retain_graph=True)
    ga, gb = dt.autograd.grad(out, [a, b], allow_unused=True)
    check(ga, [3.0])
    assert gb is None
    # backward(create_graph=True) leaves a differentiable .grad.
    w = dt.tensor([1.0, 3.0], dtype=dt.float64, requires_grad=True)
    (w**2).sum().backward(create_graph=True)
    check(w.grad, [2.0, 6.0], dt.float64)
    (w2,) = dt.autograd.grad(w.grad.sum(), w)
    check(w2, [2.0, 2.0], dt.float64)


def test_gradients_through_indexing_and_composites():
    x = dt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    loss = x[:, ::2].sum() + x[1, 1] * 10 + x[dt.tensor([0, 0])].sum()
    loss.backward()
    check(x.grad, [[3.0, 2.0, 3.0], [1.0, 10.0, 1.0]])
    x.grad = None
    vals, _ = x.max(dim=1)
    (vals.sum() + x.clamp(2, 5).sum()).backward()
    check(x.grad, [[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])


def test_pickle_and_deepcopy():
    t = dt.tensor([[1.0, 2.0]], requires_grad=True)
    u = pickle.loads(pickle.dumps(t))
    check(u, [[1.0, 2.0]], dt.float32)
    assert u.requires_grad
    v = copy.deepcopy(t)
    assert v.requires_grad and v.is_leaf
    assert not np.shares_memory(v.detach().numpy(), t.detach().numpy())


# --- caching and memory -----------------------------------------------------------------------


def test_backward_graph_is_compiled_once_over_a_training_loop():
    dt.manual_seed(7)
    w = dt.randn(13, 11, requires_grad=True)
    b = dt.zeros(11, requires_grad=True)
    before = dt.cache_stats()
    for key in ["backward_compiles", "backward_cache_hits", "eager_kernel_compiles", "eager_kernel_hits",
                "kernels_compiled", "kernel_cache_hits"]:
        assert key in before
    for step in range(10):
        x = dt.randn(5, 13)
        loss = (x @ w + b).tanh().pow(2).mean()
        loss.backward()
        with dt.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad = None
        b.grad = None
    after = dt.cache_stats()
    assert after["backward_compiles"] - before["backward_compiles"] == 1
    assert after["backward_cache_hits"] - before["backward_cache_hits"] == 9


def test_live_buffers_stay_flat_over_10000_steps():
    dt.manual_seed(0)
    w = dt.randn(4, 3, requires_grad=True)
    b = dt.zeros(3, requires_grad=True)
    x = dt.randn(8, 4)
    target = dt.randn(8, 3)

    def step():
        loss = ((dt.sigmoid(x @ w + b) - target) ** 2).mean()
        loss.backward()
        with dt.no_grad():
            w.sub_(w.grad * 0.01)
            b.sub_(b.grad * 0.01)
        w.grad = None
        b.grad = None
        return loss

    for _ in range(20):
        step()
    live = dt.live_buffers()
    first = step().item()
    for _ in range(10_000):
        last = step().item()  # nothing of the step is kept alive
    assert dt.live_buffers() == live
    assert last < first


# --- robustness -------------------------------------------------------------------------------


def test_bad_inputs_raise_instead_of_crashing():
    t = dt.ones(2, 3)
    calls = [
        lambda: t.view("a"), lambda: t.reshape(None), lambda: t.sum(dim="x"), lambda: t.sum(dim=5),
        lambda: t.permute(0), lambda: t.permute(0, 0), lambda: t.transpose(0, 7), lambda: t.expand(-2, 3),
        lambda: t.gather(0, t), lambda: dt.cat([]), lambda: dt.stack([t, dt.ones(3)]), lambda: t.to("gpu"),
        lambda: dt.zeros(2, dtype="nope"), lambda: t.softmax(dim=9), lambda: t.max(dim=2), lambda: t.argmax(5),
        lambda: t.unsqueeze(9), lambda: t.squeeze(4), lambda: t.flatten(1, 0), lambda: dt.one_hot(t),
        lambda: t[None, None, None, 5], lambda: dt.arange(0, 1, 0), lambda: dt.eye(-1), lambda: t.var(dim=(0, 0)),
        lambda: dt.tensor([[1], [2, 3]]), lambda: dt.from_numpy(np.zeros(2, dtype=object)), lambda: t.clamp(),
        lambda: t @ t, lambda: dt.matmul(t, "x"), lambda: t.backward(), lambda: t.item(), lambda: t + 2**80,
        lambda: dt.autograd.grad(t.sum(), t), lambda: t.fill_("a"), lambda: t.copy_(dt.ones(4)),
        lambda: dt.where(dt.tensor([True]), t, "x"), lambda: t.grad_fn.name(), lambda: dt.Tensor("x"),
    ]
    for k, call in enumerate(calls):
        with pytest.raises((TypeError, ValueError, IndexError, RuntimeError, AttributeError)):
            call()
            pytest.fail(f"call {k} did not raise")
