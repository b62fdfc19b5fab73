"""One chat request, either protocol in, either protocol upstream: route, translate, relay, answer,
account.

The steps: the client's JSON is checked (a 400 names the field); the budget (429); the route (404
listing the models); then each backend of the route per the role's execution (``first``;
``fallback`` moving on only for the kinds in ``fallback_on``; ``parallel``: every backend asked at
once, the first answer wins and the others are cancelled). A managed backend is admitted by the
switch scheduler first. The upstream answer is passed through when the protocols match and
translated when they differ; streams are converted event by event as they arrive. Whatever
happens, one LLM log row, the metrics and one stderr line record the request, and the upstream
request, its concurrency slot and its managed lease are released (a client that disconnects
cancels all three).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from muxc.app.gateway import Gateway, Opened, RelayError, Route, SseParser, UnknownModel, Usage
from muxc.base.cancel import Cancel
from muxc.serve import responses_reverse, streams, translate
from muxc.serve.metrics import Metrics
from muxc.serve.schedule import SwitchScheduler
from muxc.serve.wire import error_body, status_for

Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class Reject(Exception):
    """A request answered with an error before any upstream call."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.headers = status, message, param, headers or []


@dataclass
class Outcome:
    """What the request log, the LLM log and the metrics need to know."""

    status: int = 200
    backend: str = "-"
    error: str | None = None
    kind: str = "ok"
    tally: streams.Tally = field(default_factory=streams.Tally)
    attempts: int = 1


@dataclass
class Services:
    gateway: Gateway
    metrics: Metrics
    scheduler: SwitchScheduler


