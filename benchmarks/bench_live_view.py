"""How long the live view takes to draw a big build: N shell steps, served from the cache.

A first build fills the cache (on a pipe); then each timed build runs as a whole process with its
stderr on a pseudo-terminal (COLUMNS x LINES), as a user at a terminal sees it, beside the same
build on a pipe (no live view) in the same run: all steps cached (the no-op path), and all but
one cached (the last step's command changes each time: the full build path, the view drawn
while it runs). Prints figures; asserts nothing. Target: the terminal costs about what the pipe
costs, whatever N.

    .venv/bin/python benchmarks/bench_live_view.py [--steps 1000] [--repeat 5] [--lines 40]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_project(root: Path, steps: int, last: str = "last") -> None:
    lines = [f'workflow w "{steps} steps"', ""]
    lines += [f"shell s{number}: echo {number}\n" for number in range(steps - 1)]
    lines.append(f"shell s{steps - 1}: echo {last}\n")
    (root / "w.mux").write_text("\n".join(lines))


def on_terminal(argv: list[str], root: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds and bytes drawn for one run with stderr on a pty (drained as a terminal would)."""
    leader, follower = pty.openpty()
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=follower,
                               stdin=subprocess.DEVNULL)
    os.close(follower)
    drawn = 0
    while True:
        if select.select([leader], [], [], 0.05)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed its end
                chunk = b""
            drawn += len(chunk)
            if not chunk and process.poll() is not None:
                break
        elif process.poll() is not None:
            break
    process.wait()
    elapsed = time.perf_counter() - start
    os.close(leader)
    if process.returncode != 0:
        raise SystemExit(f"the build failed ({process.returncode})")
    return elapsed, drawn


def on_pipe(argv: list[str], root: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=root, env=env, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lines", type=int, default=40)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        write_project(root, options.steps)
        env = {**os.environ, "COLUMNS": "120", "LINES": str(options.lines), "TERM": "xterm"}
        argv = [sys.executable, "-m", "muxc", "build", "w.mux", "-j", "2"]
        subprocess.run(argv, cwd=root, env=env, capture_output=True, check=True)  # fills the cache
        for case in ("all cached", "one to run"):
            terminal, pipe, drawn = [], [], []
            for run in range(options.repeat):
                if case == "one to run":
                    write_project(root, options.steps, f"terminal{run}")
                seconds, size = on_terminal(argv, root, env)
                terminal.append(seconds)
                drawn.append(size)
                if case == "one to run":
                    write_project(root, options.steps, f"pipe{run}")
                pipe.append(on_pipe(argv, root, env))
            print(f"build {options.steps} steps, {case}, whole process: on a {options.lines}-line terminal median "
                  f"{statistics.median(terminal):.2f}s ({statistics.median(drawn) / 1024:.0f} KiB drawn), "
                  f"on a pipe median {statistics.median(pipe):.2f}s")


if __name__ == "__main__":
    main()
