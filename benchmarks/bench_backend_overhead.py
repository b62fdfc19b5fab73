"""What the HTTP backend costs on top of a bare ``httpx.Client.post``.

Against the loopback test server answering after 100 ms, run in a child process so that its
threads do not compete with the client's for the GIL:
1. sequential, N calls each: a bare ``httpx.Client.post`` of the same body, then ``HttpBackend``
   without and with streaming; the per-call overhead is the difference of the means;
2. 500 calls over 32 threads through one backend (``max_concurrent`` high), wall time against
   the ideal ``ceil(500 / 32) × 100 ms``.

Run: ``.venv/bin/python benchmarks/bench_backend_overhead.py`` (prints figures, asserts nothing).
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from muxc.backends.base import Cancel, CompletionRequest
from muxc.backends.registry import create_backend
from muxc.config.schema import BackendConfig
from tests.support.llm_server import LLMServer

LATENCY = 0.100
SEQUENTIAL = 50
PARALLEL_CALLS = 500
THREADS = 32


class RemoteServer:
    """``LLMServer`` in a child process; ``openai_url`` as in the tests."""

    def __enter__(self) -> RemoteServer:
        self._parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        if not self._parent.poll(10):
            raise RuntimeError("the benchmark server did not start")
        self.openai_url = self._parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._parent.send("stop")
        self._process.join(timeout=5)


def _serve(pipe) -> None:
    with LLMServer(latency=LATENCY) as server:
        pipe.send(server.openai_url)
        pipe.recv()


def timed(call, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return times


def bare(server: RemoteServer, n: int) -> list[float]:
    body = {"model": "m", "messages": [{"role": "user", "content": "p"}]}
    with httpx.Client() as client:
        client.post(server.openai_url + "/chat/completions", json=body)  # warm the connection
        return timed(lambda i: client.post(server.openai_url + "/chat/completions", json=body).json(), n)


def backend_calls(server: RemoteServer, n: int, stream: bool) -> list[float]:
    config = BackendConfig(name="bench", base_url=server.openai_url, model="m", stream=stream)
    backend = create_backend(config, project_root=".", environ={})
    try:
        backend.complete(CompletionRequest("p"), Cancel())
        return timed(lambda i: backend.complete(CompletionRequest(f"p{i}"), Cancel()), n)
    finally:
        backend.close()


def parallel(call) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(call, range(PARALLEL_CALLS)))
    return time.perf_counter() - started


def parallel_bare(server: RemoteServer) -> float:
    body = {"model": "m", "messages": [{"role": "user", "content": "p"}]}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=THREADS)
    with httpx.Client(limits=limits) as client:
        return parallel(lambda i: client.post(server.openai_url + "/chat/completions", json=body).json())


def parallel_backend(server: RemoteServer, stream: bool) -> float:
    config = BackendConfig(
        name="bench", base_url=server.openai_url, model="m", max_concurrent=256, stream=stream
    )
    backend = create_backend(config, project_root=".", environ={})
    cancel = Cancel()
    try:
        return parallel(lambda i: backend.complete(CompletionRequest(f"p{i}"), cancel))
    finally:
        backend.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def main() -> None:
    with RemoteServer() as server:
        reference = statistics.mean(bare(server, SEQUENTIAL))
        print(f"sequential, {SEQUENTIAL} calls, server latency {ms(LATENCY)}")
        print(f"  bare httpx.Client.post        mean {ms(reference)}")
        for stream in (False, True):
            mean = statistics.mean(backend_calls(server, SEQUENTIAL, stream))
            label = "HttpBackend stream=true " if stream else "HttpBackend stream=false"
            print(f"  {label}      mean {ms(mean)}   overhead {ms(mean - reference)}/call")
        ideal = math.ceil(PARALLEL_CALLS / THREADS) * LATENCY
        print(f"parallel, {PARALLEL_CALLS} calls over {THREADS} threads (ideal {ideal:.2f} s)")
        runs = [("bare httpx.Client.post  ", lambda: parallel_bare(server))]
        runs += [
            (f"HttpBackend stream={str(stream).lower():5}", lambda s=stream: parallel_backend(server, s))
            for stream in (False, True)
        ]
        for label, run in runs:
            wall = run()
            print(f"  {label}      wall {wall:5.2f} s   {PARALLEL_CALLS / wall:5.0f} calls/s")


if __name__ == "__main__":
    main()
