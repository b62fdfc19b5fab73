"""How much ``muxc serve`` adds over calling the upstream directly (docs/serve.md, DESIGN §Serving).

Run: ``.venv/bin/python benchmarks/bench_serve.py [--seconds 5] [--rate 300]``

Three measurements, each beside the same run straight to the upstream:
1. latency at 1 client (sequential requests): p50/p99, and what the gateway adds;
2. latency at a fixed open-loop rate below saturation (``--rate`` requests/s spread over 32
   connections): p50/p99 — closed-loop clients would only measure queueing (Little's law);
3. throughput with 32 (and 128) closed-loop clients: requests/s, and the gateway's CPU milliseconds per request
   (from /proc, user + system), which is what decides throughput.
Each for a non-streaming and a streaming (SSE) request.
``--responses``: instead, the Responses endpoint (``POST /v1/responses``, translated to the chat
upstream) at 1 client, streamed and not: added latency, and time to the first event, beside the
same run straight to the upstream.

The upstream is a trivial OpenAI-compatible ASGI app on uvicorn in its own process (a fixed answer),
so the numbers are the gateway's cost, not a model's. The load generator is a minimal keep-alive
HTTP/1.1 client on asyncio streams (an httpx client would cost more CPU than the gateway it measures).
All three processes share this machine's cores: on 2 cores the client and the upstream take CPU the
gateway would otherwise have.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

UPSTREAM = textwrap.dedent('''
    import json, sys
    DOC = json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
    def chunk(delta, finish=None):
        return ("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\\n\\n").encode()
    EVENTS = [chunk({"role": "assistant", "content": ""}), chunk({"content": "hel"}), chunk({"content": "lo"}),
              chunk({}, "stop"), ("data: " + json.dumps({"id": "c", "choices": [], "usage": {"prompt_tokens": 3,
              "completion_tokens": 1}}) + "\\n\\ndata: [DONE]\\n\\n").encode()]
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            m = await receive(); body += m.get("body", b"")
            if not m.get("more_body"): break
        if b'"stream": true' in body or b'"stream":true' in body:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            for e in EVENTS:
                await send({"type": "http.response.body", "body": e, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": DOC})
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------------


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = head.lower()
        if b"transfer-encoding: chunked" in headers:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            length = int(headers.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            await self.reader.readexactly(length)
        return status


def request_bytes(path: str, model: str, stream: bool) -> bytes:
    body = json.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def sequential(port: int, raw: bytes, count: int) -> list[float]:
    conn, times = Conn(port), []
    for _ in range(count):
        start = time.perf_counter()
        assert await conn.request(raw) == 200
        times.append(time.perf_counter() - start)
    return times


async def open_loop(port: int, raw: bytes, rate: float, seconds: float, connections: int = 32) -> list[float]:
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Conn(port))
    times: list[float] = []

    async def one(due: float) -> None:
        conn = await idle.get()
        try:
            assert await conn.request(raw) == 200
            times.append(time.perf_counter() - due)  # from when it was due: queueing counts
        finally:
            idle.put_nowait(conn)

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due)))
    await asyncio.gather(*tasks)
    return times


async def closed_loop(port: int, raw: bytes, clients: int, seconds: float) -> int:
    stop = time.perf_counter() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        conn = Conn(port)
        while time.perf_counter() < stop:
            assert await conn.request(raw) == 200
            done += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--count", type=int, default=1000, help="sequential requests at 1 client")
    parser.add_argument("--responses", action="store_true",
                        help="instead: the Responses endpoint at 1 client (added latency, time to first event)")
    parser.add_argument("--choices", action="store_true",
                        help="instead: what the choices cost (plain ASGI vs Starlette; httpx vs aiohttp)")
    args = parser.parse_args()
    if args.choices:
        return choices()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    up_port, gw_port = free_port(), free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    (work / "upstream.py").write_text(UPSTREAM)
    (work / ".muxc").mkdir()
    (work / ".muxc" / "config.toml").write_text(
        f'[backends.up]\nbase_url = "http://127.0.0.1:{up_port}/v1"\nmodel = "m"\n')
    env = {**os.environ, "XDG_DATA_HOME": str(work / "data"), "HOME": str(work)}
    upstream = subprocess.Popen([PY, str(work / "upstream.py"), str(up_port)], env=env)
    gateway = subprocess.Popen([PY, "-m", "muxc", "-C", str(work), "serve", "--port", str(gw_port)], env=env,
                               stderr=subprocess.DEVNULL)
    try:
        wait_port(up_port)
        wait_port(gw_port)
        print(f"muxc serve benchmark ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start)")
        for stream in (False, True):
            if args.responses:
                run_responses(up_port, gw_port, stream, args)
            else:
                run(up_port, gw_port, gateway.pid, stream, args)
    finally:
        gateway.terminate()
        upstream.terminate()
        gateway.wait()
        upstream.wait()


def run(up_port: int, gw_port: int, gw_pid: int, stream: bool, args: argparse.Namespace) -> None:
    kind = "streaming" if stream else "non-streaming"
    direct = request_bytes("/v1/chat/completions", "m", stream)
    via = request_bytes("/v1/chat/completions", "up", stream)
    asyncio.run(sequential(gw_port, via, 200))  # warm up (connections, first relay)
    print(f"\n== {kind}")
    d1 = asyncio.run(sequential(up_port, direct, args.count))
    g1 = asyncio.run(sequential(gw_port, via, args.count))
    line("1 client", d1, g1)
    dr = asyncio.run(open_loop(up_port, direct, args.rate, args.seconds))
    gr = asyncio.run(open_loop(gw_port, via, args.rate, args.seconds))
    line(f"open loop {args.rate:.0f} req/s", dr, gr)
    for clients in (32, 128):
        direct_done = asyncio.run(closed_loop(up_port, direct, clients, args.seconds))
        cpu = cpu_seconds(gw_pid)
        via_done = asyncio.run(closed_loop(gw_port, via, clients, args.seconds))
        cpu_ms = (cpu_seconds(gw_pid) - cpu) * 1000 / max(1, via_done)
        print(f"  {clients:3d} closed-loop clients: direct {direct_done / args.seconds:7.0f} req/s   "
              f"via muxc serve {via_done / args.seconds:7.0f} req/s   gateway CPU {cpu_ms:.2f} ms/request")


def responses_bytes(model: str, stream: bool) -> bytes:
    body = json.dumps({"model": model, "stream": stream, "input": "hi"}).encode()
    return (f"POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def first_events(port: int, raw: bytes, count: int) -> list[float]:
    """Seconds to the first chunk of each (chunked) streamed answer, on fresh connections."""
    times = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        writer.write(raw)
        await reader.readuntil(b"\r\n\r\n")
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(size)
        times.append(time.perf_counter() - start)
        writer.close()
    return times


def run_responses(up_port: int, gw_port: int, stream: bool, args: argparse.Namespace) -> None:
    kind = "streaming" if stream else "non-streaming"
    direct = request_bytes("/v1/chat/completions", "m", stream)
    via = responses_bytes("up", stream)
    asyncio.run(sequential(gw_port, via, 200))  # warm up
    print(f"\n== Responses endpoint, {kind} (direct: the chat upstream)")
    straight = asyncio.run(sequential(up_port, direct, args.count))
    line("1 client", straight, asyncio.run(sequential(gw_port, via, args.count)))
    chat = request_bytes("/v1/chat/completions", "up", stream)
    line("1 client, chat endpoint", straight, asyncio.run(sequential(gw_port, chat, args.count)))
    if stream:
        count = max(50, args.count // 4)
        line("first event", asyncio.run(first_events(up_port, direct, count)),
             asyncio.run(first_events(gw_port, via, count)))


def line(what: str, direct: list[float], via: list[float]) -> None:
    d50, d99, g50, g99 = pct(direct, .5), pct(direct, .99), pct(via, .5), pct(via, .99)
    print(f"  {what:24s} direct p50 {d50:6.2f} ms p99 {d99:6.2f} ms | via muxc serve p50 {g50:6.2f} ms "
          f"p99 {g99:6.2f} ms | added p50 {g50 - d50:5.2f} ms p99 {g99 - d99:5.2f} ms "
          f"(mean {statistics.mean(via) * 1000 - statistics.mean(direct) * 1000:.2f} ms)")


# -- what the choices cost ------------------------------------------------------------------------

PLAIN_APP = textwrap.dedent('''
    import json, sys, uvicorn
    DOC = json.dumps({"ok": True}).encode()
    async def app(scope, receive, send):
        if scope["type"] != "http": return
        body = b""
        while True:
            m = await receive(); body += m.get("body", b"")
            if not m.get("more_body"): break
        json.loads(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": DOC})
    uvicorn.run(app, port=int(sys.argv[1]), log_level="warning", access_log=False)
''')
STARLETTE_APP = textwrap.dedent('''
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    async def chat(request):
        await request.json()
        return JSONResponse({"ok": True})
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    uvicorn.run(app, port=int(sys.argv[1]), log_level="warning", access_log=False)
''')


def choices() -> None:
    """Server CPU per request of each framework on uvicorn; client CPU per request of each HTTP client."""
    import importlib.util

    work = Path(tempfile.mkdtemp(prefix="bench-serve-choices-"))
    raw = request_bytes("/v1/chat/completions", "m", False)
    frameworks = [("plain ASGI", PLAIN_APP)]
    if importlib.util.find_spec("starlette"):
        frameworks.append(("Starlette", STARLETTE_APP))
    for name, source in frameworks:
        path = work / f"app_{name.split()[0].lower()}.py"
        path.write_text(source)
        port = free_port()
        server = subprocess.Popen([PY, str(path), str(port)])
        try:
            wait_port(port)
            asyncio.run(closed_loop(port, raw, 8, 1))
            cpu = cpu_seconds(server.pid)
            done = asyncio.run(closed_loop(port, raw, 32, 4))
            print(f"server {name:12s} {done / 4:7.0f} req/s   server CPU {(cpu_seconds(server.pid) - cpu) * 1000 / done:.3f} "
                  "ms/request (32 closed-loop clients)")
        finally:
            server.terminate()
            server.wait()
    (work / "upstream.py").write_text(UPSTREAM)
    port = free_port()
    upstream = subprocess.Popen([PY, str(work / "upstream.py"), str(port)])
    try:
        wait_port(port)
        for name, run_client in (("httpx, 1 pool", lambda: _httpx(port, 1)), ("httpx, 8 pools", lambda: _httpx(port, 8)),
                                 ("aiohttp", lambda: _aiohttp(port))):
            ms, rps = asyncio.run(run_client())
            print(f"client {name:14s} {rps:7.0f} req/s   client CPU {ms:.3f} ms/request (32 concurrent)")
    finally:
        upstream.terminate()
        upstream.wait()


def _self_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()


async def _measure(one) -> tuple[float, float]:
    semaphore = asyncio.Semaphore(32)

    async def limited(k: int) -> None:
        async with semaphore:
            await one(k)

    await asyncio.gather(*(limited(k) for k in range(200)))
    count, cpu, start = 3000, _self_cpu(), time.perf_counter()
    await asyncio.gather(*(limited(k) for k in range(count)))
    return (_self_cpu() - cpu) * 1000 / count, count / (time.perf_counter() - start)


async def _httpx(port: int, shards: int) -> tuple[float, float]:
    import httpx

    clients = [httpx.AsyncClient(trust_env=False) for _ in range(shards)]
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    async def one(k: int) -> None:
        async with clients[k % shards].stream("POST", url, content=BODY) as response:
            async for _ in response.aiter_bytes():
                pass

    try:
        return await _measure(one)
    finally:
        for client in clients:
            await client.aclose()


async def _aiohttp(port: int) -> tuple[float, float]:
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(k: int) -> None:
            async with session.post(url, data=BODY) as response:
                async for _ in response.content.iter_any():
                    pass

        return await _measure(one)


if __name__ == "__main__":
    main()
