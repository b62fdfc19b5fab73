"""``POST /v1/responses``: an OpenAI Responses API request served like any chat request.

The request is translated to a chat completions request (``responses_translate``) and then goes
through ``ChatRequest`` unchanged — routing, fallbacks, retries, credential pools, managed
backends, the LLM log, metrics and budgets are the chat endpoint's own — with the chat → Anthropic
translation for an Anthropic backend. The answer (a chat document or chat chunks, which the
gateway's converters make of either upstream protocol) becomes a ``response`` object or the
Responses event stream (``responses_stream``). Errors are OpenAI's error format, which is the
Responses API's.

Stored responses (``store``, true unless the client says false) are kept with the input items
that led to them, so ``GET /v1/responses/{id}`` answers and ``previous_response_id`` continues a
conversation on any backend: in the project's state directory (``store.responses``: ``[serve]
store_ttl``, ``max_stored``), or, when that file cannot be opened, in memory (``ResponseStore``, a
bounded LRU gone when the server stops). A response is written after it was sent.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from muxc.app.gateway import Opened, SseParser
from muxc.base.cancel import Cancel
from muxc.serve import responses_translate as rt
from muxc.serve import streams, translate
from muxc.serve.chat import JSON_HEADERS, SSE_HEADERS, ChatRequest, Reject, Send, Services
from muxc.serve.responses_stream import ResponsesEvents, document_events, sse_event, tally_response

STORE_LIMIT = 1000
THINKING_BUDGET = {"low": 2048, "medium": 8192, "high": 24576, "xhigh": 32000}  # tokens, by reasoning.effort
JSON_TOOL = "muxc_json_answer"  # the tool that carries text.format's JSON on an Anthropic backend


class ResponseStore:
    """Responses by id with the full input that produced them (earlier turns included)."""

    def __init__(self, limit: int = STORE_LIMIT) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, tuple[dict[str, Any], list[Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, response: dict[str, Any], items: list[Any]) -> None:
        with self._lock:
            self._entries[response["id"]] = (response, items)
            self._entries.move_to_end(response["id"])
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def get(self, response_id: str) -> tuple[dict[str, Any], list[Any]] | None:
        with self._lock:
            return self._entries.get(response_id)

    def delete(self, response_id: str) -> bool:
        with self._lock:
            return self._entries.pop(response_id, None) is not None


class ResponsesRequest(ChatRequest):
    def __init__(self, services: Services, store: ResponseStore, body: dict[str, Any], headers: dict[str, str],
                 endpoint: str, send: Send, cancel: Cancel) -> None:
        super().__init__(services, "openai", body, headers, endpoint, send, cancel)
        self.original = body
        self.store = store
        self.ctx = rt.Context()
        self.response_id = rt.new_id("resp")
        self.history: list[Any] = []
        self.untranslatable: Reject | None = None  # what the chat form cannot carry, for a non-Responses backend

    def _admit(self) -> Any:
        if not isinstance(self.original.get("model"), str) or not self.model:
            raise Reject(400, "model: required, a string naming a role, backend or alias", "model")
        previous = self.original.get("previous_response_id")
        if previous is not None:
            stored = self.store.get(previous) if isinstance(previous, str) else None
            if stored is None:
                raise Reject(404, f"previous_response_id: no stored response {previous!r} (muxc serve keeps "
                             f"responses sent with store: true for [serve] store_ttl, the last {self.store.limit} "
                             "at most)", "previous_response_id")
            self.history = stored[1] + stored[0]["output"]
        try:
            self.body, self.ctx = rt.to_chat_request(self.original, self.history)
        except (translate.Untranslatable, translate.BadRequest) as problem:
            # a Responses backend may take what the chat form cannot: the 400 waits for the route
            self.untranslatable = Reject(400, str(problem), problem.field)
            self.body = {"model": self.model, "messages": [], "stream": self.stream}
        self.notes = self.ctx.notes
        route = super()._admit()
        if self.untranslatable is not None and not self._any_responses_backend(route.backends):
            raise self.untranslatable
        return route

    def _any_responses_backend(self, names: tuple[str, ...]) -> bool:
        backends = self.s.gateway.config.backends
        return any(name in backends and backends[name].protocol == "responses" for name in names)

    def _upstream_body(self, upstream: str) -> tuple[dict[str, Any], Any]:
        if upstream != "responses" and self.untranslatable is not None:
            raise self.untranslatable
        body = dict(self.body)
        effort = self.ctx.reasoning_effort
        origin = self.ctx.origin
        try:
            if upstream == "openai":
                body = rt.without_thinking(body, self.ctx)
                self.hide_usage = False
                if effort is not None:
                    body["reasoning_effort"] = effort
                return body, None
            if upstream == "responses":
                return self._passed_body(), "responses"
            if upstream == "anthropic":
                body = self._structured(body)
                folded, origin = rt.fold_late_system(body, self.ctx.origin)
                out = translate.openai_to_anthropic_request(folded, self.s.gateway.settings.default_max_tokens)
                return self._thinking(out, effort), "a2o"
        except (translate.Untranslatable, translate.BadRequest) as problem:
            message, field = self.ctx.rename(problem, origin if upstream == "anthropic" else None)
            raise Reject(400, message, field) from None
        raise Reject(502, f"muxc serve cannot send a Responses request to a {upstream!r} backend")

    def _thinking(self, out: dict[str, Any], effort: str | None) -> dict[str, Any]:
        """``reasoning.effort`` on an Anthropic backend: extended thinking with a budget by effort,
        inside the output limit (which counts thinking on both APIs). Where Anthropic would refuse
        thinking (a forced tool, a temperature other than 1, a limit too small), it is not asked
        for, and the log line says why."""
        if effort is None or effort in ("none", "minimal"):
            return out
        budget = min(THINKING_BUDGET.get(effort, THINKING_BUDGET["medium"]), out["max_tokens"] - 1024)
        forced = (out.get("tool_choice") or {}).get("type") in ("tool", "any")
        why = ("a tool is forced" if forced else "temperature is set" if out.get("temperature", 1) != 1
               else f"max_tokens {out['max_tokens']} leaves no room" if budget < 1024 else None)
        if why is not None:
            self._note(f"reasoning.effort {effort!r} not sent: {why} (Anthropic thinking)")
            return out
        out.pop("top_k", None)
        return {**out, "thinking": {"type": "enabled", "budget_tokens": budget}}

    def _structured(self, body: dict[str, Any]) -> dict[str, Any]:
        """``text.format`` for an Anthropic backend, which has no JSON mode: a tool whose input
        schema is the format's; its call comes back as the answer's text. Without tools of the
        client's the model must call it; beside them it is told to answer through it."""
        fmt = body.pop("response_format", None)
        if fmt is None:
            return body
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
        tool = {"type": "function", "function": {"name": JSON_TOOL, "description": "Give your final answer: "
                "call this with the answer as its input, which must fit the schema.",
                "parameters": schema or {"type": "object"}}}
        body = {**body, "tools": [*body.get("tools", []), tool]}
        if len(body["tools"]) == 1:
            body["tool_choice"] = {"type": "function", "function": {"name": JSON_TOOL}}
        else:
            body["messages"] = [*body["messages"], {"role": "system", "content": f"When you give your final "
                                f"answer, call the tool {JSON_TOOL} with it instead of writing it as text."}]
            self._note("text.format on an Anthropic backend beside tools: the model is asked to use it")
        self.json_tool = True
        return body

    def _passed_body(self) -> dict[str, Any]:
        """The client's own request for a Responses backend; earlier turns from this gateway's store
        are sent in full (the upstream has never seen their ids)."""
        body = dict(self.original)
        if self.history:
            body.pop("previous_response_id", None)
            raw = body.get("input")
            body["input"] = self.history + ([{"role": "user", "content": raw}] if isinstance(raw, str) else raw)
        return body

    def _note(self, note: str) -> None:
        if note not in self.ctx.notes:
            self.ctx.notes.append(note)

    # -- answers ------------------------------------------------------------------------------------

    async def _relay_document(self, opened: Opened, translator: str | None) -> None:
        raw = await opened.read()
        if translator == "responses":
            return await self._forward_document(opened, raw)
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            chat = translate.anthropic_to_openai_response(data, self.model) if translator == "a2o" else data
            if getattr(self, "json_tool", False):
                chat = _json_answer(chat)
            reasoning = rt.thinking_items(data.get("content")) if translator == "a2o" else None
            out = rt.from_chat_document(chat, self.original, self.ctx, self.model, self.response_id, reasoning)
        except ValueError as problem:
            self.outcome.kind = "bad_response"
            raise Reject(502, f"backend {opened.backend!r} answered with an unusable document: {problem}") from None
        self._tally_document(chat)
        if not self.stream:
            await self._respond(200, JSON_HEADERS, json.dumps(out, ensure_ascii=False).encode())
            self._keep(out)  # after the answer: the write is not on the client's clock
            return
        events = self._events()  # the client asked for a stream and the upstream answered at once
        body = b"".join(events.feed(chunk) for chunk in _as_chunks(chat, reasoning)) + events.complete()
        await self._respond(200, SSE_HEADERS, body)
        self._keep(events.final)

    async def _forward_document(self, opened: Opened, raw: bytes) -> None:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("output"), list):
                raise ValueError("not a response object")
        except ValueError as problem:
            self.outcome.kind = "bad_response"
            raise Reject(502, f"backend {opened.backend!r} answered with an unusable document: {problem}") from None
        tally_response(self.outcome.tally, data)
        if self.stream:
            await self._respond(200, SSE_HEADERS, document_events(data))
        else:
            await self._respond(200, JSON_HEADERS, raw)
        self._keep(data)

    def _events(self) -> ResponsesEvents:
        return ResponsesEvents(self.original, self.ctx, self.model, self.response_id)

    def _converter(self, translator: str | None) -> streams.Converter:
        if translator == "responses":
            self.converter: ChatToResponses | ResponsesPassThrough = ResponsesPassThrough()
        elif translator == "a2o":
            inner = AnthropicWithSignatures(self.model, True, getattr(self, "json_tool", False))
            self.converter = ChatToResponses(inner, self._events())
        else:
            self.converter = ChatToResponses(super()._converter(translator), self._events())
        return self.converter

    async def _relay_stream(self, opened: Opened, translator: str | None) -> None:
        await super()._relay_stream(opened, translator)
        final = self.converter.final
        if final is not None and final.get("status") != "failed":
            self._keep(final)

    def _keep(self, response: dict[str, Any] | None) -> None:
        if response is None or self.original.get("store") is False:
            return
        raw = self.original.get("input")
        items = [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
        self.store.put(response, self.history + items)


class ChatToResponses(streams.Converter):
    """The chat chunks another converter makes of the upstream's events, as Responses events."""

    def __init__(self, inner: streams.Converter, events: ResponsesEvents) -> None:
        super().__init__()
        self.inner, self.events = inner, events
        self.tally = inner.tally
        self.parser = SseParser()
        self.errored = False

    @property
    def final(self) -> dict[str, Any] | None:
        return self.events.final

    def feed(self, name: str | None, data: str) -> bytes:
        return self._convert(self.inner.feed(name, data))

    def _convert(self, raw: bytes) -> bytes:
        out = b""
        for event in self.parser.feed(raw):
            if self.errored or event.data.strip() == "[DONE]":
                continue
            try:
                chunk = json.loads(event.data)
            except ValueError:
                continue
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("error"), dict):
                self.errored = True
                error = chunk["error"]
                out += self.events.fail(str(error.get("message", "the upstream failed")),
                                        str(error.get("type") or "server_error"))
            else:
                out += self.events.feed(chunk)
        return out

    def end(self, complete: bool) -> bytes:
        out = self._convert(self.inner.end(complete))
        self.done, self.failed = self.inner.done, self.inner.failed or self.errored
        if not self.errored:
            out += self.events.complete()
        return out


