"""Chat completions clients (and, through the chat form, Anthropic clients) on a backend that speaks
only OpenAI's Responses API (``protocol = "responses"``): the request becomes a Responses request,
the answer and its stream become chat completions again.

Pure functions and one stream converter. Invariants, as in the other translations: what the
Responses API cannot express (``stop`` sequences, ``n`` > 1, ``logprobs``, legacy function
messages) is an ``Untranslatable`` naming the chat field, never dropped; ``store`` is false (the
gateway's client keeps its own history); every tool call keeps its id (``call_id``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from muxc.serve.streams import ChatChunks, Converter, openai_event
from muxc.serve.translate import BadRequest, Untranslatable, expect, joined_text

PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "metadata", "service_tier")
IGNORED = ("model", "messages", "stream", "stream_options", "store", "max_tokens", "max_completion_tokens",
           "tools", "tool_choice", "response_format", "reasoning_effort", "prompt_cache_key")
DEFAULT_ONLY = {"n": 1, "presence_penalty": 0, "frequency_penalty": 0, "logprobs": False}


# -- request ---------------------------------------------------------------------------------------


def chat_to_responses_request(body: dict[str, Any]) -> dict[str, Any]:
    messages = expect(body.get("messages"), list, "messages")
    out: dict[str, Any] = {"input": [], "store": False}
    leading = True
    for i, message in enumerate(messages):
        message = expect(message, dict, f"messages[{i}]")
        if leading and message.get("role") in ("system", "developer"):
            text = joined_text(message.get("content"), f"messages[{i}].content")
            out["instructions"] = f"{out['instructions']}\n\n{text}" if "instructions" in out else text
            continue
        leading = False
        out["input"] += _items(message, f"messages[{i}]")
    for key, value in body.items():
        _param(key, value, out)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        out["max_output_tokens"] = expect(limit, int, "max_tokens")
    if body.get("stream"):
        out["stream"] = True
    return out


def _param(key: str, value: Any, out: dict[str, Any]) -> None:
    if value is None or key in IGNORED:
        if key == "tools" and value is not None:
            out["tools"] = [_tool(expect(t, dict, f"tools[{i}]"), f"tools[{i}]")
                            for i, t in enumerate(expect(value, list, "tools"))]
        elif key == "tool_choice" and value is not None:
            out["tool_choice"] = _tool_choice(value)
        elif key == "response_format" and value is not None:
            out["text"] = {"format": _format(expect(value, dict, "response_format"))}
        elif key == "reasoning_effort" and value is not None:
            out["reasoning"] = {"effort": expect(value, str, "reasoning_effort")}
        elif key == "prompt_cache_key" and value is not None:
            out["prompt_cache_key"] = value
        return
    if key in PASSED:
        out[key] = value
    elif key in DEFAULT_ONLY:
        if value != DEFAULT_ONLY[key]:
            raise Untranslatable(key, "a Responses API backend has no equivalent")
    elif key == "stop":
        raise Untranslatable("stop", "a Responses API backend has no stop sequences")
    else:
        raise Untranslatable(key, "a Responses API backend has no equivalent")


def _items(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role, content = message.get("role"), message.get("content")
    if role in ("system", "developer"):
        return [{"type": "message", "role": "developer", "content": joined_text(content, f"{where}.content")}]
    if role == "user":
        return [{"type": "message", "role": "user", "content": _user_parts(content, f"{where}.content")}]
    if role == "tool":
        call_id = expect(message.get("tool_call_id"), str, f"{where}.tool_call_id")
        return [{"type": "function_call_output", "call_id": call_id, "output": joined_text(content, f"{where}.content")}]
    if role == "assistant":
        return _assistant(message, where)
    if role == "function":
        raise Untranslatable(f"{where}.role", "legacy function messages have no Responses API equivalent")
    raise BadRequest(f"{where}.role", f"unknown role {role!r}")


def _user_parts(content: Any, field: str) -> Any:
    if isinstance(content, str):
        return content
    parts = []
    for k, part in enumerate(expect(content, list, field)):
        part = expect(part, dict, f"{field}[{k}]")
        if part.get("type") == "text":
            parts.append({"type": "input_text", "text": expect(part.get("text"), str, f"{field}[{k}].text")})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            parts.append({"type": "input_image", "image_url": expect(url, str, f"{field}[{k}].image_url.url"),
                          "detail": (image.get("detail") if isinstance(image, dict) else None) or "auto"})
        else:
            raise Untranslatable(f"{field}[{k}].type", f"{part.get('type')!r} content cannot be sent to a "
                                 "Responses API backend")
    return parts


def _assistant(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    content = message.get("content")
    if content:
        items.append({"type": "message", "role": "assistant",
                      "content": [{"type": "output_text", "text": joined_text(content, f"{where}.content")}]})
    for k, call in enumerate(message.get("tool_calls") or []):
        field = f"{where}.tool_calls[{k}]"
        call = expect(call, dict, field)
        function = expect(call.get("function"), dict, f"{field}.function")
        items.append({"type": "function_call", "call_id": expect(call.get("id"), str, f"{field}.id"),
                      "name": expect(function.get("name"), str, f"{field}.function.name"),
                      "arguments": expect(function.get("arguments") or "{}", str, f"{field}.function.arguments")})
    return items


def _tool(tool: dict[str, Any], field: str) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise Untranslatable(f"{field}.type", f"{tool.get('type')!r} tools cannot be sent to a Responses API backend")
    function = expect(tool.get("function"), dict, f"{field}.function")
    out = {"type": "function", "name": expect(function.get("name"), str, f"{field}.function.name"),
           "parameters": function.get("parameters") or {"type": "object", "properties": {}}}
    for key in ("description", "strict"):
        if function.get(key) is not None:
            out[key] = function[key]
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    choice = expect(choice, dict, "tool_choice")
    function = expect(choice.get("function"), dict, "tool_choice.function")
    return {"type": "function", "name": expect(function.get("name"), str, "tool_choice.function.name")}


def _format(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type") == "json_schema":
        schema = expect(value.get("json_schema"), dict, "response_format.json_schema")
        return {"type": "json_schema", **schema}
    if value.get("type") in ("json_object", "text"):
        return {"type": value["type"]}
    raise BadRequest("response_format.type", f"unknown response format {value.get('type')!r}")


# -- answer ----------------------------------------------------------------------------------------


def chat_usage(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("input_tokens_details") if isinstance(usage.get("input_tokens_details"), dict) else {}
    prompt, completion = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": _int(details.get("cached_tokens"))}}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _finish(response: dict[str, Any], called: bool) -> str:
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if called else "stop"


def responses_to_chat_document(data: dict[str, Any], model: str) -> dict[str, Any]:
    output = data.get("output")
    if not isinstance(output, list):
        raise ValueError("the upstream answer is not a response object (no output list)")
    texts, reasoning, calls = [], [], []
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            texts += [str(p.get("text", "")) for p in item.get("content") or []
                      if isinstance(p, dict) and p.get("type") == "output_text"]
        elif kind == "reasoning":
            reasoning += [str(s.get("text", "")) for s in item.get("summary") or [] if isinstance(s, dict)]
        elif kind == "function_call":
            calls.append({"id": item.get("call_id"), "type": "function",
                          "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}})
        else:
            raise ValueError(f"the upstream answer has a {kind!r} item, which chat completions cannot carry")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if reasoning:
        message["reasoning_content"] = "\n".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{data.get('id') or ''}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": _finish(data, bool(calls))}],
            "usage": chat_usage(data.get("usage"))}


class ResponsesToChat(ChatChunks):
    """A Responses upstream's events as chat completion chunks."""

    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__(model, include_usage)
        self.calls: dict[int, int] = {}  # output_index -> tool call index
        self.started = False
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None

    def feed(self, name: str | None, data: str) -> bytes:
        try:
            event = json.loads(data)
        except ValueError:
            return b""
        if not isinstance(event, dict):
            return b""
        out = b"" if self.started else self._chunk({"role": "assistant", "content": ""})
        self.started = True
        handler = getattr(self, "_on_" + str(event.get("type") or name or "").replace("response.", "").replace(".", "_"),
                          None)
        return out + (handler(event) if handler is not None else b"")

    def _on_output_text_delta(self, event: dict[str, Any]) -> bytes:
        text = str(event.get("delta", ""))
        self.tally.saw_content()
        self.tally.text.append(text)
        return self._chunk({"content": text})

    def _on_reasoning_summary_text_delta(self, event: dict[str, Any]) -> bytes:
        self.tally.saw_content()
        return self._chunk({"reasoning_content": str(event.get("delta", ""))})

    def _on_output_item_added(self, event: dict[str, Any]) -> bytes:
        item = event.get("item") if isinstance(event.get("item"), dict) else {}
        if item.get("type") != "function_call":
            return b""
        self.tally.saw_content()
        index = self.calls[event.get("output_index", 0)] = len(self.calls)
        self.tally.tools.append(str(item.get("name") or ""))
        return self._chunk({"tool_calls": [{"index": index, "id": item.get("call_id"), "type": "function",
                                            "function": {"name": item.get("name"), "arguments": ""}}]})

    def _on_function_call_arguments_delta(self, event: dict[str, Any]) -> bytes:
        index = self.calls.get(event.get("output_index", 0))
        if index is None:
            return b""
        delta = str(event.get("delta", ""))
        self.tally.tools[index] += delta
        return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": delta}}]})

    def _on_completed(self, event: dict[str, Any]) -> bytes:
        response = event.get("response") if isinstance(event.get("response"), dict) else {}
        self.done = True
        self.finish = _finish(response, bool(self.calls))
        self.usage = chat_usage(response.get("usage"))
        self.tally.openai_usage(self.usage)
        return b""

    _on_incomplete = _on_completed

    def _on_failed(self, event: dict[str, Any]) -> bytes:
        response = event.get("response") if isinstance(event.get("response"), dict) else {}
        error = response.get("error") if isinstance(response.get("error"), dict) else {}
        return self._error(str(error.get("message") or "the upstream response failed"))

    def _on_error(self, event: dict[str, Any]) -> bytes:
        return self._error(str(event.get("message") or "the upstream reported an error"))

    def _error(self, message: str) -> bytes:
        self.done = self.failed = True
        self.tally.stop = "error"
        return openai_event({"error": {"message": message, "type": "api_error"}})

    def _ending(self) -> tuple[str, dict[str, Any] | None]:
        return self.finish or "stop", self.usage


class Chained(Converter):
    """Two converters in a row (Responses → chat → Anthropic): the first's bytes feed the second."""

    def __init__(self, first: Converter, second: Converter) -> None:
        from muxc.app.gateway import SseParser

        super().__init__()
        self.first, self.second = first, second
        self.tally = second.tally
        self.parser = SseParser()

    def feed(self, name: str | None, data: str) -> bytes:
        return self._pass(self.first.feed(name, data))

    def _pass(self, raw: bytes) -> bytes:
        return b"".join(self.second.feed(event.event, event.data) for event in self.parser.feed(raw))

    def end(self, complete: bool) -> bytes:
        out = self._pass(self.first.end(complete))
        if not self.second.failed:
            out += self.second.end(complete and self.first.done and not self.first.failed)
        self.done, self.failed = self.second.done, self.first.failed or self.second.failed
        return out
