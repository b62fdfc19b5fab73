"""A scripted LLM server on loopback, for tests that need a real HTTP endpoint.

It speaks enough of two protocols to stand in for a provider or a local model server:
- OpenAI chat completions: ``POST /v1/chat/completions`` (also ``/chat/completions``), streaming
  (SSE ending in ``[DONE]``, usage in the last chunk) or a JSON document;
- Anthropic messages: ``POST /v1/messages``, streaming (``message_start`` … ``message_stop``) or JSON;
- OpenAI Responses: ``POST /v1/responses`` (also ``/responses``), streaming (``response.created`` …
  ``response.completed``) or a response object;
- ``GET /v1/models`` (and ``/models``): a model list.

Each request is recorded (``requests``: method, path, headers, parsed body, arrival time, client
address) and
answered by the first entry of the script queue (``script(...)``), else by ``responder`` (default:
``echo_reply``, which answers ``"echo: " + the first 40 characters of the prompt``). A script entry
is a ``Reply`` or a callable ``(RecordedRequest) -> Reply | None`` (None: fall through to the
responder). A ``Reply`` describes the status, headers, body (text rendered in the request's
protocol and stream mode, or explicit JSON, or raw bytes), a delay before answering, and for
streams the chunking, a stall after N events, a truncation (no terminal event) or an abrupt drop.

Malformed answers, for the "never a cached empty success" tests: ``Reply.unparseable_chunk``,
``Reply.null_content``, ``Reply.no_terminal_event``, ``Reply.deep_json`` (JSON nested 100,000 deep
in the body, an event, an error body or the model's text); ``echo_key`` answers with the
credential the request carried, as a hostile or debugging server might.

Usage::

    with LLMServer() as server:
        server.script(Reply.rate_limited(retry_after="2"), Reply(text="hello"))
        base_url = server.openai_url            # "http://127.0.0.1:<port>/v1"
        ...
        assert server.calls == 2 and server.requests[0].api_key == "sk-a"

Thread-safe: the server answers on one thread per connection; counters and the request log are
guarded by a lock. ``max_in_flight`` is measured at the server (concurrency-limit tests).
``stop()`` unblocks stalled answers and closes every open connection.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
ANTHROPIC_PATHS = ("/v1/messages", "/messages")
MODELS_PATHS = ("/v1/models", "/models")
RESPONSES_PATHS = ("/v1/responses", "/responses")  # OpenAI's Responses API


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None
    raw: bytes
    time: float  # time.monotonic() at arrival
    client: tuple[str, int] = ("", 0)  # the client's address: one per connection

    @property
    def protocol(self) -> str:
        if self.path in OPENAI_PATHS:
            return "openai"
        if self.path in ANTHROPIC_PATHS:
            return "anthropic"
        if self.path in RESPONSES_PATHS:
            return "responses"
        return "models" if self.path in MODELS_PATHS else "unknown"

    @property
    def api_key(self) -> str | None:
        """The credential sent: ``Authorization: Bearer …`` or ``x-api-key``."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        return self.headers.get("x-api-key")

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def prompt(self) -> str:
        """The text of the last user message ("" when there is none)."""
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        if isinstance(self.body, dict) and "input" in self.body:  # a Responses request
            if isinstance(self.body["input"], str):
                return self.body["input"]
            messages = self.body["input"] if isinstance(self.body["input"], list) else None
        for message in reversed(messages or []):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        return ""


