"""Several Python threads at once: training small models, eager ops with backward, and compiling
IR graphs (the GIL is released while kernels run and graphs compile, so these really overlap in
C++). Every thread's results equal the ones computed single-threaded, bit for bit; grad mode is
per thread."""

from __future__ import annotations

import threading

import numpy as np

import dumbtorch as dt

N_THREADS = 4


def run_threads(fn, args_list):
    """Runs fn(*args) for each args on its own thread, all released at once; returns the results
    in order and re-raises the first exception a thread hit."""
    barrier = threading.Barrier(len(args_list))
    results, errors = [None] * len(args_list), [None] * len(args_list)

    def body(i, args):
        try:
            barrier.wait()
            results[i] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported below, on the main thread
            errors[i] = e

    threads = [threading.Thread(target=body, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return results


def make_problem(seed: int, hidden: int):
    """Data and initial weights from numpy (dt's RNG is process-wide: threads would race for it)."""
    rng = np.random.default_rng(seed)
    return dict(
        x=rng.standard_normal((16, 5)).astype(np.float32),
        y=rng.standard_normal((16, 2)).astype(np.float32),
        w1=(rng.standard_normal((hidden, 5)) * 0.3).astype(np.float32),
        b1=np.zeros(hidden, np.float32),
        w2=(rng.standard_normal((2, hidden)) * 0.3).astype(np.float32),
        b2=np.zeros(2, np.float32),
    )


def train(p, steps: int = 25):
    """A two-layer MLP trained with Adam on MSE; returns the losses and the final weights."""
    model = dt.nn.Sequential(dt.nn.Linear(5, p["w1"].shape[0]), dt.nn.Tanh(), dt.nn.Linear(p["w1"].shape[0], 2))
    with dt.no_grad():
        for layer, w, b in ((model[0], p["w1"], p["b1"]), (model[2], p["w2"], p["b2"])):
            layer.weight.copy_(dt.from_numpy(w.copy()))
            layer.bias.copy_(dt.from_numpy(b.copy()))
    opt = dt.optim.Adam(model.parameters(), lr=0.02)
    x, y = dt.from_numpy(p["x"].copy()), dt.from_numpy(p["y"].copy())
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = dt.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [t.detach().numpy().copy() for t in model.parameters()]


def test_threads_training_models_match_single_threaded():
    # Different hidden sizes: each thread needs kernels of its own shapes, compiled concurrently.
    problems = [make_problem(seed, hidden) for seed, hidden in zip(range(N_THREADS), (3, 6, 7, 9))]
    want = [train(p) for p in problems]
    got = run_threads(train, [(p,) for p in problems])
    for (wl, wp), (gl, gp) in zip(want, got):
        assert gl == wl
        assert wl[-1] < wl[0]
        for a, b in zip(gp, wp):
            np.testing.assert_array_equal(a, b)


def eager_work(seed: int):
    """Eager ops of every kind (elementwise, broadcast, reductions, matmul, views, indexing) and
    backward on f64, on shapes that depend on the seed; returns the values and gradients."""
    rng = np.random.default_rng(100 + seed)
    n = 3 + seed
    a = dt.from_numpy(rng.standard_normal((n, 4))).requires_grad_()
    b = dt.from_numpy(rng.standard_normal((4, n + 1))).requires_grad_()
    c = dt.from_numpy(rng.standard_normal(n + 1)).requires_grad_()
    h = (a @ b + c).sigmoid()
    h = h * h.exp().mean(dim=1, keepdim=True) - h.t().sum(dim=0).unsqueeze(1)
    out = h[1:, ::2].relu().sum() + h.max() + (h ** 2).sum(dim=0).log().mean()
    out.backward()
    with dt.no_grad():  # grad mode is per thread: the other threads keep recording
        detached = (a * 2).requires_grad
    return out.item(), a.grad.numpy().copy(), b.grad.numpy().copy(), c.grad.numpy().copy(), detached


def test_threads_eager_ops_and_backward_match_single_threaded():
    want = [eager_work(s) for s in range(N_THREADS)]
    for _ in range(3):
        got = run_threads(eager_work, [(s,) for s in range(N_THREADS)])
        for w, g in zip(want, got):
            assert g[0] == w[0]
            for x, y in zip(g[1:4], w[1:4]):
                np.testing.assert_array_equal(x, y)
            assert g[4] is False


def ir_text(n: int, k: int) -> str:
    return (f"func @g(%x: f32[{n},{k}], %w: f32[{k},3]) -> (f32[{n},3], f32[3]) {{\n"
            f"  %0 = matmul(%x, %w) : f32[{n},3]\n"
            f"  %1 = tanh(%0) : f32[{n},3]\n"
            f"  %2 = mul(%1, %0) : f32[{n},3]\n"
            f"  %3 = sum(%2) {{axes=[0]}} : f32[3]\n"
            f"  return %2, %3\n}}\n")


def compile_and_run(n: int, k: int):
    rng = np.random.default_rng(n * 1000 + k)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((k, 3)).astype(np.float32)
    g = dt.ir.parse(ir_text(n, k))
    outs = dt.ir.compile(g)(x, w)
    ref = dt.ir.interpret(g, x, w)
    return [np.asarray(o).copy() for o in outs], [np.asarray(r).copy() for r in ref]


def test_threads_compiling_distinct_graphs():
    # Shapes no other test uses, so each thread's kernels are compiled while the others compile.
    shapes = [(2 + t, 40 + 7 * r + t) for r in range(3) for t in range(N_THREADS)]
    got = run_threads(lambda items: [compile_and_run(*s) for s in items],
                      [(shapes[t::N_THREADS],) for t in range(N_THREADS)])
    for per_thread in got:
        for outs, ref in per_thread:
            for o, r in zip(outs, ref):
                np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-4)
    # The same graph from every thread at once: identical results everywhere.
    same = run_threads(compile_and_run, [(5, 77)] * N_THREADS)
    for outs, _ in same[1:]:
        for o, first in zip(outs, same[0][0]):
            np.testing.assert_array_equal(o, first)
