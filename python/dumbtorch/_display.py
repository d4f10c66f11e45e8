"""repr() of a tensor, character for character as PyTorch prints it (torch/_tensor_str.py's rules).

``format_tensor(t)`` prints a dumbtorch tensor; ``format_array(a, ...)`` prints a numpy array as
if it were one (gradcheck uses it for Jacobians). The rules, with PyTorch's default options
(precision 4, threshold 1000, edgeitems 3, linewidth 80):

1. Over ``threshold`` elements the tensor is summarised: each axis longer than 2 * edgeitems
   shows its first and last ``edgeitems`` entries around ``...``; the formatter then only
   looks at the entries shown.
2. Floats: the non-zero finite entries decide the style. All integral -> ``1.`` (int mode);
   largest / smallest magnitude > 1000, largest > 1e8 or smallest < 1e-4 -> ``1.0000e+10``
   (sci mode); else 4 decimals. Every entry is right-aligned to the widest one.
3. Integers and bools print as Python does (``3``, ``True``), right-aligned.
4. Rows wrap at ``linewidth``; nested rows are separated by one newline per remaining axis.
5. Suffixes: ``size=`` for empty non-1-D tensors, ``dtype=`` when not float32 (empty tensors:
   also for int64 and bool), then ``grad_fn=<...>`` or else ``requires_grad=True``; a suffix
   that would pass ``linewidth`` goes on its own line.
"""

from __future__ import annotations

import math

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

_PREFIX = "tensor("

# numpy dtype -> the name PyTorch prints after "dtype=" (with our package name).
_DTYPE_NAMES = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int64): "int64",
    np.dtype(np.bool_): "bool",
}


class _Formatter:
    """Chooses the style and the column width from the entries that will be shown."""

    def __init__(self, shown: np.ndarray):
        self.floating = shown.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = shown.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        mags = np.abs(vals).astype(np.float64)
        vmin, vmax = float(mags.min()), float(mags.max())
        # Integral-ness is decided in the tensor's own dtype, as PyTorch does.
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
        for v in vals.tolist():
            if self.sci_mode:
                s = f"{v:.{PRECISION}e}"
            elif self.int_mode:
                s = f"{v:.0f}" + "."
            else:
                s = f"{v:.{PRECISION}f}"
            self.max_width = max(self.max_width, len(s))

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{PRECISION}f}"
        else:
            s = f"{v}"
        return (self.max_width - len(s)) * " " + s


def _shown(a: np.ndarray, summarize: bool) -> np.ndarray:
    """The entries a summarised print shows (all of them when not summarising)."""
    if not summarize:
        return a
    index = []
    for n in a.shape:
        if n > 2 * EDGEITEMS:
            index.append(list(range(EDGEITEMS)) + list(range(n - EDGEITEMS, n)))
        else:
            index.append(list(range(n)))
    return a[np.ix_(*index)] if a.ndim else a


def _vector(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((LINEWIDTH - indent) / element_length))
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        data = ([fmt.format(v) for v in a[:EDGEITEMS].tolist()] + [" ..."]
                + [fmt.format(v) for v in a[-EDGEITEMS:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    n = a.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = ([_nested(a[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                + [_nested(a[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)])
    else:
        rows = [_nested(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(body: str, suffixes: list[str], indent: int) -> str:
    parts = [body]
    # PyTorch's arithmetic, kept as is (it counts two characters too many without a newline).
    last_line_len = len(body) - body.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def format_array(values: np.ndarray, *, requires_grad: bool = False, grad_fn_name: str | None = None,
                 package: str = "dumbtorch") -> str:
    """PyTorch's repr of a tensor holding ``values`` (float32, float64, int64 or bool)."""
    a = np.asarray(values)
    if a.dtype not in _DTYPE_NAMES:
        raise TypeError(f"format_array: expected a float32, float64, int64 or bool array, got {a.dtype}")
    dtype_suffix = f"dtype={package}.{_DTYPE_NAMES[a.dtype]}"
    indent = len(_PREFIX)
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append("size=" + str(tuple(a.shape)))
        if a.dtype != np.float32:
            suffixes.append(dtype_suffix)
        body = "[]"
    else:
        if a.dtype == np.float64:
            suffixes.append(dtype_suffix)
        summarize = a.size > THRESHOLD
        body = _nested(a, indent, summarize, _Formatter(_shown(a, summarize)))
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(_PREFIX + body, suffixes, indent)


def _grad_fn_name(grad_fn) -> str:
    name = getattr(grad_fn, "name", None)
    if callable(name):
        return name()
    if isinstance(name, str):
        return name
    return type(grad_fn).__name__


def _values(t) -> np.ndarray:
    d = t.detach() if hasattr(t, "detach") else t
    return np.asarray(d.numpy())


def format_tensor(t) -> str:
    """repr(t) for a dumbtorch tensor: values as PyTorch prints them, then dtype=, grad_fn= or
    requires_grad=."""
    grad_fn = getattr(t, "grad_fn", None)
    return format_array(
        _values(t),
        requires_grad=bool(getattr(t, "requires_grad", False)),
        grad_fn_name=None if grad_fn is None else _grad_fn_name(grad_fn),
    )


__all__ = ["format_tensor", "format_array"]
