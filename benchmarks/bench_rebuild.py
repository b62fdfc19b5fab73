"""muxc against doit and ninja on the same pipelines: first build, no-op, one-input edit, peak memory.

The shapes (``--shapes``), each at every size of ``--sizes`` (steps):
- ``chains``: N shell steps ``cp SRC DST`` in chains of 10; each step reads its predecessor's
  file (``inputs = [SRC]``) and depends on it;
- ``fanout``: N independent steps ``cp src/fK.txt out/fK.txt``.
Each tool builds the same pipeline from its own generator, as a user runs it (a whole process,
start-up included): muxc (``muxc build -j J``), doit (a ``dodo.py`` with ``file_dep`` and
``targets``, sqlite3 backend, ``-n J -P thread``) and ninja (a ``build.ninja``, ``-j J``). A
peer that is not installed is skipped, saying so (ninja: ``pip install ninja``; a benchmark-only
dependency). Figures: the first build (median of ``--first``); a no-op rebuild at once (one run, right after the
build: muxc hashes again the files written within 2 s of being hashed, as git does with racy
entries); a no-op rebuild (median of ``--repeat``, 2 s later and after one warm-up no-op each, so
that files just written are not racy for anyone); one input edited (the first
chain's source, or one fanout source; median of 3); and each no-op's peak RSS. For muxc also the
no-op through the full path (``MUXC_FAST_PATH=0``), and ``muxc check`` (once: it includes
``sh -n`` on each command, which its cache of 2,000 commands does not spare at 5,000 steps and more).

The issue's targets are printed beside the figures: no-op of 1,000 chains <= 0.5x doit and
<= 35 MiB; first build <= 1.5x ninja; at 10,000 steps check <= 3 s and no-op <= 1 s; first
build linear in steps (compare the per-step figures across sizes). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_rebuild.py [--sizes 1000,10000] [--shapes chains,fanout] [--jobs 2]
        [--interleaved 8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable
BIN = Path(sys.executable).parent
CHAIN = 10
RACY_S = 2.1  # muxc.run.fingerprint.RACY_NS, and a little


def pipeline(shape: str, steps: int) -> list[tuple[str, str, str, str | None]]:
    """(name, source, destination, the step it depends on) for each step."""
    out = []
    if shape == "chains":
        for chain in range(steps // CHAIN):
            for k in range(CHAIN):
                source = f"src/c{chain}.txt" if k == 0 else f"out/c{chain}_{k - 1}.txt"
                out.append((f"c{chain}_{k}", source, f"out/c{chain}_{k}.txt", f"c{chain}_{k - 1}" if k else None))
    else:
        out = [(f"f{k}", f"src/f{k}.txt", f"out/f{k}.txt", None) for k in range(steps)]
    return out


def sources(shape: str, steps: int) -> list[str]:
    return sorted({source for _, source, _, dep in pipeline(shape, steps) if dep is None})


def write_project(root: Path, shape: str, steps: int) -> None:
    steps_of = pipeline(shape, steps)
    (root / "src").mkdir(parents=True)
    (root / "out").mkdir()
    for source in sources(shape, steps):
        (root / source).write_text(f"{source}\n")
    lines = [f'workflow {shape} "{steps} steps"', ""]
    for name, source, destination, dep in steps_of:
        after = f', depends_on = ["{dep}"]' if dep else ""
        lines += [f'shell {name} [inputs = ["{source}"]{after}]: cp {source} {destination}', ""]
    (root / f"{shape}.mux").write_text("\n".join(lines))
    tasks = [f'    yield {{"name": "{name}", "actions": ["cp {source} {destination}"], "file_dep": ["{source}"], '
             f'"targets": ["{destination}"]}}' for name, source, destination, _ in steps_of]
    (root / "dodo.py").write_text('DOIT_CONFIG = {"backend": "sqlite3", "dep_file": ".doit.db", "verbosity": 0}\n\n\n'
                                  "def task_step():\n" + "\n".join(tasks) + "\n")
    rules = ["rule cp", "  command = cp $in $out", ""]
    rules += [f"build {destination}: cp {source}" for _, source, destination, _ in steps_of]
    (root / "build.ninja").write_text("\n".join(rules) + "\n")


class Tool:
    def __init__(self, name: str, build: list[str], noop: list[str], clean: list[str]) -> None:
        self.name, self.build, self.noop, self.clean = name, build, noop, clean


def tools(shape: str, jobs: int) -> list[Tool]:
    muxc = [PYTHON, "-m", "muxc", "build", f"{shape}.mux", "--quiet"]
    found = [Tool("muxc", [*muxc, "-j", str(jobs)], muxc, [".muxc", "out"])]
    try:
        import doit  # noqa: F401

        found.append(Tool("doit", [PYTHON, "-m", "doit", "-n", str(jobs), "-P", "thread"], [PYTHON, "-m", "doit"],
                          [".doit.db", "out"]))
    except ImportError:
        print("doit: not installed, skipped")
    ninja = shutil.which("ninja", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if ninja:
        found.append(Tool("ninja", [ninja, "-j", str(jobs)], [ninja], [".ninja_log", ".ninja_deps", "out"]))
    else:
        print("ninja: not installed, skipped (pip install ninja)")
    return found


TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time: a small parent, so %M is the tool's own peak


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run; a failed run is an error (its figure would lie).

    The peak comes from GNU time when there is one: a child forked from this (large) process
    would report this process's size as its own peak until it exec'd."""
    wrapped = [TIME, "-f", "maxrss %M", *argv] if TIME else argv
    start = time.perf_counter()
    child = subprocess.Popen(wrapped, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}): {stderr[-2000:]}")
    said = [line for line in stderr.splitlines() if line.startswith("maxrss ")]
    return seconds, int(said[-1].split()[1]) if said else usage.ru_maxrss


