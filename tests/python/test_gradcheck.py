"""gradcheck in f64 passes for every differentiable op of tests/python/op_table.py, and fails (with
PyTorch's error and message) on a wrong gradient; PyTorch's warning for non-f64 inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import dumbtorch as dt
from dumbtorch.gradcheck import GradcheckError, gradcheck
from op_table import cases

# Smooth points only: at ties and kinks finite differences see a one-sided slope, while the
# gradients follow PyTorch's convention (tested in test_ops_vs_torch.py).
# Cases up to 300 elements: the numerical Jacobian costs two calls per input element and the
# analytical one two backward passes per output element; the long cases are compared with PyTorch.
MAX_NUMEL = 300
GRAD_F64 = [c for c in cases(dtypes_filter=("float64",), grad_only=True)
            if c[2].smooth and sum(int(np.prod(a.shape)) for a in c[2].args) <= MAX_NUMEL]


def _inputs(m, arrays):
    out = []
    for a in arrays:
        t = m.from_numpy(np.array(a, copy=True))
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        out.append(t)
    return tuple(out)


# Entries whose output is float32 although the input is float64: the function is piecewise
# constant at the scale of f32 rounding (~1e-7 relative), so a 1e-6 step sees steps, not the
# slope. A 1e-3 step makes the rounding error ~1e-4, well inside atol (PyTorch's gradcheck has
# the same limitation; the C++ autodiff test widens the step for cast the same way).
F32_OUTPUT = {"to_float32": 1e-3, "to_float": 1e-3}


@pytest.mark.parametrize("entry,dtype,case", [c[:3] for c in GRAD_F64], ids=[c[3] for c in GRAD_F64])
def test_gradcheck_passes(entry, dtype, case):
    arrays = case.arrays(entry, dtype, f"{entry.name}-{dtype}-{case.id()}")
    inputs = _inputs(dt, arrays)

    def f(*xs):
        return entry.fn(dt, *xs, **case.kwargs)

    if entry.name in F32_OUTPUT:
        assert gradcheck(f, inputs, eps=F32_OUTPUT[entry.name], atol=1e-3)
    else:
        assert gradcheck(f, inputs)


def test_covers_every_differentiable_entry():
    from op_table import TABLE

    checked = {c[0].name for c in GRAD_F64}
    differentiable = {e.name for e in TABLE if e.grad and "float64" in e.dtypes}
    assert checked == differentiable, sorted(differentiable - checked)


# --- a wrong gradient -------------------------------------------------------------------------------

def wrong_square(m):
    # The value is x*x, whose derivative is 2x; autodiff sees x times a constant and gives x.
    return lambda x: x * x.detach()


def test_fails_on_a_wrong_gradient():
    a = np.array([1.0, 2.0, -0.5])
    x = dt.from_numpy(a.copy()).requires_grad_()
    with pytest.raises(GradcheckError) as err:
        gradcheck(wrong_square(dt), (x,))
    assert isinstance(err.value, RuntimeError)
    tx = torch.from_numpy(a.copy()).requires_grad_()
    with pytest.raises(RuntimeError) as want:
        torch.autograd.gradcheck(wrong_square(torch), (tx,))
    assert type(want.value).__name__ == "GradcheckError"
    assert str(err.value) == str(want.value).replace("torch.", "dumbtorch.")
    assert str(err.value).startswith("Jacobian mismatch for output 0 with respect to input 0,\nnumerical:")


def test_returns_false_without_raise():
    x = dt.from_numpy(np.array([1.0, 2.0])).requires_grad_()
    assert gradcheck(wrong_square(dt), (x,), raise_exception=False) is False
    assert gradcheck(lambda x: x * x, (x,), raise_exception=False) is True


def test_names_the_output_and_input():
    # Input 1 does not require grad, so the checked inputs are numbered 0 (a) and 1 (c).
    a, b, c = (dt.from_numpy(np.array(v)) for v in ([0.5, 1.5], [2.0, 3.0], [1.25]))
    a.requires_grad_()
    c.requires_grad_()

    def f(a, b, c):
        return a * b, a * c * c.detach()

    with pytest.raises(GradcheckError, match=r"^Jacobian mismatch for output 1 with respect to input 1,"):
        gradcheck(f, (a, b, c))


def test_single_tensor_input_and_tuple_outputs():
    x = dt.from_numpy(np.array([[0.3, -1.2], [2.0, 0.7]])).requires_grad_()
    assert gradcheck(lambda x: (dt.exp(x), x.sum()), x)


def test_non_differentiable_output_only():
    x = dt.from_numpy(np.array([0.3, -1.2, 2.0])).requires_grad_()
    tx = torch.from_numpy(np.array([0.3, -1.2, 2.0])).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: x.argmax(), (tx,))
    assert gradcheck(lambda x: x.argmax(), (x,))


def test_warns_for_float32_inputs():
    x = dt.from_numpy(np.array([1.0, 2.0], np.float32)).requires_grad_()
    with pytest.warns(UserWarning, match=r"Input #0 requires gradient and is not a double precision floating point"):
        assert gradcheck(lambda x: x * 2.0, (x,), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_no_warning_for_float64_inputs():
    x = dt.from_numpy(np.array([1.0, 2.0])).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: x * 2.0, (x,))


def test_needs_an_input_that_requires_grad():
    x = dt.from_numpy(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda x: x * 2.0, (x,))


def test_is_dumbtorch_autograd_gradcheck():
    assert dt.autograd.gradcheck is gradcheck
    assert dt.autograd.GradcheckError is GradcheckError
