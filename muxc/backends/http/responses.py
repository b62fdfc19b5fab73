"""OpenAI Responses API: ``POST {base}/responses`` (the base URL includes ``/v1``), for backends
declared with ``protocol = "responses"`` (models offered only through it, or a Responses gateway).

Body: model, ``instructions`` (the system prompt) and ``input`` (the prompt as one user message),
the merged params (``max_tokens`` is spelled ``max_output_tokens`` here), ``store: false`` (a
build keeps its own record), and ``stream: true`` when streaming. The answer's text is every
``output_text`` part of its ``message`` items. A stream is complete at ``response.completed`` or
``response.incomplete``; ``response.failed`` and ``error`` events are stream errors; a stream that
ends before its terminal event is truncated, never a short answer.

Usage: ``input_tokens`` includes cached tokens (``input_tokens_details.cached_tokens``), as in
chat completions; fresh = total − cached.
"""

from __future__ import annotations

from typing import Any

from muxc.backends.base import CompletionRequest
from muxc.backends.http.openai import OpenAIAdapter, usage
from muxc.backends.http.protocol import (
    Answer,
    BadResponse,
    StreamError,
    as_object,
    as_text,
    checked,
    error_text,
    json_type,
    text_or_none,
)

TERMINAL = ("response.completed", "response.incomplete")


def output_text(response: dict[str, Any]) -> str:
    """The text of a response object's message items (``BadResponse`` for a wrong shape)."""
    output = response.get("output")
    if not isinstance(output, list):
        raise BadResponse(f"the response's output is {json_type(output)}, not a list")
    parts = []
    for item in output:
        item = as_object(item, "an output item")
        if item.get("type") != "message":
            continue
        for part in item.get("content") or []:
            part = as_object(part, "a message part")
            if part.get("type") == "output_text":
                parts.append(as_text(part.get("text"), "an output_text part's text"))
    return "".join(parts)


def finish_reason(response: dict[str, Any]) -> str | None:
    """``length`` for a response cut by its token limit, ``stop`` for a completed one."""
    details = response.get("incomplete_details")
    if response.get("status") == "incomplete":
        reason = details.get("reason") if isinstance(details, dict) else None
        return "length" if reason in (None, "max_output_tokens") else "content_filter"
    return "stop" if response.get("status") == "completed" else text_or_none(response.get("status"))


class ResponsesAdapter(OpenAIAdapter):
    """OpenAI's API (its model list, bearer key and headers) at ``/responses``, in its own shapes."""

    name = "responses"

    def url(self, base: str) -> str:
        return base.rstrip("/") + "/responses"

    def body(self, model: str, request: CompletionRequest, params: dict[str, Any], stream: bool) -> dict[str, Any]:
        params = dict(params)
        if "max_tokens" in params:
            params["max_output_tokens"] = params.pop("max_tokens")
        body: dict[str, Any] = {**params, "model": model, "store": False,
                                "input": [{"role": "user", "content": request.prompt}]}
        if request.system:
            body["instructions"] = request.system
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        return body

    def parse(self, data: Any) -> Answer:
        if not isinstance(data, dict):
            raise BadResponse("the answer is not a JSON object")
        if data.get("object") != "response" and "output" not in data:
            reason = error_text(data)
            raise BadResponse(f"the answer is not a response object{f' ({reason})' if reason else ''}")
        return checked(Answer(output_text(data), usage(data.get("usage")), text_or_none(data.get("model")),
                              finish_reason(data)))

    def accumulator(self) -> ResponsesStream:
        return ResponsesStream()


class ResponsesStream:
    terminal_name = "response.completed"

    def __init__(self) -> None:
        self.terminal = False
        self._parts: list[str] = []
        self._final: dict[str, Any] | None = None
        self.text_length = 0

    @property
    def finished(self) -> bool:
        return self.terminal

    def feed(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            raise BadResponse(f"an event is {json_type(payload)}, not an object")
        kind = payload.get("type")
        if kind == "response.output_text.delta":
            delta = as_text(payload.get("delta"), "an output_text delta")
            self._parts.append(delta)
            self.text_length += len(delta)
        elif kind in TERMINAL:
            self.terminal = True
            self._final = as_object(payload.get("response"), "the final response")
        elif kind in ("response.failed", "error"):
            response = as_object(payload.get("response"), "the failed response")
            message = error_text(response) or error_text(payload) or str(payload.get("message") or "")
            raise StreamError(message or "the response failed", retryable=True)

    def answer(self) -> Answer:
        final = self._final or {}
        text = "".join(self._parts)
        if not text and final.get("output"):
            text = output_text(final)
        return checked(Answer(text, usage(final.get("usage")), text_or_none(final.get("model")),
                              finish_reason(final)))