def median(runs: list[tuple[float, int]]) -> tuple[float, int]:
    return statistics.median(s for s, _ in runs), max(k for _, k in runs)


def reset(root: Path, tool: Tool) -> None:
    for name in tool.clean:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    (root / "out").mkdir(exist_ok=True)


def measure(root: Path, tool: Tool, shape: str, steps: int, env: dict[str, str], repeat: int, first: int,
            extra: Callable[[], None] | None = None) -> dict[str, tuple[float, int]]:
    firsts = []
    for _ in range(first):  # on a shared machine one sample says little
        reset(root, tool)
        firsts.append(run(tool.build, root, env))
    figures = {"first build": median(firsts)}
    # At once, muxc hashes again every file written less than 2 s before it was last hashed (git's
    # racy rule: its timestamp cannot tell a later write apart); the settled no-op is what a user
    # rebuilding after an edit meets.
    figures["no-op at once"] = run(tool.noop, root, env)
    time.sleep(RACY_S)
    run(tool.noop, root, env)  # warm-up
    figures["no-op"] = median([run(tool.noop, root, env) for _ in range(repeat)])
    edited = root / sources(shape, steps)[0]
    edits = []
    for i in range(3):
        edited.write_text(f"edit {i} {time.time_ns()}\n")
        edits.append(run(tool.noop, root, env))
    figures["one input edited"] = median(edits)
    if extra is not None:
        extra()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--shapes", default="chains,fanout")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--first", type=int, default=1, help="first builds per tool (median)")
    parser.add_argument("--interleaved", type=int, default=0, metavar="N",
                        help="also N rounds of first builds, one per tool in turn (a shared machine's load "
                             "then weighs on every tool alike)")
    options = parser.parse_args()
    print(f"{os.cpu_count()} cores; seconds (whole process, median), peak RSS of the no-op in MiB; -j {options.jobs}")
    for shape in options.shapes.split(","):
        for steps in (int(size) for size in options.sizes.split(",")):
            bench(shape, steps, options)


def bench(shape: str, steps: int, options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        write_project(root, shape, steps)
        env = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}
        # as users run them: a module edited since its .pyc was written is compiled once, not in every run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        results: dict[str, dict[str, tuple[float, int]]] = {}
        full: list[tuple[float, int]] = []
        for tool in tools(shape, options.jobs):
            def full_path(tool: Tool = tool) -> None:
                if tool.name == "muxc":  # the same no-op without the fast path, for comparison
                    run(tool.noop, root, env)
                    full.extend(run(tool.noop, root, {**env, "MUXC_FAST_PATH": "0"}) for _ in range(3))
            results[tool.name] = measure(root, tool, shape, steps, env, options.repeat, options.first, full_path)
        check = run([PYTHON, "-m", "muxc", "check", f"{shape}.mux"], root, env)  # sh -n per command included
        rounds = interleaved_firsts(root, tools(shape, options.jobs), env, options.interleaved)
    print(f"\n{shape}, {steps} steps")
    names = list(results)
    print(f"  {'':18}" + "".join(f"{name:>16}" for name in names))
    for what in ("first build", "no-op at once", "no-op", "one input edited"):
        row = "".join(f"{results[name][what][0]:>15.3f}s" for name in names)
        print(f"  {what:18}{row}")
    print(f"  {'no-op peak RSS':18}" + "".join(f"{results[name]['no-op'][1] / 1024:>13.1f}MiB" for name in names))
    muxc = results["muxc"]
    print(f"  muxc first build per step: {muxc['first build'][0] / steps * 1000:.2f} ms; "
          f"no-op through the full path: {median(full)[0]:.3f}s, {median(full)[1] / 1024:.1f} MiB; "
          f"check: {check[0]:.3f}s")
    if "doit" in results:
        print(f"  no-op muxc/doit: {muxc['no-op'][0] / results['doit']['no-op'][0]:.2f}x (target <= 0.5x at 1k chains)")
    if "ninja" in results:
        print(f"  first build muxc/ninja: {muxc['first build'][0] / results['ninja']['first build'][0]:.2f}x "
              "(target <= 1.5x)")
    if rounds:
        print(f"  first builds in {options.interleaved} interleaved rounds, median (min): " + ", ".join(
            f"{name} {statistics.median(times):.3f}s ({min(times):.3f}s)" for name, times in rounds.items()))
        if "ninja" in rounds:
            print(f"  interleaved first build muxc/ninja: "
                  f"{statistics.median(rounds['muxc']) / statistics.median(rounds['ninja']):.2f}x (target <= 1.5x)")


def interleaved_firsts(root: Path, found: list[Tool], env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Seconds of each tool's first build over ``rounds`` rounds, the tools taking turns."""
    times: dict[str, list[float]] = {tool.name: [] for tool in found} if rounds else {}
    for _ in range(rounds):
        for tool in found:
            reset(root, tool)
            times[tool.name].append(run(tool.build, root, env)[0])
    return times


if __name__ == "__main__":
    main()