class ChatRequest:
    def __init__(self, services: Services, protocol: str, body: dict[str, Any], headers: dict[str, str],
                 endpoint: str, send: Send, cancel: Cancel) -> None:
        self.s = services
        self.protocol = protocol  # the client's
        self.body = body
        self.headers = headers
        self.endpoint = endpoint
        self.send = send
        self.cancel = cancel
        self.started = time.time()
        self.clock = time.monotonic()
        self.model = str(body.get("model", ""))
        self.stream = bool(body.get("stream"))
        self.outcome = Outcome()
        self.responded = False
        self.label = "(unknown)"  # the metrics' model label: a client's name only once it routed
        self.notes: list[str] = []  # what the translation left out on purpose, for the log line

    # -- the whole request -------------------------------------------------------------------

    async def run(self) -> None:
        counted = False
        try:
            route = self._admit()
            self.label = route.label  # a name or pattern from the config: the labels stay bounded
            self.s.metrics.in_flight.labels(self.label).inc()
            counted = True
            await self._serve(route)
        except Reject as reject:
            await self._reject(reject)
        except RelayError as error:
            await self._reject(self._upstream_reject(error))
        except asyncio.CancelledError:
            self.outcome.status, self.outcome.kind = 499, "cancelled"
            self.outcome.error = "the client disconnected"
            raise
        except Exception as problem:  # a bug must cost one request, never the server
            self.outcome.kind = "error"
            await self._reject(Reject(500, f"muxc serve failed on this request: {type(problem).__name__}: "
                                      f"{problem}"))
        finally:
            if counted:
                self.s.metrics.in_flight.labels(self.label).dec()
            self._account()

    def _admit(self) -> Route:
        if not isinstance(self.body.get("model"), str) or not self.model:
            raise Reject(400, "model: required, a string naming a role, backend or alias", "model")
        if not isinstance(self.body.get("messages"), list):
            raise Reject(400, "messages: required, a list of messages", "messages")
        if "stream" in self.body and not isinstance(self.body["stream"], bool):
            raise Reject(400, "stream: must be a boolean", "stream")
        over = self.s.gateway.over_budget()
        if over:
            raise Reject(429, over)
        try:
            return self.s.gateway.route(self.model)
        except UnknownModel as unknown:
            raise Reject(404, str(unknown), "model") from None

    async def _serve(self, route: Route) -> None:
        if route.execution == "parallel" and len(route.backends) > 1:
            opened, release, translator = await self._race(route)
        else:
            opened, release, translator = await self._in_order(route)
        try:
            self.outcome.backend, self.outcome.attempts = opened.backend, opened.attempts
            if self.stream and opened.stream:
                await self._relay_stream(opened, translator)
            else:
                await self._relay_document(opened, translator)
        finally:
            await opened.close()
            if release is not None:
                release()

    # -- choosing and opening the upstream ------------------------------------------------------

    async def _in_order(self, route: Route) -> tuple[Opened, Any, Any]:
        last: RelayError | None = None
        for name in route.backends:
            try:
                return await self._open(name)
            except RelayError as error:
                last = error
                self._count_failure(name, error)
                if route.execution != "fallback" or not _moves_on(error.kind, route.fallback_on):
                    break
        assert last is not None
        raise self._upstream_reject(last)

    async def _race(self, route: Route) -> tuple[Opened, Any, Any]:
        tasks = [asyncio.ensure_future(self._open(name)) for name in route.backends]
        last: RelayError | None = None
        try:
            for finished in asyncio.as_completed(tasks):
                try:
                    winner = await finished
                except RelayError as error:
                    last = error
                    continue
                for task in tasks:
                    task.cancel()
                await _close_losers(tasks, winner)
                return winner
        finally:
            for task in tasks:
                task.cancel()
        assert last is not None
        raise self._upstream_reject(last)

    async def _open(self, name: str) -> tuple[Opened, Any, Any]:
        gateway = self.s.gateway
        relay = gateway.relay(name)
        body, translator = self._upstream_body(relay.protocol)
        if translator == "a2o" and "max_tokens" in relay.config.params and not _limit_given(self.body):
            body.pop("max_tokens", None)  # the backend's own params set the limit, not the gateway's default
        release = None
        if gateway.is_managed(name):
            waited = time.monotonic()
            switches = gateway.switches()
            self.s.metrics.queue_depth.labels(self.label).inc()
            try:
                release = await self.s.scheduler.admit(name, self.cancel)
            finally:
                self.s.metrics.queue_depth.labels(self.label).dec()
            if gateway.switches() > switches:
                self.s.metrics.switches.labels(name).inc()
                self.s.metrics.switch_seconds.labels(name).observe(time.monotonic() - waited)
        try:
            opened = await relay.open(body, stream=self.stream, headers=self.headers)
        except BaseException:
            if release is not None:
                release()
            raise
        if opened.attempts > 1:
            self.s.metrics.retries.labels(name).inc(opened.attempts - 1)
        return opened, release, translator

    def _upstream_body(self, upstream: str) -> tuple[dict[str, Any], Any]:
        """The body in the upstream's protocol, and how its answer comes back (None: as it is)."""
        try:
            if upstream == "responses":  # the chat form, then the Responses request
                chat = self.body if self.protocol == "openai" else translate.anthropic_to_openai_request(self.body)
                return responses_reverse.chat_to_responses_request(chat), f"r2{self.protocol[0]}"
            if upstream == self.protocol:
                body = dict(self.body)
                if self.stream and upstream == "openai":
                    options = dict(body.get("stream_options") or {})
                    self.hide_usage = not options.get("include_usage")
                    body["stream_options"] = {**options, "include_usage": True}
                return body, None
            if self.protocol == "anthropic":
                return translate.anthropic_to_openai_request(self.body), "o2a"
            return translate.openai_to_anthropic_request(self.body, self.s.gateway.settings.default_max_tokens), "a2o"
        except (translate.Untranslatable, translate.BadRequest) as problem:
            raise Reject(400, str(problem), problem.field) from None

    def _upstream_reject(self, error: RelayError) -> Reject:
        status = status_for(error.kind, error.status)
        self.outcome.kind, self.outcome.backend, self.outcome.attempts = error.kind, error.backend, error.attempts
        headers = []
        if status == 429:
            self.s.metrics.rate_limited.labels(self.label).inc()
            if error.retry_after is not None:
                headers.append((b"retry-after", str(max(1, round(error.retry_after))).encode()))
        return Reject(status, error.message, headers=headers)

    def _count_failure(self, name: str, error: RelayError) -> None:
        self.s.metrics.requests.labels(self.label, name, error.kind).inc()

    # -- answering ----------------------------------------------------------------------------

    async def _relay_document(self, opened: Opened, translator: str | None) -> None:
        raw = await opened.read()
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if translator == "o2a":
                out = translate.openai_to_anthropic_response(data, self.model)
            elif translator == "a2o":
                out = translate.anthropic_to_openai_response(data, self.model)
            elif translator in ("r2o", "r2a"):
                out = responses_reverse.responses_to_chat_document(data, self.model)
                if translator == "r2a":
                    out = translate.openai_to_anthropic_response(out, self.model)
            else:
                out = data
        except ValueError as problem:
            self.outcome.kind = "bad_response"
            raise Reject(502, f"backend {opened.backend!r} answered with an unusable document: {problem}") from None
        self._tally_document(out)
        if self.stream:  # the client asked for a stream and the upstream answered at once
            await self._respond(200, SSE_HEADERS, streams.document_as_stream(self.protocol, out, self.body))
            return
        # same protocol: the upstream's bytes exactly; translated: the new document
        body = raw if translator is None else json.dumps(out, ensure_ascii=False).encode()
        await self._respond(200, JSON_HEADERS, body)

    def _tally_document(self, out: dict[str, Any]) -> None:
        tally = self.outcome.tally
        if self.protocol == "anthropic":
            for block in out.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "text":
                    tally.text.append(str(block.get("text", "")))
                elif isinstance(block, dict) and block.get("type") == "tool_use":
                    tally.tools.append(f"{block.get('name')} {json.dumps(block.get('input'))}")
            tally.anthropic_usage(out.get("usage"))
            tally.stop = out.get("stop_reason")
            return
        choices = out.get("choices") or [{}]
        message = choices[0].get("message") or {} if isinstance(choices[0], dict) else {}
        if isinstance(message.get("content"), str):
            tally.text.append(message["content"])
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            tally.tools.append(f"{function.get('name')} {function.get('arguments')}")
        tally.openai_usage(out.get("usage"))
        tally.stop = choices[0].get("finish_reason") if isinstance(choices[0], dict) else None

    async def _relay_stream(self, opened: Opened, translator: str | None) -> None:
        converter = self._converter(translator)
        self.outcome.tally = converter.tally
        parser = SseParser()
        await self.send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        self.responded = True
        complete = True
        try:
            async for chunk in opened.chunks():
                out = b"".join(converter.feed(event.event, event.data) for event in parser.feed(chunk))
                if out:
                    await self.send({"type": "http.response.body", "body": out, "more_body": True})
            out = b"".join(converter.feed(event.event, event.data) for event in parser.close())
        except Exception as problem:  # a read timeout, a dropped connection: the client gets an error event
            complete, out = False, b""
            self.outcome.error = f"the upstream stream failed mid-answer ({type(problem).__name__})"
        final = out + converter.end(complete)
        if converter.failed:
            self.outcome.kind = "bad_response"
            self.outcome.error = self.outcome.error or "the upstream stream ended before its answer was complete"
        await self.send({"type": "http.response.body", "body": final, "more_body": False})

    def _converter(self, translator: str | None) -> streams.Converter:
        if translator == "o2a":
            return streams.OpenAIToAnthropic(self.model)
        if translator == "a2o":
            options = self.body.get("stream_options") or {}
            return streams.AnthropicToOpenAI(self.model, bool(options.get("include_usage")))
        if translator == "r2o":
            options = self.body.get("stream_options") or {}
            return responses_reverse.ResponsesToChat(self.model, bool(options.get("include_usage")))
        if translator == "r2a":
            return responses_reverse.Chained(responses_reverse.ResponsesToChat(self.model, True),
                                             streams.OpenAIToAnthropic(self.model))
        if self.protocol == "openai":
            return streams.OpenAIPassThrough(getattr(self, "hide_usage", False))
        return streams.AnthropicPassThrough()

    async def _respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.responded = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})

    async def _reject(self, reject: Reject) -> None:
        self.outcome.status = reject.status
        self.outcome.error = reject.message
        if self.outcome.kind == "ok":
            self.outcome.kind = "rejected"
        if not self.responded:
            await self._respond(reject.status, JSON_HEADERS + reject.headers,
                                error_body(self.protocol, reject.status, reject.message, reject.param))

    # -- accounting ---------------------------------------------------------------------------

    def _account(self) -> None:
        outcome, tally = self.outcome, self.outcome.tally
        elapsed = time.monotonic() - self.clock
        usage = Usage(tally.input_tokens, tally.cached_tokens, tally.output_tokens, tally.cache_write_tokens)
        status = "ok" if outcome.status == 200 and outcome.kind == "ok" else outcome.kind
        m = self.s.metrics
        m.requests.labels(self.label, outcome.backend, str(outcome.status)).inc()
        m.duration.labels(self.label).observe(elapsed)
        if tally.first_token is not None and self.stream:
            m.first_token.labels(self.label).observe(tally.first_token - self.clock)
        if tally.input_tokens is not None:
            m.tokens.labels(self.label, "in").inc(tally.input_tokens + (tally.cached_tokens or 0))
        if tally.output_tokens is not None:
            m.tokens.labels(self.label, "out").inc(tally.output_tokens)
        if outcome.backend != "-" and outcome.backend in self.s.gateway.relays:
            m.parked.labels(outcome.backend).set(self.s.gateway.relays[outcome.backend].parked())
        if outcome.backend != "-":
            self.s.gateway.record(started=self.started, backend=outcome.backend, model=self.model,
                                  endpoint=self.endpoint, prompt=_prompt(self.body), system=_system(self.body),
                                  response=tally.response() if status == "ok" else None, status=status,
                                  error=outcome.error, usage=usage, latency_ms=int(elapsed * 1000),
                                  attempts=outcome.attempts)
        log_line(self.endpoint, self.model, outcome.backend, outcome.status, elapsed, tally, outcome.error,
                 self.notes)


