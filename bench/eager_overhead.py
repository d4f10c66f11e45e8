"""Per-op eager overhead on tiny tensors: dumbtorch against PyTorch, measured side by side.

Each row times N calls of a small piece of eager code on [4]-element tensors (where the kernel
itself costs nanoseconds, so what is measured is the framework: dispatch, type checks, kernel
cache lookup, tape recording, allocation) and reports the median over several repetitions, in
microseconds per call, with the ratio dumbtorch / PyTorch.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _time_side_by_side(fns, calls: int, repeats: int) -> list[float]:
    """Median over `repeats` rounds of `calls` calls of each function, in microseconds per call.
    The functions take turns within each round, so load on the machine hits them alike."""
    for fn in fns:
        fn()  # warm up: compile and cache kernels
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, samples):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - start) / calls * 1e6)
    return [statistics.median(s) for s in samples]


def _workloads(m):
    """name -> (callable, calls) for module m (dumbtorch or torch)."""
    rng = np.random.default_rng(0)
    a = m.from_numpy(rng.normal(size=4).astype(np.float32))
    b = m.from_numpy(rng.normal(size=4).astype(np.float32))
    w = m.from_numpy(rng.normal(size=(4, 4)).astype(np.float32)).requires_grad_()
    bias = m.from_numpy(rng.normal(size=4).astype(np.float32)).requires_grad_()
    x = m.from_numpy(rng.normal(size=(2, 4)).astype(np.float32))
    v = m.from_numpy(rng.normal(size=4).astype(np.float32)).requires_grad_()

    def add():
        return a + b

    def mul_sum():
        return (a * b).sum()

    def add_grad():
        return v + b

    def scalar_backward():
        v.grad = None
        (v * b).sum().backward()

    def mlp_backward():
        w.grad = None
        bias.grad = None
        m.relu(x @ w + bias).sum().backward()

    return {
        "add [4] f32": (add, 2000),
        "mul + sum [4] f32": (mul_sum, 1000),
        "add, requires_grad (tape record)": (add_grad, 1000),
        "(v * b).sum().backward()": (scalar_backward, 200),
        "relu(x @ w + b).sum().backward()": (mlp_backward, 200),
    }


def main(repeats: int = 9) -> list[tuple]:
    import torch

    import dumbtorch as dt

    torch.set_num_threads(1)
    ours, theirs = _workloads(dt), _workloads(torch)
    rows = []
    title = f"eager overhead (us per call, median of {repeats})"
    print(f"{title:<44}{'dumbtorch':>11}{'torch':>9}{'ratio':>8}")
    for name, (fn, calls) in ours.items():
        d, t = _time_side_by_side([fn, theirs[name][0]], calls, repeats)
        rows.append((name, d, t, d / t))
        print(f"{name:<44}{d:>11.2f}{t:>9.2f}{d / t:>8.2f}")
    return rows


if __name__ == "__main__":
    main()
