"""Inputs the fuzzers found that once crashed or raised the wrong exception (tests/fuzz/, `make
fuzz`), kept as regression tests: each checkpoint in tests/fuzz/regressions/checkpoint/ must be
rejected with CheckpointError, and the seed checkpoints of tests/fuzz/corpus/checkpoint/ (written
by dt.save) must still load and save back to the same bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import dumbtorch as dt
from dumbtorch.serialization import CheckpointError

FUZZ_DIR = Path(__file__).resolve().parents[1] / "fuzz"
REGRESSIONS = sorted((FUZZ_DIR / "regressions" / "checkpoint").glob("*.dtckpt"))
SEEDS = sorted((FUZZ_DIR / "corpus" / "checkpoint").glob("*.dtckpt"))


def test_the_folders_are_not_empty():
    assert len(REGRESSIONS) >= 7 and len(SEEDS) >= 5


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_fuzzer_finding_is_rejected_with_checkpoint_error(path):
    with pytest.raises(CheckpointError, match=r"dt\.load\("):
        dt.load(path)


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_checkpoint_loads_and_saves_back_identically(path):
    obj = dt.load(path)
    buf = io.BytesIO()
    dt.save(obj, buf)
    assert buf.getvalue() == path.read_bytes()
