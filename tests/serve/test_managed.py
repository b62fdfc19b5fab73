"""Managed backends behind the gateway: started on demand, switched in batches by model, stopped at
exit; a client that vanishes mid-stream frees the upstream request and the lease."""

from __future__ import annotations

import concurrent.futures
import itertools
import textwrap
import time
from pathlib import Path

import httpx

from tests.serve.conftest import Gateway
from tests.support.llm_server import LLMServer, Reply


def managed_config(server: LLMServer, hooks: Path, *, extra: str = "") -> str:
    log, up = hooks / "hooks.log", hooks / "up"
    up.mkdir(parents=True, exist_ok=True)
    sections = []
    for name in ("m1", "m2"):
        sections.append(textwrap.dedent(f"""
            [backends.{name}]
            base_url = "{server.openai_url}"
            model = "{name}"
            [backends.{name}.managed]
            start = 'echo "start $MUXC_BACKEND" >> "{log}"; sleep 0.2; touch "{up}/$MUXC_BACKEND"'
            stop = 'echo "stop $MUXC_BACKEND" >> "{log}"; rm -f "{up}/$MUXC_BACKEND"'
            health = 'test -f "{up}/$MUXC_BACKEND"'
            health_interval = 0.02
            adopt_running = false
            """))
    return "[resources]\nslots = 1\n" + "".join(sections) + extra


def events(hooks: Path) -> list[str]:
    path = hooks / "hooks.log"
    return path.read_text().split("\n")[:-1] if path.exists() else []


def ask(gateway: Gateway, model: str) -> tuple[int, str]:
    response = httpx.post(gateway.url + "/v1/chat/completions", timeout=60,
                          json={"model": model, "messages": [{"role": "user", "content": f"to {model}"}]})
    return response.status_code, response.json()["choices"][0]["message"]["content"]


def test_two_models_in_one_slot_are_served_in_batches(tmp_path: Path, llm_server: LLMServer) -> None:
    llm_server.latency = 0.05
    hooks = tmp_path / "hooks"
    gateway = Gateway(tmp_path / "project", managed_config(llm_server, hooks)).start()
    try:
        models = ["m1", "m2"] * 4  # 8 clients, alternating
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda model: ask(gateway, model), models))
        assert answers == [(200, f"echo: to {model}") for model in models]  # nobody starved
        running = httpx.get(gateway.url + "/running").json()
        assert running["switches"] <= 2
        starts = [e for e in events(hooks) if e.startswith("start")]
        assert len(starts) <= 3  # one cold start, at most two switches
        served = [r.body["model"] for r in llm_server.completions]
        changes = sum(1 for a, b in itertools.pairwise(served) if a != b)
        assert changes <= 2  # answered in batches by model, not alternately
    finally:
        assert gateway.stop() == 0
    assert events(hooks)[-1].startswith("stop")  # the server stops what it started
    assert not list((hooks / "up").iterdir())


def test_max_wait_switches_even_while_the_resident_model_is_busy(tmp_path: Path, llm_server: LLMServer) -> None:
    llm_server.latency = 0.1
    hooks = tmp_path / "hooks"
    config = managed_config(llm_server, hooks, extra='\n[serve]\nmax_wait = "0.3s"\n')
    gateway = Gateway(tmp_path / "project", config).start()
    try:
        stop_at = time.monotonic() + 2.0

        def busy() -> int:
            count = 0
            while time.monotonic() < stop_at:  # a steady stream of m1 requests
                assert ask(gateway, "m1")[0] == 200
                count += 1
            return count

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            loaders = [pool.submit(busy) for _ in range(3)]
            time.sleep(0.5)  # not synchronisation: m1 has been resident and busy for a while
            started = time.monotonic()
            assert ask(gateway, "m2") == (200, "echo: to m2")
            waited = time.monotonic() - started
            assert all(f.result() > 0 for f in loaders)
        assert waited < stop_at - started  # served before the m1 traffic ended
    finally:
        gateway.stop()


def test_unload_and_running(tmp_path: Path, llm_server: LLMServer) -> None:
    hooks = tmp_path / "hooks"
    gateway = Gateway(tmp_path / "project", managed_config(llm_server, hooks)).start()
    try:
        assert ask(gateway, "m1")[0] == 200
        running = httpx.get(gateway.url + "/running").json()["running"]
        assert [(r["backend"], r["state"]) for r in running] == [("m1", "running")]
        assert httpx.post(gateway.url + "/unload", json={"backend": "m1"}).json() == {"stopped": ["m1"]}
        assert events(hooks)[-1] == "stop m1"
    finally:
        gateway.stop()


