"""Anomaly detection (issue 7, item 6): dt.autograd.detect_anomaly() / set_detect_anomaly and
DT_CHECK_NAN=1 name the first op that produced a NaN/inf — forward (the eager op, with the user's
source line) and backward (PyTorch's "Function 'XBackward0' returned nan values in its 0th
output.") — and leave the normal path untouched when off."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import torch

import dumbtorch as dt
from dumbtorch import _C

PYTHON_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "python")


def test_forward_names_the_function_and_the_line():
    x = dt.tensor([1.0, -1.0])
    with dt.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"dt\.log produced nan values from finite operands") as info:
            dt.log(x)  # the line the message must point to
    assert f"{__file__}:" in str(info.value) and "dt.log(x)  # the line" in str(info.value)


@pytest.mark.parametrize("code, label, kind", [
    ("x.sqrt()", r"Tensor\.sqrt", "nan"),
    ("x / 0.0", r"Tensor\.__truediv__", "inf"),
    ("x.exp() * 1e30 * 1e30", r"Tensor\.__mul__", "inf"),
    ("dt.nn.functional.log_softmax(x.log(), dim=0)", r"Tensor\.log", "nan"),
    ("dt.tensor([[3e38, 3e38]]) @ dt.tensor([[1.0], [1.0]])", r"Tensor\.__matmul__", "inf"),
    ("dt.matmul(dt.tensor([[3e38, 3e38]]), dt.tensor([[1.0], [1.0]]))", r"dt\.matmul", "inf"),
])
def test_forward_ops_and_operators(code, label, kind):
    x = dt.tensor([2.0, -3.0])
    with dt.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=label + f" produced {kind} values"):
            eval(code)


def test_nan_already_in_the_operands_is_not_blamed_on_the_op():
    x = dt.tensor([float("nan"), 1.0])
    with dt.autograd.detect_anomaly():
        y = (x + 1.0).exp() * 2.0  # propagates the input's NaN: no op produced it
        z = dt.tensor([1.0]) * float("inf")  # an infinite operand
    v = y.tolist()
    assert v[0] != v[0] and v[1] == pytest.approx(2 * 2.718281828459045 ** 2)
    assert z.tolist() == [float("inf")]


def test_off_means_unwrapped_and_quiet():
    plain = (dt.log, _C.log, dt.Tensor.__dict__["__add__"], dt.Tensor.__dict__["backward"])
    assert not dt.autograd.is_anomaly_enabled()
    with dt.autograd.detect_anomaly():
        assert dt.autograd.is_anomaly_enabled()
        assert dt.log is not plain[0] and dt.Tensor.__dict__["__add__"] is not plain[2]
    assert (dt.log, _C.log, dt.Tensor.__dict__["__add__"], dt.Tensor.__dict__["backward"]) == plain
    assert dt.log(dt.tensor([-1.0])).tolist()[0] != dt.log(dt.tensor([-1.0])).tolist()[0]  # NaN, no error


def test_set_detect_anomaly_and_decorator():
    dt.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(RuntimeError, match="dt.sqrt produced nan"):
            dt.sqrt(dt.tensor([-4.0]))
    finally:
        dt.autograd.set_detect_anomaly(False)
    assert not dt.autograd.is_anomaly_enabled()

    @dt.autograd.detect_anomaly()
    def f(t):
        return t.log()

    with pytest.raises(RuntimeError, match="Tensor.log produced nan"):
        f(dt.tensor([-1.0]))
    assert not dt.autograd.is_anomaly_enabled()


def test_per_thread():
    out = {}

    def other():
        out["v"] = dt.log(dt.tensor([-1.0])).tolist()[0]  # anomaly mode is off in this thread

    with dt.autograd.detect_anomaly():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with pytest.raises(RuntimeError):
            dt.log(dt.tensor([-1.0]))
    assert out["v"] != out["v"]


def _nan_backward(lib):
    """sqrt(0) * 0: a finite forward whose SqrtBackward0 makes 0 * inf = NaN."""
    x = lib.tensor([0.0, 4.0], requires_grad=True)
    return x, (x.sqrt() * lib.tensor([0.0, 1.0])).sum()


def test_backward_names_the_node_like_pytorch():
    x, y = _nan_backward(dt)
    with dt.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as ours:
            y.backward()
    tx, ty = _nan_backward(torch)
    with pytest.warns(UserWarning), torch.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as theirs:
            ty.backward()
    assert str(theirs.value) == "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert str(ours.value).startswith(str(theirs.value))
    assert x.grad is None  # nothing was accumulated
    # Without anomaly mode the same backward runs and yields the NaN.
    x, y = _nan_backward(dt)
    y.backward()
    g = x.grad.tolist()
    assert g[0] != g[0] and g[1] == pytest.approx(0.25)


def test_backward_blames_the_right_operand_and_node():
    a = dt.tensor([1.0, 2.0], requires_grad=True)
    b = dt.tensor([0.0, 1.0], requires_grad=True)
    with dt.autograd.detect_anomaly():
        y = (a * 3.0).exp()
        z = (y + b.sqrt() * 0.0).sum()  # MulBackward0 of (sqrt(b) * 0) is finite; SqrtBackward0 is not
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th output"):
            z.backward(retain_graph=True)
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values"):
            dt.autograd.grad(z, [a, b])
    ga, gb = dt.autograd.grad(z, [a, b])  # anomaly mode off: the NaN comes out
    assert ga.tolist() == pytest.approx([3 * 2.718281828459045 ** 3, 3 * 2.718281828459045 ** 6], rel=1e-5)
    assert gb.tolist()[0] != gb.tolist()[0]


def test_no_false_alarm_on_a_training_step_with_extreme_logits():
    dt.manual_seed(0)
    model = dt.nn.Sequential(dt.nn.Linear(4, 8), dt.nn.ReLU(), dt.nn.Linear(8, 3))
    opt = dt.optim.SGD(model.parameters(), lr=0.1)
    x = dt.tensor([[1e4, -1e4, 0.0, 1.0], [0.5, 0.25, -1.0, 2.0]])
    with dt.autograd.detect_anomaly():
        for _ in range(2):
            opt.zero_grad()
            logits = model(x) * 1e3
            loss = dt.nn.functional.cross_entropy(logits, dt.tensor([0, 2])) + \
                dt.nn.functional.binary_cross_entropy_with_logits(logits, dt.ones(2, 3)) + \
                dt.logsumexp(logits, 1).sum() * 0.0 + dt.nn.functional.logsigmoid(logits).sum() * 0.0
            loss.backward()
            opt.step()
    assert all(_C._nonfinite(p) == 0 for p in model.parameters())


def test_dt_check_nan_environment_variable():
    script = (
        "import dumbtorch as dt\n"
        "x = dt.tensor([1.0, 0.0])\n"
        "y = x / x.sum()\n"
        "z = dt.log(y - 1.0)\n"
    )
    env = dict(os.environ, DT_CHECK_NAN="1", PYTHONPATH=PYTHON_DIR)
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert "RuntimeError: dt.log produced nan values from finite operands" in r.stderr
    assert "<string>:4" in r.stderr
    env["DT_CHECK_NAN"] = "0"
    r = subprocess.run([sys.executable, "-c", script + "print(z.tolist())\n"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "nan" in r.stdout
