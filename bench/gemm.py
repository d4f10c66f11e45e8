"""SGEMM: dumbtorch's generated GEMM (a one-node matmul graph compiled through dumbtorch.ir) against
torch.mm, side by side in one process, on one thread each (torch.set_num_threads(1),
dt.set_num_threads(1)) and on two threads each. Square n = 256 .. 2048 and the MLP 784-128 shapes
at batch 64 (the forward x @ w1 and its two backward products, 6.4M multiply-adds each: above
dumbtorch's parallel threshold of 2M, runtime/ThreadPool.h kGemmParallelWork). Median over
repetitions (or, with --min, the best repetition: for a machine shared with other work), in
GFLOP/s (2 m n k per product), with the ratio ours / torch.

    PYTHONPATH=python python3 bench/gemm.py [--quick] [--min] [label substring ...]
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

SHAPES = [  # (label, m, k, n)
    ("sgemm 256", 256, 256, 256),
    ("sgemm 512", 512, 512, 512),
    ("sgemm 1024", 1024, 1024, 1024),
    ("sgemm 2048", 2048, 2048, 2048),
    ("mlp fwd 64x784 @ 784x128", 64, 784, 128),
    ("mlp dW 784x64 @ 64x128", 784, 64, 128),
    ("mlp dX 64x128 @ 128x784", 64, 128, 784),
]


def _compiled_matmul(m: int, k: int, n: int):
    import dumbtorch as dt

    g = dt.ir.parse(
        f"func @mm(%a: f32[{m},{k}], %b: f32[{k},{n}]) -> (f32[{m},{n}]) {{\n"
        f"  %0 = matmul(%a, %b) : f32[{m},{n}]\n"
        f"  return %0\n}}\n"
    )
    return dt.ir.compile(g)


def _median_seconds(fn, min_time: float, repeats: int, best: bool = False) -> float:
    """Median (or minimum) over `repeats` samples; each sample runs fn enough times to last about
    min_time."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_time / once))
    if best:  # about half a second of samples, at least 5
        repeats = max(5, min(repeats, int(0.5 / (calls * once))))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return min(samples) if best else statistics.median(samples)


def _gflops(f, a, b, ta, tb, torch, threads: int, min_time: float, repeats: int, flops: float, best: bool):
    """(ours, torch) GFLOP/s with both libraries set to `threads` threads."""
    import dumbtorch as dt

    dt.set_num_threads(threads)
    torch.set_num_threads(threads)
    # Take turns, so load on the machine hits both alike.
    t_ours, t_torch = [], []
    for _ in range(3):
        t_ours.append(_median_seconds(lambda: f(a, b), min_time, repeats, best))
        t_torch.append(_median_seconds(lambda: torch.mm(ta, tb), min_time, repeats, best))
    pick = min if best else statistics.median
    return flops / pick(t_ours) / 1e9, flops / pick(t_torch) / 1e9


def main(quick: bool = False, best: bool = False, only: list[str] | None = None) -> None:
    import torch

    import dumbtorch as dt

    saved = (dt.get_num_threads(), torch.get_num_threads())
    min_time, repeats = (0.05, 3) if quick else (0.2, 7)
    if best:  # many short samples: some of them run while the machine is otherwise idle
        min_time, repeats = (0.005, 30) if quick else (0.005, 100)
    rng = np.random.default_rng(0)
    print(f"{'shape':<28} {'ours GF/s':>10} {'torch GF/s':>11} {'ratio':>6} | "
          f"{'ours 2T GF/s':>13} {'torch 2T GF/s':>14} {'ratio':>6}")
    try:
        for label, m, k, n in SHAPES:
            if only and not any(o in label for o in only):
                continue
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            f = _compiled_matmul(m, k, n)
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            ref = torch.mm(ta, tb).numpy()
            outs = []
            for threads in (1, 2):
                dt.set_num_threads(threads)
                (ours,) = f(a, b)
                outs.append(ours)
                err = float(np.max(np.abs(ours - ref)) / max(1.0, float(np.max(np.abs(ref)))))
                if err > 1e-4:
                    raise AssertionError(f"{label}: dumbtorch ({threads} threads) and torch.mm differ by {err:.2e}")
            if outs[0].tobytes() != outs[1].tobytes():
                raise AssertionError(f"{label}: dumbtorch differs between 1 and 2 threads")
            flops = 2.0 * m * n * k
            g1, t1 = _gflops(f, a, b, ta, tb, torch, 1, min_time, repeats, flops, best)
            g2, t2 = _gflops(f, a, b, ta, tb, torch, 2, min_time, repeats, flops, best)
            print(f"{label:<28} {g1:>10.1f} {t1:>11.1f} {g1 / t1:>6.2f} | {g2:>13.1f} {t2:>14.1f} {g2 / t2:>6.2f}")
    finally:
        dt.set_num_threads(saved[0])
        torch.set_num_threads(saved[1])

if __name__ == "__main__":
    main(quick="--quick" in sys.argv, best="--min" in sys.argv, only=[a for a in sys.argv[1:] if not a.startswith("--")])
