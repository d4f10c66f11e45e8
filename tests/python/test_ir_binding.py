"""The dumbtorch._C binding against numpy: IR text in, numpy arrays in and out, through both the
JIT (dt.ir.compile) and the reference interpreter (dt.ir.interpret); plus the boundary's rules
(no copy for C-contiguous input, writable outputs, errors that name expected and given)."""

import re

import numpy as np
import pytest

import dumbtorch as dt
from dumbtorch import _C

RUNNERS = {
    "jit": lambda g, *args: dt.ir.compile(g)(*args),
    "interp": dt.ir.interpret,
}


@pytest.fixture(params=sorted(RUNNERS))
def run(request):
    return RUNNERS[request.param]


def rng(seed=0):
    return np.random.default_rng(seed)


def f32(*shape, seed=0, low=-1.0, high=1.0):
    return rng(seed).uniform(low, high, size=shape).astype(np.float32)


def check(got, want, rtol=1e-6, atol=0.0):
    """Shape and dtype first, then values."""
    want = np.asarray(want)
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype == np.bool_ or want.dtype == np.int64:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def check_sum(got, want64, magnitude, dtype=np.float32, rel=1e-5):
    """A reduction: f32 accumulation vs an exact reference, tolerance scaled by sum of |terms|."""
    want64 = np.asarray(want64)
    assert got.shape == want64.shape, (got.shape, want64.shape)
    assert got.dtype == dtype, got.dtype
    err = np.abs(got.astype(np.float64) - want64)
    tol = rel * np.asarray(magnitude) + 1e-7
    assert np.all(err <= tol), f"max err {err.max()} (tolerance {np.min(tol)})"


# --- graphs compared with numpy -----------------------------------------------------------------

MLP = """
func @mlp(%x: f32[8,16], %w1: f32[16,32], %b1: f32[32]) -> (f32[8,32], f32[8]) {
  %0 = matmul(%x, %w1) : f32[8,32]
  %1 = add(%0, %b1) : f32[8,32]
  %2 = relu(%1) : f32[8,32]
  %3 = sum(%2) {axes=[1], keepdim=false} : f32[8]
  return %2, %3
}
"""


def test_mlp_forward(run):
    x, w1, b1 = f32(8, 16, seed=1), f32(16, 32, seed=2), f32(32, seed=3)
    h, s = run(dt.ir.parse(MLP), x, w1, b1)
    x64, w64, b64 = x.astype(np.float64), w1.astype(np.float64), b1.astype(np.float64)
    pre = x64 @ w64 + b64
    mag = np.abs(x64) @ np.abs(w64) + np.abs(b64)
    check_sum(h, np.maximum(pre, 0), mag)
    assert 10 < np.count_nonzero(h == 0) < h.size - 10  # the relu cut something, not everything
    check_sum(s, np.maximum(pre, 0).sum(axis=1), mag.sum(axis=1))


BROADCAST = """
func @bcast(%a: f32[4,1,3], %b: f32[5,1], %c: f32[]) -> (f32[4,5,3], f32[4,5,3], f32[4,5,3], f32[4,5,3], f32[4,1,3], f32[4,1,3], f32[5,1]) {
  %0 = add(%a, %b) : f32[4,5,3]
  %1 = mul(%a, %b) : f32[4,5,3]
  %2 = sub(%0, %c) : f32[4,5,3]
  %3 = div(%1, %b) : f32[4,5,3]
  %4 = maximum(%a, %c) : f32[4,1,3]
  %5 = neg(%a) : f32[4,1,3]
  %6 = abs(%b) : f32[5,1]
  return %0, %1, %2, %3, %4, %5, %6
}
"""


def test_broadcasting_arithmetic(run):
    a, b, c = f32(4, 1, 3, seed=4), f32(5, 1, seed=5, low=0.5, high=2.0), np.array(0.25, np.float32)
    outs = run(dt.ir.parse(BROADCAST), a, b, c)
    assert len(outs) == 7
    # numpy's float32 arithmetic is IEEE single precision too, as the IR's is.
    check(outs[0], a + b)
    check(outs[1], a * b)
    check(outs[2], (a + b) - c)
    check(outs[3], (a * b) / b)
    check(outs[4], np.maximum(a, c))
    check(outs[5], -a)
    check(outs[6], np.abs(b))