@dataclass
class Reply:
    """One scripted answer. Fields not set fall back to a normal, successful answer."""

    text: str | None = None  # rendered in the request's protocol and stream mode
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None  # an explicit JSON body (wins over text)
    body: str | bytes | None = None  # a raw body (wins over json and text)
    stream: bool | None = None  # force SSE (True) or a JSON document (False); None: as requested
    usage: dict[str, Any] | None = None  # protocol-shaped usage; None: a default one
    include_usage: bool = True  # False: send no usage at all
    model: str = "test-model"
    deltas: list[str] | None = None  # how the text is split into stream deltas (default: words)
    events: list[str] | None = None  # raw SSE events, each sent followed by a blank line
    delay: float = 0.0  # seconds before the status line
    chunking: int | str | None = None  # bytes per write, or "blank-line" (split inside each "\n\n")
    chunk_delay: float = 0.0  # seconds between writes
    stall_after: int | None = None  # go silent after this many events
    stall_for: float = 3600.0  # how long a stall lasts (ends early when the server stops)
    truncate: bool = False  # leave out the terminal event(s); end the body cleanly
    drop: bool = False  # close the connection after the events, without ending the body
    bad_event: str | None = None  # a raw SSE event sent right after the first one
    content_is_null: bool = False  # the document's content is null (and no tool call)
    finish: str | None = None  # the stop reason sent; None: a normal stop ("stop" / "end_turn")

    @classmethod
    def rate_limited(cls, retry_after: str | None = None, message: str = "rate limited") -> Reply:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        return cls(
            status=429, headers=headers, json={"error": {"type": "rate_limit_error", "message": message}}
        )

    @classmethod
    def error(cls, status: int, message: str = "error", **extra: Any) -> Reply:
        return cls(status=status, json={"error": {"type": "api_error", "message": message}}, **extra)

    @classmethod
    def html(cls, status: int = 200, title: str = "502 Bad Gateway") -> Reply:
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>nginx</p></body></html>"
        return cls(status=status, body=page, headers={"content-type": "text/html"})

    @classmethod
    def unparseable_chunk(cls, text: str = "an answer with a chunk lost") -> Reply:
        """A complete stream in the request's protocol, with one event whose data is not JSON."""
        return cls(text=text, stream=True, bad_event='data: {"choices": [{"delta": {"content": "lo')

    @classmethod
    def null_content(cls) -> Reply:
        """A JSON document whose message content is null, without a tool call."""
        return cls(stream=False, content_is_null=True)

    @classmethod
    def no_terminal_event(cls, text: str = "the beginning of a long answer") -> Reply:
        """A stream that ends cleanly but without ``[DONE]``/``message_stop`` or a finish reason."""
        return cls(text=text, stream=True, truncate=True)

    @classmethod
    def deep_json(cls, where: str, depth: int = 100_000) -> Reply:
        """JSON nested ``depth`` deep: the whole 200 ``body``, one stream ``event``, a 500 ``error``
        body, or the model's ``text`` (a well-formed answer whose text is the deep JSON)."""
        deep = deep_json(depth)
        if where == "text":
            return cls(text=deep)
        if where == "event":
            return cls(events=["data: " + deep, "data: [DONE]"])
        return cls(status=500 if where == "error" else 200, body=deep, headers={"content-type": "application/json"})


Script = Reply | Callable[[RecordedRequest], "Reply | None"]


def echo_reply(request: RecordedRequest) -> Reply:
    """The default responder: deterministic from the prompt."""
    return Reply(text="echo: " + request.prompt[:40])


def echo_key(request: RecordedRequest) -> Reply:
    """A successful answer that quotes the credential the request carried (text and model)."""
    key = request.api_key or ""
    return Reply(text=f"I was called with the key {key} (Bearer {key}).", model=f"model-for-{key}")


