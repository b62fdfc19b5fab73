"""Chat completions chunks → Responses API stream events, one chunk at a time.

``ResponsesEvents`` takes chat chunks (parsed; whatever the upstream spoke, the gateway's own
converters have made them chat chunks already) and returns the SSE bytes of the Responses
events they imply, in OpenAI's order, each with its ``sequence_number``:
``response.created``, ``response.in_progress``; per item ``response.output_item.added``, then for
a message ``response.content_part.added`` / ``response.output_text.delta`` … /
``response.output_text.done`` / ``response.content_part.done``, for a function call
``response.function_call_arguments.delta`` … / ``.done``, for a custom tool call
``response.custom_tool_call_input.delta`` / ``.done`` (its input is known whole only at the end:
the chat form carries it as JSON), for reasoning ``response.reasoning_summary_*``; then
``response.output_item.done``; and last ``response.completed`` (``response.incomplete`` when the
answer hit its token limit, ``response.failed`` when the upstream failed).

Invariant: once ``response.created`` went out, every item added gets its ``output_item.done`` and
the stream ends with exactly one terminal event — clients such as Codex act only on those.
A message item is closed when a tool call starts; tool call items stay open (parallel calls
interleave their argument deltas) and are closed, in order, at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from muxc.serve import responses_translate as rt


def sse_event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


@dataclass
class _Item:
    index: int  # output_index
    kind: str  # message, reasoning, call
    id: str
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    closed: bool = False
    encrypted: str | None = None  # a reasoning item's encrypted_content (an Anthropic signature)


class ResponsesEvents:
    def __init__(self, request: dict[str, Any], ctx: rt.Context, model: str, response_id: str) -> None:
        self.request, self.ctx, self.model, self.id = request, ctx, model, response_id
        self.sequence = 0
        self.started = False
        self.items: list[_Item] = []
        self.open_text: _Item | None = None
        self.open_reasoning: _Item | None = None
        self.calls: dict[int, _Item] = {}  # chat tool call index -> item
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None  # the response object the stream ended with

    def _emit(self, data: dict[str, Any]) -> bytes:
        data["sequence_number"] = self.sequence
        self.sequence += 1
        return sse_event(data)

    def _snapshot(self, status: str, output: list[dict[str, Any]] | None = None,
                  error: dict[str, Any] | None = None) -> dict[str, Any]:
        return rt.response_object(self.request, self.id, self.model, status, output or [],
                                  rt.usage_of(self.usage) if status != "in_progress" else None, error)

    def start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        snapshot = self._snapshot("in_progress")
        return self._emit({"type": "response.created", "response": snapshot}) + \
            self._emit({"type": "response.in_progress", "response": snapshot})

    # -- chunks ---------------------------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> bytes:
        out = self.start()
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            if isinstance(delta.get("reasoning_content"), str) and delta["reasoning_content"]:
                out += self._reasoning(delta["reasoning_content"])
            if isinstance(delta.get("reasoning_signature"), str):
                out += self._signed(delta["reasoning_signature"])
            if isinstance(delta.get("reasoning_redacted"), str):
                out += self._redacted(delta["reasoning_redacted"])
            if isinstance(delta.get("content"), str) and delta["content"]:
                out += self._text(delta["content"])
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    out += self._call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return out

    def _add(self, kind: str, prefix: str, item: dict[str, Any]) -> tuple[_Item, bytes]:
        state = _Item(len(self.items), kind, rt.new_id(prefix))
        self.items.append(state)
        item["id"] = state.id
        return state, self._emit({"type": "response.output_item.added", "output_index": state.index, "item": item})

    def _reasoning(self, text: str) -> bytes:
        out = b""
        if self.open_reasoning is None:
            out += self._close_text()
            self.open_reasoning, added = self._add("reasoning", "rs", {"type": "reasoning", "summary": []})
            out += added + self._emit({"type": "response.reasoning_summary_part.added",
                                       "item_id": self.open_reasoning.id, "output_index": self.open_reasoning.index,
                                       "summary_index": 0, "part": {"type": "summary_text", "text": ""}})
        item = self.open_reasoning
        item.text.append(text)
        return out + self._emit({"type": "response.reasoning_summary_text.delta", "item_id": item.id,
                                 "output_index": item.index, "summary_index": 0, "delta": text})

    def _signed(self, signature: str) -> bytes:
        """A thinking block ended with its signature: its reasoning item is complete."""
        out = self._reasoning("") if self.open_reasoning is None else b""
        assert self.open_reasoning is not None
        self.open_reasoning.encrypted = signature
        return out + self._close_reasoning()

    def _redacted(self, data: str) -> bytes:
        out = self._close_reasoning() + self._close_text()
        item, added = self._add("reasoning", "rs", {"type": "reasoning", "summary": []})
        item.encrypted = rt.REDACTED + data
        return out + added + self._done(item, rt.reasoning_item("", item.id, item.encrypted))

    def _text(self, text: str) -> bytes:
        out = b""
        if self.open_text is None:
            out += self._close_reasoning()
            self.open_text, added = self._add("message", "msg", {
                "type": "message", "status": "in_progress", "role": "assistant", "content": []})
            out += added + self._emit({"type": "response.content_part.added", "item_id": self.open_text.id,
                                       "output_index": self.open_text.index, "content_index": 0,
                                       "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})
        item = self.open_text
        item.text.append(text)
        return out + self._emit({"type": "response.output_text.delta", "item_id": item.id,
                                 "output_index": item.index, "content_index": 0, "delta": text, "logprobs": []})

    def _call(self, call: dict[str, Any]) -> bytes:
        index = call.get("index", 0) if isinstance(call.get("index"), int) else 0
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        out = b""
        item = self.calls.get(index)
        if item is None:
            out += self._close_text() + self._close_reasoning()
            name = str(function.get("name") or "")
            call_id = str(call.get("id") or rt.new_id("call"))
            shown = rt.call_item(call_id, name, "", self.ctx)
            if shown["type"] == "custom_tool_call":
                shown["input"] = ""
            shown["status"] = "in_progress"
            item, added = self._add("call", "fc" if shown["type"] == "function_call" else "ctc", shown)
            item.call_id, item.name = call_id, name
            self.calls[index] = item
            out += added
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.text.append(arguments)
            if item.name not in self.ctx.custom:
                out += self._emit({"type": "response.function_call_arguments.delta", "item_id": item.id,
                                   "output_index": item.index, "delta": arguments})
        return out

    # -- closing items ----------------------------------------------------------------------------

    def _done(self, item: _Item, body: dict[str, Any]) -> bytes:
        item.closed = True
        return self._emit({"type": "response.output_item.done", "output_index": item.index, "item": body})

    def _close_text(self) -> bytes:
        item, self.open_text = self.open_text, None
        if item is None:
            return b""
        text = "".join(item.text)
        body = rt.message_item(text, item.id)
        part = body["content"][0]
        return self._emit({"type": "response.output_text.done", "item_id": item.id, "output_index": item.index,
                           "content_index": 0, "text": text, "logprobs": []}) + \
            self._emit({"type": "response.content_part.done", "item_id": item.id, "output_index": item.index,
                        "content_index": 0, "part": part}) + self._done(item, body)

    def _close_reasoning(self) -> bytes:
        item, self.open_reasoning = self.open_reasoning, None
        if item is None:
            return b""
        text = "".join(item.text)
        common = {"item_id": item.id, "output_index": item.index, "summary_index": 0}
        return self._emit({"type": "response.reasoning_summary_text.done", **common, "text": text}) + \
            self._emit({"type": "response.reasoning_summary_part.done", **common,
                        "part": {"type": "summary_text", "text": text}}) + \
            self._done(item, rt.reasoning_item(text, item.id, item.encrypted))

    def _close_call(self, item: _Item) -> bytes:
        body = rt.call_item(item.call_id, item.name, "".join(item.text), self.ctx, item.id)
        if body["type"] == "custom_tool_call":
            out = self._emit({"type": "response.custom_tool_call_input.delta", "item_id": item.id,
                              "output_index": item.index, "delta": body["input"]})
            out += self._emit({"type": "response.custom_tool_call_input.done", "item_id": item.id,
                               "output_index": item.index, "input": body["input"]})
        else:
            out = self._emit({"type": "response.function_call_arguments.done", "item_id": item.id,
                              "output_index": item.index, "name": body["name"], "arguments": body["arguments"]})
        return out + self._done(item, body)

    def _output(self) -> list[dict[str, Any]]:
        output = []
        for item in self.items:
            text = "".join(item.text)
            if item.kind == "message":
                output.append(rt.message_item(text, item.id))
            elif item.kind == "reasoning":
                output.append(rt.reasoning_item(text, item.id, item.encrypted))
            else:
                output.append(rt.call_item(item.call_id, item.name, text, self.ctx, item.id))
        return output

    def _close_all(self) -> bytes:
        out = self._close_reasoning() + self._close_text()
        for item in self.items:
            if item.kind == "call" and not item.closed:
                out += self._close_call(item)
        return out

    # -- the end ------------------------------------------------------------------------------------

    def complete(self) -> bytes:
        out = self.start() + self._close_all()
        status = rt.status_of(self.finish)
        self.final = self._snapshot(status, self._output())
        name = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._emit({"type": name, "response": self.final})

    def fail(self, message: str, code: str = "server_error") -> bytes:
        out = self.start() + self._close_all()
        self.final = self._snapshot("failed", self._output(), {"code": code, "message": message})
        return out + self._emit({"type": "response.failed", "response": self.final})


# -- a Responses upstream: forwarded ---------------------------------------------------------------


def chat_usage(usage: Any) -> dict[str, Any] | None:
    """Responses usage in chat completions terms (for the tally)."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("input_tokens_details") if isinstance(usage.get("input_tokens_details"), dict) else {}
    return {"prompt_tokens": usage.get("input_tokens"), "completion_tokens": usage.get("output_tokens"),
            "prompt_tokens_details": {"cached_tokens": details.get("cached_tokens")}}


