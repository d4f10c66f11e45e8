"""A short MLP training loop, eager and compiled side by side, for `make test-asan` (run in Python
with the ASan runtime preloaded, see docs/reliability.md): `python tests/asan_loop.py [--steps N]`.

Two copies of a 2-layer MLP (one with SGD+momentum and weight decay, one with Adam) train on
the same random batches of a fixed classification task, one op by op and one through dt.compile;
the compiled step must agree with the eager one (loss and parameters, 1e-4), the loss must go
down, and on the way the loop exercises what a user touches around a step: a DataLoader, numpy
round trips, no_grad evaluation with argmax, indexing, state_dict/load_state_dict and
dt.save/dt.load. Exits 1 (with the reason) on any disagreement; the sanitizers abort on their own.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import dumbtorch as dt
except ImportError:  # run from a checkout without `make build`'s .pth file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import dumbtorch as dt

from dumbtorch import nn
from dumbtorch.utils.data import DataLoader, TensorDataset


def make_data(n: int = 256, features: int = 12, classes: int = 4, seed: int = 0):
    """A separable-ish task: the class is the argmax of a fixed linear map of the inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    w = rng.standard_normal((features, classes)).astype(np.float32)
    y = (x @ w).argmax(1).astype(np.int64)
    return dt.from_numpy(x), dt.from_numpy(y)


def make_step(model: nn.Module, opt: dt.optim.Optimizer, compiled: bool):
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return dt.compile(step) if compiled else step


def accuracy(model: nn.Module, x: dt.Tensor, y: dt.Tensor) -> float:
    with dt.no_grad():
        return float((model(x).argmax(1) == y).float().mean().item())


def check_close(what: str, a: np.ndarray, b: np.ndarray, tol: float = 1e-4) -> None:
    if a.shape != b.shape or not np.allclose(a, b, rtol=tol, atol=tol):
        raise SystemExit(f"asan_loop: eager and compiled disagree on {what}: {a!r} vs {b!r}")


def run(opt_name: str, steps: int) -> None:
    dt.manual_seed(1)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    eager_model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
    comp_model = copy.deepcopy(eager_model)
    make_opt = {
        "sgd": lambda ps: dt.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4),
        "adam": lambda ps: dt.optim.Adam(ps, lr=0.01),
    }[opt_name]
    eager = make_step(eager_model, make_opt(eager_model.parameters()), compiled=False)
    comp = make_step(comp_model, make_opt(comp_model.parameters()), compiled=True)

    first = last = None
    done = 0
    while done < steps:
        for xb, yb in loader:
            le, lc = eager(xb, yb).item(), comp(xb, yb).item()
            check_close(f"{opt_name} loss at step {done}", np.array(le), np.array(lc))
            first = le if first is None else first
            last = le
            done += 1
            if done == steps:
                break
    for (name, pe), pc in zip(eager_model.named_parameters(), comp_model.parameters()):
        check_close(f"{opt_name} parameter {name}", pe.detach().numpy(), pc.detach().numpy())
    if not last < first:
        raise SystemExit(f"asan_loop: {opt_name} loss did not go down: {first} -> {last}")

    # Around the step: indexing, a state_dict round trip, a checkpoint on disk.
    acc = accuracy(comp_model, x[:128], y[:128])
    reloaded = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
    reloaded.load_state_dict(comp_model.state_dict())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.dt"
        dt.save(reloaded.state_dict(), path)
        reloaded.load_state_dict(dt.load(path))
    if accuracy(reloaded, x[:128], y[:128]) != acc:
        raise SystemExit(f"asan_loop: {opt_name} accuracy changed after save/load")
    print(f"asan_loop {opt_name}: {steps} eager + {steps} compiled steps, loss {first:.4f} -> {last:.4f}, "
          f"accuracy {100 * acc:.1f}%")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args(argv)
    for opt_name in ("sgd", "adam"):
        run(opt_name, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