def _as_chunks(chat: dict[str, Any], reasoning: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A whole chat completion as chunks (for a client that asked for a stream); ``reasoning``: the
    Anthropic answer's thinking as reasoning items, signatures included."""
    chunks = []
    for item in reasoning or []:
        text = "".join(part["text"] for part in item["summary"])
        encrypted = item.get("encrypted_content") or ""
        if encrypted.startswith(rt.REDACTED):
            delta = {"reasoning_redacted": encrypted[len(rt.REDACTED):]}
        else:
            delta = {"reasoning_content": text, "reasoning_signature": encrypted}
        chunks.append({"choices": [{"index": 0, "delta": delta}]})
    return [*chunks, _as_chunk(chat, skip_reasoning=bool(reasoning))]


def _as_chunk(chat: dict[str, Any], skip_reasoning: bool = False) -> dict[str, Any]:
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    keys = ("content",) if skip_reasoning else ("content", "reasoning_content")
    delta: dict[str, Any] = {key: message[key] for key in keys if message.get(key)}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": choice.get("finish_reason")}],
            "usage": chat.get("usage")}


class ResponsesPassThrough(streams.Converter):
    """A Responses upstream's events, forwarded as they come (re-framed, not re-encoded), read for
    the tally; a stream that ends before its terminal event gets a ``response.failed``."""

    def __init__(self) -> None:
        super().__init__()
        self.final: dict[str, Any] | None = None
        self.sequence = 0

    def feed(self, name: str | None, data: str) -> bytes:
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if isinstance(event, dict):
            self._observe(event)
        prefix = f"event: {name}\n" if name else ""
        return f"{prefix}data: {data}\n\n".encode()

    def _observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if isinstance(event.get("sequence_number"), int):
            self.sequence = event["sequence_number"] + 1
        if kind == "response.output_text.delta":
            self.tally.saw_content()
            self.tally.text.append(str(event.get("delta", "")))
        elif kind == "response.output_item.added":
            self.tally.saw_content()
        elif kind in ("response.completed", "response.incomplete", "response.failed", "error"):
            self.done = True
            self.failed = kind in ("response.failed", "error")
            response = event.get("response")
            if isinstance(response, dict):
                self.final = response
                text = self.tally.text
                tally_response(self.tally, response)
                self.tally.text = text  # the deltas said it already

    def end(self, complete: bool) -> bytes:
        if complete and self.done:
            return b""
        self.failed = True
        response = {**(self.final or {}), "status": "failed", "error": {
            "code": "server_error", "message": "the upstream stream ended before its answer was complete"}}
        return sse_event({"type": "response.failed", "response": response, "sequence_number": self.sequence})