UNARY = """
func @unary(%x: f32[64], %p: f32[64]) -> (f32[64], f32[64], f32[64], f32[64], f32[64], f32[64]) {
  %0 = exp(%x) : f32[64]
  %1 = log(%p) : f32[64]
  %2 = tanh(%x) : f32[64]
  %3 = sigmoid(%x) : f32[64]
  %4 = sqrt(%p) : f32[64]
  %5 = pow(%p, %x) : f32[64]
  return %0, %1, %2, %3, %4, %5
}
"""


def test_transcendentals(run):
    x = f32(64, seed=6, low=-6, high=6)
    p = f32(64, seed=7, low=0.01, high=10)
    outs = run(dt.ir.parse(UNARY), x, p)
    x64, p64 = x.astype(np.float64), p.astype(np.float64)
    wants = [np.exp(x64), np.log(p64), np.tanh(x64), 1 / (1 + np.exp(-x64)), np.sqrt(p64), p64**x64]
    assert len(outs) == len(wants)
    for got, want in zip(outs, wants):
        check(got, want.astype(np.float32), rtol=1e-5, atol=1e-7)


COMPARE = """
func @cmp(%x: f32[3,4], %y: f32[4]) -> (bool[3,4], bool[3,4], bool[3,4], bool[3,4], f32[3,4], bool[3,4]) {
  %0 = lt(%x, %y) : bool[3,4]
  %1 = ge(%x, %y) : bool[3,4]
  %2 = eq(%x, %y) : bool[3,4]
  %3 = ne(%x, %y) : bool[3,4]
  %4 = where(%0, %x, %y) : f32[3,4]
  %5 = gt(%x, %y) : bool[3,4]
  return %0, %1, %2, %3, %4, %5
}
"""


def test_comparisons_and_where(run):
    x = f32(3, 4, seed=8)
    y = np.array([0.0, np.nan, 0.5, -0.25], np.float32)
    x[1, 0] = 0.0  # an equal pair
    x[2, 2] = np.nan
    outs = run(dt.ir.parse(COMPARE), x, y)
    check(outs[0], x < y)
    check(outs[1], x >= y)
    check(outs[2], x == y)
    check(outs[3], x != y)  # NaN: ne is true, the others false
    check(outs[4], np.where(x < y, x, y))
    check(outs[5], x > y)
    assert outs[2][1, 0] and outs[3][:, 1].all() and not outs[0][:, 1].any()


CAST = """
func @cast(%x: f32[6], %k: i64[6], %b: bool[6]) -> (i64[6], bool[6], f32[6], f64[6], i64[6]) {
  %0 = cast(%x) {dtype="i64"} : i64[6]
  %1 = cast(%x) {dtype="bool"} : bool[6]
  %2 = cast(%k) {dtype="f32"} : f32[6]
  %3 = cast(%b) {dtype="f64"} : f64[6]
  %4 = cast(%b) {dtype="i64"} : i64[6]
  return %0, %1, %2, %3, %4
}
"""


def test_cast(run):
    x = np.array([-2.7, -0.5, 0.0, 0.5, 3.9, 1e6], np.float32)
    k = np.array([-3, 0, 1, 2**40, -(2**53) - 1, 7], np.int64)
    b = np.array([True, False, True, True, False, False])
    outs = run(dt.ir.parse(CAST), x, k, b)
    check(outs[0], x.astype(np.int64))  # truncation toward zero
    check(outs[1], x != 0)
    check(outs[2], k.astype(np.float32))
    check(outs[3], b.astype(np.float64))
    check(outs[4], b.astype(np.int64))


MATMUL = """
func @bmm(%a: f32[2,3,4,5], %b: f32[3,5,6], %i: i64[2,3], %j: i64[3,4]) -> (f32[2,3,4,6], i64[2,4]) {
  %0 = matmul(%a, %b) : f32[2,3,4,6]
  %1 = matmul(%i, %j) : i64[2,4]
  return %0, %1
}
"""


