"""Fashion-MNIST with an MLP in dumbtorch's PyTorch-style API: `python examples/fashion_mnist.py`.

784-128-10 (or --wide: 784-512-256-10, or --hidden 300 200 ...) trained with Adam or SGD — the
training step compiled with dt.compile into one native program (--eager runs it op by op) —, a
progress bar per epoch, the test accuracy after every epoch, a checkpoint (dt.save: model,
optimizer, epoch) and a loss-curve PNG in --out. The data comes from Debian's
dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) unless --root says otherwise.

    python examples/fashion_mnist.py                      # 3 epochs, Adam, 784-128-10
    python examples/fashion_mnist.py --optimizer sgd --lr 0.1 --epochs 5
    python examples/fashion_mnist.py --wide --resume fashion_mnist_out/fashion_mnist.dt
    python examples/fashion_mnist.py --eager              # the same, without dt.compile
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import dumbtorch as dt
except ImportError:  # run from a checkout without `make build`'s .pth file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    import dumbtorch as dt

from dumbtorch import nn
from dumbtorch.utils.data import DataLoader


def make_model(hidden: list[int] | tuple[int, ...] = (128,)) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def make_optimizer(name: str, params, lr: float | None, momentum: float) -> dt.optim.Optimizer:
    if name == "adam":
        return dt.optim.Adam(params, lr=1e-3 if lr is None else lr)
    if name == "sgd":
        return dt.optim.SGD(params, lr=0.1 if lr is None else lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r} (adam or sgd)")


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    """Accuracy in percent over the loader."""
    model.eval()
    correct = total = 0
    with dt.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += y.shape[0]
    model.train()
    return 100.0 * correct / total


def make_step(model: nn.Module, opt: dt.optim.Optimizer, compiled: bool = True):
    """One training step: forward, loss, backward, update. With `compiled` (the default) dt.compile
    traces it on the first call and every later call runs as one native program."""
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return dt.compile(step) if compiled else step


def train_epoch(step, loader: DataLoader, desc: str = "", show_progress: bool = True) -> list[float]:
    """One pass over the loader; returns the loss of every step."""
    losses = []
    batches = dt.utils.progress.progress(loader, desc=desc) if show_progress else loader
    for x, y in batches:
        losses.append(step(x, y).item())
        if show_progress:
            batches.set(loss=losses[-1])
    return losses


def save_plot(path: Path, losses: list[float], steps_per_epoch: int, accuracies: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(range(1, len(losses) + 1), losses, lw=0.5, alpha=0.35, color="tab:blue", label="loss (step)")
    k = max(1, steps_per_epoch // 20)
    if len(losses) >= k:
        smooth = [sum(losses[i:i + k]) / k for i in range(len(losses) - k + 1)]
        ax.plot(range(k, len(losses) + 1), smooth, color="tab:blue", label=f"loss (mean of {k} steps)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.plot([steps_per_epoch * (i + 1) for i in range(len(accuracies))], accuracies, "o-", color="tab:red",
             label="test accuracy")
    ax2.set_ylabel("test accuracy (%)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="center right")
    ax.set_title("dumbtorch: Fashion-MNIST MLP")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train an MLP on Fashion-MNIST with dumbtorch.")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--lr", type=float, default=None, help="default: 1e-3 (adam), 0.1 (sgd)")
    ap.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    ap.add_argument("--hidden", type=int, nargs="+", default=[128], help="hidden layer widths (default 128)")
    ap.add_argument("--wide", action="store_true", help="784-512-256-10 instead of 784-128-10")
    ap.add_argument("--root", default=None, help="directory of the idx files (default: Debian's)")
    ap.add_argument("--out", default="fashion_mnist_out", help="where the checkpoint and the PNG go")
    ap.add_argument("--resume", default=None, help="a checkpoint written by this script")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--eager", action="store_true", help="run the training step op by op instead of compiled")
    args = ap.parse_args(argv)
    hidden = [512, 256] if args.wide else args.hidden

    dt.manual_seed(args.seed)
    kw = {} if args.root is None else {"root": args.root}
    train_set = dt.datasets.FashionMNIST(train=True, **kw)
    test_set = dt.datasets.FashionMNIST(train=False, **kw)
    if args.limit is not None:
        train_set = dt.utils.data.Subset(train_set, range(min(args.limit, len(train_set))))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = make_model(hidden)
    opt = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum)
    start_epoch, losses, accuracies = 0, [], []
    if args.resume:
        ck = dt.load(args.resume)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, losses, accuracies = ck["epoch"], list(ck["losses"]), list(ck["accuracies"])
        print(f"resumed from {args.resume} after epoch {start_epoch}")
    print(model)
    print(f"{len(train_set)} training images, {len(test_set)} test images, batch {args.batch_size}, "
          f"{type(opt).__name__} lr={opt.param_groups[0]['lr']}, {'eager' if args.eager else 'compiled'} step")
    step = make_step(model, opt, compiled=not args.eager)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "fashion_mnist.dt"
    for epoch in range(start_epoch, start_epoch + args.epochs):
        t0 = time.perf_counter()
        epoch_losses = train_epoch(step, train_loader, desc=f"epoch {epoch + 1}/{start_epoch + args.epochs}",
                                   show_progress=not args.no_progress)
        seconds = time.perf_counter() - t0
        losses += epoch_losses
        accuracies.append(evaluate(model, test_loader))
        print(f"epoch {epoch + 1}: train loss {sum(epoch_losses) / len(epoch_losses):.4f}, "
              f"test accuracy {accuracies[-1]:.2f}%, {seconds:.1f} s ({len(train_set) / seconds:,.0f} images/s)")
        dt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                 "losses": losses, "accuracies": accuracies, "hidden": list(hidden)}, ckpt)
    png = out / "loss_curve.png"
    save_plot(png, losses, len(train_loader), accuracies)
    print(f"checkpoint: {ckpt}\nloss curve: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
