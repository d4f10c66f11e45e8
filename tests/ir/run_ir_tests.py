#!/usr/bin/env python3
"""IR text tests: runs `dtc` on every .ir file under a folder and checks its output.

Usage: python3 run_ir_tests.py --dtc PATH/TO/dtc DIR [FILTER...]

Conventions (also in tests/ir/README.md). Directives are comments, so files stay valid IR:

  // RUN: ARGS        dtc is run as `dtc ARGS FILE` (the file is appended); `%S` in ARGS is
                      replaced by the file's folder. A file may have several RUN lines; without
                      one it is `// RUN: print`.
  // CHECK: PATTERN   the RUN's stdout must contain PATTERN, each CHECK after the previous
                      match (FileCheck-lite). CHECK lines belong to the RUN line above them
                      (those before the first RUN line belong to the first RUN).
  // CHECK-NEXT: P    like CHECK, but on the line right after the previous match.
  // CHECK-NOT: P     P must not occur between the previous match and the next one (or the
                      end of the output).
  // ERROR: TEXT      the file is bad: `dtc ARGS FILE` must exit with status 1 and its stderr
                      must contain TEXT (plain text, e.g. `3:14: expected ',' or ')'`).
                      Every file in errors/ must have an ERROR line.

  Patterns are literal text except for
      {{REGEX}}        a Python regular expression,
      [[NAME:REGEX]]   a capture: matches REGEX and binds NAME to what it matched,
      [[NAME]]         the text NAME was bound to (earlier on this line or on an earlier one),
  so that checks match value names by pattern (`[[V:%[a-z0-9_]+]] = add`) not literal numbers.

Every good file (no ERROR line) is also round-tripped: `dtc print FILE` must succeed, and
printing that output again must give it back byte for byte.

The last line printed is `N passed, M failed`; the exit status is 1 when anything failed.
"""

import argparse
import os
import re
import subprocess
import sys

TIMEOUT = 120
DIRECTIVE = re.compile(r"//\s*(RUN|CHECK|CHECK-NEXT|CHECK-NOT|ERROR):(.*)$")


class TestFailure(Exception):
    pass


def parse_directives(text):
    """Returns (runs, errors): runs is a list of [args, [(kind, pattern)]]."""
    runs, errors, pending = [], [], []
    for line in text.splitlines():
        m = DIRECTIVE.search(line)
        if not m:
            continue
        kind, body = m.group(1), m.group(2).strip()
        if kind == "RUN":
            runs.append([body, pending if not runs else []])
            pending = []
        elif kind == "ERROR":
            errors.append(body)
        elif runs:
            runs[-1][1].append((kind, body))
        else:
            pending.append((kind, body))
    if not runs:
        runs.append(["print", pending])
    elif pending:
        runs[0][1].extend(pending)
    return runs, errors


def compile_pattern(pattern, variables):
    """Turns a CHECK pattern into a regex; returns (regex, names it defines)."""
    out, defined, i = [], [], 0
    token = re.compile(r"\{\{(.*?)\}\}|\[\[([A-Za-z_][A-Za-z0-9_]*)(?::(.*?))?\]\](?!\])")
    while i < len(pattern):
        m = token.search(pattern, i)
        if not m:
            out.append(re.escape(pattern[i:]))
            break
        out.append(re.escape(pattern[i:m.start()]))
        if m.group(1) is not None:
            out.append("(?:%s)" % m.group(1))
        elif m.group(3) is not None:
            name = m.group(2)
            if name in defined:
                raise TestFailure("pattern %r defines [[%s]] twice" % (pattern, name))
            out.append("(?P<%s>%s)" % (name, m.group(3)))
            defined.append(name)
        else:
            name = m.group(2)
            if name in defined:
                out.append("(?P=%s)" % name)
            elif name in variables:
                out.append(re.escape(variables[name]))
            else:
                raise TestFailure("pattern %r uses [[%s]] before it is defined" % (pattern, name))
        i = m.end()
    try:
        return re.compile("".join(out)), defined
    except re.error as e:
        raise TestFailure("bad regex in pattern %r: %s" % (pattern, e))


def line_end(text, pos):
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl


