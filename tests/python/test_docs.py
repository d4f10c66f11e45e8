"""The IR shown in docs/compiler.md and README.md is what the compiler produces today
(tools/compiler_doc.py regenerates it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_compiler_doc_blocks_are_current():
    r = subprocess.run([sys.executable, str(REPO / "tools" / "compiler_doc.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