class AnthropicWithSignatures(streams.AnthropicToOpenAI):
    """Anthropic events as chat chunks, plus what only the Responses side can carry back: each
    thinking block's signature (``reasoning_signature``) and redacted thinking blocks
    (``reasoning_redacted``), which become reasoning items' ``encrypted_content``; and with
    ``json_tool``, the ``JSON_TOOL`` call's input streamed as the answer's text."""

    def __init__(self, model: str, include_usage: bool, json_tool: bool = False) -> None:
        super().__init__(model, include_usage)
        self.json_tool = json_tool
        self.json_blocks: set[int] = set()

    def _on_content_block_start(self, event: dict[str, Any]) -> bytes:
        block = event.get("content_block") if isinstance(event.get("content_block"), dict) else {}
        if block.get("type") == "redacted_thinking":
            return self._chunk({"reasoning_redacted": str(block.get("data", ""))})
        if self.json_tool and block.get("type") == "tool_use" and block.get("name") == JSON_TOOL:
            self.json_blocks.add(event.get("index", 0))
            return b""
        return super()._on_content_block_start(event)

    def _on_content_block_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
        if delta.get("type") == "signature_delta":
            return self._chunk({"reasoning_signature": str(delta.get("signature", ""))})
        if event.get("index", 0) in self.json_blocks and delta.get("type") == "input_json_delta":
            return self._text(str(delta.get("partial_json", "")))
        return super()._on_content_block_delta(event)

    def _on_message_delta(self, event: dict[str, Any]) -> bytes:
        out = super()._on_message_delta(event)
        if self.stop == "tool_use" and self.json_blocks and not self.tool_index:
            self.stop = "end_turn"  # the only tool called was the answer's
        return out


def _json_answer(chat: dict[str, Any]) -> dict[str, Any]:
    """A chat answer whose ``JSON_TOOL`` call becomes its text."""
    choice = chat["choices"][0]
    message = dict(choice.get("message") or {})
    calls = message.get("tool_calls") or []
    answers = [c for c in calls if (c.get("function") or {}).get("name") == JSON_TOOL]
    if not answers:
        return chat
    rest = [c for c in calls if c not in answers]
    message["content"] = "".join(str(c["function"].get("arguments") or "") for c in answers)
    if rest:
        message["tool_calls"] = rest
    else:
        message.pop("tool_calls", None)
    finish = choice.get("finish_reason") if rest else "stop"
    return {**chat, "choices": [{**choice, "message": message, "finish_reason": finish}]}