def test_matmul_batched(run):
    a, b = f32(2, 3, 4, 5, seed=9), f32(3, 5, 6, seed=10)
    i = rng(11).integers(-100, 100, size=(2, 3), dtype=np.int64)
    j = rng(12).integers(-100, 100, size=(3, 4), dtype=np.int64)
    c, ij = run(dt.ir.parse(MATMUL), a, b, i, j)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    check_sum(c, a64 @ b64, np.abs(a64) @ np.abs(b64))
    check(ij, i @ j)


REDUCE = """
func @red(%x: f32[3,4,5], %k: i64[3,4]) -> (f32[1,4,1], f32[3,4], f32[3,5], f32[], i64[4], f32[1,1,1]) {
  %0 = sum(%x) {axes=[0, 2], keepdim=true} : f32[1,4,1]
  %1 = mean(%x) {axes=[-1], keepdim=false} : f32[3,4]
  %2 = max(%x) {axes=[1], keepdim=false} : f32[3,5]
  %3 = sum(%x) : f32[]
  %4 = sum(%k) {axes=[0], keepdim=false} : i64[4]
  %5 = max(%x) {keepdim=true} : f32[1,1,1]
  return %0, %1, %2, %3, %4, %5
}
"""


def test_reductions(run):
    x = f32(3, 4, 5, seed=13)
    k = rng(14).integers(-1000, 1000, size=(3, 4), dtype=np.int64)
    outs = run(dt.ir.parse(REDUCE), x, k)
    x64, ax = x.astype(np.float64), np.abs(x.astype(np.float64))
    check_sum(outs[0], x64.sum(axis=(0, 2), keepdims=True), ax.sum(axis=(0, 2), keepdims=True))
    check_sum(outs[1], x64.mean(axis=-1), ax.mean(axis=-1))
    check(outs[2], x.max(axis=1))
    check_sum(outs[3], x64.sum(), ax.sum())
    check(outs[4], k.sum(axis=0))
    check(outs[5], x.max(keepdims=True))


LAYOUT = """
func @layout(%x: f32[2,3,4], %v: f32[3,1]) -> (f32[2,4,3], f32[4,2,3], f32[6,4], f32[2,3,5], f32[4,3,2]) {
  %0 = transpose(%x) : f32[2,4,3]
  %1 = permute(%x) {dims=[2, 0, 1]} : f32[4,2,3]
  %2 = reshape(%x) {shape=[-1, 4]} : f32[6,4]
  %3 = broadcast_to(%v) {shape=[2, 3, 5]} : f32[2,3,5]
  %4 = transpose(%x) {dim0=0, dim1=2} : f32[4,3,2]
  return %0, %1, %2, %3, %4
}
"""


def test_layout_ops(run):
    x, v = f32(2, 3, 4, seed=15), f32(3, 1, seed=16)
    outs = run(dt.ir.parse(LAYOUT), x, v)
    check(outs[0], np.swapaxes(x, -2, -1))
    check(outs[1], np.transpose(x, (2, 0, 1)))
    check(outs[2], x.reshape(-1, 4))
    check(outs[3], np.broadcast_to(v, (2, 3, 5)))
    check(outs[4], np.swapaxes(x, 0, 2))
    for out in outs:  # layout results are contiguous arrays of their own, not strided views
        assert out.flags.c_contiguous


CONST = """
func @consts(%x: f32[2,2], %k: i64[3]) -> (f32[2,2], f32[2,2], i64[3], bool[2]) {
  %c = const() {value=[1.5, -2.0, 0.25, 4.0], shape=[2, 2], dtype="f32"} : f32[2,2]
  %s = const() {value=3.0} : f32[]
  %i = const() {value=7, dtype="i64"} : i64[]
  %m = const() {value=[true, false], shape=[2], dtype="bool"} : bool[2]
  %0 = add(%x, %c) : f32[2,2]
  %1 = mul(%x, %s) : f32[2,2]
  %2 = sub(%k, %i) : i64[3]
  return %0, %1, %2, %m
}
"""


