"""Fan-out: 500 independent query steps against a loopback server answering in 100 ms, at -j 32.

The latency bound is 500 / 32 x 0.1 s = 1.56 s; the target is a wall time within 1.5x of it.
Also prints the per-call overhead of a muxc build over bare httpx calls made the same way (32
threads, one client). The server runs in a child process so it does not compete for our GIL.

    .venv/bin/python benchmarks/bench_fanout.py [--steps 500] [--jobs 32] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.support.llm_server import LLMServer
server = LLMServer(latency={latency}).start()
print(server.openai_url, flush=True)
sys.stdin.read()
"""


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    root = str(Path(__file__).resolve().parents[1])
    child = subprocess.Popen([sys.executable, "-c", SERVER.format(root=root, latency=latency)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def workflow(steps: int) -> str:
    lines = ['workflow fanout "independent queries"', ""]
    for i in range(steps):
        lines += [f"query q{i} @analyzer: Question number {i}: answer briefly.", ""]
    return "\n".join(lines)


def bare_httpx(url: str, calls: int, jobs: int) -> float:
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "stream": False}
    with httpx.Client(limits=httpx.Limits(max_connections=jobs, max_keepalive_connections=jobs)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda _: client.post(f"{url}/chat/completions", json=body).raise_for_status(),
                          range(calls)))
        return time.perf_counter() - start


def muxc_build(url: str, steps: int, jobs: int) -> tuple[float, int]:
    from muxc.app.api import Project
    from muxc.app.builds import close, execute, prepare
    from muxc.run.context import BuildOptions

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "p"
        (project / ".muxc" / "workflows").mkdir(parents=True)
        (project / ".muxc" / "workflows" / "fanout.mux").write_text(workflow(steps))
        (project / ".muxc" / "config.toml").write_text(
            f'[backends.fake]\ncommand = "{url}"\nmodel = "m"\nmax_concurrent = {jobs}\n'
            '[roles.analyzer]\nbackends = ["fake"]\n')
        environ = {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/c"}
        os.chdir(project)
        gc.collect()
        start = time.perf_counter()
        prepared = prepare(Project(project, environ), "fanout", {}, BuildOptions(jobs=jobs))
        assert prepared.build is not None, [d.message for d in prepared.diagnostics]
        prepared_at = time.perf_counter()
        done = execute(prepared.build)
        elapsed = time.perf_counter() - start
        print(f"  (of which: check and compile {prepared_at - start:.2f}s, run {elapsed - prepared_at + start:.2f}s)")
        ran = sum(1 for s in done.build.states.values() if s.status == "ran")
        close(done.build)
        return elapsed, ran


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.1)
    options = parser.parse_args()
    child, url = start_server(options.latency)
    try:
        bound = options.steps / options.jobs * options.latency
        bare = bare_httpx(url, options.steps, options.jobs)
        wall, ran = muxc_build(url, options.steps, options.jobs)
        print(f"latency bound ({options.steps} x {options.latency:g}s / {options.jobs}): {bound:.2f}s")
        print(f"bare httpx, {options.jobs} threads, one client: {bare:.2f}s")
        print(f"muxc build -j {options.jobs}: {wall:.2f}s ({ran} steps ran); {wall / bound:.2f}x the bound "
              f"(target <= 1.5x)")
        print(f"muxc's overhead over bare httpx: {(wall - bare) / options.steps * 1000:.1f} ms per call "
              f"(wall-clock, amortised over {options.jobs} threads)")
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=10)


if __name__ == "__main__":
    main()
