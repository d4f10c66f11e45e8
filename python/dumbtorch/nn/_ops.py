"""Functional forms the layers use (dt.nn.functional): linear, activations, dropout, embedding.

Every function is a composition of eager tensor ops, so autograd differentiates it through the
one VJP table; nothing here computes a gradient by hand. ``erf`` (for the exact GELU) is W. J.
Cody's rational approximation (relative error below 5e-16 in f64) built from elementwise ops,
because the IR registry has no erf op.
"""

from __future__ import annotations

import warnings

from .. import _C
from .._C import Tensor


def _check_tensor(x, fn: str, arg: str = "input") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


# --- linear ---------------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias (torch.nn.functional.linear)."""
    _check_tensor(input, "linear")
    _check_tensor(weight, "linear", "weight")
    if weight.dim() != 2:
        raise _C.ValueError(f"linear(): weight must be 2-D [out_features, in_features], got shape {tuple(weight.shape)}")
    if input.dim() == 0:
        raise _C.ValueError(f"both arguments to linear need to be at least 1D, but they are 0D and {weight.dim()}D")
    if input.shape[-1] != weight.shape[1]:
        raise _C.ValueError(
            f"linear(): input has {input.shape[-1]} features in its last dim but weight "
            f"expects {weight.shape[1]} (input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})"
        )
    out = input.matmul(weight.t())
    if bias is not None:
        out = out + bias
    return out


# --- activations ----------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    _check_tensor(input, "relu")
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    _check_tensor(input, "sigmoid")
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    _check_tensor(input, "tanh")
    return input.tanh()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x (the gradient at 0 is negative_slope, as PyTorch)."""
    _check_tensor(input, "leaky_relu")
    return _C.where(input > 0, input, input * negative_slope)


# Cody's coefficients (W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 1969; SPECFUN CALERF).
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
          1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
          8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
          2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
          3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
          6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
          2.33520497626869185e-3)
_RSQRTPI = 0.56418958354775628695
_ERF_T1 = 0.46875
_ERF_T2 = 4.0


def erf(input: Tensor) -> Tensor:
    """The error function, differentiable (torch.erf).

    Three rational approximations selected with where(); each branch gets its argument clamped
    into its own interval, so the branches not taken stay finite and pass a zero gradient.
    """
    _check_tensor(input, "erf")
    x = input if input.is_floating_point() else input.float()
    # |x| <= 0.46875: erf = x * P(x^2) / Q(x^2).
    x1 = x.clamp(-_ERF_T1, _ERF_T1)
    z = x1 * x1
    num = z * _ERF_A[4]
    den = z
    for i in range(3):
        num = (num + _ERF_A[i]) * z
        den = (den + _ERF_B[i]) * z
    small = x1 * (num + _ERF_A[3]) / (den + _ERF_B[3])
    y = x.abs()
    # 0.46875 < |x| <= 4: erfc = exp(-y^2) * R(y).
    y2 = y.clamp(_ERF_T1, _ERF_T2)
    num = y2 * _ERF_C[8]
    den = y2
    for i in range(7):
        num = (num + _ERF_C[i]) * y2
        den = (den + _ERF_D[i]) * y2
    erfc_mid = (-(y2 * y2)).exp() * ((num + _ERF_C[7]) / (den + _ERF_D[7]))
    # |x| > 4: erfc = exp(-y^2) / y * (1/sqrt(pi) - S(1/y^2)).
    y3 = y.clamp(_ERF_T2, None)
    inv = 1.0 / (y3 * y3)
    num = inv * _ERF_P[5]
    den = inv
    for i in range(4):
        num = (num + _ERF_P[i]) * inv
        den = (den + _ERF_Q[i]) * inv
    r = inv * (num + _ERF_P[4]) / (den + _ERF_Q[4])
    erfc_big = (-(y3 * y3)).exp() * ((_RSQRTPI - r) / y3)
    erfc = _C.where(y <= _ERF_T2, erfc_mid, erfc_big)
    large = 1.0 - erfc
    large = _C.where(x < 0, -large, large)
    return _C.where(y <= _ERF_T1, small, large)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x): exact (erf) by default, or the tanh approximation (approximate='tanh')."""
    _check_tensor(input, "gelu")
    if approximate == "none":
        return input * 0.5 * (1.0 + erf(input * 0.7071067811865476))
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * 0.7978845608028654
        return input * 0.5 * (1.0 + inner.tanh())
    raise _C.ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")


def _softmax_dim(ndim: int) -> int:
    warnings.warn(
        "Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


# --- dropout --------------------------------------------------------------------------------


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability p and scales the rest by 1/(1-p); the mask comes from
    dt.rand, so dt.manual_seed makes it reproducible. The identity when not training."""
    _check_tensor(input, "dropout")
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    import dumbtorch as dt

    noise = (dt.rand(*input.shape, dtype=input.dtype) < (1.0 - p)).to(input.dtype)
    noise = noise / (1.0 - p)
    return input * noise


# --- embedding ------------------------------------------------------------------------------


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of weight picked by the int64 indices in input: out shape = input.shape + [dim].
    The row padding_idx gets no gradient."""
    _check_tensor(input, "embedding")
    _check_tensor(weight, "embedding", "weight")
    if input.dtype != _C.int64:
        raise _C.TypeError(f"embedding(): indices must be int64, got {input.dtype}")
    if weight.dim() != 2:
        raise _C.ValueError(f"embedding(): weight must be 2-D [num_embeddings, embedding_dim], got {tuple(weight.shape)}")
    n = weight.shape[0]
    if input.numel() > 0 and not _C._is_tracing():  # values are checked when they exist
        lo, hi = int(input.min().item()), int(input.max().item())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding(): index {bad} is out of range for {n} embeddings")
    flat = input.reshape(-1)
    # A gather, not weight[flat]: indexing with a tensor reads the indices on the host, which a
    # dt.compile trace cannot (gather checks the range in its kernel, at run time).
    index = flat.unsqueeze(1).broadcast_to((flat.shape[0], weight.shape[1]))
    rows = _C.gather(weight, 0, index)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        keep = (flat != padding_idx).unsqueeze(1)
        rows = _C.where(keep, rows, _C.gather(weight.detach(), 0, index))
    return rows.reshape(*input.shape, weight.shape[1])


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)
