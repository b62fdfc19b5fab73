"""A real ``muxc serve`` child process in a temporary project, in front of the scripted loopback
LLM server (``tests/support/llm_server.py``), spoken to by the official SDKs.

``Gateway`` writes the project's ``.muxc/config.toml`` (an OpenAI backend ``oa``, an Anthropic
backend ``an``, roles over them, routes for the names SDK users hard-code), starts
``python -m muxc serve`` on a free port with its own HOME and XDG dirs (so the LLM log is the
test's), waits for ``/health`` and keeps the child's stderr (the request log) for assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.support.llm_server import LLMServer, echo_reply, free_port

ROOT = Path(__file__).resolve().parents[2]


def base_config(server: LLMServer, idle_timeout: str = "120s") -> str:
    return textwrap.dedent(f"""
        [backends.oa]
        base_url = "{server.openai_url}"
        model = "upstream-gpt"
        idle_timeout = "{idle_timeout}"
        api_key = "${{OA_KEY}}"
        max_retries = 2
        retry_delay = "10ms"

        [backends.an]
        protocol = "anthropic"
        base_url = "{server.url}"
        model = "upstream-claude"
        api_key = "${{AN_KEY}}"
        max_retries = 2
        retry_delay = "10ms"

        [backends.an.price]
        input = 1000.0
        output = 1000.0

        [roles.coder]
        backends = ["oa"]

        [roles.writer]
        backends = ["an"]

        [roles.sturdy]
        backends = ["an", "oa"]
        execution = "fallback"

        [roles.both]
        backends = ["an", "oa"]
        execution = "parallel"

        [serve.routes]
        "claude-*" = "coder"
        "gpt-*" = "writer"
        """)


def chat_chunk(delta: dict, finish: str | None = None) -> str:
    """One Chat Completions stream event (an SSE data line) carrying the delta of choice 0."""
    return "data: " + json.dumps({"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def weather_call_events() -> list[str]:
    """A Chat Completions stream: text, then a get_weather call for Oslo whose arguments come in two
    pieces, a usage chunk and the end."""
    return [chat_chunk({"role": "assistant", "content": "Let me check."}),
            chat_chunk({"tool_calls": [{"index": 0, "id": "call_9", "type": "function",
                                        "function": {"name": "get_weather", "arguments": ""}}]}),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
            chat_chunk({}, "tool_calls"),
            "data: " + json.dumps({"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}),
            "data: [DONE]"]


class Gateway:
    def __init__(self, directory: Path, config: str, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 global_args: tuple[str, ...] = ()):
        self.global_args = global_args
        self.dir = directory
        (directory / ".muxc").mkdir(parents=True, exist_ok=True)
        (directory / ".muxc" / "config.toml").write_text(config)
        self.port = free_port()
        self.env = {**os.environ, "HOME": str(directory / "home"), "XDG_DATA_HOME": str(directory / "data"),
                    "XDG_CONFIG_HOME": str(directory / "config"), "XDG_STATE_HOME": str(directory / "state"),
                    "OA_KEY": "sk-upstream-openai-secret", "AN_KEY": "sk-ant-upstream-secret", **(env or {})}
        self.stderr_path = directory / "serve.stderr"
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.clients: list = []

    def keep(self, client):
        """An SDK client closed when the test ends."""
        self.clients.append(client)
        return client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gateway:
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "muxc", "-C", str(self.dir), *self.global_args, "serve", "--port", str(self.port),
                 *self.args],
                cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"muxc serve exited {self.process.returncode}: {self.stderr()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.02)  # not a synchronisation: waiting for the port to open
        raise AssertionError(f"muxc serve did not come up: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> int:
        """Close the SDK clients the test kept, then stop the server (its exit status)."""
        for client in self.clients:
            client.close()
        return self.stop()

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture(scope="module")
def shared_server():
    with LLMServer() as server:
        yield server


@pytest.fixture
def llm_server(shared_server: LLMServer) -> LLMServer:
    """The module's upstream, with no script, no recorded requests and no latency."""
    shared_server.reset()
    shared_server.latency, shared_server.responder = 0.0, echo_reply
    return shared_server


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory, shared_server: LLMServer):
    gateway = Gateway(tmp_path_factory.mktemp("gateway"), base_config(shared_server)).start()
    yield gateway
    gateway.close()


@pytest.fixture
def gateway(shared_gateway: Gateway, llm_server: LLMServer) -> Gateway:
    """One server for the module's tests that leave no state behind (no parked or dead credential)."""
    return shared_gateway


@pytest.fixture
def fresh_gateway(tmp_path: Path, llm_server: LLMServer):
    """A server of the test's own: for tests that park or kill credentials, or stop the server."""
    gateway = Gateway(tmp_path, base_config(llm_server)).start()
    yield gateway
    gateway.close()
