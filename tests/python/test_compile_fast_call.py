"""dt.compile's repeat call (one C call: signature, guards, run, results) and the guards of fixed
forms it checks in C++ (guard_values, guard_identities, guard_nested_identities): every check
still retraces when it must, runs when it may, and a compiled call leaves what an eager call
leaves, also when arguments share memory with captured tensors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import dumbtorch as dt
from dumbtorch import compiler


def _counter():
    state = {"scale": 2.0}

    @dt.compile
    def f(x):
        compiler.guard_values(state, ("scale",), "state scale")
        return x * state["scale"]

    return f, state


def test_repeat_calls_take_the_fast_path_and_are_counted():
    f = dt.compile(lambda x, y: x * y + 1)
    x, y = dt.tensor([1.0, 2.0]), dt.tensor([3.0, 4.0])
    for _ in range(5):
        assert f(x, y).tolist() == [4.0, 9.0]
    s = f.stats()
    assert s["traces"] == 1 and s["calls"] == 5 and s["cache_hits"] == 4
    f.reset()
    assert f.stats()["calls"] == 5  # the fast path's calls stay counted after it is dropped
    f(x, y)
    assert f.stats()["traces"] == 2


def test_fast_path_reads_new_argument_values_and_checks_the_signature():
    f = dt.compile(lambda x: (x * 2).sum())
    assert f(dt.tensor([1.0, 2.0])).item() == 6.0
    assert f(dt.tensor([5.0, 2.0])).item() == 14.0
    assert f(dt.tensor([1.0, 2.0, 3.0])).item() == 12.0  # new shape: traced again
    assert f(dt.tensor([1.0, 2.0], dtype=dt.float64)).item() == 6.0
    assert f(dt.tensor([1.0, 2.0]).requires_grad_()).item() == 6.0
    assert f.stats()["traces"] == 4


def test_same_tensor_twice_is_another_signature():
    f = dt.compile(lambda a, b: a + b * 10)
    x, y = dt.tensor([1.0]), dt.tensor([2.0])
    assert f(x, y).item() == 21.0
    assert f(x, x).item() == 11.0
    assert f(x, y).item() == 21.0
    assert f(y, y).item() == 22.0
    assert f.stats()["traces"] == 2


def test_guard_values_retraces_on_a_change_of_value_or_length_only():
    f, state = _counter()
    x = dt.tensor([1.0, 2.0])
    assert f(x).tolist() == [2.0, 4.0]
    state["scale"] = float("2.0")  # equal value: still valid
    assert f(x).tolist() == [2.0, 4.0]
    assert f.stats()["traces"] == 1
    state["scale"] = 3.0
    assert f(x).tolist() == [3.0, 6.0]
    assert f.stats()["traces"] == 2
    state["other"] = 1  # the length is part of the guard
    assert f(x).tolist() == [3.0, 6.0]
    assert f.stats()["traces"] == 3
    del state["scale"]
    state["scale"] = 3.0  # same length and value again (a new entry order is no change)
    f(x)
    assert f.stats()["traces"] == 3


def test_guard_values_on_a_dict_subclass_is_checked_through_its_getter():
    class Tracked(dict):
        def get(self, key, default=None):
            return super().get(key, default)

    state = Tracked(scale=2.0)

    @dt.compile
    def f(x):
        compiler.guard_values(state, ("scale",), "scale")
        return x * state["scale"]

    x = dt.tensor([1.0])
    assert f(x).item() == 2.0
    assert f(x).item() == 2.0
    state["scale"] = 5.0
    assert f(x).item() == 5.0
    assert f.stats()["traces"] == 2


def test_guard_identities():
    a, b = object(), object()
    holder = {"items": [a, b]}

    @dt.compile
    def f(x):
        compiler.guard_identities(holder, "items", "items")
        return x + len(holder["items"])

    x = dt.tensor([0.0])
    assert f(x).item() == 2.0
    holder["items"] = [a, b]  # a new list of the same objects
    assert f(x).item() == 2.0
    holder["items"] = (a, b)  # a tuple of them
    assert f(x).item() == 2.0
    assert f.stats()["traces"] == 1
    holder["items"] = [b, a]
    f(x)
    assert f.stats()["traces"] == 2
    holder["items"] = [b, a, a]
    assert f(x).item() == 3.0
    assert f.stats()["traces"] == 3
    del holder["items"]  # the getter raises: a failed guard, and the function itself fails
    with pytest.raises(KeyError):
        f(x)


def test_guard_nested_identities_follows_the_owner_attribute(capsys, monkeypatch):
    monkeypatch.setenv("DT_LOG", "recompiles")

    class Owner:
        pass

    owner = Owner()
    k1, k2 = object(), object()
    t1, t2 = dt.tensor([1.0]), dt.tensor([2.0])
    owner.state = collections.defaultdict(dict, {k1: {"a": t1}, k2: {"b": t2}})

    @dt.compile
    def f(x):
        compiler.guard_nested_identities(owner, "state", (k1, k2), "owner.state tensors")
        return x + owner.state[k1]["a"] + owner.state[k2]["b"]

    x = dt.tensor([0.0])
    assert f(x).item() == 3.0
    owner.state[k1]["a"].add_(1.0)  # the same tensor, a new value: read at the call
    assert f(x).item() == 4.0
    assert f.stats()["traces"] == 1
    owner.state[k2]["b"] = dt.tensor([10.0])  # a new tensor
    assert f(x).item() == 12.0
    assert f.stats()["traces"] == 2
    assert "owner.state tensors changed" in capsys.readouterr().err
    owner.state = collections.defaultdict(dict, {k1: {"a": dt.tensor([100.0])}, k2: owner.state[k2]})  # replaced
    assert f(x).item() == 110.0
    assert f.stats()["traces"] == 3
    owner.state[k1]["extra"] = dt.tensor([0.0])  # one more entry
    f(x)
    assert f.stats()["traces"] == 4


def test_a_guard_that_cannot_be_read_retraces(capsys, monkeypatch):
    monkeypatch.setenv("DT_LOG", "recompiles")
    reads = []  # what the next reads give: a value, or an exception to raise

    def getter():
        r = reads.pop(0) if reads else 1
        if isinstance(r, Exception):
            raise r
        return r

    @dt.compile
    def f(x):
        compiler.guard(getter, "the flag")
        return x + 1

    x = dt.tensor([1.0])
    f(x)
    f(x)
    reads[:] = [RuntimeError("unreadable"), RuntimeError("unreadable"), 2]  # the call's checks fail, the retrace reads 2
    assert f(x).item() == 2.0
    assert f.stats()["traces"] == 2
    assert "the flag: could not be read (unreadable)" in capsys.readouterr().err
    reads[:] = [RuntimeError("unreadable")]  # fails once, then reads 2 again: still valid
    f(x)
    assert f.stats()["traces"] == 2


def test_several_results_and_constants_through_the_fast_path():
    @dt.compile
    def f(x, y):
        return {"sum": x + y, "parts": (x * y, 3, None)}

    x, y = dt.tensor([1.0, 2.0]), dt.tensor([3.0, 4.0])
    for _ in range(3):
        r = f(x, y)
        assert r["sum"].tolist() == [4.0, 6.0]
        assert r["parts"][0].tolist() == [3.0, 8.0] and r["parts"][1:] == (3, None)
    assert f.stats()["traces"] == 1


def test_errors_of_a_fast_call_are_raised_as_in_the_full_path():
    @dt.compile
    def f(x, i):
        return x.gather(0, i)

    x = dt.tensor([1.0, 2.0, 3.0])
    assert f(x, dt.tensor([2, 0])).tolist() == [3.0, 1.0]
    assert f(x, dt.tensor([1, 1])).tolist() == [2.0, 2.0]
    with pytest.raises(IndexError):
        f(x, dt.tensor([5, 0]))
    assert f(x, dt.tensor([0, 2])).tolist() == [1.0, 3.0]
    assert f.stats()["traces"] == 1


def test_nested_compiled_call_is_traced_into_its_caller():
    inner = dt.compile(lambda x: x * 3)
    x = dt.tensor([1.0])
    inner(x)
    inner(x)  # inner has a fast path now

    @dt.compile
    def outer(x):
        return inner(x) + 1

    assert outer(x).item() == 4.0
    assert outer(x).item() == 4.0
    assert inner.stats()["traces"] == 1 and outer.stats()["traces"] == 1


def _eager_and_compiled(fn, make):
    """Runs fn three times eagerly and compiled on fresh copies of make()'s tensors: the
    results and the tensors' values afterwards agree."""
    runs = []
    for compiled in (False, True):
        tensors = make()
        f = dt.compile(fn(tensors)) if compiled else fn(tensors)
        outs = [f(*tensors["args"]).tolist() for _ in range(3)]
        runs.append((outs, {k: v.tolist() for k, v in tensors.items() if k != "args"}))
    assert runs[0] == runs[1]


