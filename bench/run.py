"""`make bench`: dumbtorch beside its peers, measured in the same run, and the machine's limits.

    PYTHONPATH=python python3 bench/run.py [--quick] [--only ROW,ROW...] [--threads N]

One table: each row is a piece of work timed (median of several repetitions, the contenders
taking turns so load on the machine hits them alike) in dumbtorch, PyTorch eager, torch.compile
(Inductor), JAX jit and numpy where meaningful, with the ratio of the best peer to dumbtorch
(> 1: dumbtorch is faster) and, for bandwidth-bound work, the percentage of the STREAM-style
triad measured in the same run. Then the sections the other benchmark modules print (SGEMM from
bench/gemm.py, eager overhead, the Fashion-MNIST epoch).

Threads: every side runs on --threads N (default 1). OMP/MKL/OpenBLAS thread counts are set in
the environment before numpy/torch/jax are imported, torch.set_num_threads(N) is called, and JAX
gets XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=N" (the table
prints the CPU-time/wall-time ratio observed for each peer, which shows whether the limit held).
At N = 1 JAX still keeps a second thread busy, so every row's measurement pins all the
process's threads to one CPU (sched_setaffinity; bench/gemm.py's own 2-thread columns are not
pinned).
dumbtorch gets dt.set_num_threads(N) when it has it; without it its kernels run on the calling
thread, and at N = 2 only the peers and the limits change. `make bench` runs N = 1, then the bandwidth rows again at N = 2 in a child.

--quick: 256K-element arrays, fewer repetitions, no torch.compile (its first compile alone takes
30-90 s here). Rows: triad, peak, fused, exp/tanh/sigmoid/log, xor, mlp64, mlp512, mlp1024, compile,
gemm, eager, fmnist (--only takes these names).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few repetitions (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated row names (default: all)")
    p.add_argument("--threads", type=int, default=1, help="threads for every side (default 1)")
    p.add_argument("--no-child", action="store_true", help="do not re-run the bandwidth rows at 2 threads")
    return p.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else _parse_args([])
THREADS = ARGS.threads
# Before numpy, torch or jax are imported: their thread pools read these once.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(THREADS)
os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={THREADS}"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

N_BIG = 1 << 24  # 16M float32 = 64 MB per array, far beyond L3
N_QUICK = 1 << 18
# dumbtorch compiles into a fresh on-disk cache, so its compile times here are cold ones (the
# compile row measures cold and warm explicitly).
_CACHE = tempfile.TemporaryDirectory(prefix="dt-bench-cache-")
os.environ["DT_CACHE_DIR"] = _CACHE.name


# --- timing ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _one_core():
    """At --threads 1, every thread of the process (JAX's runtime keeps a second one busy whatever
    XLA_FLAGS say: CPU/wall 1.6-1.9 unpinned) is pinned to one CPU while a row is measured, so
    every side gets one core; threads started meanwhile inherit it. The mask is restored after."""
    if THREADS != 1 or not hasattr(os, "sched_setaffinity"):
        yield
        return
    cpu = {min(os.sched_getaffinity(0))}
    saved = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpu)
        except OSError:  # the thread has exited
            pass
    try:
        yield
    finally:
        for tid, mask in saved.items():
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:
                pass


def measure(fns: dict, repeats: int, min_time: float) -> dict:
    """name -> (median seconds per call, CPU/wall ratio). Each function is warmed up, then called
    in rounds: per round each function runs enough calls to last min_time, in turn."""
    calls = {}
    for name, fn in fns.items():
        fn()
        t0 = time.perf_counter()
        fn()
        dt_ = max(time.perf_counter() - t0, 1e-7)
        calls[name] = max(1, int(min_time / dt_))
    samples = {k: [] for k in fns}
    cpu = {k: [0.0, 0.0] for k in fns}
    with _one_core():
        _rounds(fns, calls, repeats, samples, cpu)
    return {k: (statistics.median(v), cpu[k][0] / max(cpu[k][1], 1e-9)) for k, v in samples.items()}


def _rounds(fns, calls, repeats, samples, cpu):
    for _ in range(repeats):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(calls[name]):
                fn()
            wall = time.perf_counter() - t0
            cpu[name][0] += time.process_time() - c0
            cpu[name][1] += wall
            samples[name].append(wall / calls[name])


# --- the table ------------------------------------------------------------------------------------

PEERS = ["torch eager", "torch.compile", "jax.jit", "numpy"]
ROWS: list[dict] = []
NOTES: list[str] = []


def add_row(name: str, unit: str, ours, peers: dict, limit: float | None = None, higher_is_better=False, note=""):
    """ours / peers: value in `unit` or a string (n/a ...). limit: the machine limit in the same
    unit (bandwidth rows), printed as ours in % of it."""
    row = dict(name=name, unit=unit, ours=ours, peers=peers, limit=limit, hib=higher_is_better, note=note)
    ROWS.append(row)
    print(format_row(row), flush=True)
    return row


def _fmt(v, unit):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if unit == "s" or unit == "s/step":
        return f"{v * 1e3:.3f} ms" if v < 1 else f"{v:.2f} s"
    if unit == "GB/s":
        return f"{v:.2f} GB/s"
    if unit == "GFLOP/s":
        return f"{v:.1f} GF/s"
    return f"{v:.3g} {unit}"


def best_peer(row):
    vals = [(k, v) for k, v in row["peers"].items() if isinstance(v, (int, float)) and k != "numpy" and k != "dumbtorch eager"]
    if not vals:
        return None
    return (max if row["hib"] else min)(vals, key=lambda kv: kv[1])


def format_row(row) -> str:
    cells = [f"{row['name']:<38}", f"{_fmt(row['ours'], row['unit']):>24}"]
    for p in PEERS:
        cells.append(f"{_fmt(row['peers'].get(p), row['unit']):>14}")
    bp = best_peer(row)
    ours = row["ours"]
    if bp and isinstance(ours, (int, float)) and "(limit)" not in row["name"]:
        ratio = ours / bp[1] if row["hib"] else bp[1] / ours
        cells.append(f"{ratio:>8.2f}x")
    else:
        cells.append(f"{'-':>9}")
    if row["limit"] and isinstance(ours, (int, float)):
        cells.append(f"{100 * ours / row['limit']:>7.0f}%")
    else:
        cells.append(f"{'':>8}")
    if row["note"]:
        cells.append("  " + row["note"])
    return "".join(cells)


def header() -> str:
    cells = [f"{'work (threads=' + str(THREADS) + ')':<38}", f"{'dumbtorch':>24}"] + [f"{p:>14}" for p in PEERS]
    cells += [f"{'vs best':>9}", f"{'% limit':>8}"]
    return "".join(cells)


def markdown_table() -> str:
    lines = ["| work | dumbtorch | " + " | ".join(PEERS) + " | best peer / dumbtorch | % of limit | note |",
             "| --- | --- | " + " | ".join("---" for _ in PEERS) + " | --- | --- | --- |"]
    for r in ROWS:
        bp = best_peer(r)
        ours = r["ours"]
        ratio = "-"
        if bp and isinstance(ours, (int, float)) and "(limit)" not in r["name"]:
            ratio = f"{(ours / bp[1] if r['hib'] else bp[1] / ours):.2f}x ({bp[0]})"
        lim = f"{100 * ours / r['limit']:.0f}%" if r["limit"] and isinstance(ours, (int, float)) else ""
        lines.append(f"| {r['name']} | {_fmt(ours, r['unit'])} | " + " | ".join(_fmt(r['peers'].get(p), r['unit']) for p in PEERS)
                     + f" | {ratio} | {lim} | {r['note']} |")
    return "\n".join(lines)


# --- lazily imported frameworks -------------------------------------------------------------------


def torch_mod():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def jax_mods():
    try:
        import jax
        import jax.numpy as jnp

        return jax, jnp
    except ImportError:
        return None, None


def dt_mod():
    import dumbtorch

    if hasattr(dumbtorch, "set_num_threads"):  # the runtime thread pool (issue 6 item 3), once built
        dumbtorch.set_num_threads(THREADS)
    return dumbtorch


def compile_ir(text: str):
    dt = dt_mod()
    return dt.ir.compile(dt.ir.parse(text))


# --- the machine's limits -------------------------------------------------------------------------

LIMITS: dict[str, float] = {}


def row_triad(quick):
    """STREAM triad a = b + s*c over 3 arrays of N floats (12 bytes moved per element): torch's
    one-pass torch.add(b, c, alpha=s, out=a), numpy's two passes (counted as the same 12 bytes,
    so it under-reports) and a compiled dumbtorch kernel (which allocates its result each call).
    The limit is the best of them."""
    n = N_QUICK if quick else N_BIG
    torch = torch_mod()
    rng = np.random.default_rng(0)
    b, c = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    a = np.empty_like(b)
    tb, tc, ta = torch.from_numpy(b), torch.from_numpy(c), torch.from_numpy(a)
    s = np.float32(3.0)
    triad = compile_ir(f"""func @triad(%b: f32[{n}], %c: f32[{n}], %s: f32[]) -> (f32[{n}]) {{
  %r = kernel @triad(%b, %c, %s) : f32[{n}] {{
    %m = mul(%c, %s) : f32[{n}]
    %a = add(%b, %m) : f32[{n}]
    yield %a
  }}
  return %r
}}""")
    sa = np.array(3.0, np.float32)

    def np_triad():
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)

    res = measure({"torch": lambda: torch.add(tb, tc, alpha=3.0, out=ta), "numpy": np_triad,
                   "dumbtorch": lambda: triad(b, c, sa)}, 3 if quick else 7, 0.05 if quick else 0.3)
    gbs = {k: 12 * n / v[0] / 1e9 for k, v in res.items()}
    LIMITS["triad"] = max(gbs.values())
    add_row(f"STREAM triad, {n >> 10}K f32 (limit)", "GB/s", gbs["dumbtorch"],
            {"torch eager": gbs["torch"], "numpy": gbs["numpy"]}, higher_is_better=True,
            note=f"limit = best = {LIMITS['triad']:.2f} GB/s; torch CPU/wall {res['torch'][1]:.2f}")


def _built(name: str):
    """A binary of the build (./build, or ./build-bench), or None."""
    for build in ("build", "build-bench"):
        p = ROOT / build / name
        if p.exists():
            return p
    return None


def row_peak(quick):
    """The measured FMA peak (bench/peak_flops.cpp: register-only FMA chains on every thread), and
    beside it a large SGEMM (torch.mm, numpy) at the thread count, the best a real GEMM gets."""
    peak = _built("dt_peak_flops")
    if peak is not None:
        out = subprocess.run([str(peak), str(THREADS), "0.2" if quick else "0.5"], capture_output=True, text=True)
        if out.returncode == 0:
            gf = float(out.stdout.split()[0])
            LIMITS["fma"] = gf
            add_row("peak FLOP/s: register-only FMA (limit)", "GFLOP/s", gf, {}, higher_is_better=True,
                    note=out.stdout.strip())
        else:
            add_row("peak FLOP/s: register-only FMA (limit)", "GFLOP/s", f"n/a ({out.stderr.strip()[:60]})", {})
    torch = torch_mod()
    n = 512 if quick else 2048
    x = torch.randn(n, n)
    y = torch.randn(n, n)
    res = measure({"mm": lambda: torch.mm(x, y), "np": lambda: np.dot(x.numpy(), y.numpy())}, 3, 0.2 if quick else 0.5)
    gf = {k: 2 * n ** 3 / v[0] / 1e9 for k, v in res.items()}
    LIMITS["peak"] = max(gf.values())
    add_row(f"peak FLOP/s proxy: SGEMM {n} (limit)", "GFLOP/s", "-", {"torch eager": gf["mm"], "numpy": gf["np"]},
            higher_is_better=True, note=f"torch.mm CPU/wall {res['mm'][1]:.2f}; what a real GEMM reaches")


# --- elementwise ----------------------------------------------------------------------------------


def _fused_peers(n, quick):
    torch = torch_mod()
    jax, jnp = jax_mods()
    rng = np.random.default_rng(1)
    a, b, c, d = (rng.standard_normal(n, dtype=np.float32) for _ in range(4))
    ta, tb, tc, td = (torch.from_numpy(v) for v in (a, b, c, d))
    out = np.empty_like(a)

    def eager():
        return torch.sigmoid(ta * tb + tc) * td

    fns = {"torch eager": eager}
    compile_s = {}
    if not quick:  # Inductor's first compile takes 30-90 s on this machine
        t0 = time.perf_counter()
        compiled = torch.compile(lambda a, b, c, d: torch.sigmoid(a * b + c) * d)
        compiled(ta, tb, tc, td)
        compile_s["torch.compile"] = time.perf_counter() - t0
        fns["torch.compile"] = lambda: compiled(ta, tb, tc, td)
    if jax:
        ja, jb, jc, jd = (jnp.asarray(v) for v in (a, b, c, d))
        jf = jax.jit(lambda a, b, c, d: jax.nn.sigmoid(a * b + c) * d)
        t0 = time.perf_counter()
        jf(ja, jb, jc, jd).block_until_ready()
        compile_s["jax.jit"] = time.perf_counter() - t0
        fns["jax.jit"] = lambda: jf(ja, jb, jc, jd).block_until_ready()

    def numpy_fused():
        np.multiply(a, b, out=out)
        np.add(out, c, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        np.divide(d, out, out=out)

    fns["numpy"] = numpy_fused
    return (a, b, c, d), fns, compile_s


def row_fused(quick):
    """(c) sigmoid(a*b + c) * d over 16M floats: 5 arrays, 20 bytes per element."""
    n = N_QUICK if quick else N_BIG
    (a, b, c, d), fns, compile_s = _fused_peers(n, quick)
    g = f"""func @f(%a: f32[{n}], %b: f32[{n}], %c: f32[{n}], %d: f32[{n}]) -> (f32[{n}]) {{
  %k = kernel @fused_0(%a, %b, %c, %d) : f32[{n}] {{
    %m = mul(%a, %b) : f32[{n}]
    %s = add(%m, %c) : f32[{n}]
    %g = sigmoid(%s) : f32[{n}]
    %r = mul(%g, %d) : f32[{n}]
    yield %r
  }}
  return %k
}}"""
    t0 = time.perf_counter()
    ours = compile_ir(g)
    compile_s["dumbtorch"] = time.perf_counter() - t0
    got = ours(a, b, c, d)[0]
    want = (1 / (1 + np.exp(-(a.astype(np.float64) * b + c)))) * d
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), "the fused kernel is wrong"
    fns["dumbtorch"] = lambda: ours(a, b, c, d)
    res = measure(fns, 3 if quick else 7, 0.05 if quick else 0.3)
    gbs = {k: 20 * n / v[0] / 1e9 for k, v in res.items()}
    cpu = ", ".join(f"{k} {v[1]:.2f}" for k, v in res.items() if k != "dumbtorch")
    add_row(f"(c) sigmoid(a*b+c)*d, {n >> 10}K f32", "GB/s", gbs.pop("dumbtorch"), gbs, limit=LIMITS.get("triad"),
            higher_is_better=True, note=f"CPU/wall: {cpu}")
    add_row("(d) compile of (c)", "s", compile_s.pop("dumbtorch"), compile_s, note="first call incl. tracing")


def row_unary(quick, fn_name):
    """exp/tanh/sigmoid/log over 16M floats (8 bytes per element) beside a plain copy (abs, the
    same kernel shape with no math) in dumbtorch; the peers' own functions."""
    n = N_QUICK if quick else N_BIG
    torch = torch_mod()
    jax, jnp = jax_mods()
    rng = np.random.default_rng(2)
    x = rng.uniform(0.01, 4, n).astype(np.float32)
    tx = torch.from_numpy(x)
    text = lambda op: f"func @u(%x: f32[{n}]) -> (f32[{n}]) {{\n  %r = {op}(%x) : f32[{n}]\n  return %r\n}}"
    ours, copy = compile_ir(text(fn_name)), compile_ir(text("abs"))
    tfn = {"exp": torch.exp, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "log": torch.log}[fn_name]
    fns = {"dumbtorch": lambda: ours(x), "copy": lambda: copy(x), "torch eager": lambda: tfn(tx)}
    out = np.empty_like(x)
    npfn = {"exp": np.exp, "tanh": np.tanh, "log": np.log}.get(fn_name)
    if npfn:
        fns["numpy"] = lambda: npfn(x, out=out)
    if jax:
        jfn = {"exp": jnp.exp, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "log": jnp.log}[fn_name]
        jx = jnp.asarray(x)
        jf = jax.jit(jfn)
        fns["jax.jit"] = lambda: jf(jx).block_until_ready()
    res = measure(fns, 3 if quick else 5, 0.05 if quick else 0.2)
    gbs = {k: 8 * n / v[0] / 1e9 for k, v in res.items()}
    copy_gbs = gbs.pop("copy")
    ratio = res["dumbtorch"][0] / res["copy"][0]
    add_row(f"{fn_name}, {n >> 10}K f32", "GB/s", gbs.pop("dumbtorch"), gbs, limit=copy_gbs, higher_is_better=True,
            note=f"time / plain copy = {ratio:.2f} (copy {copy_gbs:.2f} GB/s; % limit = of the copy)")


