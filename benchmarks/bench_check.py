"""How fast `muxc check` is: a generated 1,000-step workflow (TOML and DSL), and a small file.

Prints figures; asserts nothing. Targets: < 0.3 s for 1,000 steps, and `muxc check` of a small
file within 0.2 s of a bare `python -c pass`.

    .venv/bin/python benchmarks/bench_check.py [--steps 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
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


if __name__ == "__main__":
    main()