def filecheck(output, checks):
    """FileCheck-lite over `output`; raises TestFailure naming the first check that fails."""
    variables, pos, nots = {}, 0, []
    for kind, pattern in checks:
        regex, defined = compile_pattern(pattern, variables)
        if kind == "CHECK-NOT":
            nots.append((pattern, regex))
            continue
        if kind == "CHECK-NEXT":
            start = line_end(output, pos) + 1
            if start > len(output):
                raise TestFailure("CHECK-NEXT: %s\n  no line after the previous match" % pattern)
            m = regex.search(output, start, line_end(output, start))
            where = "on the line after the previous match"
        else:
            m = regex.search(output, pos)
            where = "after position %d" % pos
        if not m:
            raise TestFailure("%s: %s\n  not found %s" % (kind, pattern, where))
        for p, nre in nots:
            bad = nre.search(output, pos, m.start())
            if bad:
                raise TestFailure("CHECK-NOT: %s\n  found %r before the next match" % (p, bad.group(0)))
        nots = []
        for name in defined:
            variables[name] = m.group(name)
        pos = m.end()
    for p, nre in nots:
        bad = nre.search(output, pos)
        if bad:
            raise TestFailure("CHECK-NOT: %s\n  found %r" % (p, bad.group(0)))


def run_dtc(dtc, args, stdin=None):
    try:
        return subprocess.run([dtc] + args, input=stdin, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise TestFailure("timed out after %ds: dtc %s" % (TIMEOUT, " ".join(args)))
    except OSError as e:
        raise TestFailure("cannot run %s: %s" % (dtc, e))


def describe_exit(code):
    return "killed by signal %d" % -code if code < 0 else "exit status %d" % code


def run_file(dtc, path, in_errors_dir):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8", errors="replace")
    runs, errors = parse_directives(text)
    folder = os.path.dirname(os.path.abspath(path))

    if in_errors_dir and not errors:
        raise TestFailure("a file in errors/ needs an `// ERROR:` line")
    if errors:
        if len(runs) != 1 or runs[0][1]:
            raise TestFailure("an ERROR file takes one RUN line and no CHECK lines")
        args = runs[0][0].replace("%S", folder).split() + [path]
        r = run_dtc(dtc, args)
        stderr = r.stderr.decode("utf-8", errors="replace")
        if r.returncode != 1:
            raise TestFailure("expected exit status 1, got %s\nstderr:\n%s" % (describe_exit(r.returncode), stderr))
        for e in errors:
            if e not in stderr:
                raise TestFailure("stderr lacks the expected error\n  expected: %s\n  stderr:   %s" % (e, stderr.strip()))
        return

    # Round trip: print, print again, byte-identical.
    first = run_dtc(dtc, ["print", path])
    if first.returncode != 0:
        raise TestFailure("dtc print failed (%s):\n%s" % (describe_exit(first.returncode),
                                                           first.stderr.decode("utf-8", errors="replace")))
    second = run_dtc(dtc, ["print", "-"], stdin=first.stdout)
    if second.returncode != 0 or second.stdout != first.stdout:
        raise TestFailure("round trip failed: printing the printed IR gave\n%s\nstderr: %s\ninstead of\n%s" % (
            second.stdout.decode(errors="replace"), second.stderr.decode(errors="replace"),
            first.stdout.decode(errors="replace")))

    for args, checks in runs:
        argv = args.replace("%S", folder).split() + [path]
        r = run_dtc(dtc, argv)
        out = r.stdout.decode("utf-8", errors="replace")
        if r.returncode != 0:
            raise TestFailure("dtc %s failed (%s):\n%s" % (" ".join(argv), describe_exit(r.returncode),
                                                          r.stderr.decode("utf-8", errors="replace")))
        try:
            filecheck(out, checks)
        except TestFailure as e:
            raise TestFailure("RUN: %s\n  %s\n--- output ---\n%s" % (args, e, out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtc", required=True, help="path of the dtc binary")
    ap.add_argument("dir", help="folder of .ir files (searched recursively)")
    ap.add_argument("filter", nargs="*", help="only files whose path contains one of these")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every file's result")
    a = ap.parse_args()

    files = []
    for root, _, names in os.walk(a.dir):
        files += [os.path.join(root, n) for n in names if n.endswith(".ir")]
    files.sort()
    if a.filter:
        files = [f for f in files if any(s in f for s in a.filter)]
    if not files:
        print("no .ir files found under %s" % a.dir)
        print("0 passed, 1 failed")
        return 1

    passed = failed = 0
    for path in files:
        rel = os.path.relpath(path, a.dir)
        in_errors = rel.split(os.sep)[0] == "errors"
        try:
            run_file(a.dtc, path, in_errors)
            passed += 1
            if a.verbose:
                print("PASS %s" % rel)
        except TestFailure as e:
            failed += 1
            print("FAIL %s\n  %s" % (rel, str(e).replace("\n", "\n  ")))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