# --- training steps -------------------------------------------------------------------------------


def _torch_model(torch, sizes, seed=0):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if sizes[0] != 2 else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def _jax_step(jax, jnp, sizes, lr, loss_kind):
    def init(key):
        params = []
        for i in range(len(sizes) - 1):
            key, k1 = jax.random.split(key)
            params.append((jax.random.normal(k1, (sizes[i], sizes[i + 1]), jnp.float32) * (1 / np.sqrt(sizes[i])),
                           jnp.zeros(sizes[i + 1], jnp.float32)))
        return params

    act = jnp.tanh if sizes[0] == 2 else jax.nn.relu

    def loss_fn(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = act(h)
        if loss_kind == "mse":
            return jnp.mean((h - y) ** 2)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)], loss

    return init(jax.random.PRNGKey(0)), step


def row_train(quick, label, sizes, batch, loss_kind):
    """One SGD training step (zero_grad, forward, loss, backward, step) of an MLP."""
    torch = torch_mod()
    jax, jnp = jax_mods()
    dt = dt_mod()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    if loss_kind == "mse":
        y = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
    else:
        y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    lr = 0.1 if loss_kind == "mse" else 0.01
    fns, compile_s = {}, {}

    def make_step(m, model, opt, loss_fn):
        def step(xb, yb):
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            return loss

        return step

    def setup(m):
        model = _torch_model(m, sizes)
        opt = m.optim.SGD(model.parameters(), lr=lr)
        loss_fn = m.nn.MSELoss() if loss_kind == "mse" else m.nn.CrossEntropyLoss()
        return model, opt, loss_fn

    # torch eager
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    model, opt, loss_fn = setup(torch)
    teager = make_step(torch, model, opt, loss_fn)
    fns["torch eager"] = lambda: teager(tx, ty)
    # torch.compile of model + loss forward (Inductor; AOTAutograd compiles the backward too)
    if not quick:
        cmodel, copt, closs = setup(torch)
        fwd = torch.compile(lambda xb, yb: closs(cmodel(xb), yb))

        def tcompiled():
            copt.zero_grad()
            loss = fwd(tx, ty)
            loss.backward()
            copt.step()
            return loss

        t0 = time.perf_counter()
        tcompiled()
        compile_s["torch.compile"] = time.perf_counter() - t0
        fns["torch.compile"] = tcompiled
    # jax.jit of a pure step (value_and_grad + SGD)
    if jax:
        state = {}
        params, jstep = _jax_step(jax, jnp, sizes, lr, loss_kind)
        jx, jy = jnp.asarray(x), jnp.asarray(y)
        state["p"] = params

        def jrun():
            state["p"], loss = jstep(state["p"], jx, jy)
            loss.block_until_ready()

        t0 = time.perf_counter()
        jrun()
        compile_s["jax.jit"] = time.perf_counter() - t0
        fns["jax.jit"] = jrun
    # dumbtorch eager (beside, for reference) and compiled
    dx, dy = dt.from_numpy(x), dt.from_numpy(y)
    dmodel, dopt, dloss = setup(dt)
    deager = make_step(dt, dmodel, dopt, dloss)
    fns["dumbtorch eager"] = lambda: deager(dx, dy)
    ours = "n/a (dt.compile not built)"
    if hasattr(dt, "compile"):
        cmod, cop, cl = setup(dt)
        before = dt.cache_stats()
        t0 = time.perf_counter()
        dstep = dt.compile(make_step(dt, cmod, cop, cl))
        dstep(dx, dy)
        compile_s["dumbtorch"] = time.perf_counter() - t0
        stages = _compile_stages(dt, dstep, before, compile_s["dumbtorch"])
        fns["dumbtorch"] = lambda: dstep(dx, dy)
    res = measure(fns, 3 if quick else 7, 0.05 if quick else 0.3)
    secs = {k: v[0] for k, v in res.items()}
    cpu_wall = ", ".join(f"{k} {v[1]:.2f}" for k, v in res.items() if k != "dumbtorch eager")
    if "dumbtorch" in secs:
        ours = secs.pop("dumbtorch")
    deager_s = secs.pop("dumbtorch eager")
    ratio_eager = f"; dt.compile vs torch eager {secs['torch eager'] / ours:.2f}x" if isinstance(ours, float) else ""
    add_row(label, "s/step", ours, secs,
            note=f"dumbtorch eager {_fmt(deager_s, 's')} ({secs['torch eager'] / deager_s:.2f}x torch eager){ratio_eager}"
            f"; CPU/wall: {cpu_wall}")
    ours_c = compile_s.pop("dumbtorch", "n/a (dt.compile not built)")
    add_row(f"(d) compile of {label[4:] if label.startswith('(') else label}", "s", ours_c, compile_s,
            note="first call (torch.compile: Dynamo/Inductor caches persist across rows)"
            + (f"; dumbtorch stages: {stages}" if hasattr(dt, "compile") else ""))


