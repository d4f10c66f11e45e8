"""dt.save / dt.load: round trips of tensors (every dtype, 0-d, empty, Parameters) in nested
containers, module and optimizer state; every truncation and every single-byte corruption of a
checkpoint raises CheckpointError (never a crash, never wrong data);
crafted headers are rejected; nothing in a file is executed; a save interrupted by a crash or an
exception leaves the previous file loadable."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import dumbtorch as dt
from dumbtorch import serialization
from dumbtorch.serialization import CheckpointError

PYTHON_DIR = str(Path(dt.__file__).resolve().parents[1])


def _sample():
    return OrderedDict(
        f32=dt.tensor([[1.5, -2.0], [3.25, 4.0]]),
        f64=dt.tensor([1e-300, -1e300, float("inf"), float("nan")], dtype=dt.float64),
        i64=dt.tensor([2**62, -(2**63), 0]),
        b=dt.tensor([True, False, True]),
        scalar=dt.tensor(7.0),
        empty=dt.zeros(0, 3),
        nested={"list": [dt.ones(2), 3, 2.5, "text", None, True], "tuple": (1, dt.zeros(1, dtype=dt.int64)),
                5: "int key", "dtype": dt.float64},
    )


def _equal(a, b):
    if isinstance(a, dt.Tensor):
        assert isinstance(b, dt.Tensor) and a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
        assert a.requires_grad == b.requires_grad and type(a) is type(b)
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for k in a:
            _equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b))


def test_round_trip_of_nested_containers(tmp_path):
    obj = _sample()
    path = tmp_path / "x.dt"
    dt.save(obj, path)
    _equal(obj, dt.load(path))
    buf = io.BytesIO()
    dt.save(obj, buf)
    buf.seek(0)
    _equal(obj, dt.load(buf))
    assert buf.getvalue() == path.read_bytes()


def test_parameters_requires_grad_and_shared_tensors(tmp_path):
    p = dt.nn.Parameter(dt.ones(3))
    g = dt.ones(2, requires_grad=True)
    view = dt.arange(6).reshape(2, 3).t()  # non-contiguous: saved in logical order
    path = tmp_path / "p.dt"
    dt.save({"p": p, "g": g, "again": p, "view": view}, path)
    out = dt.load(path)
    assert isinstance(out["p"], dt.nn.Parameter) and out["p"].requires_grad
    assert out["g"].requires_grad and not isinstance(out["g"], dt.nn.Parameter)
    assert out["again"] is out["p"]
    assert out["view"].tolist() == [[0, 3], [1, 4], [2, 5]]


def test_module_and_optimizer_round_trip(tmp_path):
    dt.manual_seed(0)
    m = dt.nn.Sequential(dt.nn.Linear(4, 3), dt.nn.ReLU(), dt.nn.Linear(3, 2))
    opt = dt.optim.Adam(m.parameters(), lr=0.01)
    m(dt.randn(5, 4)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.dt"
    dt.save({"model": m.state_dict(), "optim": opt.state_dict(), "epoch": 3}, path)
    ck = dt.load(path)
    m2 = dt.nn.Sequential(dt.nn.Linear(4, 3), dt.nn.ReLU(), dt.nn.Linear(3, 2))
    m2.load_state_dict(ck["model"])
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert ck["epoch"] == 3 and ck["optim"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(ck["optim"]["state"]) == {0, 1, 2, 3}
    assert ck["optim"]["state"][0]["step"].item() == 1.0


def test_unsupported_objects_are_rejected_before_writing(tmp_path):
    path = tmp_path / "u.dt"
    dt.save({"a": dt.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot save a object"):
        dt.save({"a": [dt.ones(1), object()]}, path)
    with pytest.raises(TypeError, match="dict keys"):
        dt.save({(1, 2): 3}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["u.dt"]


# --- damaged files --------------------------------------------------------------------------


def _small_file(tmp_path):
    path = tmp_path / "small.dt"
    obj = {"w": dt.tensor([[1.0, 2.0], [3.0, 4.0]]), "b": dt.tensor([True, False]),
           "n": dt.tensor([7, 8], dtype=dt.int64), "meta": {"step": 3, "name": "x"}}
    dt.save(obj, path)
    return path, obj


def test_every_truncation_raises_a_clear_error(tmp_path):
    path, _ = _small_file(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "bad.dt"
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(CheckpointError) as e:
            dt.load(bad)
        assert str(bad) in str(e.value)
        if n >= 24:
            assert "truncated" in str(e.value) or "checksum" in str(e.value), (n, str(e.value))
    bad.write_bytes(data + b"\x00")
    with pytest.raises(CheckpointError, match="trailing bytes"):
        dt.load(bad)


def test_every_single_byte_corruption_is_detected(tmp_path):
    path, obj = _small_file(tmp_path)
    data = path.read_bytes()
    bad = tmp_path / "bad.dt"
    detected = 0
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            raw = bytearray(data)
            raw[i] ^= flip
            bad.write_bytes(bytes(raw))
            with pytest.raises(CheckpointError):
                dt.load(bad)
            detected += 1
    assert detected == 2 * len(data)


def _forge(tmp_path, header: dict | bytes, data: bytes = b"") -> Path:
    """A file with a valid prefix and checksum around an arbitrary header."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    start = 24 + len(h)
    pad = (start + 63) // 64 * 64 - start
    p = tmp_path / "forged.dt"
    p.write_bytes(struct.pack("<8sQII", serialization.MAGIC, len(h), zlib.crc32(h), 0) + h + b"\0" * pad + data)
    return p


