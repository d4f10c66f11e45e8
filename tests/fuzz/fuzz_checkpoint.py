#!/usr/bin/env python3
"""Fuzzes dt.load, the checkpoint loader (pure Python: python/dumbtorch/serialization.py), with a
mutational loop under a fixed time budget. A libFuzzer target does not apply: the loader has no
C++ of its own (it parses JSON and hands numpy arrays to dt.from_numpy).

Usage: python3 tests/fuzz/fuzz_checkpoint.py [--seconds 60] [--seed N] [--out DIR] [--replay FILE...]

Seeds: a few checkpoints written by dt.save (model and optimizer state, every dtype, 0-d and
zero-size tensors, nested containers). Mutations: byte flips, inserts, deletes, truncations,
splices, and structural edits of the JSON header (numbers made huge/negative/float, shapes with
many or huge dims, dtypes and tags swapped, values duplicated, nesting), after which the header
CRC (and sometimes the tensors' CRCs and data_bytes) is recomputed so the mutant gets past the
checksums to the code behind them.

The contract under test (docs/checkpoint-format.md): dt.load either returns a value or raises
CheckpointError. Any other exception, or a crash of the process, is a bug: the input is written
to DIR/crash-<sha1> (DIR/current is the input being tried, for a hard crash) and the run exits 1.
A loaded value must also save and load again to the same structure.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import struct
import sys
import time
import traceback
import zlib
from collections import OrderedDict

import numpy as np

import dumbtorch as dt
from dumbtorch import serialization
from dumbtorch.serialization import CheckpointError

PREFIX = struct.Struct("<8sQII")
MAX_KEPT = 32768  # bytes: larger mutants are tried but neither kept nor edited structurally


def seed_objects():
    """What users save: a model's and an optimizer's state, every dtype, odd shapes."""
    dt.manual_seed(0)
    model = dt.nn.Sequential(dt.nn.Linear(3, 4), dt.nn.ReLU(), dt.nn.Linear(4, 2))
    opt = dt.optim.Adam(model.parameters(), lr=0.01)
    loss = model(dt.randn(5, 3)).sum()
    loss.backward()
    opt.step()
    shared = dt.ones(2, 2)
    return [
        model.state_dict(),
        {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "losses": [0.5, 0.25]},
        OrderedDict(
            f32=dt.tensor([[1.5, -2.0], [3.25, 4.0]]),
            f64=dt.tensor([1e-300, float("inf"), float("nan")], dtype=dt.float64),
            i64=dt.tensor([2**62, -(2**63), 0]),
            b=dt.tensor([True, False, True]),
            scalar=dt.tensor(7.0),
            empty=dt.zeros(0, 3),
            shared=(shared, shared),
            nested={"l": [None, True, 1, 2.5, "s"], 5: dt.float64, None: (1, (2, [3]))},
        ),
        [dt.nn.Parameter(dt.randn(3)), dt.arange(6).reshape(2, 3), dt.zeros(1, 0, 2, dtype=dt.int64)],
        dt.tensor(1.0, requires_grad=True),
    ]


def saved(obj) -> bytes:
    buf = io.BytesIO()
    dt.save(obj, buf)
    return buf.getvalue()


# --- mutations -------------------------------------------------------------------------------

INTERESTING_INTS = [0, 1, -1, 7, 63, 64, 65, 255, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64,
                    -(2**63), 10**30, -(10**30)]
INTERESTING_VALUES = INTERESTING_INTS + [0.5, -0.0, 1e308, float("inf"), float("nan"), True, False, None, "",
                                         "float32", "float64", "int64", "bool", "int32", "__tensor__", [], {},
                                         [0], [2**40, 2**40], [1] * 70, [0, 2**63], [-1]]
TAGS = ["__tensor__", "__tuple__", "__dict__", "__dtype__", "ordered", "format", "version", "data_bytes", "root",
        "dtype", "shape", "offset", "nbytes", "crc32", "requires_grad", "parameter"]


def split(blob: bytes):
    """(header dict, data bytes) of a well-formed checkpoint, or None."""
    if len(blob) < PREFIX.size:
        return None
    _, hlen, _, _ = PREFIX.unpack_from(blob)
    try:
        meta = json.loads(blob[PREFIX.size:PREFIX.size + hlen])
    except Exception:
        return None
    start = (PREFIX.size + hlen + 63) // 64 * 64
    return meta, blob[start:]


def assemble(meta, data: bytes, fix_data_bytes=True) -> bytes:
    if fix_data_bytes and isinstance(meta, dict):
        meta["data_bytes"] = len(data)
    header = json.dumps(meta, allow_nan=True).encode()
    pad = (-(PREFIX.size + len(header))) % 64
    return PREFIX.pack(serialization.MAGIC, len(header), zlib.crc32(header), 0) + header + bytes(pad) + data


def nodes(v, out):
    """Every container in a JSON value (for structural mutation), iteratively (values nest deep)."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, dict)):
            out.append(x)
            stack.extend(x.values() if isinstance(x, dict) else x)
    return out


