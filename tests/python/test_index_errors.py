"""Out-of-range gather / scatter_add indices raise IndexError naming the index, the dimension and
its size, on every path: eager tensors, the compiled graph (the JIT kernel reports the first bad
index through the runtime's error channel) and the reference interpreter. Negative indices are out
of range for gather and scatter_add (as in torch.gather). After an error, good calls run normally."""

import numpy as np
import pytest

import dumbtorch as dt

GATHER = """
func @g(%x: f32[3,5], %i: i64[2,3]) -> (f32[2,3]) {
  %0 = gather(%x, %i) {axis=1} : f32[2,3]
  return %0
}
"""

SCATTER = """
func @s(%b: f64[4,3], %i: i64[2,3], %s: f64[2,3]) -> (f64[4,3]) {
  %0 = scatter_add(%b, %i, %s) {axis=0} : f64[4,3]
  return %0
}
"""

RUNNERS = {
    "jit": lambda g, *args: dt.ir.compile(g)(*args),
    "interp": dt.ir.interpret,
}

X = np.arange(15, dtype=np.float32).reshape(3, 5)

def gathered(index):
    """torch.gather(X, 1, index) for an index with fewer rows than X."""
    rows = np.arange(index.shape[0])[:, None]
    return X[rows, index]


# (index rows, the first bad value in row-major order)
BAD_GATHER = [
    ([[0, 4, 7], [1, 2, 3]], 7),
    ([[0, 1, 2], [-1, 9, 0]], -1),
    ([[5, 0, 0], [0, 0, 0]], 5),
    ([[0, 0, 0], [0, 0, -(2**63)]], -(2**63)),
]


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("rows,bad", BAD_GATHER)
def test_graph_gather(runner, rows, bad):
    g = dt.ir.parse(GATHER)
    index = np.array(rows, dtype=np.int64)
    with pytest.raises(IndexError, match=rf"^gather: index {bad} is out of bounds for dimension 1 with size 5$"):
        RUNNERS[runner](g, X, index)
    # The same graph on good indices afterwards.
    good = np.clip(index, 0, 4)
    (out,) = RUNNERS[runner](g, X, good)
    np.testing.assert_array_equal(out, gathered(good))


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_graph_scatter_add(runner):
    g = dt.ir.parse(SCATTER)
    base = np.zeros((4, 3))
    src = np.ones((2, 3))
    index = np.array([[0, 3, 1], [4, -1, 2]], dtype=np.int64)
    with pytest.raises(IndexError, match=r"^scatter_add: index 4 is out of bounds for dimension 0 with size 4$"):
        RUNNERS[runner](g, base, index, src)
    good = np.array([[0, 3, 1], [0, 3, 3]], dtype=np.int64)
    (out,) = RUNNERS[runner](g, base, good, src)
    want = base.copy()
    for r in range(2):
        for c in range(3):
            want[good[r, c], c] += src[r, c]
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("rows,bad", BAD_GATHER)
def test_eager_gather(rows, bad):
    x = dt.tensor(X)
    index = dt.tensor(rows)
    with pytest.raises(IndexError, match=rf"index {bad} is out of bounds for dimension 1 with size 5"):
        dt.gather(x, 1, index)
    with pytest.raises(IndexError, match=rf"index {bad} is out of bounds for dimension 1 with size 5"):
        x.gather(1, index)
    good = dt.tensor(np.clip(np.array(rows), 0, 4))
    np.testing.assert_array_equal(dt.gather(x, 1, good).numpy(), gathered(good.numpy()))


def test_eager_gather_needs_grad_too():
    x = dt.tensor(X, requires_grad=True)
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for dimension 0 with size 3"):
        dt.gather(x, 0, dt.tensor([[5, 0, 0, 0, 0]]))


def test_eager_scatter_add():
    base = dt.zeros(4, 3)
    src = dt.ones(2, 3)
    with pytest.raises(IndexError, match=r"index -1 is out of bounds for dimension 0 with size 4"):
        base.scatter_add(0, dt.tensor([[0, 3, 1], [2, -1, 2]]), src)
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for dimension 1 with size 3"):
        dt.scatter_add(dt.zeros(3, 3), 1, dt.tensor([[0, 4]]), dt.ones(1, 2))
    out = base.scatter_add(0, dt.tensor([[0, 3, 1], [0, 3, 3]]), src)
    np.testing.assert_array_equal(out.numpy(), [[2, 0, 0], [0, 0, 1], [0, 0, 0], [0, 2, 1]])


def test_eager_integer_tensor_indexing():
    x = dt.tensor(X)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for dimension 0 with size 3"):
        x[dt.tensor([0, 3])]
    with pytest.raises(IndexError, match=r"index -6 is out of bounds for dimension 1 with size 5"):
        x[:, dt.tensor([-6])]
    # Indexing (unlike gather) wraps negative indices, like PyTorch.
    np.testing.assert_array_equal(x[:, dt.tensor([-1, 0])].numpy(), X[:, [-1, 0]])
