"""`muxc check` and `muxc status` on one shell step with a huge body: N `{{ }}` expressions.

Shapes of the body (``--shape``):
- ``oneline``: ``echo {{ x }}{{ x }}...`` on one line (200,000 expressions are 1.4 MB);
- ``padded``: the same line after as many spaces as it has characters (a long literal run);
- ``lines``: 20 expressions a line;
- ``unknown``: 10 a line of a name no arg declares, so every expression is a diagnostic.

Each size is timed as a user runs it (whole process, start-up included): `check`; `status` the
first time (it checks and compiles the workflow); `status` again (the plan is cached); and, after
a build of a small body of the same step, `status` showing the diff of the command. Doubling N
should about double every figure; a ratio well above 2 is superlinear work. ``--muxc DIR`` times
another checkout of muxc (say ``git archive`` of an older commit) with the same Python.
Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_big_shell.py [--sizes 50000,100000,200000] [--shape oneline]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 600


def workflow(expressions: int, shape: str) -> str:
    head = 'workflow big "one shell step with a huge body"\n\narg x = "v"\n\nshell s:\n'
    if shape in ("oneline", "padded"):
        padding = " " * (7 * expressions) + "x " if shape == "padded" else ""
        return head + "    echo " + padding + "{{ x }}" * expressions + "\n"
    per_line, name = (20, "x") if shape == "lines" else (10, "y")
    line = "    echo " + " ".join([f"{{{{ {name} }}}}"] * per_line) + " >/dev/null\n"
    return head + line * (expressions // per_line)


def seconds(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Wall-clock seconds of one run, or '>600' when it had to be stopped."""
    start = time.perf_counter()
    try:
        subprocess.run(argv, capture_output=True, cwd=cwd, env=env, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f">{TIMEOUT_S}"
    return f"{time.perf_counter() - start:.2f}"


def time_size(expressions: int, shape: str, checkout: str | None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        env = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}
        if checkout:
            env["PYTHONPATH"] = checkout
        muxc = [sys.executable, "-m", "muxc"]
        path = project / "big.mux"
        path.write_text(workflow(expressions, shape))
        figures = {"MB": f"{path.stat().st_size / 1e6:.2f}", "check": seconds([*muxc, "check", "big.mux"], project, env)}
        figures["status"] = seconds([*muxc, "status", "big.mux"], project, env)
        figures["status again"] = seconds([*muxc, "status", "big.mux"], project, env)
        path.write_text(workflow(100, shape))  # a body small enough to build (the argv limit)
        subprocess.run([*muxc, "build", "big.mux", "--quiet"], capture_output=True, cwd=project, env=env)
        path.write_text(workflow(expressions, shape))
        figures["status, diff"] = seconds([*muxc, "status", "big.mux"], project, env)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50000,100000,200000")
    parser.add_argument("--shape", choices=["oneline", "padded", "lines", "unknown"], default="oneline")
    parser.add_argument("--muxc", help="a muxc checkout to time instead of this one")
    options = parser.parse_args()
    print(f"shape {options.shape}, muxc from {options.muxc or 'this checkout'}; seconds, whole process")
    columns: list[str] = []
    for n in (int(size) for size in options.sizes.split(",")):
        figures = time_size(n, options.shape, options.muxc)
        if not columns:
            columns = list(figures)
            print(f"{'expressions':>11}  " + "  ".join(f"{c:>13}" for c in columns))
        print(f"{n:>11}  " + "  ".join(f"{figures[c]:>13}" for c in columns), flush=True)


if __name__ == "__main__":
    main()