def fix_crcs(v, data: bytes):
    for n in nodes(v, []):
        if isinstance(n, dict) and "crc32" in n:
            try:
                off, nb = int(n["offset"]), int(n["nbytes"])
                if 0 <= off and 0 <= nb and off + nb <= len(data):
                    n["crc32"] = zlib.crc32(data[off:off + nb]) if nb else 0
            except Exception:
                pass


def mutate_tensor(rng: random.Random, meta) -> bool:
    """Edits one tensor entry consistently (shape, nbytes and dtype agree) so it passes the size
    checks and reaches the array construction behind them. False when there is no tensor."""
    entries = [n for n in nodes(meta, []) if isinstance(n, dict) and "nbytes" in n and "shape" in n]
    if not entries:
        return False
    e = rng.choice(entries)
    op = rng.randrange(4)
    if op == 0:  # zero-size tensors with absurd dims: no bytes needed
        e["shape"] = rng.choice([[2**62, 0], [0, 2**63 - 1], [0] * 65, [1] * 64 + [0], [2**40, 2**40, 0], [0, 10**30]])
        e["nbytes"] = 0
    elif op == 1:  # another dtype, flags in every combination
        e["dtype"] = rng.choice(["float32", "float64", "int64", "bool"])
        e["requires_grad"] = rng.choice([True, False, 1, None])
        e["parameter"] = rng.choice([True, False, 0, "yes"])
        size = {"float32": 4, "float64": 8, "int64": 8, "bool": 1}[e["dtype"]]
        n = 1
        for d in e["shape"] if isinstance(e["shape"], list) else []:
            n *= d if isinstance(d, int) else 1
        e["nbytes"] = n * size
    elif op == 2:  # many size-1 dims
        e["shape"] = [1] * rng.choice([32, 64, 65, 100]) + [e["nbytes"] // 8 if e.get("dtype") in ("float64", "int64") else 1]
    else:  # the same bytes seen twice (alias), or overlapping another tensor
        other = rng.choice(entries)
        for k in ("offset", "nbytes", "shape", "dtype", "crc32"):
            e[k] = other.get(k)
    return True


def mutate_json(rng: random.Random, meta):
    if rng.random() < 0.3 and mutate_tensor(rng, meta):
        return meta
    all_nodes = nodes(meta, [])
    if not all_nodes:
        return INTERESTING_VALUES[rng.randrange(len(INTERESTING_VALUES))]
    n = rng.choice(all_nodes)
    keys = list(n.keys()) if isinstance(n, dict) else list(range(len(n)))
    op = rng.randrange(8)
    if not keys or op == 0:  # add an entry
        val = rng.choice(INTERESTING_VALUES + [rng.choice(all_nodes)])
        if isinstance(n, dict):
            n[rng.choice(TAGS)] = json.loads(json.dumps(val, allow_nan=True))
        else:
            n.insert(rng.randrange(len(n) + 1), json.loads(json.dumps(val, allow_nan=True)))
        return meta
    k = rng.choice(keys)
    if op == 1:  # delete
        del n[k]
    elif op == 2:  # a new interesting value
        n[k] = json.loads(json.dumps(rng.choice(INTERESTING_VALUES), allow_nan=True))
    elif op == 3:  # nudge a number
        if isinstance(n[k], (int, float)) and not isinstance(n[k], bool):
            n[k] = n[k] + rng.choice([-65, -64, -1, 1, 63, 64, 2**32]) if isinstance(n[k], int) else -n[k]
    elif op == 4:  # copy another container here
        n[k] = json.loads(json.dumps(rng.choice(all_nodes), allow_nan=True))
    elif op == 5:  # wrap in a tag or a list, deep
        depth = rng.choice([1, 2, 50, 199, 201, 400])
        v = n[k]
        for _ in range(depth):
            v = rng.choice([[v], {"__tuple__": [v]}, {"__dict__": [["k", v]]}])
        n[k] = v
    elif op == 6 and isinstance(n, dict):  # rename a key
        n[rng.choice(TAGS)] = n.pop(k)
    else:  # shapes: many, huge or zero dims
        n[k] = rng.choice([[0] * rng.randrange(1, 80), [2**62, 0], [0, 2**64], [3, 2**31, 0], [1] * 65, [2, 3]])
    return meta


def mutate_bytes(rng: random.Random, blob: bytes, pool) -> bytes:
    b = bytearray(blob)
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        op = rng.randrange(7)
        if not b:
            b += bytes([rng.randrange(256)])
            continue
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, ord("{"), ord("["), ord('"'), ord("9")])
        elif op == 2:
            del b[i:i + rng.randrange(1, 65)]
        elif op == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif op == 4:
            del b[i:]
        elif op == 5:  # splice from another input
            other = rng.choice(pool)
            j = rng.randrange(len(other) + 1)
            b[i:] = other[j:]
        else:  # an interesting little-endian integer
            v = rng.choice(INTERESTING_INTS) & (2**64 - 1)
            b[i:i + 8] = struct.pack("<Q", v)
    return bytes(b)


