"""Regenerates the IR shown in docs/compiler.md and README.md from the compiled XOR training step
(examples/xor.py), so the docs show what dt.compile really produces.

    python3 tools/compiler_doc.py           # rewrite the generated blocks in place
    python3 tools/compiler_doc.py --check   # exit 1 if a block is stale (tests/python/test_docs.py)

A block sits between ``<!-- gen:NAME -->`` and ``<!-- /gen:NAME -->``. The LLVM IR block depends
on the host CPU, so --check skips it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "examples"))

import dumbtorch as dt  # noqa: E402
import xor  # noqa: E402

HOST_DEPENDENT = {"llvm"}


def _fence(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def _top_nodes(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if re.match(r"^  %\S+ = ", ln)]


def _excerpt(text: str, first: int, last: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[first:last] + ([f"  ... ({len(lines) - last} more lines)"] if last < len(lines) else []))


def blocks() -> dict[str, str]:
    dt.manual_seed(0)
    model = xor.make_model()
    opt = dt.optim.Adam(model.parameters(), lr=0.05)
    step = xor.make_step(model, opt)
    x, y = dt.tensor(xor.X), dt.tensor(xor.Y)
    step(x, y)  # the first call creates Adam's state (and is traced for that call only)
    step(x, y)  # the steady-state trace
    st = {s: step.ir(x, y, stage=s) for s in ("traced", "grad", "optimized", "fused")}

    # Each pass on its own, from the whole traced step.
    g = dt.ir.parse(st["grad"])
    rows = [("as traced (forward + backward + Adam update)", g)]
    for p in ("simplify", "cse", "dce", "fusion"):
        g = dt.ir.run_passes(g, p)
        rows.append((p, g))
    table = ["| after | nodes | kernel nodes |", "| --- | ---: | ---: |"]
    for name, gr in rows:
        top = _top_nodes(str(gr))
        table.append(f"| {name} | {len(top)} | {sum(' kernel @' in ln for ln in top)} |")

    fwd_lines = len(st["traced"].splitlines())
    grad = st["grad"].splitlines()
    # The backward starts after the forward's nodes: show its first lines.
    start = next(i for i, ln in enumerate(grad) if "mean(" in ln) + 1
    grad_excerpt = "\n".join(grad[:1] + ["  ... (the forward, as above)"] + grad[start:start + 24]
                             + [f"  ... ({len(grad) - start - 24} more lines: the rest of the backward, then Adam)"])

    fused = st["fused"]
    kernel_names = re.findall(r"kernel @(\w+)", fused)
    graph = dt.ir.parse(fused)
    llvm = dt.ir.emit_llvm(graph, optimized=True)
    first = kernel_names[0] if kernel_names else None
    llvm_excerpt = ""
    if first:
        m = re.search(r"define [^\n]*@dt_kernel_\d+[^\n]*\{.*?\n\}", llvm, re.S)
        m = m or re.search(r"define [^\n]*\{.*?\n\}", llvm, re.S)
        body = m.group(0).splitlines() if m else llvm.splitlines()
        llvm_excerpt = "\n".join(body[:40] + ([f"  ... ({len(body) - 40} more lines)"] if len(body) > 40 else []))

    explain = dt.ir.explain_fusion(dt.ir.parse(st["optimized"])).strip().splitlines()
    s = step.stats()
    return {
        "traced": _fence(st["traced"]),
        "grad": _fence(grad_excerpt),
        "passes": "\n".join(table),
        "fused": _fence(_excerpt(fused, 0, 40)),
        "explain": _fence("\n".join(explain[:10] + ([f"... ({len(explain) - 10} more)"] if len(explain) > 10 else []))),
        "llvm": _fence(llvm_excerpt, "llvm"),
        "readme": _fence(_excerpt(fused, 0, 24)),
        "counts": (f"The traced forward has {fwd_lines - 3} nodes; the whole step as traced has "
                   f"{len(_top_nodes(st['grad']))}; after the passes the program runs "
                   f"{s['last']['kernels']} kernels, {len(kernel_names)} of them fused."),
    }


def rewrite(path: Path, gen: dict[str, str], check: bool) -> list[str]:
    text = path.read_text()
    stale = []

    def sub(m):
        name = m.group(1)
        if name not in gen:
            return m.group(0)
        new = f"<!-- gen:{name} -->\n{gen[name]}\n<!-- /gen:{name} -->"
        if m.group(0) != new and name not in HOST_DEPENDENT:
            stale.append(f"{path.name}: {name}")
        return new if not check or name in HOST_DEPENDENT else m.group(0)

    out = re.sub(r"<!-- gen:([\w-]+) -->.*?<!-- /gen:\1 -->", sub, text, flags=re.S)
    if not check and out != text:
        path.write_text(out)
    return stale


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    gen = blocks()
    stale = []
    for p in (REPO / "docs" / "compiler.md", REPO / "README.md"):
        stale += rewrite(p, gen, args.check)
    if args.check and stale:
        print("stale generated blocks (run python3 tools/compiler_doc.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