def deep_json(depth: int = 100_000) -> str:
    """``[[[…]]]``: valid JSON nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


# -- rendering answers --------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [part + (" " if i < len(parts) - 1 else "") for i, part in enumerate(parts)] if text else []


def _openai_usage(reply: Reply, request: RecordedRequest) -> dict[str, Any]:
    if reply.usage is not None:
        return reply.usage
    prompt = len(request.prompt.split())
    output = len((reply.text or "").split())
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}


def _anthropic_usage(reply: Reply, request: RecordedRequest) -> dict[str, Any]:
    if reply.usage is not None:
        return reply.usage
    return {"input_tokens": len(request.prompt.split()), "output_tokens": len((reply.text or "").split())}


def openai_document(reply: Reply, request: RecordedRequest) -> dict[str, Any]:
    message = {"role": "assistant", "content": None if reply.content_is_null else reply.text or ""}
    document: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": reply.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish or "stop"}],
    }
    if reply.include_usage:
        document["usage"] = _openai_usage(reply, request)
    return document


def anthropic_document(reply: Reply, request: RecordedRequest) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": None if reply.content_is_null else [{"type": "text", "text": reply.text or ""}],
        "stop_reason": reply.finish or "end_turn",
    }
    if reply.include_usage:
        document["usage"] = _anthropic_usage(reply, request)
    return document


def openai_events(reply: Reply, request: RecordedRequest) -> list[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return "data: " + json.dumps({"id": "chatcmpl-test", "model": reply.model, "choices": [choice]})

    deltas = reply.deltas if reply.deltas is not None else _words(reply.text or "")
    events = [chunk({"role": "assistant"})] + [chunk({"content": d}) for d in deltas]
    if reply.truncate:
        return events
    events.append(chunk({}, reply.finish or "stop"))
    if reply.include_usage:
        events.append(
            "data: "
            + json.dumps(
                {
                    "id": "chatcmpl-test",
                    "model": reply.model,
                    "choices": [],
                    "usage": _openai_usage(reply, request),
                }
            )
        )
    return [*events, "data: [DONE]"]


def anthropic_events(reply: Reply, request: RecordedRequest) -> list[str]:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: " + json.dumps({"type": name, **data})

    usage = _anthropic_usage(reply, request) if reply.include_usage else {}
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens"}
    message = {"id": "msg_test", "type": "message", "role": "assistant", "model": reply.model, "content": []}
    if reply.include_usage:
        message["usage"] = {**start_usage, "output_tokens": 1}
    deltas = reply.deltas if reply.deltas is not None else _words(reply.text or "")
    events = [
        event("message_start", {"message": message}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *[
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": d}})
            for d in deltas
        ],
        event("content_block_stop", {"index": 0}),
    ]
    final_usage = {"output_tokens": usage["output_tokens"]} if "output_tokens" in usage else {}
    events.append(event("message_delta", {"delta": {"stop_reason": reply.finish or "end_turn"}, "usage": final_usage}))
    return events if reply.truncate else [*events, event("message_stop", {})]


def responses_document(reply: Reply, request: RecordedRequest) -> dict[str, Any]:
    text = reply.text or ""
    status = "incomplete" if reply.finish == "length" else "completed"
    output = [{"type": "message", "id": "msg_test", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    usage = reply.usage if reply.usage is not None else {
        "input_tokens": len(request.prompt.split()), "output_tokens": len(text.split()),
        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": len(request.prompt.split()) + len(text.split())}
    document: dict[str, Any] = {"id": "resp_test", "object": "response", "created_at": 0, "status": status,
                                "model": reply.model, "output": output, "error": None,
                                "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete"
                                else None, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    if reply.include_usage:
        document["usage"] = usage
    return document


def responses_events(reply: Reply, request: RecordedRequest) -> list[str]:
    final = responses_document(reply, request)
    item = final["output"][0]
    started = {**final, "status": "in_progress", "output": []}
    empty = {**item, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    deltas = reply.deltas if reply.deltas is not None else _words(reply.text or "")
    data = [{"type": "response.created", "response": started}, {"type": "response.in_progress", "response": started},
            {"type": "response.output_item.added", "output_index": 0, "item": empty},
            {"type": "response.content_part.added", "item_id": "msg_test", "output_index": 0, "content_index": 0,
             "part": part},
            *[{"type": "response.output_text.delta", "item_id": "msg_test", "output_index": 0, "content_index": 0,
               "delta": d} for d in deltas],
            {"type": "response.output_item.done", "output_index": 0, "item": item}]
    if not reply.truncate:
        data.append({"type": "response.incomplete" if final["status"] == "incomplete" else "response.completed",
                     "response": final})
    return [f"event: {d['type']}\ndata: " + json.dumps({**d, "sequence_number": i}) for i, d in enumerate(data)]


def _document(reply: Reply, request: RecordedRequest) -> bytes:
    if reply.body is not None:
        return reply.body.encode() if isinstance(reply.body, str) else reply.body
    if reply.json is not None:
        return json.dumps(reply.json).encode()
    if request.protocol == "responses":
        return json.dumps(responses_document(reply, request)).encode()
    render = anthropic_document if request.protocol == "anthropic" else openai_document
    return json.dumps(render(reply, request)).encode()


def _events(reply: Reply, request: RecordedRequest) -> list[str]:
    if reply.events is not None:
        return reply.events
    if request.protocol == "responses":
        return responses_events(reply, request)
    render = anthropic_events if request.protocol == "anthropic" else openai_events
    events = render(reply, request)
    return events if reply.bad_event is None else [events[0], reply.bad_event, *events[1:]]


def _is_stream(reply: Reply, request: RecordedRequest) -> bool:
    if reply.events is not None:
        return True
    if reply.status != 200 or reply.body is not None or reply.json is not None:
        return False
    return reply.stream if reply.stream is not None else request.stream


def _pieces(data: bytes, chunking: int | str | None) -> list[bytes]:
    if chunking is None:
        return [data]
    if chunking == "blank-line":
        # Cut between the two newlines that end each event: the worst place for a parser.
        *events, rest = data.split(b"\n\n")
        return [piece for event in events for piece in (event + b"\n", b"\n")] + ([rest] if rest else [])
    size = int(chunking)
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- the server ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._closed(self.connection)

    def do_GET(self) -> None:
        self.server.owner._handle(self)

    def do_POST(self) -> None:
        self.server.owner._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read ``requests``, not a log


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # many threads connect at once; the default 5 drops connections
    owner: LLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is normal in these tests


class LLMServer:
    """A threaded, scripted OpenAI/Anthropic server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(
        self, *, latency: float = 0.0, responder: Callable[[RecordedRequest], Reply] = echo_reply
    ) -> None:
        self.latency = latency  # seconds added before every answer
        self.responder = responder
        self.models_reply: Reply | None = None  # how GET /v1/models answers (None: a model list)
        self._lock = threading.Lock()
        self._queue: collections.deque[Script] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The root URL, e.g. for an Anthropic backend's base_url."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI-style base URL, with ``/v1``."""
        return self.url + "/v1"

    def script(self, *replies: Script) -> None:
        """Queue answers; each request takes the next one, then the responder answers."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far (completions and model listings), in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.protocol in ("openai", "anthropic", "responses")]

    @property
    def calls(self) -> int:
        """How many completion requests arrived."""
        return len(self.completions)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.max_in_flight = self.in_flight

    # -- answering -----------------------------------------------------------------------------

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _handle(self, handler: _Handler) -> None:
        request = self._record(handler)
        if request.protocol == "models" and self.models_reply is None:
            self._send_json(
                handler, 200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]}, {}
            )
            return
        if request.protocol == "models":
            self._send_bytes(
                handler,
                self.models_reply.status,
                _document(self.models_reply, request),
                self.models_reply.headers,
            )
            return
        reply = self._next_reply(request)
        self._enter()
        try:
            self._answer(handler, request, reply)
        except OSError:
            handler.close_connection = True  # the client went away; nothing to answer
        finally:
            self._leave()

    def _record(self, handler: _Handler) -> RecordedRequest:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {key.lower(): value for key, value in handler.headers.items()}
        request = RecordedRequest(
            handler.command, handler.path, headers, body, raw, time.monotonic(), handler.client_address
        )
        with self._lock:
            self._requests.append(request)
        return request

    def _next_reply(self, request: RecordedRequest) -> Reply:
        while True:
            with self._lock:
                entry = self._queue.popleft() if self._queue else None
            if entry is None:
                return self.responder(request)
            reply = entry(request) if callable(entry) else entry
            if reply is not None:
                return reply

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _answer(self, handler: _Handler, request: RecordedRequest, reply: Reply) -> None:
        if self._stopping.wait(self.latency + reply.delay):
            return
        if _is_stream(reply, request):
            self._send_stream(handler, reply, _events(reply, request))
        else:
            self._send_bytes(handler, reply.status, _document(reply, request), reply.headers)

    def _send_json(self, handler: _Handler, status: int, data: Any, headers: dict[str, str]) -> None:
        self._send_bytes(handler, status, json.dumps(data).encode(), headers)

    def _send_bytes(self, handler: _Handler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        if "content-type" not in {k.lower() for k in headers}:
            handler.send_header("content-type", "application/json")
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def _send_stream(self, handler: _Handler, reply: Reply, events: list[str]) -> None:
        handler.send_response(reply.status)
        handler.send_header("content-type", "text/event-stream")
        for key, value in reply.headers.items():
            handler.send_header(key, value)
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        sent = events if reply.stall_after is None else events[: reply.stall_after]
        self._write_chunks(handler, reply, "".join(event + "\n\n" for event in sent).encode())
        if reply.stall_after is not None:
            self._stopping.wait(reply.stall_for)
            reply = Reply(drop=True)  # a stall never ends in a proper answer
        if reply.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    def _write_chunks(self, handler: _Handler, reply: Reply, data: bytes) -> None:
        for piece in _pieces(data, reply.chunking):
            if not piece:
                continue
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            handler.wfile.flush()
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)


def free_port() -> int:
    """A loopback port nothing listens on (for connection-refused tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