def test_argument_that_is_a_captured_tensor_updated_in_place():
    def make():
        w = dt.tensor([1.0, 2.0, 3.0])
        return {"w": w, "args": (w,)}

    def fn(t):
        w = t["w"]

        def step(x):
            with dt.no_grad():
                w.mul_(2.0)  # captured memory, written back; the argument is the same memory
            return x + w

        return step

    _eager_and_compiled(fn, make)


def test_argument_view_of_captured_memory_updated_in_place():
    def make():
        w = dt.tensor([[1.0, 2.0], [3.0, 4.0]])
        return {"w": w, "args": (w[1], w.t())}

    def fn(t):
        w = t["w"]

        def step(row, wt):
            out = row * 10 + wt.sum(0)  # the arguments are read before their memory is updated
            with dt.no_grad():
                w.add_(1.0)
            return out + w.sum()

        return step

    _eager_and_compiled(fn, make)


def test_captured_strided_view_is_read_at_every_call():
    base = dt.tensor([[1.0, 2.0], [3.0, 4.0]])
    wt = base.t()  # a strided view: copied at each run

    @dt.compile
    def f(x):
        return x @ wt

    x = dt.tensor([[1.0, 0.0]])
    assert f(x).tolist() == [[1.0, 3.0]]
    with dt.no_grad():
        base.mul_(2.0)
    assert f(x).tolist() == [[2.0, 6.0]]
    assert f.stats()["traces"] == 1


def test_optimizer_guards_after_load_state_dict_retrace():
    dt.manual_seed(0)
    model = dt.nn.Linear(3, 2)
    opt = dt.optim.Adam(model.parameters(), lr=0.01)

    def step(x):
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    f = dt.compile(step)
    x = dt.tensor(np.ones((4, 3), np.float32))
    for _ in range(3):
        f(x)
    traces = f.stats()["traces"]
    opt.load_state_dict(opt.state_dict())  # new state tensors: the compiled step must retrace
    f(x)
    assert f.stats()["traces"] == traces + 1


def test_no_arguments_and_keyword_arguments():
    w = dt.tensor([1.0, 2.0])

    @dt.compile
    def f():
        return w * 2

    for _ in range(3):
        assert f().tolist() == [2.0, 4.0]
    assert f.stats()["traces"] == 1

    @dt.compile
    def g(x, scale=1.0):
        return x * scale

    x = dt.tensor([1.0])
    assert g(x).item() == 1.0
    assert g(x).item() == 1.0  # the fast path
    assert g(x, scale=3.0).item() == 3.0  # keywords: the full path, a new trace
    assert g(x).item() == 1.0
    assert g.stats()["traces"] == 2