def _compile_stages(dt, step, before, total):
    """The first call's time split by stage: tracing (running the Python function on traced
    tensors, and everything else outside the passes and codegen), the IR passes, lowering to
    LLVM IR, LLVM's O3, machine code (the last two from the JIT's counters)."""
    after, st = dt.cache_stats(), step.stats()["last"]
    o3 = after.get("llvm_optimize_seconds", 0.0) - before.get("llvm_optimize_seconds", 0.0)
    mc = after.get("llvm_codegen_seconds", 0.0) - before.get("llvm_codegen_seconds", 0.0)
    passes, codegen = st["pass_seconds"], st["codegen_seconds"]
    lowering = max(codegen - o3 - mc, 0.0)
    trace = max(total - passes - codegen, 0.0)
    return (f"trace {_fmt(trace, 's')}, passes {_fmt(passes, 's')}, LLVM IR {_fmt(lowering, 's')}, "
            f"O3 {_fmt(o3, 's')}, machine code {_fmt(mc, 's')}")


def row_compile_disk(quick):
    """Compile of the MLP training-step graph (tests/ir/mlp.ir differentiated by `dtc opt
    --passes=autodiff`, then the optimizing passes) in a fresh process: cold (empty
    DT_CACHE_DIR) and warm (the same directory again), dt.ir.compile's time only."""
    dtc = _built("dtc")
    if dtc is None:
        add_row("(d) compile MLP step graph, cold / warm", "s", "n/a (no dtc built)", {})
        return
    passes = "autodiff,simplify,cse,dce,fusion"
    out = subprocess.run([str(dtc), "opt", f"--passes={passes}", str(ROOT / "tests/ir/mlp.ir")], capture_output=True, text=True)
    if out.returncode != 0:
        passes = "autodiff"
        out = subprocess.run([str(dtc), "opt", "--passes=autodiff", str(ROOT / "tests/ir/mlp.ir")], capture_output=True, text=True)
    if out.returncode != 0:
        add_row("(d) compile MLP step graph, cold / warm", "s", f"n/a (dtc opt failed: {out.stderr.strip()[:60]})", {})
        return
    code = ("import sys, time, dumbtorch as dt\n"
            "g = dt.ir.parse(sys.stdin.read())\n"
            "t = time.perf_counter(); dt.ir.compile(g); print(time.perf_counter() - t)\n")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, DT_CACHE_DIR=cache, PYTHONPATH=str(ROOT / "python"))
        times = []
        for _ in range(2):
            r = subprocess.run([sys.executable, "-c", code], input=out.stdout, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                add_row("(d) compile MLP step graph, cold / warm", "s", f"n/a ({r.stderr.strip()[-60:]})", {})
                return
            times.append(float(r.stdout.strip()))
    add_row("(d) compile MLP step graph: cold", "s", times[0], {}, note=f"dtc opt --passes={passes} tests/ir/mlp.ir")
    add_row("(d) compile MLP step graph: warm (disk)", "s", times[1], {}, note="second process, same DT_CACHE_DIR")


# --- sections from the other benchmark modules -----------------------------------------------------


def _import(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section(name, call):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        call()
    text = buf.getvalue()
    print(text, end="", flush=True)
    SECTIONS.append((name, text))


SECTIONS: list[tuple[str, str]] = []


def row_gemm(quick):
    if not (HERE / "gemm.py").exists():
        NOTES.append("SGEMM: bench/gemm.py does not exist yet")
        return
    section("SGEMM (bench/gemm.py)", lambda: _import("gemm").main(quick=quick))


def row_eager(quick):
    section("eager per-op overhead (bench/eager_overhead.py)", lambda: _import("eager_overhead").main(repeats=3 if quick else 9))


def row_fmnist(quick):
    section("Fashion-MNIST epoch (bench/fashion_mnist_epoch.py, SGD)",
            lambda: _import("fashion_mnist_epoch").main("sgd", repeats=1 if quick else 2))


ROW_FNS = {
    "triad": row_triad,
    "peak": row_peak,
    "fused": row_fused,
    "exp": lambda q: row_unary(q, "exp"),
    "tanh": lambda q: row_unary(q, "tanh"),
    "sigmoid": lambda q: row_unary(q, "sigmoid"),
    "log": lambda q: row_unary(q, "log"),
    "xor": lambda q: row_train(q, "(b) XOR 2-8-1 step, batch 4", [2, 8, 1], 4, "mse"),
    "mlp64": lambda q: row_train(q, "(a) MLP 784-128-10 step, batch 64", [784, 128, 10], 64, "ce"),
    "mlp512": lambda q: row_train(q, "(a) MLP 784-128-10 step, batch 512", [784, 128, 10], 512, "ce"),
    "mlp1024": lambda q: row_train(q, "MLP 784-1024-1024-10 step, batch 512", [784, 1024, 1024, 10], 512, "ce"),
    "compile": row_compile_disk,
    "gemm": row_gemm,
    "eager": row_eager,
    "fmnist": row_fmnist,
}
BANDWIDTH_ROWS = ["triad", "peak", "fused"]


def main(args=ARGS) -> int:
    only = [r for r in args.only.split(",") if r] or list(ROW_FNS)
    unknown = [r for r in only if r not in ROW_FNS]
    if unknown:
        print(f"unknown rows {unknown}; expected some of {list(ROW_FNS)}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    import platform

    print(f"# dumbtorch bench: threads={THREADS}, quick={args.quick}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}")
    print(header())
    failed = []
    for name in only:
        try:
            ROW_FNS[name](args.quick)
        except Exception as e:  # report and go on with the other rows
            failed.append(name)
            print(f"{name} failed: {type(e).__name__}: {e}", flush=True)
    if THREADS == 1 and not args.no_child and not args.quick and any(r in only for r in BANDWIDTH_ROWS):
        rows = ",".join(r for r in BANDWIDTH_ROWS if r in only)
        print(f"\n== the bandwidth rows at 2 threads (a child process: thread pools are set at import) ==", flush=True)
        r = subprocess.run([sys.executable, __file__, "--threads", "2", "--only", rows, "--no-child"])
        if r.returncode:
            failed.append("threads=2")
    print(f"\n== summary (threads={THREADS}) ==\n" + markdown_table())
    for n in NOTES:
        print("note:", n)
    print(f"({time.perf_counter() - start:.0f} s)")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
