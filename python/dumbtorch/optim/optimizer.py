"""dt.optim.Optimizer: parameter groups, per-parameter state, zero_grad and state_dict, as PyTorch.

Updates run under no_grad with in-place tensor ops, so a parameter stays the same Parameter
object (the one the module holds) and only its storage changes.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable

from .. import _C
from .._C import Tensor


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class _NoGrad:
    def __enter__(self):
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)
        return False


def _no_grad_step(step: Callable) -> Callable:
    """Runs an optimizer's step() with grad mode off (and returns the closure's loss)."""

    def wrapper(self, *args, **kwargs):
        if _C._is_tracing():
            self._guard_hyperparameters()
        with _NoGrad():
            return step(self, *args, **kwargs)

    wrapper.__name__ = step.__name__
    wrapper.__doc__ = step.__doc__
    return wrapper


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with 'params' and the hyper-parameters) and
    ``state`` (param -> dict of tensors). Subclasses implement step()."""

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                + type(params).__name__
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in "
                "sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + type(p).__name__)
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = set(id(p) for p in param_group["params"])
        if len(ids) != len(param_group["params"]):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will cause an error",
                stacklevel=3,
            )
        existing = set()
        for group in self.param_groups:
            existing.update(id(p) for p in group["params"])
        if not existing.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def _guard_hyperparameters(self) -> None:
        """Inside dt.compile's trace: the hyperparameters read now are baked into the compiled
        step, so a change of any (an lr scheduler, a manual edit) must retrace."""
        from ..compiler import guard_identities, guard_nested_identities, guard_values

        # (Guards of these fixed forms are checked in C++ at every call of the compiled step.)
        for i, group in enumerate(self.param_groups):
            keys = tuple(k for k in group if k != "params")
            guard_values(group, keys,
                         f"{type(self).__name__}.param_groups[{i}] hyperparameters (len, {', '.join(keys)})")
            guard_identities(group, "params", f"{type(self).__name__}.param_groups[{i}] params")
        # The state tensors are captured by identity: a new one (load_state_dict, a reset by hand)
        # must retrace, or the compiled step would keep updating the old ones.
        stated = tuple(p for g in self.param_groups for p in g["params"] if self.state.get(p))
        guard_nested_identities(self, "state", stated, f"{type(self).__name__}.state tensors")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    with _NoGrad():
                        g.zero_()

    def step(self, closure: Callable | None = None):
        raise NotImplementedError

    # --- state_dict ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}; parameters
        are numbered in group order. The state tensors are the optimizer's own (not copies)."""
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict) -> dict:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores state and hyper-parameters saved by state_dict(). The state tensors are copied
        and cast to their parameter's dtype ('step' keeps its own)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with keys 'state' and 'param_groups'")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        id_map = dict(
            zip(chain.from_iterable(g["params"] for g in saved_groups), chain.from_iterable(g["params"] for g in groups))
        )

        def cast(param: Tensor, value: Any, key: str | None = None) -> Any:
            if isinstance(value, Tensor):
                if key != "step":
                    if tuple(value.shape) != tuple(param.shape):
                        raise ValueError(
                            f"loaded optimizer state '{key}' has shape {list(value.shape)} but its parameter has "
                            f"shape {list(param.shape)}"
                        )
                    if param.is_floating_point():
                        value = value.to(param.dtype)
                return value.detach().clone()
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, key) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __repr__(self) -> str:
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\n"
            s += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        s += ")"
        return s


def _add_scaled(x: Tensor, y: Tensor, alpha: float) -> Tensor:
    """x + alpha * y (torch's add(x, y, alpha=alpha)); out of place."""
    return x + y * alpha


def _lerp_(x: Tensor, end: Tensor, weight: float) -> None:
    """x.lerp_(end, weight) with ATen's formula (the branch is chosen by |weight| < 0.5)."""
    if abs(weight) < 0.5:
        x.add_((end - x) * weight)
    else:
        x.copy_(end - (end - x) * (1.0 - weight))
