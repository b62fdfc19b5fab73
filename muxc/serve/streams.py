"""Streaming event conversion: an upstream's event stream, one event at a time, into the client's.

Each converter takes the upstream's decoded events (``feed``) and returns the bytes to send the
client at once, so a chunk reaches the client as soon as its event is complete; ``end`` closes the
stream (``complete`` False: the upstream stopped before its terminal event, which becomes an error
event in the client's protocol, never a quiet short answer). Every converter also keeps what the
LLM log needs: the text, tool calls, stop reason and usage (``Tally``).

- OpenAI chunks → Anthropic events: ``message_start``, then per block ``content_block_start`` /
  ``content_block_delta`` (``text_delta``, ``input_json_delta``) / ``content_block_stop``, then
  ``message_delta`` (stop reason, usage) and ``message_stop``. Each OpenAI tool call (by its
  ``index``) is one ``tool_use`` block with its id and name.
- Anthropic events → OpenAI chunks: a role chunk, content and ``tool_calls`` deltas (each tool_use
  block is one tool call, indexed in order), ``reasoning_content`` for thinking, a chunk with the
  ``finish_reason``, a usage chunk when the client asked (``stream_options.include_usage``), ``[DONE]``.
- Same protocol: events are forwarded as they came (their bytes re-framed, not re-encoded); only the
  usage chunk the gateway asked for on the client's behalf is held back.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from muxc.serve.translate import A2O_STOP, O2A_STOP, anthropic_usage_to_openai, openai_usage_to_anthropic


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def anthropic_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {_dumps(data)}\n\n".encode()


def openai_event(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else _dumps(data)}\n\n".encode()


@dataclass
class Tally:
    """What the stream said, for the log and the metrics."""

    text: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    stop: str | None = None
    input_tokens: int | None = None  # fresh input
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    output_tokens: int | None = None
    first_token: float | None = None  # time.monotonic() of the first content

    def saw_content(self) -> None:
        if self.first_token is None:
            self.first_token = time.monotonic()

    def response(self) -> str:
        return "".join(self.text) + "".join(f"\n[tool call] {call}" for call in self.tools)

    def openai_usage(self, usage: Any) -> None:
        converted = openai_usage_to_anthropic(usage)
        self.input_tokens = converted["input_tokens"]
        self.cached_tokens = converted["cache_read_input_tokens"]
        self.output_tokens = converted["output_tokens"]

    def anthropic_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for key, attribute in (("input_tokens", "input_tokens"), ("cache_read_input_tokens", "cached_tokens"),
                               ("cache_creation_input_tokens", "cache_write_tokens"), ("output_tokens", "output_tokens")):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, attribute, value)


class Converter:
    """Base: ``feed`` one upstream event, get the client's bytes; ``end`` at the end of the stream."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.done = False  # the upstream's terminal event arrived
        self.failed = False  # the stream ended with an error event (set by ``end`` or an upstream error)

    def feed(self, name: str | None, data: str) -> bytes:
        raise NotImplementedError

    def end(self, complete: bool) -> bytes:
        raise NotImplementedError


def _json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# -- OpenAI upstream, Anthropic client ------------------------------------------------------------


