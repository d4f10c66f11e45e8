"""gradcheck: analytical gradients (dumbtorch's autodiff) against central finite differences.

PyTorch's signature, tolerances and messages (slow mode): for each output that requires grad and
each input that requires grad, the Jacobian J[input element, output element] is computed twice:

1. numerically: each input element is moved by -eps and +eps in a copy of the input, the function
   runs under no_grad, and the column is (f(x + eps) - f(x - eps)) / (2 eps);
2. analytically: one dt.autograd.grad call per output element with a one-hot grad_output
   (run twice, to check that backward is deterministic within ``nondet_tol``).

They must agree within ``|analytical - numerical| <= atol + rtol * |numerical|``. A mismatch
raises GradcheckError (a RuntimeError) showing both Jacobians, or returns False when
``raise_exception=False``. Inputs that require grad should be float64 (a UserWarning says so
otherwise, as in PyTorch).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ._display import format_array


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical gradients disagree."""


_NONDET_MSG = """

NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
"""


def _dt():
    import dumbtorch  # late: dumbtorch.autograd imports this module

    return dumbtorch


def _is_tensor(x) -> bool:
    return isinstance(x, _dt().Tensor)


def _is_float(t) -> bool:
    dt = _dt()
    return t.dtype in (dt.float32, dt.float64)


def _numpy(t) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _outputs(func, inputs) -> tuple:
    out = _as_tuple(func(*inputs))
    for i, o in enumerate(out):
        if not _is_tensor(o):
            raise TypeError(f"gradcheck: output {i} of the function is a {type(o).__name__}, expected a Tensor")
    return out


def _numerical_jacobians(func, inputs: tuple, diff_idx: list[int], eps: float) -> list[list[np.ndarray]]:
    """J[i][j]: d output i / d diff input j, shape (numel(input j), numel(output i)), by central
    differences on perturbed copies of input j."""
    dt = _dt()
    base = list(inputs)
    with dt.no_grad():
        outs = _outputs(func, base)
    jac = [[np.zeros((inputs[k].numel(), o.numel()), dtype=_numpy(o).dtype if _is_float(o) else np.float64)
            for k in diff_idx] for o in outs]
    for j, k in enumerate(diff_idx):
        original = _numpy(inputs[k])
        flat = original.reshape(-1)
        for e in range(flat.size):
            results = []
            for delta in (-eps, eps):
                moved = flat.copy()
                moved[e] = flat[e] + delta
                args = list(base)
                args[k] = dt.from_numpy(moved.reshape(original.shape))
                with dt.no_grad():
                    results.append([_numpy(o) for o in _outputs(func, args)])
            for i, (lo, hi) in enumerate(zip(*results)):
                if lo.dtype.kind == "f":
                    column = (hi - lo) / (2 * eps)
                else:  # integer/bool outputs: any change is a non-zero derivative
                    column = (hi.astype(np.float64) - lo.astype(np.float64)) / (2 * eps)
                jac[i][j][e, :] = column.reshape(-1)
    return jac


def _analytical_jacobian(output, diff_inputs: list) -> list[np.ndarray]:
    """J[j]: d output / d diff input j, shape (numel(input j), numel(output)), one grad call per
    output element with a one-hot grad_output."""
    dt = _dt()
    numel = output.numel()
    jac = [np.zeros((x.numel(), numel), dtype=_numpy(x).dtype) for x in diff_inputs]
    seed_dtype = _numpy(output).dtype
    for e in range(numel):
        onehot = np.zeros(numel, dtype=seed_dtype)
        onehot[e] = 1
        grad_output = dt.from_numpy(onehot.reshape(tuple(output.shape)))
        grads = dt.autograd.grad((output,), tuple(diff_inputs), grad_outputs=(grad_output,),
                                 retain_graph=True, allow_unused=True)
        for j, (g, x) in enumerate(zip(grads, diff_inputs)):
            if g is None:
                continue
            if tuple(g.shape) != tuple(x.shape):
                raise GradcheckError(
                    f"Analytical gradient has incorrect size: gradient of input {j} has shape "
                    f"{tuple(g.shape)}, expected {tuple(x.shape)}")
            jac[j][:, e] = _numpy(g).reshape(-1)
    return jac


