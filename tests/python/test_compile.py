"""dt.compile: a compiled training step leaves the same parameters, optimizer state and loss as
the eager step; signatures retrace and guards hold; values needed while tracing raise TraceError
naming the operation and the line; fusion makes the documented number of kernels."""

from __future__ import annotations

import copy
import os
import re

import numpy as np
import pytest

import dumbtorch as dt
from dumbtorch import nn


def _mlp(sizes, act=nn.ReLU):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def _opt(kind, params):
    if kind == "sgd":
        return dt.optim.SGD(params, lr=0.05, momentum=0.9)
    if kind == "sgd_nesterov_wd":
        return dt.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if kind == "adam":
        return dt.optim.Adam(params, lr=0.01)
    if kind == "adamw":
        return dt.optim.AdamW(params, lr=0.01)
    raise ValueError(kind)


def _state_arrays(model, opt):
    out = {f"p.{k}": v.detach().numpy().copy() for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        out[f"g.{i}"] = None if p.grad is None else p.grad.numpy().copy()
        for k, v in opt.state[p].items():
            out[f"s.{i}.{k}"] = v.numpy().copy() if isinstance(v, dt.Tensor) else v
    return out


def _assert_same_state(a, b, tol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        if a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            np.testing.assert_allclose(b[k], a[k], rtol=tol, atol=tol, err_msg=k)


def _step_fn(model, opt, loss_fn):
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


CASES = {
    # name: (model factory, loss, batch maker)
    "mlp": (lambda: _mlp([12, 16, 16, 5]), nn.CrossEntropyLoss(),
            lambda rng, n: (dt.tensor(rng.standard_normal((n, 12)).astype(np.float32)),
                            dt.tensor(rng.integers(0, 5, n)))),
    "xor": (lambda: _mlp([2, 8, 1], nn.Tanh), nn.BCEWithLogitsLoss(),
            lambda rng, n: (dt.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
                            dt.tensor([[0.0], [1.0], [1.0], [0.0]]))),
    "sigmoid_mse": (lambda: _mlp([6, 10, 3], nn.Sigmoid), nn.MSELoss(),
                    lambda rng, n: (dt.tensor(rng.standard_normal((n, 6)).astype(np.float32)),
                                    dt.tensor(rng.standard_normal((n, 3)).astype(np.float32)))),
}


@pytest.mark.parametrize("opt_kind", ["sgd", "sgd_nesterov_wd", "adam", "adamw"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_step_matches_eager(case, opt_kind):
    make_model, loss_fn, batch = CASES[case]
    dt.manual_seed(0)
    m_eager = make_model()
    m_comp = copy.deepcopy(m_eager)
    o_eager, o_comp = _opt(opt_kind, m_eager.parameters()), _opt(opt_kind, m_comp.parameters())
    eager = _step_fn(m_eager, o_eager, loss_fn)
    compiled = dt.compile(_step_fn(m_comp, o_comp, loss_fn))
    rng = np.random.default_rng(1)
    for i in range(20):
        x, y = batch(rng, 8)
        le = eager(x, y)
        lc = compiled(x, y)
        assert isinstance(lc, dt.Tensor) and lc.shape == le.shape
        np.testing.assert_allclose(lc.item(), le.item(), rtol=1e-5, atol=1e-6, err_msg=f"loss at step {i}")
        _assert_same_state(_state_arrays(m_eager, o_eager), _state_arrays(m_comp, o_comp))
    s = compiled.stats()
    # One trace, plus one more when the first step creates optimizer state (momentum, Adam's moments).
    assert s["traces"] == (1 if opt_kind == "sgd_plain" else 2), s
    assert s["calls"] == 20 and s["cache_hits"] == 18


def test_plain_sgd_traces_once_and_recompiles_per_batch_size():
    dt.manual_seed(0)
    model = _mlp([4, 8, 2])
    opt = dt.optim.SGD(model.parameters(), lr=0.1)
    step = dt.compile(_step_fn(model, opt, nn.CrossEntropyLoss()))
    rng = np.random.default_rng(0)

    def batch(n):
        return dt.tensor(rng.standard_normal((n, 4)).astype(np.float32)), dt.tensor(rng.integers(0, 2, n))

    step(*batch(16))
    assert step.stats()["traces"] == 1
    step(*batch(16))
    assert step.stats()["traces"] == 1
    step(*batch(8))  # a second batch size traces once more
    assert step.stats()["traces"] == 2
    step(*batch(16))  # the first shape again: cached
    step(*batch(8))
    assert step.stats()["traces"] == 2
    assert step.stats()["cache_hits"] == 3


def test_recompile_log_says_why(capsys, monkeypatch):
    monkeypatch.setenv("DT_LOG", "recompiles")
    f = dt.compile(lambda x: (x * 2).sum())
    f(dt.ones(3))
    f(dt.ones(4))
    err = capsys.readouterr().err
    assert "trace 2" in err and "new signature" in err and "f32[3]" in err and "f32[4]" in err, err


def test_hyperparameter_change_is_a_guard(capsys, monkeypatch):
    monkeypatch.setenv("DT_LOG", "recompiles")
    dt.manual_seed(0)
    model = _mlp([3, 2])
    opt = dt.optim.SGD(model.parameters(), lr=0.1)
    step = dt.compile(_step_fn(model, opt, nn.MSELoss()))
    x, y = dt.ones(2, 3), dt.zeros(2, 2)
    step(x, y)
    step(x, y)
    assert step.stats()["traces"] == 1
    ref = copy.deepcopy(model)
    opt.param_groups[0]["lr"] = 0.5
    step(x, y)
    assert step.stats()["traces"] == 2
    assert "lr" in capsys.readouterr().err
    # The new lr is used: one eager SGD step with lr=0.5 from the same weights agrees.
    ropt = dt.optim.SGD(ref.parameters(), lr=0.5)
    _step_fn(ref, ropt, nn.MSELoss())(x, y)
    for a, b in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_recompile_log_names_the_newest_entrys_reason(capsys, monkeypatch):
    """With several cached traces failing their guards, the log gives the newest one's reason."""
    monkeypatch.setenv("DT_LOG", "recompiles")
    model = _mlp([3, 2])
    opt = dt.optim.SGD(model.parameters(), lr=0.1)
    step = dt.compile(_step_fn(model, opt, nn.MSELoss()))
    x, y = dt.ones(2, 3), dt.zeros(2, 2)
    for lr in (0.1, 0.5, 0.9):
        opt.param_groups[0]["lr"] = lr
        step(x, y)
    assert step.stats()["traces"] == 3
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "0.5" in last and "0.9" in last and "0.1" not in last, last


def test_pytrees_and_static_arguments():
    @dt.compile
    def f(d, pair, scale=2.0):
        return {"sum": (d["a"] + d["b"]) * scale, "parts": [pair[0] * pair[1], pair[1]]}

    a, b, c = dt.tensor([1.0, 2.0]), dt.tensor([3.0, 4.0]), dt.tensor([5.0, 6.0])
    r = f({"a": a, "b": b}, (b, c))
    assert r["sum"].tolist() == [8.0, 12.0]
    assert [t.tolist() for t in r["parts"]] == [[15.0, 24.0], [5.0, 6.0]]
    r = f({"a": a, "b": b}, (b, c), scale=3.0)  # a new constant: a new trace
    assert r["sum"].tolist() == [12.0, 18.0]
    assert f.stats()["traces"] == 2


def test_inplace_update_of_an_argument_is_written_back():
    @dt.compile
    def f(x, y):
        with dt.no_grad():
            x.add_(y)
            x.mul_(2)
        return x.sum()

    x = dt.tensor([1.0, 2.0])
    assert f(x, dt.tensor([1.0, 1.0])).item() == 10.0
    assert x.tolist() == [4.0, 6.0]
    assert f(x, dt.tensor([0.0, 1.0])).item() == 22.0
    assert x.tolist() == [8.0, 14.0]


def test_captured_tensor_is_read_at_every_call():
    w = dt.tensor([1.0, 2.0])
    f = dt.compile(lambda x: x * w)
    assert f(dt.ones(2)).tolist() == [1.0, 2.0]
    with dt.no_grad():
        w.mul_(10)  # an in-place change outside: the next call sees it
    assert f(dt.ones(2)).tolist() == [10.0, 20.0]
    assert f.stats()["traces"] == 1


def test_fused_forward_is_one_kernel():
    f = dt.compile(lambda a, b, c, d: dt.sigmoid(a * b + c) * d)
    args = [dt.tensor(np.random.default_rng(i).standard_normal(1000).astype(np.float32)) for i in range(4)]
    fused = f.ir(*args, stage="fused")
    body = [ln for ln in fused.splitlines() if re.match(r"\s+%\S+ = ", ln) and not ln.startswith("    ")]
    top = [ln for ln in fused.splitlines() if re.match(r"^  %[^=]+ = ", ln)]
    assert len(top) == 1 and "kernel" in top[0], fused
    assert body
    out = f(*args)
    a, b, c, d = (t.numpy() for t in args)
    np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-(a * b + c))) * d, rtol=1e-5, atol=1e-6)
    assert f.stats()["last"]["kernels"] == 1


def test_every_stage_parses_back():
    dt.manual_seed(0)
    model = _mlp([4, 8, 2])
    opt = dt.optim.Adam(model.parameters(), lr=0.01)
    step = dt.compile(_step_fn(model, opt, nn.CrossEntropyLoss()))
    x, y = dt.ones(3, 4), dt.tensor([0, 1, 1])
    step(x, y)  # creates Adam's state
    for stage in ("traced", "grad", "optimized", "fused"):
        text = step.ir(x, y, stage=stage)
        g = dt.ir.parse(text)
        g.verify()
    assert "matmul" in step.ir(x, y, stage="traced")
    assert len(step.ir(x, y, stage="grad")) > len(step.ir(x, y, stage="traced"))
    asm = step.asm(x, y)
    assert "ret" in asm
    with pytest.raises(ValueError, match="unknown stage"):
        step.ir(x, y, stage="nope")


def test_mlp_step_kernel_count():
    """The compiled 784-128-10 step (Adam) is one program of at most 23 kernels: 5 matmuls (each a
    GEMM kernel; 3 with a fused epilogue, and the transposes of their operands read through
    strides, never copied), no layout copies (the 4 reshapes are aliases of their operand's
    buffer), no kernel for a constant (evaluated when the program is made), one multi-output
    kernel per parameter for Adam's update (the new parameter and both moments from one loop),
    one kernel for every step counter at once (sibling fusion), and the fused
    elementwise/reduction kernels of the loss (its two sums in one) and the bias gradients. docs/compiler.md lists
    them; the bound catches a regression of fusion."""
    dt.manual_seed(0)
    model = _mlp([784, 128, 10])
    opt = dt.optim.Adam(model.parameters(), lr=1e-3)
    step = dt.compile(_step_fn(model, opt, nn.CrossEntropyLoss()))
    x, y = dt.ones(64, 784), dt.zeros(64, dtype=dt.int64)
    step(x, y)
    step(x, y)
    fused = step.ir(x, y, stage="fused")
    top = [ln for ln in fused.splitlines() if re.match(r"^  %[^=]+ = ", ln)]
    kernels = step.stats()["last"]["kernels"]
    # One kernel per top-level node, except a reshape of a node's result that is not a graph
    # output (the memory plan makes it an alias of its operand's buffer) and a const.
    returned = set(re.search(r"^  return (.*)$", fused, re.M).group(1).split(", "))
    aliased = [ln for ln in top if re.match(r"^  %\S+ = reshape\(%\d+\)", ln) and ln.split()[0] not in returned]
    consts = [ln for ln in top if " = const(" in ln]
    assert len(aliased) == 4, fused
    assert kernels == len(top) - len(aliased) - len(consts)
    assert len(re.findall(r"= matmul\(", fused)) == 5, fused
    assert not [ln for ln in top if " = transpose(" in ln], fused  # read by the GEMMs through strides
    assert len(re.findall(r"^    %\S+ = transpose\(", fused, re.M)) == 4, fused
    copies = [ln for ln in top if ln.split("= ")[1].startswith(("transpose", "reshape")) and ln not in aliased]
    assert not copies, fused
    # Adam: one kernel per parameter with three results (parameter, first and second moment),
    # and one kernel that advances the four step counters (f32[] results) together.
    results = [ln.split(" = ")[0].count("%") for ln in top if " = kernel @" in ln]
    triples = [ln for ln in top if " = kernel @" in ln and ln.split(" = ")[0].count("%") == 3]
    assert len(triples) == 4, fused
    assert any(n >= 5 for n in results), results
    assert kernels <= 23, (kernels, fused)
    # The optimizer's updates are written straight into the parameters and moments (the memory
    # plan donates each one's buffer), so one run needs far less than one buffer per value.
    last = step.stats()["last"]
    assert last["planned_bytes"] < 0.65 * last["unplanned_bytes"], last


def test_dump_writes_every_stage(tmp_path, monkeypatch):
    monkeypatch.setenv("DT_DUMP", str(tmp_path))
    f = dt.compile(lambda x: dt.relu(x) + 1)
    f(dt.ones(3))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 4 and all(n.endswith(".ir") for n in names), names
    for p in tmp_path.iterdir():
        dt.ir.parse(p.read_text()).verify()


# --- TraceError -------------------------------------------------------------------------------------


def _bool_of(x):
    return x * 2 if bool(x.sum()) else x


def _if_on_tensor(x):
    if x.sum() > 0:
        return x
    return -x


def _item(x):
    return x * x.sum().item()


def _numpy(x):
    return dt.tensor(x.numpy() + 1)


def _print(x):
    print(x)
    return x


def _float(x):
    return x * float(x.sum())


def _tolist(x):
    return dt.tensor(x.tolist())


@pytest.mark.parametrize("fn, what, line", [
    (_bool_of, "bool(t)", "if bool(x.sum())"),
    (_if_on_tensor, "bool(t)", "if x.sum() > 0"),
    (_item, "t.item()", "x.sum().item()"),
    (_numpy, "t.numpy()", "x.numpy() + 1"),
    (_print, "print(t)", "print(x)"),
    (_float, "float(t)", "float(x.sum())"),
    (_tolist, "t.tolist()", "x.tolist()"),
])
def test_trace_error_names_the_operation_the_line_and_the_alternative(fn, what, line):
    f = dt.compile(fn)
    with pytest.raises(dt.TraceError) as e:
        f(dt.ones(3))
    msg = str(e.value)
    assert what in msg, msg
    assert "test_compile.py" in msg and line in msg, msg
    assert "dt.where" in msg and "outside the compiled function" in msg and "eager" in msg, msg
    assert isinstance(e.value, RuntimeError)
    # Nothing is left half-traced: the same function works eagerly afterwards.
    assert fn(dt.ones(3)) is not None


def test_trace_error_leaves_grads_untouched():
    model = _mlp([2, 2])
    x = dt.ones(1, 2)
    model(x).sum().backward()
    before = [p.grad.numpy().copy() for p in model.parameters()]

    def step(x):
        for p in model.parameters():
            p.grad = None
        loss = model(x).sum()
        loss.backward()
        return loss.item()

    with pytest.raises(dt.TraceError):
        dt.compile(step)(x)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.grad.numpy(), b)


