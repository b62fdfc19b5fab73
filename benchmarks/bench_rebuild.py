"""How long a no-op rebuild of a 1,000-step workflow takes, against the same graph in raw doit.

The workflow mixes shell steps and query steps (answered by a loopback server with no delay),
each reading the previous ones. The first build fills the cache; the no-op rebuild is then timed
in-process (`prepare` + `execute`, as `muxc build` does after start-up) and as a whole process.
The raw-doit figure runs the same 1,000 tasks and dependencies, each up to date through
`config_changed`, with doit's sqlite3 backend. Targets: no-op < 0.5 s and <= 1.5x raw doit.

    .venv/bin/python benchmarks/bench_rebuild.py [--steps 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_process_seconds  # benchmarks/, the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def workflow(steps: int) -> str:
    lines = ['workflow rebuild "a generated 1,000-step workflow"', ""]
    for i in range(steps):
        upstream = f"{{{{ s{i - 1} }}}}" if i else "start"
        if i % 4 == 0:
            lines += [f"shell s{i} [inputs = [\"src/*.txt\"]]: echo step {i} {upstream}", ""]
        else:
            lines += [f"query s{i} @analyzer:", f"    Step {i}: summarise the following in one line.",
                      f"    {upstream}", ""]
    return "\n".join(lines)


def raw_doit_seconds(steps: int, directory: Path, repeat: int) -> float:
    from doit.cmd_base import TaskLoader2
    from doit.doit_cmd import DoitMain
    from doit.loader import dict_to_task
    from doit.tools import config_changed

    class Loader(TaskLoader2):
        def setup(self, opt_values: dict) -> None:
            pass

        def load_doit_config(self) -> dict:
            from muxc.run.engine import _QuietReporter  # the same silent reporter muxc gives doit

            return {"dep_file": str(directory / "raw-doit.db"), "backend": "sqlite3", "verbosity": 0,
                    "reporter": _QuietReporter}

        def load_tasks(self, cmd: object, pos_args: list) -> list:
            return [dict_to_task({"name": f"t{i}", "actions": [lambda: True],
                                  "uptodate": [config_changed(f"key-{i}")],
                                  "task_dep": [f"t{i - 1}"] if i else [], "verbosity": 0}) for i in range(steps)]

    DoitMain(Loader(), config_filenames=()).run(["-n", "4", "-P", "thread"])  # first run
    timings = []
    for _ in range(repeat):
        gc.collect()  # each real build is a fresh process: no garbage from the previous one
        start = time.perf_counter()
        DoitMain(Loader(), config_filenames=()).run(["-n", "4", "-P", "thread"])
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def muxc_seconds(project: Path, environ: dict[str, str], repeat: int) -> tuple[float, int]:
    from muxc.app.api import Project
    from muxc.app.builds import close, execute, prepare
    from muxc.run.context import BuildOptions

    timings, cached = [], 0
    for _ in range(repeat):
        gc.collect()  # each real build is a fresh process: no garbage from the previous one
        start = time.perf_counter()
        prepared = prepare(Project(project, environ), "rebuild", {}, BuildOptions(jobs=4))
        assert prepared.build is not None, [d.message for d in prepared.diagnostics]
        done = execute(prepared.build)
        close(done.build)
        timings.append(time.perf_counter() - start)
        cached = sum(1 for s in done.build.states.values() if s.status == "cached")
    return statistics.median(timings), cached


def main() -> None:
    from tests.support.llm_server import LLMServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LLMServer() as server:
        project = Path(tmp) / "project"
        (project / ".muxc" / "workflows").mkdir(parents=True)
        (project / "src").mkdir()
        (project / "src" / "a.txt").write_text("data\n")
        (project / ".muxc" / "workflows" / "rebuild.mux").write_text(workflow(options.steps))
        (project / ".muxc" / "config.toml").write_text(
            f'[backends.fake]\ncommand = "{server.openai_url}"\nmodel = "m"\nstream = false\n'
            '[roles.analyzer]\nbackends = ["fake"]\n')
        environ = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}
        os.chdir(project)  # as a user runs it
        start = time.perf_counter()
        first = subprocess.run([sys.executable, "-m", "muxc", "build", "rebuild", "-j", "8", "--quiet"],
                               cwd=project, env=environ, capture_output=True, text=True)
        print(f"first build: {time.perf_counter() - start:.1f}s, exit {first.returncode}, {server.calls} LLM calls")
        noop, cached = muxc_seconds(project, environ, options.repeat)
        print(f"muxc no-op rebuild, in process: {noop:.3f}s ({cached} of {options.steps} steps cached)")
        whole = median_process_seconds([sys.executable, "-m", "muxc", "build", "rebuild", "--quiet"], options.repeat,
                                       cwd=project, env=environ, check=True)
        print(f"muxc no-op rebuild, whole process: {whole:.3f}s (median of {options.repeat})")
        raw = raw_doit_seconds(options.steps, Path(tmp), options.repeat)
        print(f"raw doit, same graph, in process: {raw:.3f}s")
        print(f"ratio muxc/raw doit: {noop / raw:.2f}x (targets: no-op < 0.5s, ratio <= 1.5x)")
        if os.environ.get("MUXC_BENCH_PROFILE"):
            import cProfile
            import pstats

            cProfile.runctx("muxc_seconds(project, environ, 1)", globals(), locals(), "/tmp/rebuild.prof")
            pstats.Stats("/tmp/rebuild.prof").sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
