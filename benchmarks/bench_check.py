"""How fast `muxc check` is: a generated 1,000-step workflow (TOML and DSL), and a small file.

Prints figures; asserts nothing. Targets: < 0.3 s for 1,000 steps, and `muxc check` of a small
file within 0.2 s of a bare `python -c pass`; `muxc check` (whole process) of a 10,000-step
workflow whose every step is a distinct shell command (the peer benchmark's `cp` chains) within
3 s, with the shell-syntax pass (`sh -n` and shellcheck) on a cold cache and a warm one, beside
`--no-shell`; and one shell step of 1,000 and 4,000 lines, each line a shellcheck warning, to show
the cost per finding stays flat (no quadratic term).

    .venv/bin/python benchmarks/bench_check.py [--steps 1000] [--repeat 5] [--big-steps 10000] [--big-repeat 3]
        [--baseline DIR]
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
from pathlib import Path

from timing import median_process_seconds  # benchmarks/, the script's own folder

PROMPT = """Audit the module {{ args.module }} for {area} problems.
Consider what the previous step found:

{{{{ steps.{prev}.output | trim }}}}

One bullet per finding: file:line, severity, fix. Be precise, cite the code, and
skip anything you are not sure about. Keep the whole answer under 400 words.
"""


def toml_workflow(steps: int) -> str:
    out = ['name = "bench"', 'description = "generated"', "", "[args.module]", 'default = "lib"', ""]
    out += ["[[steps]]", 'name = "s0"', 'type = "shell"', 'run = "find src -name \'*.rs\' | sort"', ""]
    for i in range(1, steps):
        if i % 4 == 0:
            out += ["[[steps]]", f'name = "s{i}"', 'type = "shell"',
                    f'run = "echo {{{{ steps.s{i - 1}.output | shell_escape }}}} | wc -l"', 'timeout = "30s"', ""]
            continue
        prompt = PROMPT.format(area=("safety", "performance", "errors")[i % 3], prev=f"s{i - 1}")
        out += ["[[steps]]", f'name = "s{i}"', 'type = "query"', 'role = "analyzer"', f'prompt = """\n{prompt}"""',
                ""]
    return "\n".join(out)


def mux_workflow(steps: int) -> str:
    out = ['workflow bench "generated"', "", 'arg module = "lib"', "", "shell s0: find src -name '*.rs' | sort", ""]
    for i in range(1, steps):
        if i % 4 == 0:
            out += [f'shell s{i} [timeout = "30s"]: echo {{{{ s{i - 1} | shell_escape }}}} | wc -l', ""]
            continue
        prompt = PROMPT.format(area=("safety", "performance", "errors")[i % 3], prev=f"s{i - 1}")
        body = "".join(f"    {line}\n" if line else "\n" for line in prompt.rstrip("\n").split("\n"))
        out += [f"query s{i} @analyzer:", body]
    return "\n".join(out)


def chains_workflow(steps: int) -> str:
    """``steps`` distinct shell commands `cp SRC DST` in chains of 10 (as bench_rebuild's ``chains``)."""
    lines = [f'workflow chains "{steps} steps"', ""]
    for step in range(steps):
        chain, k = divmod(step, 10)
        source = f"src/c{chain}.txt" if k == 0 else f"out/c{chain}_{k - 1}.txt"
        after = f', depends_on = ["c{chain}_{k - 1}"]' if k else ""
        lines += [f'shell c{chain}_{k} [inputs = ["{source}"]{after}]: cp {source} out/c{chain}_{k}.txt', ""]
    return "\n".join(lines)


def time_big_check(root: Path, steps: int, repeat: int, baseline: Path | None = None) -> None:
    """Whole `muxc check` processes on a big workflow: a cold shell-syntax cache (a fresh cache
    directory each run), a warm one, and `--no-shell`, interleaved so load on the machine hits all three.
    With ``baseline`` (a source tree of another muxc, e.g. `git archive REV | tar -x -C DIR`), that
    tree is timed too, interleaved with this one, so the two lines compare under the same load."""
    path = root / "chains.mux"
    path.write_text(chains_workflow(steps))
    # as users run it: no PYTHONDONTWRITEBYTECODE (every run would compile edited modules from source)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("XDG_") and key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])  # the venv's shellcheck
    trees = {"this tree": {}} | ({f"baseline {baseline}": {"PYTHONPATH": str(baseline.resolve())}} if baseline else {})
    argv = [sys.executable, "-m", "muxc", "check", path.name]
    timings: dict[tuple[str, str], list[float]] = {}
    for number, extra in enumerate(trees.values()):
        warm_env = env | extra | {"XDG_CACHE_HOME": str(root / f"warm-cache-{number}")}
        subprocess.run(argv, cwd=root, env=warm_env, capture_output=True, check=True)  # fills the warm cache
    for run in range(repeat):
        for number, (tree, extra) in enumerate(trees.items()):
            warm_env = env | extra | {"XDG_CACHE_HOME": str(root / f"warm-cache-{number}")}
            cold_env = env | extra | {"XDG_CACHE_HOME": str(root / f"cold-cache-{number}-{run}")}
            for kind, args, kind_env in (("cold", argv, cold_env), ("warm", argv, warm_env),
                                         ("off", [*argv, "--no-shell"], warm_env)):
                seconds = median_process_seconds(args, 1, cwd=root, env=kind_env, check=True)
                timings.setdefault((tree, kind), []).append(seconds)
    tools = "sh -n and shellcheck" if shutil.which("shellcheck", path=env["PATH"]) else "sh -n (no shellcheck)"
    for tree in trees:
        cold, warm, off = (statistics.median(timings[(tree, kind)]) for kind in ("cold", "warm", "off"))
        print(f"muxc check {steps} steps, {steps} distinct shell commands, {tools}: cold cache median "
              f"{cold:.2f}s, warm cache {warm:.2f}s, --no-shell {off:.2f}s (target <= 3s)"
              + (f" [{tree}]" if baseline else ""))


def time_one_big_step(root: Path, sizes: tuple[int, ...] = (1_000, 4_000)) -> None:
    """Whole `muxc check` processes (cold cache) on one shell step of ``size`` lines, each `cd d`
    (shellcheck SC2164 on every line): time per line should not grow with the step."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("XDG_") and key != "PYTHONDONTWRITEBYTECODE"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    figures = []
    for size in sizes:
        path = root / f"one-step-{size}.mux"
        path.write_text("workflow one\nshell s:\n" + "    cd d\n" * size)
        argv = [sys.executable, "-m", "muxc", "check", "--format", "json", path.name]
        seconds = median_process_seconds(argv, 1, cwd=root, env=env | {"XDG_CACHE_HOME": str(root / f"one-{size}")})
        figures.append(f"{size} lines {seconds:.2f}s ({seconds / size * 1000:.2f} ms per line)")
    print("muxc check of one shell step with a shellcheck warning per line, cold cache: " + ", ".join(figures))


def time_check(path: Path, repeat: int, shell: bool = False) -> list[float]:
    """In-process: parse, check and compile, as `muxc check` does, with warm imports (``shell``:
    also `sh -n` on every shell command, as `muxc check` does by default; its results are cached
    per command, so the first run pays for the processes and the others read the cache)."""
    from muxc.app.api import Project, check_paths

    project = Project(path.parent, {"HOME": str(path.parent)})
    timings = []
    for _ in range(repeat):
        from muxc.lang.jinja import analyze

        analyze.cache_clear()  # no help from an earlier run in this process
        start = time.perf_counter()
        report = check_paths(project, [path], shell=shell)
        timings.append(time.perf_counter() - start)
        assert report.errors == 0, [d.message for d in report.diagnostics][:5]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--big-steps", type=int, default=10_000, help="0 skips the big whole-process line")
    parser.add_argument("--big-repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a source tree of another muxc to time beside this one "
                        "on the big workflow, e.g. from `git archive REV | tar -x -C DIR`")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in (("bench.toml", toml_workflow(options.steps)), ("bench.mux", mux_workflow(options.steps))):
            path = root / name
            path.write_text(text)
            timings = time_check(path, options.repeat)
            print(f"check {options.steps} steps, {name[-4:]:>4} ({len(text) / 1024:.0f} KB): "
                  f"median {statistics.median(timings):.3f}s, best {min(timings):.3f}s (target < 0.3s)")
        path = root / "bench.mux"
        first, *cached = time_check(path, options.repeat + 1, shell=True)  # a fresh HOME: the cache starts empty
        shells = options.steps // 4
        print(f"check {options.steps} steps with `sh -n` on their {shells} shell commands: first run {first:.3f}s, "
              f"then (cached) median {statistics.median(cached):.3f}s")
        small = root / "small.mux"
        small.write_text('workflow small "a small one"\nshell a: echo hi\nquery b @analyzer:\n    Summarise {{ a }}\n')
        repeat = max(options.repeat, 15)  # start-up times are small and noisy: take more samples
        bare = median_process_seconds([sys.executable, "-c", "pass"], repeat, cwd=root)
        check = median_process_seconds([sys.executable, "-m", "muxc", "check", "small.mux"], repeat, cwd=root)
        print(f"python -c pass: {bare:.3f}s; muxc check small.mux: {check:.3f}s; "
              f"difference {check - bare:.3f}s (target < 0.2s)")
        if options.big_steps:
            time_big_check(root, options.big_steps, options.big_repeat, options.baseline)
            time_one_big_step(root)


if __name__ == "__main__":
    main()