def test_traced_tensor_stored_outside_is_materialized():
    store = {}

    @dt.compile
    def f(x):
        store["y"] = x * 3  # escapes: the trace serves this call only, then retraces
        return x + 1

    f(dt.ones(2))
    assert store["y"].tolist() == [3.0, 3.0]
    f(dt.ones(2) * 2)
    assert store["y"].tolist() == [6.0, 6.0]


def test_random_numbers_inside_a_trace_are_refused():
    drop = dt.nn.Dropout(0.5)
    f = dt.compile(lambda x: drop(x) * 2)
    with pytest.raises(dt.TraceError, match="dt.rand inside a compiled function.*as an argument") as e:
        f(dt.ones(8))
    assert "drop(x) * 2" in str(e.value)
    drop.eval()  # the identity: nothing random is drawn
    assert f(dt.ones(8)).tolist() == [2.0] * 8


def test_cache_stats_report_llvm_time_per_stage():
    """dt.cache_stats() splits the JIT's time into LLVM's O3 and machine-code generation, and
    counts the disk cache; a kernel never seen before (a fresh constant makes its IR new) is
    optimized and compiled, so both counters grow (the bench prints the per-stage split)."""
    before = dt.cache_stats()
    for key in ("llvm_optimize_seconds", "llvm_codegen_seconds", "disk_hits", "disk_misses", "disk_writes", "disk_corrupt"):
        assert key in before, before
    c = float(np.random.default_rng().uniform(1, 2))
    f = dt.compile(lambda x: dt.tanh(x * c) + c)
    f(dt.ones(7))
    after = dt.cache_stats()
    assert after["kernels_compiled"] > before["kernels_compiled"]
    assert after["llvm_optimize_seconds"] > before["llvm_optimize_seconds"]
    assert after["llvm_codegen_seconds"] > before["llvm_codegen_seconds"]
    if os.environ.get("DT_CACHE_DIR") != "off":  # (off: no disk cache, nothing counted)
        assert after["disk_misses"] > before["disk_misses"]


def test_dt_profile_prints_time_per_kernel_at_exit():
    """DT_PROFILE=1: the runtime times every kernel call and prints, when the process exits, the
    total per kernel (op and result name), longest first."""
    import subprocess
    import sys

    code = ("import dumbtorch as dt\n"
            "f = dt.compile(lambda a, b: dt.sigmoid(a @ b + 1).sum())\n"
            "x = dt.ones(8, 8)\n"
            "for _ in range(3): f(x, x)\n")
    env = dict(os.environ, DT_PROFILE="1")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    head = [i for i, ln in enumerate(lines) if ln.startswith("DT_PROFILE:")]
    assert head, r.stderr
    rows = lines[head[0] + 2:]
    assert rows and all(int(ln.split()[1]) >= 3 for ln in rows if "kernel %" in ln), r.stderr
    assert any("kernel %" in ln for ln in rows), r.stderr
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ, DT_PROFILE="0"), timeout=600)
    assert "DT_PROFILE" not in quiet.stderr