def _mismatch_message(analytical: np.ndarray, numerical: np.ndarray, i: int, j: int) -> str:
    return (f"Jacobian mismatch for output {i} with respect to input {j},\n"
            f"numerical:{format_array(numerical)}\nanalytical:{format_array(analytical)}\n")


def _check_undefined_grad(outputs: list, diff_inputs: list) -> None:
    """dumbtorch has no undefined gradients; the nearest check: zero grad_outputs give zero (or
    no) gradients, never NaN or garbage."""
    dt = _dt()
    seeds = tuple(dt.from_numpy(np.zeros(tuple(o.shape), dtype=_numpy(o).dtype)) for o in outputs)
    grads = dt.autograd.grad(tuple(outputs), tuple(diff_inputs), grad_outputs=seeds, retain_graph=True,
                             allow_unused=True)
    for j, g in enumerate(grads):
        if g is not None and np.any(_numpy(g) != 0):
            raise GradcheckError(
                "Expected backward function to handle undefined output grads: with zero grad_outputs the "
                f"gradient of input {j} is not zero:\n{format_array(_numpy(g))}")


def _gradcheck(func, inputs: tuple, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
               check_backward_ad) -> bool:
    diff_idx = [k for k, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    dt = _dt()
    for k in diff_idx:
        if inputs[k].dtype != dt.float64:
            warnings.warn(
                f"Input #{k} requires gradient and is not a double precision floating point or complex. "
                "This check will likely fail if all the inputs are not of double precision floating point or "
                "complex. ", UserWarning, stacklevel=3)

    outputs = _outputs(func, inputs)
    if not check_backward_ad:
        return True
    numerical = _numerical_jacobians(func, inputs, diff_idx, eps)
    diff_inputs = [inputs[k] for k in diff_idx]
    diff_outputs = [(i, o) for i, o in enumerate(outputs) if o.requires_grad]
    if not diff_outputs:
        for per_output in numerical:
            for n in per_output:
                if np.any(n != 0):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True

    for i, (index, o) in enumerate(diff_outputs):
        first = _analytical_jacobian(o, diff_inputs)
        second = _analytical_jacobian(o, diff_inputs)
        for j, (a, n) in enumerate(zip(first, numerical[index])):
            if check_grad_dtypes and a.dtype != _numpy(diff_inputs[j]).dtype:
                raise GradcheckError("Gradient has dtype mismatch")
            if not np.all(np.abs(a - second[j]) <= nondet_tol):
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and grad_output multiple "
                    "times gives different values, although analytical gradient matches numerical gradient."
                    f"The tolerance for nondeterminism was {nondet_tol}." + _NONDET_MSG)
            ok = np.abs(a.astype(np.float64) - n.astype(np.float64)) <= atol + rtol * np.abs(n.astype(np.float64))
            # NaN on both sides is not a match (torch.allclose(equal_nan=False)).
            if not np.all(ok):
                raise GradcheckError(_mismatch_message(a, n, i, j))
    if check_undefined_grad:
        _check_undefined_grad([o for _, o in diff_outputs], diff_inputs)
    return True


def gradcheck(
    func: Callable,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against finite differences, like
    ``torch.autograd.gradcheck``.

    ``inputs`` is a tensor or a tuple of tensors (and other values, passed through); only the
    tensors that require grad are checked. ``func`` returns a tensor or a tuple of tensors.
    Returns True when every Jacobian matches; otherwise raises GradcheckError, or returns False
    when ``raise_exception=False``. ``fast_mode`` runs the (exact) slow mode; batched and
    forward-mode checks need vmap / forward AD, which dumbtorch does not have.
    """
    if check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("gradcheck: dumbtorch has no vmap, so check_batched_grad and "
                                  "check_batched_forward_grad must be False")
    if check_forward_ad:
        raise NotImplementedError("gradcheck: dumbtorch has no forward-mode AD, so check_forward_ad must be False")
    del fast_mode, masked  # slow mode gives the same verdict; there are no masked tensors
    inputs = _as_tuple(inputs)
    try:
        return _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_undefined_grad, check_grad_dtypes,
                          check_backward_ad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


__all__ = ["gradcheck", "GradcheckError"]