def mutate(rng: random.Random, blob: bytes, pool) -> bytes:
    parts = split(blob) if len(blob) <= MAX_KEPT else None  # copies of containers grow headers fast
    if parts is None or rng.random() < 0.35:
        out = mutate_bytes(rng, blob, pool)
        if rng.random() < 0.5 and len(out) >= PREFIX.size:  # recompute the header CRC
            _, hlen, _, _ = PREFIX.unpack_from(out)
            if PREFIX.size + hlen <= len(out):
                h = out[PREFIX.size:PREFIX.size + hlen]
                out = out[:16] + struct.pack("<I", zlib.crc32(h)) + out[20:]
        return out
    meta, data = parts
    try:
        for _ in range(rng.choice([1, 1, 2, 3])):
            meta = mutate_json(rng, meta)
        if rng.random() < 0.3 and data:  # change data bytes too
            d = bytearray(data)
            d[rng.randrange(len(d))] = rng.randrange(256)
            data = bytes(d)
        if rng.random() < 0.7:
            fix_crcs(meta, data)
        return assemble(meta, data, fix_data_bytes=rng.random() < 0.9)
    except (RecursionError, ValueError):  # nested too deep for json.dumps: mutate the bytes instead
        return mutate_bytes(rng, blob, pool)


# --- the property ------------------------------------------------------------------------------


def same(a, b) -> bool:
    if isinstance(a, dt.Tensor):
        return (isinstance(b, dt.Tensor) and a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
                and np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=a.is_floating_point()))
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


def check(blob: bytes, outcomes: dict | None = None) -> str | None:
    """None when dt.load behaves; else the problem. Counts outcomes (loaded / the rejection
    reason) into `outcomes`."""
    try:
        obj = dt.load(io.BytesIO(blob))
    except CheckpointError as e:
        if outcomes is not None:
            reason = str(e).split(": ", 1)[-1][:30]
            outcomes[reason] = outcomes.get(reason, 0) + 1
        return None
    except Exception:
        return "dt.load raised something other than CheckpointError:\n" + traceback.format_exc()
    if outcomes is not None:
        outcomes["loaded"] = outcomes.get("loaded", 0) + 1
    try:
        again = dt.load(io.BytesIO(saved(obj)))
    except Exception:
        return "a loaded checkpoint did not save and load again:\n" + traceback.format_exc()
    if not same(obj, again):
        return "a loaded checkpoint changed when saved and loaded again"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("DT_FUZZ_SECONDS", 60)))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--out", default="fuzz-checkpoint-out")
    ap.add_argument("--corpus", help="also seed from the checkpoint files in this folder")
    ap.add_argument("--replay", nargs="*", help="check these inputs only")
    args = ap.parse_args()

    if args.replay is not None:
        bad = 0
        for path in args.replay:
            with open(path, "rb") as fh:
                problem = check(fh.read())
            print(f"{path}: {'ok' if problem is None else problem}")
            bad += problem is not None
        return 1 if bad else 0

    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    pool = [saved(o) for o in seed_objects()]
    if args.corpus and os.path.isdir(args.corpus):
        for name in sorted(os.listdir(args.corpus)):
            with open(os.path.join(args.corpus, name), "rb") as fh:
                pool.append(fh.read())
    for blob in pool:
        assert check(blob) is None, "a seed checkpoint does not load"
    current = os.path.join(args.out, "current")
    execs = 0
    outcomes: dict[str, int] = {}
    found: dict[str, str] = {}
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:
        blob = mutate(rng, rng.choice(pool), pool)
        with open(current, "wb") as fh:  # if the process dies, this is the input that killed it
            fh.write(blob)
        problem = check(blob, outcomes)
        execs += 1
        if problem is not None:
            # One report per distinct failure (its exception and the line raising it).
            lines = [ln for ln in problem.strip().splitlines() if ln.strip(" ^~")]
            sig = "\n".join(lines[-2:])
            if sig not in found:
                path = os.path.join(args.out, "crash-" + hashlib.sha1(blob).hexdigest())
                with open(path, "wb") as fh:
                    fh.write(blob)
                found[sig] = path
                print(f"fuzz_checkpoint: FOUND after {execs} executions (seed {args.seed}): {path}\n{problem}")
        # Keep some mutants as seeds of further mutation (stacked edits reach deeper code).
        if len(pool) < 400 and len(blob) <= MAX_KEPT and rng.random() < 0.02:
            pool.append(blob)
    os.remove(current)
    loaded = outcomes.pop("loaded", 0)
    print(f"fuzz_checkpoint: {execs} executions in {args.seconds:.0f} s (seed {args.seed}), {loaded} loaded, "
          f"{execs - loaded - len(found)} rejected with CheckpointError ({len(outcomes)} distinct reasons), "
          f"{len(found)} distinct problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