def tally_response(tally: Any, response: dict[str, Any]) -> None:
    """What a whole response object said, into a ``streams.Tally``."""
    for item in response.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            tally.text += [str(p.get("text", "")) for p in item.get("content") or [] if isinstance(p, dict)]
        elif item.get("type") in ("function_call", "custom_tool_call"):
            tally.tools.append(f"{item.get('name')} {item.get('arguments', item.get('input'))}")
    if isinstance(response.get("usage"), dict):
        tally.openai_usage(chat_usage(response["usage"]))
    tally.stop = response.get("status")


def document_events(response: dict[str, Any]) -> bytes:
    """The event stream for a whole response object (an upstream that ignored ``stream: true``)."""
    sequence = iter(range(1 << 30))

    def emit(data: dict[str, Any]) -> bytes:
        return sse_event({**data, "sequence_number": next(sequence)})

    started = {**response, "status": "in_progress", "output": []}
    out = emit({"type": "response.created", "response": started})
    out += emit({"type": "response.in_progress", "response": started})
    for index, item in enumerate(response.get("output") or []):
        out += emit({"type": "response.output_item.added", "output_index": index, "item": item})
        out += emit({"type": "response.output_item.done", "output_index": index, "item": item})
    name = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(response.get("status"),
                                                                                 "response.completed")
    return out + emit({"type": name, "response": response})