def log_line(endpoint: str, model: str, backend: str, status: int, elapsed: float, tally: streams.Tally | None,
             error: str | None = None, notes: list[str] | None = None) -> None:
    tokens = ""
    if tally is not None and (tally.input_tokens is not None or tally.output_tokens is not None):
        fresh = (tally.input_tokens or 0) + (tally.cached_tokens or 0)
        tokens = f" tokens={fresh}->{tally.output_tokens if tally.output_tokens is not None else '?'}"
    why = f" error={error[:160]!r}" if error else ""
    if notes:
        why += f" notes={'; '.join(notes)[:300]!r}"
    shown = model[:120] if model.isprintable() else repr(model[:120])  # a client's text: one line, always
    endpoint = endpoint[:200] if endpoint.isprintable() else repr(endpoint[:200])
    sys.stderr.write(f"muxc serve: {endpoint} model={shown or '-'} backend={backend} status={status} "
                     f"{elapsed * 1000:.1f}ms{tokens}{why}\n")


def _limit_given(body: dict[str, Any]) -> bool:
    return any(body.get(key) is not None for key in ("max_tokens", "max_completion_tokens"))


def _moves_on(kind: str, fallback_on: tuple[str, ...]) -> bool:
    if kind == "cancelled":
        return False
    if not fallback_on or "error" in fallback_on:
        return True
    return {"process": "error", "config": "error", "unavailable": "error"}.get(kind, kind) in fallback_on


async def _close_losers(tasks: list[asyncio.Future[Any]], winner: Any) -> None:
    for task in tasks:
        with contextlib.suppress(BaseException):
            result = await task
            if result is not winner:
                opened, release, _ = result
                await opened.close()
                if release is not None:
                    release()


def _prompt(body: dict[str, Any]) -> str:
    """The last user turn's text, for the LLM log."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") in ("user", "tool"):
            content = message.get("content")
            if isinstance(content, str):
                return content
            return json.dumps(content, ensure_ascii=False)[:100_000]
    return ""


def _system(body: dict[str, Any]) -> str | None:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return None
