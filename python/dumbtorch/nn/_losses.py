"""Functional losses (dt.nn.functional): mse_loss, l1_loss, nll_loss, cross_entropy,
binary_cross_entropy, binary_cross_entropy_with_logits, with PyTorch's arguments and formulas.

Numerical stability: cross_entropy goes through log_softmax (shifted by the max);
binary_cross_entropy clamps each log at -100 as PyTorch does, computing the log of a safe
argument so that the clamped branch has a zero (not NaN) gradient; the logits form uses
log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), which never overflows.
"""

from __future__ import annotations

import warnings

from .. import _C
from .._C import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_tensor(x, fn: str, arg: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def _check_float(x: Tensor, fn: str, arg: str) -> None:
    if not x.is_floating_point():
        raise _C.TypeError(f"{fn}(): {arg} must be a float tensor, got {x.dtype}")


def _size_warning(fn: str, input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{fn}: Using a target size ({_size(target)}) that is different to the input size ({_size(input)}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _size(t: Tensor) -> str:
    return "dumbtorch.Size([" + ", ".join(str(d) for d in t.shape) + "])"


# --- regression -----------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """(input - target)^2, reduced ('mean' | 'sum' | 'none'); target broadcasts with a warning."""
    _check_tensor(input, "mse_loss", "input")
    _check_tensor(target, "mse_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _size_warning("mse_loss", input, target)
    d = input - target
    loss = d * d
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    _check_tensor(input, "l1_loss", "input")
    _check_tensor(target, "l1_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _size_warning("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


# --- classification -------------------------------------------------------------------------


def _class_targets(fn: str, input: Tensor, target: Tensor) -> None:
    """Checks the (N, C, d1, ...) / (N, d1, ...) layout, or the unbatched (C,) / () one."""
    if target.dtype != _C.int64:
        raise _C.TypeError(f"{fn}(): class-index target must be int64, got {target.dtype}")
    if input.dim() == 0:
        raise _C.ValueError(f"{fn}(): input must have at least 1 dimension (the classes), got a 0-d tensor")
    if input.dim() == 1:
        if target.dim() != 0:
            raise _C.ValueError(
                f"{fn}(): for an unbatched input of shape {tuple(input.shape)} the target must be 0-d, "
                f"got shape {tuple(target.shape)}"
            )
        return
    if target.dim() == 0 or target.shape[0] != input.shape[0]:
        got = target.shape[0] if target.dim() else "a 0-d target"
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({got}).")
    expected = (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise _C.ValueError(
            f"{fn}(): expected target size {list(expected)} for input of shape {list(input.shape)}, "
            f"got {list(target.shape)}"
        )


def _pick(fn: str, logp: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor, Tensor]:
    """(log-probability of each target class, valid mask, safe target) with class dim 1."""
    n_classes = logp.shape[1]
    valid = target != ignore_index
    safe = _C.where(valid, target, 0)
    if safe.numel() > 0 and not _C._is_tracing():  # values are checked when they exist
        lo, hi = int(safe.min().item()), int(safe.max().item())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{fn}(): Target {bad} is out of bounds (input has {n_classes} classes).")
    picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    return picked, valid, safe


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n]] * weight[target[n]]; 'mean' divides by the sum of the weights of the
    non-ignored targets (NaN when every target is ignored, as PyTorch)."""
    _check_tensor(input, "nll_loss", "input")
    _check_tensor(target, "nll_loss", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "nll_loss", "input")
    _class_targets("nll_loss", input, target)
    unbatched = input.dim() == 1
    if unbatched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    loss, w = _nll(input, target, weight, ignore_index)
    return _finish_nll(loss, w, reduction, unbatched)


def _nll(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int) -> tuple[Tensor, Tensor]:
    picked, valid, safe = _pick("nll_loss", logp, target, ignore_index)
    if weight is not None:
        _check_weight(weight, logp)
        # A gather, not weight[safe]: tensor indexing reads the indices on the host, which a
        # dt.compile trace cannot.
        w = _C.gather(weight, 0, safe.reshape(-1)).reshape(*safe.shape) * valid
    else:
        w = valid.to(logp.dtype)
    return -(picked * w), w


def _check_weight(weight: Tensor, input: Tensor) -> None:
    _check_tensor(weight, "loss", "weight")
    if weight.dim() != 1 or weight.shape[0] != input.shape[1]:
        raise _C.ValueError(
            f"weight tensor should be defined either for all {input.shape[1]} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )


def _finish_nll(loss: Tensor, w: Tensor, reduction: str, unbatched: bool) -> Tensor:
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 for unbatched input), then the negative
    log-likelihood of class-index targets (int64) or of class probabilities (a float target of
    the input's shape), with PyTorch's label_smoothing and weight formulas."""
    _check_tensor(input, "cross_entropy", "input")
    _check_tensor(target, "cross_entropy", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "cross_entropy", "input")
    if not 0.0 <= label_smoothing <= 1.0:
        raise _C.ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input.dim() == 0:
        raise _C.ValueError("cross_entropy(): input must have at least 1 dimension (the classes), got a 0-d tensor")
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)

    if target.is_floating_point():  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise _C.ValueError(
                f"cross_entropy(): a probability target must have the input's shape {list(input.shape)}, "
                f"got {list(target.shape)}"
            )
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + (label_smoothing / n_classes)
        prod = logp * target
        if weight is not None:
            if weight.dim() != 1 or weight.shape[0] != n_classes:
                raise _C.ValueError(
                    f"weight tensor should be defined either for all {n_classes} classes or no classes but got "
                    f"weight tensor of shape: {list(weight.shape)}"
                )
            shape = [1] * input.dim()
            shape[class_dim] = n_classes
            prod = prod * weight.reshape(*shape)
        if reduction == "none":
            return -prod.sum(class_dim)
        if reduction == "sum":
            return -prod.sum()
        if input.numel() == 0:
            return -prod.sum() * float("nan")
        return -prod.sum() / (input.numel() / n_classes)

    _class_targets("cross_entropy", input, target)
    unbatched = input.dim() == 1
    if unbatched:
        logp, target = logp.unsqueeze(0), target.unsqueeze(0)
    nll, w = _nll(logp, target, weight, ignore_index)
    nll_red = _finish_nll(nll, w, reduction, unbatched)
    if label_smoothing == 0.0:
        return nll_red
    # Smoothing term, as ATen's cross_entropy_loss_label_smoothing.
    valid = target != ignore_index
    if weight is not None:
        shape = [1] * logp.dim()
        shape[1] = n_classes
        smooth = -(logp * weight.reshape(*shape)).sum(1)
    else:
        smooth = -logp.sum(1)
    smooth = smooth * valid
    if reduction == "mean":
        if weight is not None:
            smooth_red = smooth.sum() / w.sum()
        else:
            smooth_red = smooth.sum() / valid.sum()
    elif reduction == "sum":
        smooth_red = smooth.sum()
    else:
        smooth_red = smooth.squeeze(0) if unbatched else smooth
    return nll_red * (1 - label_smoothing) + smooth_red * (label_smoothing / n_classes)


# --- binary ---------------------------------------------------------------------------------


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """-(t * log(x) + (1 - t) * log(1 - x)), each log clamped at -100; x must be in [0, 1]."""
    _check_tensor(input, "binary_cross_entropy", "input")
    _check_tensor(target, "binary_cross_entropy", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "binary_cross_entropy", "input")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({_size(target)}) that is different to the input size ({_size(input)}) is "
            "deprecated. Please ensure they have the same size."
        )
    if input.numel() > 0 and not _C._is_tracing():  # values are checked when they exist
        lo, hi = float(input.min().item()), float(input.max().item())
        if not (lo >= 0.0 and hi <= 1.0):
            raise RuntimeError(
                f"all elements of input should be between 0 and 1 (binary_cross_entropy got min {lo}, max {hi})"
            )
    one_minus = 1.0 - input
    log_x = _clamped_log(input)
    log_1mx = _clamped_log(one_minus)
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _clamped_log(x: Tensor) -> Tensor:
    """max(log(x), -100), with a finite gradient where x == 0."""
    positive = x > 0
    safe = _C.where(positive, x, 1.0)
    return _C.where(positive, safe.log(), -100.0).clamp(-100.0, None)


def _log1p(y: Tensor) -> Tensor:
    """log(1 + y) for y >= 0 that keeps y below the dtype's epsilon (there is no log1p op):
    with u = 1 + y rounded, log(u) * y / (u - 1) cancels the rounding of u (Goldberg's trick),
    and where u rounds to 1 the value is y itself. The division never sees a zero, so the
    branch not taken has a finite gradient."""
    u = 1.0 + y
    d = u - 1.0
    tiny = d == 0
    return _C.where(tiny, y, u.log() * (y / _C.where(tiny, 1.0, d)))


def log_sigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): never overflows, and keeps the tiny
    -exp(-x) of a large positive x."""
    _check_tensor(input, "logsigmoid", "input")
    return _C.minimum(input, 0.0) - _log1p((-input.abs()).exp())


logsigmoid = log_sigmoid


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of sigmoid(input) computed from the logits without overflow (ATen's formula):
    (1 - t) * x - (1 + (pos_weight - 1) * t) * log_sigmoid(x)."""
    _check_tensor(input, "binary_cross_entropy_with_logits", "input")
    _check_tensor(target, "binary_cross_entropy_with_logits", "target")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_float(input, "binary_cross_entropy_with_logits", "input")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({_size(target)}) must be the same as input size ({_size(input)})"
        )
    ls = log_sigmoid(input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input - log_weight * ls
    else:
        loss = (1.0 - target) * input - ls
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