class OpenAIToAnthropic(Converter):
    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.started = False
        self.block = -1  # index of the open Anthropic block
        self.block_kind: str | None = None
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool index -> Anthropic block index
        self.tool_tally: dict[int, int] = {}  # OpenAI tool index -> its entry in tally.tools
        self.finish: str | None = None

    def feed(self, name: str | None, data: str) -> bytes:
        if data.strip() == "[DONE]":
            self.done = True
            return b""
        chunk = _json(data)
        if not isinstance(chunk, dict):
            return b""
        out = self._start(chunk) if not self.started else b""
        if isinstance(chunk.get("error"), dict):
            self.done = self.failed = True
            return out + anthropic_event("error", {"type": "error", "error": {
                "type": "api_error", "message": str(chunk["error"].get("message", "upstream error"))}})
        if chunk.get("usage"):
            self.tally.openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                out += self._choice(choice)
        return out

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self.started = True
        message = {"id": f"msg_{chunk.get('id') or uuid.uuid4().hex}", "type": "message", "role": "assistant",
                   "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}
        return anthropic_event("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: dict[str, Any]) -> bytes:
        out = b""
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        text = delta.get("content")
        if isinstance(text, str) and text:
            out += self._text(text)
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                out += self._tool(call)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        return out

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        return out + anthropic_event("content_block_start", {"type": "content_block_start", "index": self.block,
                                                             "content_block": block})

    def _close(self) -> bytes:
        if self.block_kind is None:
            return b""
        self.block_kind = None
        return anthropic_event("content_block_stop", {"type": "content_block_stop", "index": self.block})

    def _text(self, text: str) -> bytes:
        self.tally.saw_content()
        self.tally.text.append(text)
        out = self._open("text", {"type": "text", "text": ""}) if self.block_kind != "text" else b""
        return out + anthropic_event("content_block_delta", {"type": "content_block_delta", "index": self.block,
                                                             "delta": {"type": "text_delta", "text": text}})

    def _tool(self, call: dict[str, Any]) -> bytes:
        self.tally.saw_content()
        index = call.get("index", 0)
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        out = b""
        if index not in self.tool_blocks:
            out += self._open("tool", {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                                       "name": function.get("name") or "", "input": {}})
            self.tool_blocks[index] = self.block
            self.tool_tally[index] = len(self.tally.tools)
            self.tally.tools.append(str(function.get("name") or ""))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self.tally.tools[self.tool_tally[index]] += arguments
            out += anthropic_event("content_block_delta", {
                "type": "content_block_delta", "index": self.tool_blocks[index],
                "delta": {"type": "input_json_delta", "partial_json": arguments}})
        return out

    def end(self, complete: bool) -> bytes:
        complete = complete and (self.done or self.finish is not None)
        out = b"" if self.started else self._start({})
        if not complete:
            self.failed = True
            return out + anthropic_event("error", {"type": "error", "error": {
                "type": "api_error", "message": "the upstream stream ended before its answer was complete"}})
        out += self._close()
        stop = O2A_STOP.get(self.finish or "stop", "end_turn")
        self.tally.stop = stop
        usage = {"input_tokens": self.tally.input_tokens or 0, "output_tokens": self.tally.output_tokens or 0,
                 "cache_read_input_tokens": self.tally.cached_tokens or 0, "cache_creation_input_tokens": 0}
        out += anthropic_event("message_delta", {"type": "message_delta",
                                                 "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage})
        return out + anthropic_event("message_stop", {"type": "message_stop"})


# -- Anthropic upstream, OpenAI client ------------------------------------------------------------


class ChatChunks(Converter):
    """What every converter into OpenAI chat chunks shares: the chunk's envelope, and the end of the
    stream (the finish chunk, the usage chunk when asked, ``[DONE]``; an error event instead when
    the upstream stream broke off). A subclass says how its stream finished (``_ending``)."""

    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__()
        self.model = model
        self.include_usage = include_usage
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return openai_event({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                             "model": self.model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                               "finish_reason": finish}]})

    def _ending(self) -> tuple[str, dict[str, Any] | None]:
        """The finish reason and the usage of a stream that completed."""
        raise NotImplementedError

    def end(self, complete: bool) -> bytes:
        if self.tally.stop == "error":
            return b""
        if not (complete and self.done):
            self.failed = True
            return openai_event({"error": {"message": "the upstream stream ended before its answer was complete",
                                           "type": "api_error"}})
        finish, usage = self._ending()
        self.tally.stop = finish
        out = self._chunk({}, finish)
        if self.include_usage:
            out += openai_event({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                                 "model": self.model, "choices": [], "usage": usage})
        return out + openai_event("[DONE]")


class AnthropicToOpenAI(ChatChunks):
    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__(model, include_usage)
        self.tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index
        self.stop: str | None = None

    def feed(self, name: str | None, data: str) -> bytes:
        event = _json(data)
        if not isinstance(event, dict):
            return b""
        kind = event.get("type") or name
        handler = getattr(self, f"_on_{kind}", None)
        return handler(event) if handler is not None else b""

    def _on_message_start(self, event: dict[str, Any]) -> bytes:
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        if message.get("id"):
            self.id = f"chatcmpl-{message['id']}"
        self.tally.anthropic_usage(message.get("usage"))
        return self._chunk({"role": "assistant", "content": ""})

    def _on_content_block_start(self, event: dict[str, Any]) -> bytes:
        block = event.get("content_block") if isinstance(event.get("content_block"), dict) else {}
        if block.get("type") == "tool_use":
            self.tally.saw_content()
            index = self.tool_index[event.get("index", 0)] = len(self.tool_index)
            self.tally.tools.append(str(block.get("name") or ""))
            return self._chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                                "function": {"name": block.get("name"), "arguments": ""}}]})
        if block.get("type") == "text" and block.get("text"):
            return self._text(block["text"])
        return b""

    def _text(self, text: str) -> bytes:
        self.tally.saw_content()
        self.tally.text.append(text)
        return self._chunk({"content": text})

    def _on_content_block_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
        kind = delta.get("type")
        if kind == "text_delta":
            return self._text(str(delta.get("text", "")))
        if kind == "input_json_delta":
            index = self.tool_index.get(event.get("index", 0), 0)
            partial = str(delta.get("partial_json", ""))
            self.tally.tools[index] += partial
            return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": partial}}]})
        if kind == "thinking_delta":
            self.tally.saw_content()
            return self._chunk({"reasoning_content": str(delta.get("thinking", ""))})
        return b""

    def _on_message_delta(self, event: dict[str, Any]) -> bytes:
        delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
        if delta.get("stop_reason"):
            self.stop = delta["stop_reason"]
        self.tally.anthropic_usage(event.get("usage"))
        return b""

    def _on_message_stop(self, event: dict[str, Any]) -> bytes:
        self.done = True
        return b""

    def _on_error(self, event: dict[str, Any]) -> bytes:
        self.done = self.failed = True
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        self.tally.stop = "error"
        return openai_event({"error": {"message": str(error.get("message", "upstream error")),
                                       "type": str(error.get("type", "api_error"))}})

    def _ending(self) -> tuple[str, dict[str, Any] | None]:
        usage = anthropic_usage_to_openai({"input_tokens": self.tally.input_tokens,
                                           "cache_read_input_tokens": self.tally.cached_tokens,
                                           "cache_creation_input_tokens": self.tally.cache_write_tokens,
                                           "output_tokens": self.tally.output_tokens})
        return A2O_STOP.get(self.stop or "end_turn", "stop"), usage