def test_const(run):
    x = f32(2, 2, seed=17)
    k = np.array([1, 10, -5], np.int64)
    outs = run(dt.ir.parse(CONST), x, k)
    check(outs[0], x + np.array([[1.5, -2.0], [0.25, 4.0]], np.float32))
    check(outs[1], x * np.float32(3.0))
    check(outs[2], k - 7)
    check(outs[3], np.array([True, False]))


def test_jit_and_interpreter_agree_bitwise_on_f32_arithmetic():
    g = dt.ir.parse(BROADCAST)
    args = f32(4, 1, 3, seed=18), f32(5, 1, seed=19, low=0.5, high=2), np.array(-1.5, np.float32)
    for jit, ref in zip(dt.ir.compile(g)(*args), dt.ir.interpret(g, *args)):
        assert jit.dtype == ref.dtype and jit.shape == ref.shape
        assert jit.tobytes() == ref.tobytes()


# --- the Python boundary ------------------------------------------------------------------------

ADD = """
func @addv(%x: f32[1000], %y: f32[1000]) -> (f32[1000]) {
  %0 = add(%x, %y) : f32[1000]
  return %0
}
"""


def test_contiguous_input_is_not_copied():
    g = dt.ir.parse(ADD)
    x, y = f32(1000, seed=20), f32(1000, seed=21)
    addrs = _C.ir._input_addresses(g, x, y)
    assert addrs == [x.ctypes.data, y.ctypes.data]
    # A read-only contiguous array is read in place as well (inputs are never written).
    ro = x.copy()
    ro.setflags(write=False)
    assert _C.ir._input_addresses(g, ro, y)[0] == ro.ctypes.data
    check(dt.ir.compile(g)(ro, y)[0], x + y)
    # A strided view is copied to contiguous memory, and still computes the right thing.
    big = f32(2000, seed=22)
    view = big[::2]
    assert not view.flags.c_contiguous
    assert _C.ir._input_addresses(g, view, y)[0] != view.ctypes.data
    check(dt.ir.compile(g)(view, y)[0], view + y)
    # A contiguous but misaligned array is copied too (kernels assume element alignment).
    raw = bytearray(4001)
    odd = np.frombuffer(raw, dtype=np.float32, count=1000, offset=1)
    odd[:] = x
    assert odd.flags.c_contiguous and not odd.flags.aligned
    assert _C.ir._input_addresses(g, odd, y)[0] != odd.ctypes.data
    check(dt.ir.compile(g)(odd, y)[0], x + y)


def test_input_kept_alive_by_the_runtime():
    # The wrapped array's only reference is the runtime's during the call.
    g = dt.ir.parse(ADD)
    f = dt.ir.compile(g)
    (out,) = f(np.full(1000, 2.0, np.float32), np.ones(1000, np.float32))
    check(out, np.full(1000, 3.0, np.float32))


def test_outputs_are_writable_numpy_arrays_owned_by_the_runtime():
    g = dt.ir.parse(ADD)
    f = dt.ir.compile(g)
    x, y = f32(1000, seed=23), f32(1000, seed=24)
    (a,) = f(x, y)
    (b,) = f(x, y)
    for out in (a, b):
        assert type(out) is np.ndarray and out.dtype == np.float32 and out.shape == (1000,)
        assert out.flags.writeable and out.flags.c_contiguous
        assert not out.flags.owndata  # a view of the runtime's buffer, no copy
    assert a.ctypes.data != b.ctypes.data  # each call gets new buffers
    a[:] = 42.0
    check(b, x + y)
    del b
    check(a, np.full(1000, 42.0, np.float32))


def test_concurrent_calls_from_python_threads():
    # The GIL is released while kernels run; calls from several threads must not interfere.
    from concurrent.futures import ThreadPoolExecutor

    g = dt.ir.parse(MLP)
    f = dt.ir.compile(g)
    args = [mlp_args_seeded(seed) for seed in range(8)]
    expected = [dt.ir.interpret(g, *a) for a in args]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda a: f(*a), args * 4))
    for i, got in enumerate(results):
        want = expected[i % len(args)]
        for x, y in zip(got, want):
            assert x.shape == y.shape and x.dtype == y.dtype
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)


