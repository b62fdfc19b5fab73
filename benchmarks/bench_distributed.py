"""Beyond one machine: the Dask executor's cost per step, and a rebuild served by a remote cache.

1. Executor overhead per step: N independent shell steps (``echo``, reading no file) built with
   ``--force -j 1`` here, then on a real cluster (``dask scheduler`` + two ``dask worker``
   processes on loopback, distributed's own command line). The build is timed in process, after
   ``prepare`` (connecting to the cluster is paid once per build and reported apart); the
   overhead is (cluster - local) / N. Also with ``-j 8``, and raw Dask's own floor: trivial
   tasks through ``client.submit`` one at a time and ``client.map`` all at once. Target: <= 5 ms.
2. A no-op rebuild of 1,000 steps served only by a ``file://`` remote: clone A builds and
   uploads; clone B, with an empty local cache each time, builds with ``--remote`` (every step
   taken from the remote and verified) — beside B's own local no-op rebuild (the floor).
   Target: <= 2 s.
3. For the design note (docs/distributed.md): the plan's size per step on disk, and the remote's
   requests per step.

    .venv/bin/python benchmarks/bench_distributed.py [--steps 200] [--remote-steps 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_process_seconds  # benchmarks/, the script's own folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DASK = str(Path(sys.executable).parent / "dask")


def shell_workflow(steps: int) -> str:
    lines = ['workflow fan "independent shell steps"', ""]
    for i in range(steps):
        lines += [f"shell s{i} [inputs = []]: echo step {i}", ""]
    return "\n".join(lines)


def chain_workflow(steps: int) -> str:
    """bench_rebuild's mix: a shell step in four, queries between, each reading the previous."""
    lines = ['workflow chain "a generated 1,000-step workflow"', ""]
    for i in range(steps):
        upstream = f"{{{{ s{i - 1} }}}}" if i else "start"
        if i % 4 == 0:
            lines += [f"shell s{i} [inputs = [\"src/*.txt\"]]: echo step {i} {upstream}", ""]
        else:
            lines += [f"query s{i} @analyzer:", f"    Step {i}: summarise the following in one line.",
                      f"    {upstream}", ""]
    return "\n".join(lines)


def make_project(root: Path, workflow: str, name: str, server_url: str) -> Path:
    (root / ".muxc" / "workflows").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "a.txt").write_text("data\n")
    (root / ".muxc" / "workflows" / f"{name}.mux").write_text(workflow)
    (root / ".muxc" / "config.toml").write_text(f'[backends.fake]\ncommand = "{server_url}"\nmodel = "m"\n'
                                               'stream = false\n[roles.analyzer]\nbackends = ["fake"]\n')
    return root


# --- a real cluster -------------------------------------------------------------------------