# -- same protocol: forwarded ----------------------------------------------------------------------


class OpenAIPassThrough(Converter):
    """Forwards every event; reads them for the tally. ``hide_usage``: the client did not ask for
    the usage chunk, the gateway did (for the log), so that chunk is not forwarded."""

    def __init__(self, hide_usage: bool) -> None:
        super().__init__()
        self.hide_usage = hide_usage
        self.finished = False

    def feed(self, name: str | None, data: str) -> bytes:
        if data.strip() == "[DONE]":
            self.done = True
            return openai_event("[DONE]")
        chunk = _json(data)
        if isinstance(chunk, dict):
            if chunk.get("usage"):
                self.tally.openai_usage(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if isinstance(choice, dict):
                    self._observe(choice)
            if self.hide_usage and not chunk.get("choices") and chunk.get("usage"):
                return b""
        return f"data: {data}\n\n".encode()

    def _observe(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        if isinstance(delta.get("content"), str) and delta["content"]:
            self.tally.saw_content()
            self.tally.text.append(delta["content"])
        for call in delta.get("tool_calls") or []:
            if isinstance(call, dict):
                self.tally.saw_content()
                function = call.get("function") if isinstance(call.get("function"), dict) else {}
                if function.get("name"):
                    self.tally.tools.append(str(function["name"]))
                if function.get("arguments") and self.tally.tools:
                    self.tally.tools[-1] += str(function["arguments"])
        if choice.get("finish_reason"):
            self.finished = True
            self.tally.stop = choice["finish_reason"]

    def end(self, complete: bool) -> bytes:
        if complete and self.finished and not self.done:
            return openai_event("[DONE]")  # a server that omits [DONE] after its finish_reason
        if complete and self.done:
            return b""
        self.failed = True
        return openai_event({"error": {"message": "the upstream stream ended before its answer was complete",
                                       "type": "api_error"}})


class AnthropicPassThrough(Converter):
    def feed(self, name: str | None, data: str) -> bytes:
        event = _json(data)
        if isinstance(event, dict):
            kind = event.get("type")
            if kind == "message_start" and isinstance(event.get("message"), dict):
                self.tally.anthropic_usage(event["message"].get("usage"))
            elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
                self.tally.saw_content()
                delta = event["delta"]
                if delta.get("type") == "text_delta":
                    self.tally.text.append(str(delta.get("text", "")))
                elif delta.get("type") == "input_json_delta" and self.tally.tools:
                    self.tally.tools[-1] += str(delta.get("partial_json", ""))
            elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
                if event["content_block"].get("type") == "tool_use":
                    self.tally.tools.append(str(event["content_block"].get("name", "")))
            elif kind == "message_delta":
                self.tally.anthropic_usage(event.get("usage"))
                if isinstance(event.get("delta"), dict):
                    self.tally.stop = event["delta"].get("stop_reason") or self.tally.stop
            elif kind in ("message_stop", "error"):
                self.done = True
                self.failed = kind == "error"
        prefix = f"event: {name}\n" if name else ""
        return f"{prefix}data: {data}\n\n".encode()

    def end(self, complete: bool) -> bytes:
        if complete and self.done:
            return b""
        self.failed = True
        return anthropic_event("error", {"type": "error", "error": {
            "type": "api_error", "message": "the upstream stream ended before its answer was complete"}})


# -- a whole answer as a stream --------------------------------------------------------------------


def document_as_stream(protocol: str, doc: dict[str, Any], request: dict[str, Any]) -> bytes:
    """The events a streaming client expects, for an answer the upstream sent as one document (in
    the client's protocol already): some servers ignore ``stream: true``."""
    if protocol == "anthropic":
        return _anthropic_events(doc)
    choice = (doc.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    base = {"id": doc.get("id"), "object": "chat.completion.chunk", "created": doc.get("created", 0),
            "model": doc.get("model")}
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
    out = openai_event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    out += openai_event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason")}]})
    if (request.get("stream_options") or {}).get("include_usage") and doc.get("usage"):
        out += openai_event({**base, "choices": [], "usage": doc["usage"]})
    return out + openai_event("[DONE]")


def _anthropic_events(doc: dict[str, Any]) -> bytes:
    usage = doc.get("usage") or {}
    start = {**doc, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 0}}
    out = anthropic_event("message_start", {"type": "message_start", "message": start})
    for index, block in enumerate(doc.get("content") or []):
        kind = block.get("type")
        if kind == "tool_use":
            opening = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}
        elif kind == "text":
            opening, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block.get("text", "")}
        else:
            opening, delta = block, None
        out += anthropic_event("content_block_start", {"type": "content_block_start", "index": index,
                                                       "content_block": opening})
        if delta is not None:
            out += anthropic_event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": delta})
        out += anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index})
    out += anthropic_event("message_delta", {"type": "message_delta", "delta": {
        "stop_reason": doc.get("stop_reason"), "stop_sequence": doc.get("stop_sequence")}, "usage": usage})
    return out + anthropic_event("message_stop", {"type": "message_stop"})