def mlp_args_seeded(seed):
    return f32(8, 16, seed=seed), f32(16, 32, seed=seed + 100), f32(32, seed=seed + 200)


def test_scalars_zero_d_and_empty_arrays(run):
    g = dt.ir.parse("""
func @s(%a: f32[], %b: f32[0,3]) -> (f32[], f32[0,3], f32[3]) {
  %0 = mul(%a, %a) : f32[]
  %1 = add(%b, %a) : f32[0,3]
  %2 = sum(%b) {axes=[0], keepdim=false} : f32[3]
  return %0, %1, %2
}""")
    s, e, z = run(g, np.array(3.0, np.float32), np.zeros((0, 3), np.float32))
    check(s, np.array(9.0, np.float32))
    check(e, np.zeros((0, 3), np.float32))
    check(z, np.zeros(3, np.float32))
    # Python numbers and numpy scalars are accepted when they convert without changing kind.
    check(run(g, 3.0, np.zeros((0, 3), np.float32))[0], np.array(9.0, np.float32))
    check(run(g, np.float32(2.0), np.zeros((0, 3), np.float32))[0], np.array(4.0, np.float32))


def test_python_lists_are_converted_to_the_input_dtype():
    g = dt.ir.parse("""
func @l(%x: f32[3], %k: i64[2]) -> (f32[3], i64[2]) {
  %0 = neg(%x) : f32[3]
  %1 = neg(%k) : i64[2]
  return %0, %1
}""")
    x, k = dt.ir.interpret(g, [1, 2.5, -3], (4, 5))
    check(x, np.array([-1, -2.5, 3], np.float32))
    check(k, np.array([-4, -5], np.int64))
    with pytest.raises(TypeError, match=r"i64\[2\].*float64"):
        dt.ir.interpret(g, [1.0, 2.0, 3.0], [1.5, 2.0])  # floats never silently truncate to ints
    with pytest.raises(ValueError, match=r"f32\[3\].*f32\[2\]"):
        dt.ir.interpret(g, [1.0, 2.0], [1, 2])


@pytest.fixture
def mlp():
    return dt.ir.parse(MLP)


def mlp_args():
    return f32(8, 16), f32(16, 32), f32(32)


def test_wrong_input_count(mlp, run):
    with pytest.raises(ValueError, match=r"expects 3 inputs \(%x: f32\[8,16\], %w1: f32\[16,32\], %b1: f32\[32\]\), got 2"):
        run(mlp, *mlp_args()[:2])
    with pytest.raises(ValueError, match=r"expects 3 inputs .*got 4"):
        run(mlp, *mlp_args(), f32(1))


def test_wrong_dtype(mlp, run):
    x, w1, b1 = mlp_args()
    with pytest.raises(TypeError, match=r"input 1 \(%w1\) expects f32\[16,32\] \(numpy float32\), got a float64 array"):
        run(mlp, x, w1.astype(np.float64), b1)
    with pytest.raises(TypeError, match=r"input 0 \(%x\) .*float32.*int64"):
        run(mlp, x.astype(np.int64), w1, b1)
    with pytest.raises(TypeError, match=r"float32.*>f4"):  # non-native byte order is not float32
        run(mlp, x.astype(">f4"), w1, b1)
    with pytest.raises(TypeError, match=r"float32.*object"):
        run(mlp, x.astype(object), w1, b1)


def test_wrong_shape(mlp, run):
    x, w1, b1 = mlp_args()
    with pytest.raises(ValueError, match=r"input 1 \(%w1\) expects f32\[16,32\], got f32\[16,31\]"):
        run(mlp, x, w1[:, :31], b1)
    with pytest.raises(ValueError, match=r"input 2 \(%b1\) expects f32\[32\], got f32\[\]"):
        run(mlp, x, w1, np.float32(1.0))
    with pytest.raises(ValueError, match=r"input 0 \(%x\) expects f32\[8,16\], got f32\[16,8\]"):
        run(mlp, x.T, w1, b1)


