"""Linear and Identity layers (PyTorch's default initialisation for Linear)."""

from __future__ import annotations

import math

from ... import _C
from .. import init
from .._ops import linear
from ..module import Module
from ..parameter import Parameter


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments (as PyTorch)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias, weight [out_features, in_features].

    Initialisation as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"Linear(): {name} must be an int, got {v!r} ({type(v).__name__})")
            if v < 0:  # a ValueError that is also PyTorch's RuntimeError
                raise _C.ValueError(f"Linear(): {name} must be non-negative, got {v}")
        self.in_features = in_features
        self.out_features = out_features
        dtype = _C.float32 if dtype is None else dtype
        import dumbtorch as dt

        self.weight = Parameter(dt.empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(dt.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
