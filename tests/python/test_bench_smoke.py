"""The benchmark suite cannot rot: bench/run.py runs a cheap row (--quick) end to end, and every
row name it advertises is known. No timing is asserted."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_quick_exp_row_runs_and_prints_the_table():
    r = _run("--quick", "--only", "exp")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "== summary (threads=1) ==" in r.stdout
    row = next(line for line in r.stdout.splitlines() if line.startswith("| exp, 256K f32 |"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[2].endswith("GB/s"), row  # dumbtorch measured, not n/a
    assert cells[3].endswith("GB/s"), row  # torch eager beside it
    assert "time / plain copy" in row


def test_unknown_row_is_rejected():
    r = _run("--quick", "--only", "no-such-row")
    assert r.returncode == 2
    assert "unknown rows ['no-such-row']" in r.stderr