@pytest.mark.parametrize("bad", [None, "abc", {"a": 1}, object(), b"\x00" * 512])
def test_non_array_argument(mlp, run, bad):
    x, w1, b1 = mlp_args()
    with pytest.raises(TypeError, match=r"input 1 \(%w1\) expects .*f32\[16,32\].*got " + type(bad).__name__):
        run(mlp, x, bad, b1)


def test_graph_argument_must_be_a_graph():
    with pytest.raises(TypeError):
        dt.ir.compile(None)
    with pytest.raises(TypeError):
        dt.ir.interpret("not a graph")
    with pytest.raises(TypeError):
        dt.ir.parse(None)
    with pytest.raises(TypeError):
        dt.ir.parse(42)


@pytest.mark.parametrize(
    "text, where",
    [
        ("func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = frobnicate(%x) : f32[2]\n  return %0\n}\n", "2:"),
        ("func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = neg(%x) : f32[2;]\n  return %0\n}\n", "2:"),
        ("func @f(%x: f33[2]) -> (f32[2]) {\n}\n", "1:"),
        ("", "1:"),
        ("func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = neg(%y) : f32[2]\n  return %0\n}\n", "2:"),
    ],
)
def test_parse_errors_have_line_and_column(text, where):
    with pytest.raises(ValueError) as info:
        dt.ir.parse(text)
    msg = str(info.value)
    assert re.match(r"^\d+:\d+: ", msg), msg
    assert msg.startswith(where), msg


BAD = """func @bad(%a: f32[3,4], %b: f32[5]) -> (f32[3,4]) {
  %0 = add(%a, %b) : f32[3,4]
  return %0
}
"""


def test_verify_error_names_the_node_and_types():
    g = dt.ir.parse(BAD)
    with pytest.raises(ValueError) as info:
        g.verify()
    msg = str(info.value)
    assert msg.startswith("2:"), msg
    assert "add(%a, %b)" in msg and "f32[3,4]" in msg and "f32[5]" in msg and "do not broadcast" in msg, msg
    for runner in (dt.ir.compile, lambda g: dt.ir.interpret(g, f32(3, 4), f32(5))):
        with pytest.raises(ValueError, match="do not broadcast"):
            runner(g)
    # The annotated result type disagrees with the inferred one.
    mismatch = dt.ir.parse(
        "func @m(%a: f32[3,4]) -> (f32[3,5]) {\n  %0 = neg(%a) : f32[3,5]\n  return %0\n}\n"
    )
    with pytest.raises(ValueError) as info:
        mismatch.verify()
    msg = str(info.value)
    assert msg.startswith("2:") and "f32[3,5]" in msg and "f32[3,4]" in msg, msg


def test_graph_object():
    g = dt.ir.parse(MLP)
    g.verify()
    assert g.name == "mlp"
    assert g.inputs == [("x", "f32", (8, 16)), ("w1", "f32", (16, 32)), ("b1", "f32", (32,))]
    assert g.outputs == [("2", "f32", (8, 32)), ("3", "f32", (8,))]
    text = str(g)
    assert text.startswith("func @mlp(")
    again = dt.ir.parse(text)
    assert again == g and str(again) == text  # the text form round-trips byte for byte
    assert "@mlp" in repr(g)
    f = dt.ir.compile(g)
    assert f.graph == g
    assert "@mlp" in repr(f)


def test_module_api():
    assert dt.__version__ == "0.1.0"
    assert isinstance(dt.host_cpu(), str) and dt.host_cpu()
    before = dt.cache_stats()
    assert {"kernels_compiled", "kernel_cache_hits"} <= set(before)
    assert all(isinstance(v, float) if k.endswith("_seconds") else isinstance(v, int) for k, v in before.items())
    g = dt.ir.parse(LAYOUT)
    dt.ir.compile(g)
    dt.ir.compile(g)  # the same kernels again: served from the cache
    after = dt.cache_stats()
    assert after["kernel_cache_hits"] >= before["kernel_cache_hits"] + 5  # LAYOUT has 5 nodes
    assert after["kernels_compiled"] >= before["kernels_compiled"]
