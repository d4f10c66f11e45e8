"""dt.save / dt.load: checkpoints of tensors and nested containers in a safe, checked format.

The format (docs/checkpoint-format.md has the full description):

    offset 0   8 bytes   magic b"DTCKPT\\x00\\x01" (name, NUL, format version 1)
    offset 8   u64 LE    header length H
    offset 16  u32 LE    CRC-32 of the header bytes
    offset 20  u32       reserved, 0
    offset 24  H bytes   header: UTF-8 JSON {"format", "version", "data_bytes", "root"}
    padding to a multiple of 64, then the data section: each tensor's raw little-endian bytes at
    a 64-aligned offset. The file ends exactly at data start + data_bytes.

Values in the header: JSON null/true/false/numbers/strings/arrays are None/bool/int-float/str/
list; every JSON object is a tagged value: {"__tensor__": {...}}, {"__dict__": [[k, v], ...],
"ordered": bool}, {"__tuple__": [...]}, {"__dtype__": name}. Loading parses JSON only (no
pickle, no code), validates every field, checks each tensor's bounds against the file length and
its CRC-32, and raises CheckpointError naming the file and the problem.

save() writes a temporary file in the target's directory, fsyncs it and renames it over the
target (os.replace is atomic on POSIX), so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

from . import _C
from ._C import Tensor

MAGIC = b"DTCKPT\x00\x01"
VERSION = 1
ALIGN = 64
_PREFIX = struct.Struct("<8sQII")  # magic, header length, header crc32, reserved
_MAX_DEPTH = 200
_MAX_DIMS = 64  # numpy's limit
_MAX_ELEMENTS = 2**56  # the IR's limit on a type's element count

_DTYPES = {
    "float32": (_C.float32, np.dtype("<f4")),
    "float64": (_C.float64, np.dtype("<f8")),
    "int64": (_C.int64, np.dtype("<i8")),
    "bool": (_C.bool, np.dtype("|b1")),
}
_DTYPE_NAME = {v[0]: k for k, v in _DTYPES.items()}


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read: not one of ours, truncated, corrupted, or malformed."""


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# --- save -----------------------------------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.chunks: list[tuple[int, np.ndarray]] = []  # (offset, contiguous array)
        self.size = 0
        self.seen: dict[int, dict] = {}  # id(tensor) -> its descriptor (a tensor saved twice is stored once)
        self.keep: list[Any] = []

    def value(self, obj: Any, depth: int, where: str) -> Any:
        if depth > _MAX_DEPTH:
            raise ValueError(f"dt.save: nesting deeper than {_MAX_DEPTH} levels at {where}")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            return float(obj)
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, Tensor):
            return {"__tensor__": self.tensor(obj)}
        if isinstance(obj, _C.dtype):
            return {"__dtype__": _DTYPE_NAME[obj]}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise TypeError(f"dt.save: dict keys must be str, int, float, bool or None; got {type(k).__name__} at {where}")
                items.append([k, self.value(v, depth + 1, f"{where}[{k!r}]")])
            return {"__dict__": items, "ordered": isinstance(obj, OrderedDict)}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.value(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.value(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(obj)]
        raise TypeError(
            f"dt.save: cannot save a {type(obj).__name__} at {where}; supported: tensors, dicts, lists, tuples, "
            "str, int, float, bool, None and dtypes"
        )

    def tensor(self, t: Tensor) -> dict:
        if id(t) in self.seen:
            return self.seen[id(t)]
        if t.dtype not in _DTYPE_NAME:
            raise TypeError(f"dt.save: unsupported tensor dtype {t.dtype}")
        arr = np.ascontiguousarray(t.detach().numpy(), dtype=_DTYPES[_DTYPE_NAME[t.dtype]][1])
        offset = _align(self.size)
        nbytes = int(arr.nbytes)
        self.chunks.append((offset, arr))
        self.size = offset + nbytes
        self.keep.append(t)
        from .nn.parameter import Parameter

        desc = {
            "dtype": _DTYPE_NAME[t.dtype],
            "shape": [int(s) for s in t.shape],
            "offset": offset,
            "nbytes": nbytes,
            "crc32": zlib.crc32(memoryview(arr).cast("B")) if nbytes else 0,
            "requires_grad": bool(t.requires_grad),
            "parameter": isinstance(t, Parameter),
        }
        self.seen[id(t)] = desc
        return desc


def _write(fh: BinaryIO, header: bytes, chunks: list[tuple[int, np.ndarray]], data_bytes: int) -> None:
    fh.write(_PREFIX.pack(MAGIC, len(header), zlib.crc32(header), 0))
    fh.write(header)
    start = _PREFIX.size + len(header)
    fh.write(b"\x00" * (_align(start) - start))
    pos = 0
    for offset, arr in chunks:
        if offset > pos:
            fh.write(b"\x00" * (offset - pos))
        _write_chunk(fh, memoryview(arr).cast("B") if arr.nbytes else b"")
        pos = offset + arr.nbytes
    if pos != data_bytes:
        raise AssertionError(f"dt.save: wrote {pos} data bytes, expected {data_bytes}")


def _write_chunk(fh: BinaryIO, data) -> None:
    """Writes one tensor's bytes (a separate function so tests can interrupt a save here)."""
    fh.write(data)


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Saves tensors and (nested) dicts, lists and tuples of them (plus numbers, strings, None) to a
    path, atomically (temporary file + rename), or to a writable binary file object."""
    enc = _Encoder()
    root = enc.value(obj, 0, "obj")
    header = json.dumps(
        {"format": "dumbtorch-checkpoint", "version": VERSION, "data_bytes": enc.size, "root": root},
        allow_nan=True, separators=(",", ":"),
    ).encode("utf-8")
    if hasattr(f, "write"):
        _write(f, header, enc.chunks, enc.size)  # type: ignore[arg-type]
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(fh, header, enc.chunks, enc.size)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --- load -----------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, name: str, data: memoryview, data_bytes: int) -> None:
        self.name = name
        self.data = data
        self.data_bytes = data_bytes
        self.made: dict[tuple, Any] = {}
        self.ranges: list[tuple[int, int]] = []

    def fail(self, msg: str) -> CheckpointError:
        return CheckpointError(f"dt.load({self.name}): {msg}")

    def value(self, v: Any, depth: int, where: str) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"nesting deeper than {_MAX_DEPTH} levels at {where}")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]
        if not isinstance(v, dict) or len(v) == 0:
            raise self.fail(f"malformed value at {where}")
        if "__tensor__" in v and len(v) == 1:
            return self.tensor(v["__tensor__"], where)
        if "__tuple__" in v and len(v) == 1 and isinstance(v["__tuple__"], list):
            return tuple(self.value(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v["__tuple__"]))
        if "__dtype__" in v and len(v) == 1:
            if not isinstance(v["__dtype__"], str) or v["__dtype__"] not in _DTYPES:
                raise self.fail(f"unknown dtype {v['__dtype__']!r} at {where}")
            return _DTYPES[v["__dtype__"]][0]
        if "__dict__" in v and set(v) <= {"__dict__", "ordered"} and isinstance(v["__dict__"], list):
            out = OrderedDict() if v.get("ordered") is True else {}
            for item in v["__dict__"]:
                if not isinstance(item, list) or len(item) != 2:
                    raise self.fail(f"malformed dict entry at {where}")
                k = item[0]
                if not (k is None or isinstance(k, (str, int, float, bool))):
                    raise self.fail(f"malformed dict key at {where}")
                out[k] = self.value(item[1], depth + 1, f"{where}[{k!r}]")
            return out
        raise self.fail(f"unknown tagged value {sorted(v)!r} at {where}")

    def tensor(self, d: Any, where: str) -> Tensor:
        if not isinstance(d, dict):
            raise self.fail(f"malformed tensor entry at {where}")
        need = {"dtype", "shape", "offset", "nbytes", "crc32", "requires_grad", "parameter"}
        if set(d) != need:
            raise self.fail(f"tensor entry at {where} has fields {sorted(d)}, expected {sorted(need)}")
        if not isinstance(d["dtype"], str) or d["dtype"] not in _DTYPES:
            raise self.fail(f"tensor at {where} has unknown dtype {d['dtype']!r}")
        shape = d["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise self.fail(f"tensor at {where} has a malformed shape {shape!r}")
        for k in ("requires_grad", "parameter"):
            if not isinstance(d[k], bool):
                raise self.fail(f"tensor at {where} has a malformed {k} {d[k]!r} (expected true or false)")
        for k in ("offset", "nbytes", "crc32"):
            if not isinstance(d[k], int) or isinstance(d[k], bool) or d[k] < 0:
                raise self.fail(f"tensor at {where} has a malformed {k} {d[k]!r}")
        dtype, npdt = _DTYPES[d["dtype"]]
        count = 1
        for s in shape:
            count *= s
        nbytes, offset = d["nbytes"], d["offset"]
        if count * npdt.itemsize != nbytes:
            raise self.fail(
                f"tensor at {where}: shape {shape} of {d['dtype']} needs {count * npdt.itemsize} bytes, the header says {nbytes}"
            )
        if offset + nbytes > self.data_bytes:
            raise self.fail(
                f"tensor at {where}: bytes [{offset}, {offset + nbytes}) lie outside the data section of "
                f"{self.data_bytes} bytes"
            )
        # numpy's limits (64 dims, sizes that fit an address) apply to zero-size tensors too, and
        # the IR's types hold at most 2^56 elements: so the product of the non-zero dims may not exceed that.
        nonzero = 1
        for s in shape:
            nonzero *= max(s, 1)
        if len(shape) > _MAX_DIMS or nonzero > _MAX_ELEMENTS:
            raise self.fail(f"tensor at {where} has an unsupported shape (more than {_MAX_DIMS} dims or 2^56 elements)")
        self.ranges.append((offset, nbytes))
        key = (offset, nbytes, d["dtype"], tuple(shape))  # the same tensor saved twice loads as one object
        cached = self.made.get(key) if nbytes else None
        if cached is not None:
            return cached
        raw = self.data[offset:offset + nbytes]
        if (zlib.crc32(raw) if nbytes else 0) != d["crc32"]:
            raise self.fail(f"tensor at {where}: checksum mismatch (the data is corrupted)")
        arr = np.frombuffer(raw, dtype=npdt, count=count).reshape(shape)
        if npdt.kind == "b":
            if nbytes and np.frombuffer(raw, dtype=np.uint8).max() > 1:
                raise self.fail(f"tensor at {where}: bool bytes other than 0 and 1")
        arr = arr.astype(npdt.newbyteorder("="), copy=True)
        import dumbtorch as dt

        t = dt.from_numpy(arr)
        if d["requires_grad"] and not t.is_floating_point():
            raise self.fail(f"tensor at {where}: requires_grad on a {d['dtype']} tensor")
        if d["parameter"] is True:
            from .nn.parameter import Parameter

            t = Parameter(t, requires_grad=bool(d["requires_grad"]))
        elif d["requires_grad"]:
            t.requires_grad_(True)
        self.made[key] = t
        return t


def _fail(name: str, msg: str) -> CheckpointError:
    return CheckpointError(f"dt.load({name}): {msg}")


def load(f: str | os.PathLike | BinaryIO, map_location=None, weights_only: bool = True) -> Any:
    """Loads what dt.save wrote. Never executes code from the file; raises CheckpointError (a
    RuntimeError) naming the file for anything truncated, corrupted or malformed."""
    if hasattr(f, "read"):
        name = getattr(f, "name", "<file object>")
        blob = f.read()  # type: ignore[union-attr]
    else:
        name = os.fspath(f)
        with open(name, "rb") as fh:
            blob = fh.read()
    name = repr(name) if isinstance(name, str) else str(name)
    size = len(blob)
    if size < _PREFIX.size:
        if blob[: len(MAGIC)] != MAGIC[: min(size, len(MAGIC))]:
            raise _fail(name, "not a dumbtorch checkpoint (bad magic bytes)")
        raise _fail(name, f"truncated: the file has {size} bytes, the fixed header alone needs {_PREFIX.size}")
    magic, hlen, hcrc, reserved = _PREFIX.unpack_from(blob, 0)
    if magic[:6] != MAGIC[:6]:
        raise _fail(name, "not a dumbtorch checkpoint (bad magic bytes)")
    if magic != MAGIC:
        raise _fail(name, f"unsupported checkpoint version {magic[7]} (this dumbtorch reads version {VERSION})")
    if reserved != 0:
        raise _fail(name, "malformed fixed header (the reserved field is not 0)")
    if _PREFIX.size + hlen > size:
        raise _fail(name, f"truncated: the header needs {hlen} bytes after offset {_PREFIX.size}, the file has {size} bytes")
    header = blob[_PREFIX.size:_PREFIX.size + hlen]
    if zlib.crc32(header) != hcrc:
        raise _fail(name, "header checksum mismatch (the header is corrupted)")
    try:
        meta = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(name, f"malformed header ({type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != "dumbtorch-checkpoint" or "root" not in meta:
        raise _fail(name, "malformed header (not a dumbtorch checkpoint header)")
    if meta.get("version") != VERSION:
        raise _fail(name, f"unsupported checkpoint version {meta.get('version')!r}")
    data_bytes = meta.get("data_bytes")
    if not isinstance(data_bytes, int) or isinstance(data_bytes, bool) or data_bytes < 0:
        raise _fail(name, "malformed header (data_bytes)")
    data_start = _align(_PREFIX.size + hlen)
    if data_start + data_bytes > size:
        raise _fail(
            name,
            f"truncated: the data section needs {data_bytes} bytes from offset {data_start}, "
            f"the file has {size} bytes ({data_start + data_bytes - size} missing)",
        )
    if data_start + data_bytes < size:
        raise _fail(name, f"{size - data_start - data_bytes} unexpected trailing bytes after the data section")
    if any(blob[_PREFIX.size + hlen:data_start]):
        raise _fail(name, "non-zero padding after the header (the file is corrupted)")
    data = memoryview(blob)[data_start:data_start + data_bytes]
    dec = _Decoder(name, data, data_bytes)
    try:
        root = dec.value(meta["root"], 0, "root")
    except RecursionError:
        raise _fail(name, "nesting too deep") from None
    # Bytes of the data section that no tensor covers are alignment padding and must be zero.
    pos = 0
    for offset, nbytes in sorted(dec.ranges):
        if offset > pos and any(data[pos:offset]):
            raise _fail(name, f"non-zero padding at data offset {pos} (the file is corrupted)")
        pos = max(pos, offset + nbytes)
    if pos < data_bytes and any(data[pos:]):
        raise _fail(name, f"non-zero padding at data offset {pos} (the file is corrupted)")
    return root


__all__ = ["save", "load", "CheckpointError"]
