"""XOR with a 2-8-1 MLP in dumbtorch's PyTorch-style API: `python examples/xor.py`.

Trains on the four XOR points (full batch) with Adam and binary cross-entropy on the logits — the
training step compiled by dt.compile (--eager: op by op) —, then prints the loss and the four
predictions. A fixed seed makes the run reproducible.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import dumbtorch as dt
except ImportError:  # run from a checkout without `make build`'s .pth file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import dumbtorch as dt

from dumbtorch import nn

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [[0.0], [1.0], [1.0], [0.0]]


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))


def make_step(model: nn.Module, opt: dt.optim.Optimizer, compiled: bool = True):
    """The training step; compiled by default (traced once, then one native program per call)."""
    loss_fn = nn.BCEWithLogitsLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return dt.compile(step) if compiled else step


def train(seed: int = 0, steps: int = 500, lr: float = 0.05, log_every: int = 0, compiled: bool = True):
    """Returns (model, losses): the trained model and the loss of every step."""
    dt.manual_seed(seed)
    model = make_model()
    x, y = dt.tensor(X), dt.tensor(Y)
    opt = dt.optim.Adam(model.parameters(), lr=lr)
    step = make_step(model, opt, compiled)
    losses = []
    for i in range(steps):
        losses.append(step(x, y).item())
        if log_every and (i + 1) % log_every == 0:
            print(f"step {i + 1:4d}  loss {losses[-1]:.6f}")
    return model, losses


def predict(model: nn.Module) -> list[int]:
    with dt.no_grad():
        return (model(dt.tensor(X)) > 0).long().reshape(-1).tolist()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--eager", action="store_true", help="run the training step op by op instead of compiled")
    args = ap.parse_args(argv)
    model, losses = train(args.seed, args.steps, args.lr, log_every=100, compiled=not args.eager)
    pred = predict(model)
    correct = sum(int(p == t[0]) for p, t in zip(pred, Y))
    print(model)
    for (a, b), p in zip(X, pred):
        print(f"  {int(a)} xor {int(b)} -> {p}")
    print(f"final loss {losses[-1]:.6f}, {correct}/4 correct")
    return 0 if losses[-1] < 0.01 and correct == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
