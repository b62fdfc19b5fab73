"""OpenAI chat completions: ``POST {base}/chat/completions`` (the base URL includes ``/v1``).

Body: model, an optional system message and one user message, the merged params, and when
streaming ``stream: true`` with ``stream_options.include_usage`` so the last chunk carries usage.
A streamed answer is complete at ``[DONE]``, or when the stream ends after a ``finish_reason``
(some servers omit ``[DONE]``); anything shorter is truncated, never a short answer. A stream
that carried no choice at all, or a chunk of the wrong shape, is malformed; so is a document
whose message content is null without a tool call (``refusal`` is quoted when there is one).

Usage: ``prompt_tokens`` (or ``input_tokens``) *includes* cached tokens, reported in
``prompt_tokens_details.cached_tokens`` (or ``input_tokens_details``); fresh = total − cached.
"""

from __future__ import annotations

from typing import Any

from muxc.backends.base import CompletionRequest, Usage
from muxc.backends.http.protocol import (
    Answer,
    BadResponse,
    StreamError,
    as_object,
    as_text,
    checked,
    error_text,
    first_int,
    json_type,
    merge_usage,
    text_or_none,
)
from muxc.backends.http.sse import DONE

DEFAULT_MODEL = "gpt-4"  # llm-mux's default for HTTP backends


def usage(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    total = first_int(data, "prompt_tokens", "input_tokens")
    details = data.get("prompt_tokens_details") or data.get("input_tokens_details")
    cached = first_int(details, "cached_tokens") if isinstance(details, dict) else None
    fresh = total - cached if total is not None and cached is not None else total
    return Usage(fresh, cached, first_int(data, "completion_tokens", "output_tokens"), None)


def _content_text(message: dict[str, Any]) -> str:
    """Message content: a string, a list of parts (some servers), or null beside a tool call."""
    content = message.get("content")
    if content is None:
        if message.get("tool_calls") or message.get("function_call"):
            return ""  # the model called a tool: an answer without text
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            raise BadResponse(f"the model refused: {refusal[:200]}")
        raise BadResponse("the message content is null and the message has no tool call")
    if isinstance(content, list):
        return "".join(as_text(as_object(part, "a content part").get("text"), "a content part's text")
                       for part in content)
    return as_text(content, "the message content")


class OpenAIAdapter:
    name = "openai"
    default_model = DEFAULT_MODEL

    def url(self, base: str) -> str:
        return base.rstrip("/") + "/chat/completions"

    def models_url(self, base: str) -> str:
        return base.rstrip("/") + "/models"

    def headers(self, api_key: str | None, stream: bool) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
        }
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    def body(
        self, model: str, request: CompletionRequest, params: dict[str, Any], stream: bool
    ) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {**params, "model": model, "messages": messages}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream", None)
        return body

    def parse(self, data: Any) -> Answer:
        if not isinstance(data, dict):
            raise BadResponse("the answer is not a JSON object")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            reason = error_text(data)
            raise BadResponse(f"the answer has no choices{f' ({reason})' if reason else ''}")
        first = as_object(choices[0], "the first choice")
        message = first.get("message")
        if not isinstance(message, dict):
            raise BadResponse("the first choice has no message")
        return checked(Answer(_content_text(message), usage(data.get("usage")), text_or_none(data.get("model")),
                              text_or_none(first.get("finish_reason"))))

    def accumulator(self) -> OpenAIStream:
        return OpenAIStream()


class OpenAIStream:
    terminal_name = "[DONE]"

    def __init__(self) -> None:
        self.terminal = False
        self._parts: list[str] = []
        self._usage = Usage()
        self._model: str | None = None
        self._finish: str | None = None
        self._choices = 0  # choices seen: a stream with none carried no answer at all
        self.text_length = 0  # characters so far, for progress reports

    @property
    def finished(self) -> bool:
        return self.terminal or self._finish is not None

    def feed(self, payload: Any) -> None:
        if payload is DONE or payload == DONE:
            self.terminal = True
            return
        if not isinstance(payload, dict):
            raise BadResponse(f"a chunk is {json_type(payload)}, not an object")
        if payload.get("error") is not None:
            raise StreamError(error_text(payload) or "error event in the stream", retryable=True)
        self._model = text_or_none(payload.get("model")) or self._model
        if isinstance(payload.get("usage"), dict):
            self._usage = merge_usage(self._usage, usage(payload["usage"]))
        choices = payload.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise BadResponse(f"a chunk's choices are {json_type(choices)}, not a list")
        for choice in choices or []:
            self._choice(as_object(choice, "a chunk's choice"))

    def _choice(self, choice: dict[str, Any]) -> None:
        self._choices += 1
        content = as_text(as_object(choice.get("delta"), "a delta").get("content"), "a delta's content")
        if content:
            self._parts.append(content)
            self.text_length += len(content)
        if choice.get("finish_reason"):
            self._finish = as_text(choice["finish_reason"], "a finish_reason")

    def answer(self) -> Answer:
        if not self._choices:
            raise BadResponse("the stream carried no choices")
        return checked(Answer("".join(self._parts), self._usage, self._model, self._finish))
