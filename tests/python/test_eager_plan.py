"""Eager ops remember how they last ran (kernel, sizes, result type) per op, attributes and operand
types: a repeated op must still give the right answer when only the strides, the attributes, the
dtypes or the shapes of its operands differ from the remembered call's, and when many different
calls push remembered ones out."""

from __future__ import annotations

import numpy as np

import dumbtorch as dt


def _t(a):
    return dt.from_numpy(np.ascontiguousarray(a))


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_elementwise_same_shape_contiguous_then_strided_then_broadcast():
    r = _rng()
    a = r.standard_normal((3, 3)).astype(np.float32)
    b = r.standard_normal((3, 3)).astype(np.float32)
    x, y = _t(a), _t(b)
    for _ in range(2):  # the second round runs from remembered plans
        np.testing.assert_array_equal((x + y).numpy(), a + b)
        np.testing.assert_array_equal((x + y.t()).numpy(), a + b.T)  # same shapes, other strides
        np.testing.assert_array_equal((x.t() + y).numpy(), a.T + b)
        np.testing.assert_array_equal((x + y[0]).numpy(), a + b[0])  # broadcast
        np.testing.assert_array_equal((x[:, 1:] + y[:, :2]).numpy(), a[:, 1:] + b[:, :2])  # slices


def test_reductions_with_other_attributes_and_strides():
    r = _rng(1)
    a = r.standard_normal((4, 5)).astype(np.float32)
    x = _t(a)
    for _ in range(2):
        np.testing.assert_allclose(x.sum(0).numpy(), a.sum(0), rtol=1e-5)
        np.testing.assert_allclose(x.sum(1).numpy(), a.sum(1), rtol=1e-5)
        np.testing.assert_allclose(x.sum(1, keepdim=True).numpy(), a.sum(1, keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(x.t().sum(0).numpy(), a.T.sum(0), rtol=1e-5)  # a strided operand: copied
        np.testing.assert_allclose(x.mean().numpy(), a.mean(), rtol=1e-5)
        assert x.argmax(1).tolist() == a.argmax(1).tolist()
        assert x.argmax(0).tolist() == a.argmax(0).tolist()


def test_matmul_with_transposed_operands_after_a_contiguous_call():
    r = _rng(2)
    a = r.standard_normal((3, 4)).astype(np.float32)
    w = r.standard_normal((4, 4)).astype(np.float32)
    x, m = _t(a), _t(w)
    for _ in range(2):
        np.testing.assert_allclose((x @ m).numpy(), a @ w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose((x @ m.t()).numpy(), a @ w.T, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose((x @ m).numpy(), a @ w, rtol=1e-5, atol=1e-6)


def test_dtypes_and_shapes_are_told_apart():
    for _ in range(2):
        assert (dt.tensor([1.0, 2.0]) + dt.tensor([1.0, 2.0])).dtype == dt.float32
        d = dt.tensor([1.0, 2.0], dtype=dt.float64) + dt.tensor([1.0, 2.0], dtype=dt.float64)
        assert d.dtype == dt.float64 and d.tolist() == [2.0, 4.0]
        i = dt.tensor([1, 2]) + dt.tensor([3, 4])
        assert i.dtype == dt.int64 and i.tolist() == [4, 6]
        assert (dt.tensor([1.0, 2.0, 3.0]) * dt.tensor([2.0, 2.0, 2.0])).tolist() == [2.0, 4.0, 6.0]
        assert (dt.tensor([[1.0], [2.0]]) * dt.tensor([[3.0], [4.0]])).tolist() == [[3.0], [8.0]]


def test_more_distinct_calls_than_are_remembered():
    r = _rng(3)
    arrays = [r.standard_normal((n, 2)).astype(np.float32) for n in range(1, 2200)]
    tensors = [_t(a) for a in arrays]
    for _ in range(2):
        for a, x in zip(arrays, tensors):  # 4398 distinct calls: the plans are emptied on the way
            np.testing.assert_array_equal((x * 3).numpy(), a * np.float32(3))
            np.testing.assert_array_equal(x.relu().numpy(), np.maximum(a, 0))


def test_gather_index_errors_are_raised_on_a_remembered_plan():
    x = dt.tensor([1.0, 2.0, 3.0])
    assert x.gather(0, dt.tensor([2, 0])).tolist() == [3.0, 1.0]
    assert x.gather(0, dt.tensor([1, 1])).tolist() == [2.0, 2.0]
    try:
        x.gather(0, dt.tensor([3, 0]))
    except IndexError:
        pass
    else:
        raise AssertionError("an index out of range was not reported")
    assert x.gather(0, dt.tensor([0, 2])).tolist() == [1.0, 3.0]


def test_remembered_plans_count_as_eager_kernel_hits_and_record_the_tape():
    x = dt.tensor([1.0, 2.0])
    y = dt.tensor([3.0, 4.0]).requires_grad_()
    (x * y).sum()
    before = dt.cache_stats()["eager_kernel_hits"]
    z = (x * y).sum()
    assert dt.cache_stats()["eager_kernel_hits"] >= before + 2
    z.backward()
    assert y.grad.tolist() == [1.0, 2.0]


def test_plans_are_per_thread():
    import threading

    r = _rng(4)
    a = r.standard_normal((64, 8)).astype(np.float32)
    x = _t(a)
    errors = []

    def work(scale):
        try:
            for _ in range(200):
                np.testing.assert_allclose((x * scale).sum(1).numpy(), (a * np.float32(scale)).sum(1), rtol=1e-5)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1.0, 2.0, 3.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
