"""dt.nn.Parameter: a Tensor subclass that a Module registers as a learnable parameter.

Parameter is a Python subclass of the pybind11 class ``dumbtorch._C.Tensor`` (bound with
``py::dynamic_attr``, so subclassing is supported). ``Parameter(t)`` calls ``Tensor(t)``, which
aliases ``t``'s storage without autograd history, then marks the result as requiring grad, as
``torch.nn.Parameter`` does. Ops on a Parameter return plain Tensors; in-place updates under
``dt.no_grad()`` (what the optimizers do) write into the shared storage, so the Parameter object
an optimizer holds stays the one the module holds.
"""

from __future__ import annotations

from .._C import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter: ``requires_grad=True`` by default.

    ``Parameter(data)`` shares ``data``'s storage (no copy) and has no history. ``data`` must be
    a float tensor when ``requires_grad`` is true (PyTorch's rule).
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            Tensor.__init__(self)  # an empty float32 tensor, as torch.nn.Parameter()
        else:
            if not isinstance(data, Tensor):
                raise TypeError(f"Parameter(): data must be a Tensor, not {type(data).__name__}")
            Tensor.__init__(self, data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.detach().clone(), self.requires_grad))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Buffer:
    """Marks a tensor as a module buffer when assigned as an attribute (torch.nn.Buffer).

    ``self.running = dt.nn.Buffer(dt.zeros(3))`` is the same as
    ``self.register_buffer("running", dt.zeros(3))``.
    """

    def __init__(self, data: Tensor, *, persistent: bool = True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer(): data must be a Tensor, not {type(data).__name__}")
        self.data = data
        self.persistent = persistent
