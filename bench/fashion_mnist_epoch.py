"""One training epoch of examples/fashion_mnist.py (784-128-10, Adam lr 1e-3 as the example's
default, or SGD lr 0.1; batch 64, 60,000 images, cross-entropy) in dumbtorch (the step compiled
with dt.compile, as the example runs it, and eager) and in PyTorch eager, in one run.

The training step is one function, ``make_step(m, model, opt)``, made with m = dumbtorch or
m = torch (and wrapped in dt.compile for "dumbtorch compiled"). Two measurements per framework, taking turns so that load on the
machine hits both alike, each the best of ``repeats`` epochs after a warm-up (dumbtorch compiles
its kernels and backward graph during the warm-up):

  - "DataLoader": batches come from each framework's DataLoader(shuffle=True) over the same
    in-memory tensors (dumbtorch's TensorDataset fetches a batch with one gather; PyTorch's
    DataLoader fetches 64 items and stacks them);
  - "pre-built batches": the same 938 batches, made beforehand, so only the framework's compute
    (forward, backward, optimizer step) is timed.

PyTorch runs on one thread, as dumbtorch does. (Its default pool of 2 threads is no faster here:
with 2 cores shared by other processes its threads wait on each other and an epoch took 5-10x
longer when we tried, so that configuration is not measured.)
`python bench/fashion_mnist_epoch.py [adam|sgd]` prints the table; `make bench` runs it (SGD) as
its Fashion-MNIST section, and docs/performance.md records that run (2026-11-22, session 4:
dumbtorch compiled 0.36 s with the DataLoader, 0.34 s on pre-built batches; torch, 1 thread,
0.92 s and 0.58 s; same final loss).
"""

from __future__ import annotations

import gzip
import struct
import sys
import time
from pathlib import Path

import numpy as np

FMNIST = "/usr/share/datasets/fashion-mnist"


def _load_train() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(f"{FMNIST}/train-images-idx3-ubyte.gz", "rb") as f:
        raw = f.read()
    n, h, w = struct.unpack(">III", raw[4:16])
    x = (np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32) / np.float32(255))
    with gzip.open(f"{FMNIST}/train-labels-idx1-ubyte.gz", "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


def make(m, optimizer: str, seed: int = 0):
    """The example's model and optimizer in framework m (dumbtorch or torch)."""
    m.manual_seed(seed)
    model = m.nn.Sequential(m.nn.Flatten(), m.nn.Linear(784, 128), m.nn.ReLU(), m.nn.Linear(128, 10))
    if optimizer == "adam":
        return model, m.optim.Adam(model.parameters(), lr=1e-3)
    return model, m.optim.SGD(model.parameters(), lr=0.1)


def make_step(m, model, opt, compiled: bool = False):
    """The training step, identical code for both frameworks; `compiled` wraps it in dt.compile."""
    loss_fn = m.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return m.compile(step) if compiled else step


def run_epoch(step, batches) -> float:
    """One epoch; returns the mean loss."""
    total, n = 0.0, 0
    for x, y in batches:
        total += step(x, y).item()
        n += 1
    return total / n


def _loader(m, x: np.ndarray, y: np.ndarray, seed: int):
    data = m.utils.data
    ds = data.TensorDataset(m.from_numpy(x), m.from_numpy(y))
    if m.__name__ == "torch":
        return data.DataLoader(ds, batch_size=64, shuffle=True, generator=m.Generator().manual_seed(seed))
    return data.DataLoader(ds, batch_size=64, shuffle=True, generator=np.random.default_rng(seed))


def _prebuilt(m, x: np.ndarray, y: np.ndarray, seed: int) -> list:
    perm = np.random.default_rng(seed).permutation(len(x))
    out = []
    for i in range(0, len(x), 64):
        idx = perm[i:i + 64]
        out.append((m.from_numpy(np.ascontiguousarray(x[idx])), m.from_numpy(np.ascontiguousarray(y[idx]))))
    return out


def main(optimizer: str = "adam", repeats: int = 3) -> list[tuple]:
    import torch

    root = Path(__file__).resolve().parents[1] / "python"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import dumbtorch as dt

    x, y = _load_train()
    default_threads = torch.get_num_threads()
    dt_threads = dt.get_num_threads()
    dt.set_num_threads(1)  # the same thread count on both sides
    frameworks = [("dumbtorch compiled", dt, None, True), ("dumbtorch eager", dt, None, False),
                  ("torch (1 thread)", torch, 1, False)]
    setups = {}
    for name, m, threads, compiled in frameworks:
        model, opt = make(m, optimizer)
        setups[name] = (m, threads, make_step(m, model, opt, compiled), _loader(m, x, y, 0), _prebuilt(m, x, y, 0))

    def timed(name, which) -> tuple[float, float]:
        m, threads, step, loader, prebuilt = setups[name]
        if threads is not None:
            torch.set_num_threads(threads)
        batches = loader if which == "loader" else prebuilt
        start = time.perf_counter()
        loss = run_epoch(step, batches)
        return time.perf_counter() - start, loss

    # Warm-up: a few steps of each, including the last (short) batch size (dt.compile traces here).
    for name, (m, threads, step, loader, prebuilt) in setups.items():
        if threads is not None:
            torch.set_num_threads(threads)
        run_epoch(step, prebuilt[:3] + prebuilt[-1:])

    best: dict[tuple[str, str], float] = {}
    losses: dict[str, float] = {}
    for _ in range(repeats):
        for which in ("loader", "prebuilt"):
            for name, *_ in frameworks:
                t, loss = timed(name, which)
                key = (name, which)
                best[key] = min(best.get(key, float("inf")), t)
                losses[name] = loss
    torch.set_num_threads(default_threads)
    dt.set_num_threads(dt_threads)

    ours = {w: best[("dumbtorch compiled", w)] for w in ("loader", "prebuilt")}
    title = f"one epoch, 784-128-10, {optimizer}, batch 64 (best of {repeats})"
    print(f"{title:<50}"
          f"{'DataLoader':>12}{'pre-built':>11}{'images/s':>10}")
    rows = []
    for name, *_ in frameworks:
        tl, tp = best[(name, "loader")], best[(name, "prebuilt")]
        rows.append((name, tl, tp))
        print(f"{name:<50}{tl:>11.2f}s{tp:>10.2f}s{len(x) / tl:>10,.0f}")
    for name, *_ in frameworks[1:]:
        print(f"{'ratio dumbtorch compiled / ' + name:<50}{ours['loader'] / best[(name, 'loader')]:>12.2f}"
              f"{ours['prebuilt'] / best[(name, 'prebuilt')]:>11.2f}")
    print("mean train loss of the last epoch: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    return rows


if __name__ == "__main__":
    main(*sys.argv[1:2])
