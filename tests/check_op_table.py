"""Checks that the op table in docs/ir.md is what `dtc ops --markdown` prints from the registry.

Run by ctest. With --write, regenerates the table in place instead.
"""
import argparse
import pathlib
import subprocess
import sys

BEGIN, END = "<!-- ops:begin -->", "<!-- ops:end -->"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtc", required=True)
    ap.add_argument("--doc", default=str(pathlib.Path(__file__).resolve().parent.parent / "docs" / "ir.md"))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    table = subprocess.run([args.dtc, "ops", "--markdown"], check=True, capture_output=True, text=True).stdout
    doc = pathlib.Path(args.doc)
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        print(f"{doc}: markers {BEGIN} / {END} are missing", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    wanted = "\n" + table.strip() + "\n"
    if args.write:
        doc.write_text(head + BEGIN + wanted + END + tail)
        return 0
    if current != wanted:
        print(f"{doc}: the op table is stale; run: python3 tests/check_op_table.py --dtc build/dtc --write",
              file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
