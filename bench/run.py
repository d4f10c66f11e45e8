"""`make bench`: runs every benchmark module in bench/ (each has a main()) in turn and prints
its table. Modules whose names start with '_' are helpers, not benchmarks."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmark_modules() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))


def main() -> int:
    sys.path.insert(0, str(HERE))
    failed = []
    for path in benchmark_modules():
        print(f"== {path.stem} ==")
        start = time.perf_counter()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            module.main()
        except Exception as e:  # report and go on with the other benchmarks
            failed.append(path.stem)
            print(f"{path.stem} failed: {type(e).__name__}: {e}")
        print(f"({time.perf_counter() - start:.1f} s)\n")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
