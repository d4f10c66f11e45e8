"""dt.set_num_threads / dt.get_num_threads: the thread count of large matmuls. Setting and reading
it back, rejecting counts below 1, and large matmuls (split across threads) giving the same bits
at 1 and 2 threads, equal to torch on exactly-summable values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dumbtorch as dt


@pytest.fixture
def restore_threads():
    saved = dt.get_num_threads()
    yield
    dt.set_num_threads(saved)


def test_default_is_a_positive_count():
    n = dt.get_num_threads()
    assert isinstance(n, int) and n >= 1
    assert "set_num_threads" in dt.__all__ and "get_num_threads" in dt.__all__


def test_set_and_get(restore_threads):
    dt.set_num_threads(3)
    assert dt.get_num_threads() == 3
    dt.set_num_threads(1)
    assert dt.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1025])
def test_rejects_bad_counts(restore_threads, bad):
    dt.set_num_threads(2)
    with pytest.raises(ValueError, match=f"thread count between 1 and 1024, given {bad}"):
        dt.set_num_threads(bad)
    assert dt.get_num_threads() == 2


def test_rejects_non_integers(restore_threads):
    with pytest.raises(TypeError):
        dt.set_num_threads(2.5)


@pytest.mark.parametrize("shape_a,shape_b", [((257, 301), (301, 129)), ((2, 131, 200), (200, 333))])
def test_large_matmul_same_bits_at_any_thread_count(restore_threads, shape_a, shape_b):
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape_a, dtype=np.float32)
    b = rng.standard_normal(shape_b, dtype=np.float32)
    outs = []
    for n in (1, 2, 3):
        dt.set_num_threads(n)
        outs.append((dt.from_numpy(a) @ dt.from_numpy(b)).numpy())
    assert outs[0].tobytes() == outs[1].tobytes() == outs[2].tobytes()
    # Quarter-integers: every order of summation is exact, so torch's result is bit-equal.
    qa = rng.integers(-4, 4, shape_a).astype(np.float32) / 4
    qb = rng.integers(-4, 4, shape_b).astype(np.float32) / 4
    dt.set_num_threads(2)
    ours = (dt.from_numpy(qa) @ dt.from_numpy(qb)).numpy()
    assert ours.tobytes() == torch.matmul(torch.from_numpy(qa), torch.from_numpy(qb)).numpy().tobytes()