def start_cluster(directory: Path, env: dict[str, str]) -> tuple[str, list[subprocess.Popen[bytes]]]:
    file = directory / "scheduler.json"
    processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)]
    while not (file.exists() and file.stat().st_size):
        time.sleep(0.05)
    time.sleep(0.2)
    address = json.loads(file.read_text())["address"]
    processes += [subprocess.Popen([DASK, "worker", address, "--nthreads", "4", "--no-dashboard", "--host",
                                    "127.0.0.1", "--local-directory", str(directory)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                  for _ in range(2)]
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
    return address, processes


def stop_cluster(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def raw_dask(address: str, tasks: int) -> tuple[float, float]:
    """Dask's own floor: ms per trivial task submitted and awaited one at a time, and per task
    when ``tasks`` are mapped at once."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.submit(abs, -1, pure=False).result()  # warm
        start = time.perf_counter()
        for i in range(200):
            client.submit(abs, -i, pure=False).result()
        serial = (time.perf_counter() - start) / 200
        start = time.perf_counter()
        client.gather(client.map(abs, range(-tasks, 0), pure=False))
        mapped = (time.perf_counter() - start) / tasks
    return serial * 1000, mapped * 1000


# --- builds in process -----------------------------------------------------------------------


def build_seconds(project: Path, workflow: str, environ: dict[str, str], repeat: int, **options: object
                  ) -> tuple[float, float, dict[str, int]]:
    """(median prepare seconds, median build seconds after prepare, step statuses of the last)."""
    from muxc.app.api import Project
    from muxc.app.builds import close, execute, prepare
    from muxc.run.context import BuildOptions

    prepares, builds, statuses = [], [], {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        prepared = prepare(Project(project, environ), workflow, {}, BuildOptions(**options))
        assert prepared.build is not None, (prepared.usage, prepared.failure, [d.message for d in prepared.diagnostics])
        ready = time.perf_counter()
        done = execute(prepared.build)
        builds.append(time.perf_counter() - ready)
        prepares.append(ready - start)
        statuses = {}
        for state in done.build.states.values():
            statuses[state.status] = statuses.get(state.status, 0) + 1
        close(done.build)
    return statistics.median(prepares), statistics.median(builds), statuses


def executor_overhead(tmp: Path, environ: dict[str, str], server_url: str, steps: int, repeat: int) -> None:
    project = make_project(tmp / "fan", shell_workflow(steps), "fan", server_url)
    os.chdir(project)
    cluster_env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C.UTF-8"}
    address, processes = start_cluster(tmp, cluster_env)
    try:
        _, local_1, seen = build_seconds(project, "fan", environ, repeat, jobs=1, force=True)
        assert seen == {"ran": steps}, seen
        connect, dask_1, seen = build_seconds(project, "fan", environ, repeat, jobs=1, force=True,
                                              executor="dask", scheduler=address)
        assert seen == {"ran": steps}, seen
        _, local_8, _ = build_seconds(project, "fan", environ, repeat, jobs=8, force=True)
        _, dask_8, _ = build_seconds(project, "fan", environ, repeat, jobs=8, force=True, executor="dask",
                                     scheduler=address)
        serial, mapped = raw_dask(address, 2000)
    finally:
        stop_cluster(processes)
    per = 1000 / steps
    print(f"\n1. executor overhead: {steps} shell steps, --force, median of {repeat}, build after prepare")
    print(f"   -j 1  local {local_1 * per:6.2f} ms/step   dask {dask_1 * per:6.2f} ms/step   "
          f"overhead {(dask_1 - local_1) * per:+.2f} ms/step (target <= 5 ms)")
    print(f"   -j 8  local {local_8 * per:6.2f} ms/step   dask {dask_8 * per:6.2f} ms/step   "
          f"overhead {(dask_8 - local_8) * per:+.2f} ms/step")
    print(f"   connecting (prepare with --executor dask, version check included): {connect:.3f} s per build")
    print(f"   raw Dask floor: {serial:.2f} ms per trivial task awaited one by one; "
          f"{mapped:.3f} ms per task for 2000 mapped at once ({1000 / mapped:.0f} tasks/s)")


def remote_rebuild(tmp: Path, environ: dict[str, str], server: object, steps: int, repeat: int) -> None:
    remote = tmp / "remote"
    a = make_project(tmp / "a", chain_workflow(steps), "chain", server.openai_url)
    b = tmp / "b"
    shutil.copytree(a, b)
    os.chdir(a)
    first = subprocess.run([sys.executable, "-m", "muxc", "build", "chain", "-j", "8", "--quiet", "--remote",
                            remote.as_uri()], cwd=a, env=environ, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    entries = sum(1 for path in (remote / "v1" / "results").rglob("*") if path.is_file())
    remote_bytes = sum(path.stat().st_size for path in (remote / "v1" / "results").rglob("*") if path.is_file())
    plans = sum(path.stat().st_size for path in (a / ".muxc" / "state" / "plans").rglob("*") if path.is_file())
    calls = server.calls
    os.chdir(b)
    timings, process_timings, compiles = [], [], []
    for _ in range(repeat):
        shutil.rmtree(b / ".muxc" / "state", ignore_errors=True)
        compiled, seconds, seen = build_seconds(b, "chain", environ, 1, jobs=4, remote=remote.as_uri())
        assert seen == {"cached": steps}, seen
        timings.append(seconds)
        compiles.append(compiled)
    for _ in range(repeat):
        shutil.rmtree(b / ".muxc" / "state", ignore_errors=True)
        process_timings.append(median_process_seconds(
            [sys.executable, "-m", "muxc", "build", "chain", "--quiet", "--remote", remote.as_uri()], 1, cwd=b,
            env=environ, check=True))
    assert server.calls == calls, "clone B asked the LLM"
    _, local_noop, seen = build_seconds(b, "chain", environ, repeat, jobs=4)
    whole_local = median_process_seconds([sys.executable, "-m", "muxc", "build", "chain", "--quiet"], repeat,
                                         cwd=b, env=environ, check=True)
    print(f"\n2. no-op rebuild of {steps} steps served only by a file:// remote (clone B, empty local cache)")
    print(f"   remote: {entries} entries, {remote_bytes / entries:.0f} bytes each on average; 0 LLM calls in B")
    print(f"   in process (after start-up): {statistics.median(timings):.3f} s   "
          f"whole process: {statistics.median(process_timings):.3f} s (target <= 2 s)")
    print(f"   of the whole process, prepare: compiling the workflow (a fresh clone has no plan cache) and "
          f"fetching what the remote's index names: {statistics.median(compiles):.3f} s")
    print(f"   floor, B's local no-op rebuild: in process {local_noop:.3f} s   whole process {whole_local:.3f} s")
    print(f"\n3. plan size on disk: {plans / steps:.0f} bytes per step ({plans / 1e6:.2f} MB for {steps} steps)")


def main() -> None:
    from tests.support.llm_server import LLMServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--remote-steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LLMServer() as server:
        environ = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}
        os.environ.update(environ)
        executor_overhead(Path(tmp), environ, server.openai_url, options.steps, options.repeat)
        remote_rebuild(Path(tmp), environ, server, options.remote_steps, options.repeat)


if __name__ == "__main__":
    main()