def _tensor(**over):
    d = {"dtype": "float32", "shape": [2], "offset": 0, "nbytes": 8, "crc32": zlib.crc32(b"\0" * 8),
         "requires_grad": False, "parameter": False}
    d.update(over)
    return {"__tensor__": d}


@pytest.mark.parametrize("root,data,msg", [
    (_tensor(), b"\0" * 8, None),  # the valid baseline
    (_tensor(shape=[2**40, 2**40], nbytes=2**82), b"\0" * 8, "outside the data section"),
    (_tensor(shape=[3]), b"\0" * 8, "needs 12 bytes"),
    (_tensor(offset=4), b"\0" * 8, "outside the data section"),
    (_tensor(shape=[-1], nbytes=-4), b"\0" * 8, "malformed shape"),
    (_tensor(dtype="uint8"), b"\0" * 8, "unknown dtype"),
    (_tensor(crc32=1), b"\0" * 8, "checksum mismatch"),
    (_tensor(dtype="bool", nbytes=2, shape=[2], crc32=zlib.crc32(b"\x02\x00")), b"\x02\x00", "bool bytes"),
    ({"x": 1}, b"", "unknown tagged value"),
    ({"__dict__": [[[1], 2]]}, b"", "malformed dict key"),
    ({"__tensor__": {"dtype": "float32"}}, b"", "has fields"),
    ({"__dtype__": "complex128"}, b"", "unknown dtype"),
])
def test_forged_headers_are_rejected(tmp_path, root, data, msg):
    header = {"format": "dumbtorch-checkpoint", "version": 1, "data_bytes": len(data), "root": root}
    p = _forge(tmp_path, header, data)
    if msg is None:
        assert dt.load(p).tolist() == [0.0, 0.0]
        return
    with pytest.raises(CheckpointError, match=msg):
        dt.load(p)


def test_deep_nesting_and_wrong_versions(tmp_path):
    deep = '{"__tuple__":[' * 100000 + "null" + "]}" * 100000
    header = '{"format":"dumbtorch-checkpoint","version":1,"data_bytes":0,"root":' + deep + "}"
    p = _forge(tmp_path, header.encode())
    with pytest.raises(CheckpointError, match="nesting|malformed"):
        dt.load(p)
    p = _forge(tmp_path, {"format": "dumbtorch-checkpoint", "version": 2, "data_bytes": 0, "root": None})
    with pytest.raises(CheckpointError, match="unsupported checkpoint version"):
        dt.load(p)


def test_pickles_are_not_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    p = tmp_path / "evil.pt"
    p.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="not a dumbtorch checkpoint"):
        dt.load(p)
    assert not marker.exists()


# --- interrupted saves ----------------------------------------------------------------------


def test_exception_during_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.dt"
    old = {"w": dt.ones(1000)}
    dt.save(old, path)
    calls = []

    def failing_write(fh, data):
        calls.append(len(data))
        fh.write(bytes(data)[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_write_chunk", failing_write)
    with pytest.raises(KeyboardInterrupt):
        dt.save({"w": dt.zeros(1000), "v": dt.zeros(10)}, path)
    assert calls
    _equal(old, dt.load(path))
    assert os.listdir(tmp_path) == ["model.dt"]  # the temporary file was removed


def test_crash_during_save_keeps_the_old_file(tmp_path):
    """A child process dies (os._exit, no cleanup) halfway through writing a large checkpoint over
    an existing one: the old file still loads, unchanged."""
    path = tmp_path / "model.dt"
    old = {"w": dt.arange(100000).to(dt.float32)}
    dt.save(old, path)
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {PYTHON_DIR!r})
        import dumbtorch as dt
        from dumbtorch import serialization
        real = serialization._write_chunk
        def dying_write(fh, data):
            real(fh, bytes(data)[: len(data) // 3])
            fh.flush()
            os._exit(17)
        serialization._write_chunk = dying_write
        dt.save({{"w": dt.zeros(100000), "extra": dt.ones(50000)}}, {str(path)!r})
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 17, r.stderr
    _equal(old, dt.load(path))
    leftovers = [f for f in os.listdir(tmp_path) if f != "model.dt"]
    assert all(f.startswith(".model.dt.") and f.endswith(".tmp") for f in leftovers)