def test_a_vanishing_client_cancels_the_upstream_stream(tmp_path: Path, llm_server: LLMServer) -> None:
    hooks = tmp_path / "hooks"
    gateway = Gateway(tmp_path / "project", managed_config(llm_server, hooks)).start()
    try:
        llm_server.script(Reply(text="a b c d e f", stall_after=2, stream=True))
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=30, json={
                "model": "m1", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as response:
            next(response.iter_bytes())  # the first chunk arrived; now the client goes away
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_busy(gateway) or "status=499" not in gateway.stderr()):
            time.sleep(0.05)  # polling an observable end state, not ordering threads
        assert not _busy(gateway)  # the lease is released: the backend could be switched out now
        assert "model=m1 backend=m1 status=499" in gateway.stderr()
        assert ask(gateway, "m1")[0] == 200  # and everyone else is still served
    finally:
        gateway.stop()


def _busy(gateway: Gateway) -> bool:
    return any(r["in_flight"] for r in httpx.get(gateway.url + "/running").json()["running"])


def test_sigterm_drains_in_flight_requests_then_stops_managed_backends(tmp_path: Path, llm_server: LLMServer) -> None:
    hooks = tmp_path / "hooks"
    gateway = Gateway(tmp_path / "project", managed_config(llm_server, hooks)).start()
    llm_server.script(Reply(text="slow answer", delay=1.0))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(ask, gateway, "m1")
        deadline = time.monotonic() + 10
        while not llm_server.requests and time.monotonic() < deadline:
            time.sleep(0.02)  # polling until the request reached the upstream, not ordering threads
        assert gateway.stop() == 0  # SIGTERM while the answer is on its way
        assert pending.result() == (200, "slow answer")
    assert events(hooks)[-1] == "stop m1"


def test_ttl_stops_an_idle_backend(tmp_path: Path, llm_server: LLMServer) -> None:
    hooks = tmp_path / "hooks"
    config = managed_config(llm_server, hooks, extra='\n[serve]\nttl = "0.3s"\n')
    gateway = Gateway(tmp_path / "project", config).start()
    try:
        assert ask(gateway, "m1")[0] == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and events(hooks)[-1] != "stop m1":
            time.sleep(0.05)  # polling an observable end state
        assert events(hooks)[-1] == "stop m1"
        assert ask(gateway, "m1")[0] == 200  # and it starts again on demand
        assert [e for e in events(hooks) if e.startswith("start")] == ["start m1", "start m1"]
    finally:
        gateway.stop()


def test_a_backend_that_will_not_start_is_a_503_with_its_stderr(tmp_path: Path, llm_server: LLMServer) -> None:
    config = textwrap.dedent(f"""
        [backends.broken]
        base_url = "{llm_server.openai_url}"
        [backends.broken.managed]
        start = 'echo "CUDA out of memory" >&2; exit 3'
        health = 'false'
        adopt_running = false
        """)
    gateway = Gateway(tmp_path / "project", config).start()
    try:
        response = httpx.post(gateway.url + "/v1/messages", timeout=60, json={
            "model": "broken", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})
        assert response.status_code == 503 and response.json()["error"]["type"] == "overloaded_error"
        assert "CUDA out of memory" in response.json()["error"]["message"]
        assert llm_server.calls == 0
    finally:
        gateway.stop()


def test_the_next_backend_is_the_one_with_most_queued_work_per_switch_cost(tmp_path: Path,
                                                                          llm_server: LLMServer) -> None:
    hooks = tmp_path / "hooks"
    config = managed_config(llm_server, hooks)
    for name, hint in (("m3", 0.5), ("m2", 10.0)):  # m2 costs twenty times more to start
        log, up = hooks / "hooks.log", hooks / "up"
        config += textwrap.dedent(f"""
            [backends.{name}x]
            base_url = "{llm_server.openai_url}"
            model = "{name}x"
            [backends.{name}x.managed]
            start = 'echo "start $MUXC_BACKEND" >> "{log}"; touch "{up}/$MUXC_BACKEND"'
            stop = 'echo "stop $MUXC_BACKEND" >> "{log}"; rm -f "{up}/$MUXC_BACKEND"'
            health = 'test -f "{up}/$MUXC_BACKEND"'
            health_interval = 0.02
            adopt_running = false
            switch_cost_hint = {hint}
            """)
    gateway = Gateway(tmp_path / "project", config).start()
    try:
        assert ask(gateway, "m1")[0] == 200
        llm_server.script(Reply(text="slow", delay=1.0))  # m1 stays busy while the others queue
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            busy = pool.submit(ask, gateway, "m1")
            deadline = time.monotonic() + 10
            while len(llm_server.completions) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)  # polling until m1's slow request is upstream
            queued = [pool.submit(ask, gateway, "m2x")] + [pool.submit(ask, gateway, "m3x") for _ in range(3)]
            assert busy.result()[0] == 200 and all(f.result()[0] == 200 for f in queued)
        starts = [e.split()[1] for e in events(hooks) if e.startswith("start")]
        assert starts == ["m1", "m3x", "m2x"]  # m3x: 3 queued at 0.5 s beats m2x: 1 queued at 10 s
    finally:
        gateway.stop()
