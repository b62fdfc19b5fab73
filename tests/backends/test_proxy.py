"""HTTP backends honour HTTP(S)_PROXY and NO_PROXY from the environment.

muxc gives httpx its own transport (for prompt Ctrl-C), which makes httpx ignore proxy
variables; the transport applies them itself. A real forward proxy on loopback relays to the
scripted server, so the test sees the request go through it.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from muxc.backends.base import Cancel, CompletionRequest


class _Forward(BaseHTTPRequestHandler):
    """A forward proxy for plain HTTP: relays absolute-form requests to 127.0.0.1."""

    seen: list[str]

    def do_POST(self) -> None:
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        upstream = http.client.HTTPConnection("127.0.0.1", target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
        upstream.request("POST", target.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _ask(make_backend, url: str) -> str:
    backend = make_backend(base_url=url, model="m", stream=False)
    return backend.complete(CompletionRequest(prompt="hello through the proxy"), Cancel()).text


def test_a_request_goes_through_the_proxy_the_environment_names(make_backend, llm_server, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    # a name that is not loopback, so the proxy is used; the proxy relays it to the server
    url = f"http://llm.example.test:{llm_server.port}/v1"
    assert _ask(make_backend, url).startswith("echo: hello through the proxy")
    assert proxy.seen == [f"http://llm.example.test:{llm_server.port}/v1/chat/completions"]


def test_no_proxy_and_loopback_go_direct(make_backend, llm_server, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    _ask(make_backend, llm_server.openai_url)  # loopback: never through a proxy
    monkeypatch.setenv("NO_PROXY", "localhost")
    _ask(make_backend, f"http://localhost:{llm_server.port}/v1")
    assert proxy.seen == [] and llm_server.calls == 2
