"""dt.utils.progress: a dependency-free progress bar for training loops.

    for x, y in progress(loader, desc="epoch 1/3"):
        ...
        bar.set(loss=loss.item())     # or: bar = progress(...); for ... in bar: bar.set(...)

On a terminal it redraws one line at most 10 times a second:
``epoch 1/3 [#########.........]  312/938 loss 0.5123 | 12,345 samples/s | 0:04<0:08``.
When the output is not a terminal (a log, CI) it prints the line at every quarter and at the end,
so logs stay short. Samples are counted from the first dimension of the batch's first tensor.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, TextIO

from .._C import Tensor


def _fmt_time(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _batch_size(batch: Any) -> int:
    if isinstance(batch, Tensor):
        return batch.shape[0] if batch.dim() > 0 else 1
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return 1


class Progress:
    """Wraps an iterable; ``set(**metrics)`` shows metrics (floats with 4 decimals)."""

    def __init__(self, iterable: Iterable, total: int | None = None, desc: str = "", file: TextIO | None = None,
                 width: int = 20, min_interval: float = 0.1, dynamic: bool | None = None) -> None:
        self.iterable = iterable
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.total = total
        self.desc = desc
        self.file = file if file is not None else sys.stderr
        self.width = width
        self.min_interval = min_interval
        self.dynamic = dynamic if dynamic is not None else bool(getattr(self.file, "isatty", lambda: False)())
        self.metrics: dict[str, Any] = {}
        self.step = 0
        self.samples = 0
        self.start = 0.0
        self.elapsed = 0.0
        self._last_draw = 0.0
        self._next_quarter = 1

    def set(self, **metrics: Any) -> None:
        self.metrics.update(metrics)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.elapsed if self.elapsed > 0 else 0.0

    def line(self) -> str:
        parts = [self.desc] if self.desc else []
        if self.total:
            filled = int(self.width * self.step / self.total)
            parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
            parts.append(f"{self.step:>{len(str(self.total))}}/{self.total}")
        else:
            parts.append(f"step {self.step}")
        for k, v in self.metrics.items():
            parts.append(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}")
        tail = [f"{self.samples_per_second:,.0f} samples/s"]
        if self.total and self.step:
            remaining = self.elapsed / self.step * (self.total - self.step)
            tail.append(f"{_fmt_time(self.elapsed)}<{_fmt_time(remaining)}")
        else:
            tail.append(_fmt_time(self.elapsed))
        return " ".join(parts) + " | " + " | ".join(tail)

    def _draw(self, final: bool = False) -> None:
        now = time.perf_counter()
        self.elapsed = now - self.start
        if self.dynamic:
            if final or now - self._last_draw >= self.min_interval:
                self.file.write("\r" + self.line() + ("\n" if final else ""))
                self.file.flush()
                self._last_draw = now
            return
        if final:
            self.file.write(self.line() + "\n")
            self.file.flush()
        elif self.total and self.step * 4 >= self._next_quarter * self.total and self._next_quarter < 4:
            self.file.write(self.line() + "\n")
            self.file.flush()
            self._next_quarter += 1

    def __iter__(self) -> Iterator[Any]:
        self.start = time.perf_counter()
        self._last_draw = 0.0
        pending = False
        try:
            for item in self.iterable:
                if pending:
                    self._draw()
                yield item
                self.step += 1
                self.samples += _batch_size(item)
                pending = True
        finally:
            self._draw(final=True)

    def __len__(self) -> int:
        if self.total is None:
            raise TypeError("this progress bar has no total")
        return self.total


def progress(iterable: Iterable, total: int | None = None, desc: str = "", **kwargs: Any) -> Progress:
    """A Progress over ``iterable`` (see the module docstring)."""
    return Progress(iterable, total=total, desc=desc, **kwargs)


__all__ = ["Progress", "progress"]
