"""Anthropic messages: ``POST {base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``.

The base defaults to ``https://api.anthropic.com``; a base that already ends in ``/v1`` is not
doubled. ``max_tokens`` is required by the API: 4096 unless the params set it. Text blocks are
concatenated as the API means them (one block may end mid-sentence). A streamed answer is
complete only at ``message_stop``, after a ``message_start``; an event of the wrong shape (a text
that is not a string, a payload that is not an object) makes the answer malformed.

Usage: ``input_tokens`` already *excludes* ``cache_read_input_tokens`` and
``cache_creation_input_tokens``; a missing cache field stays None.
"""

from __future__ import annotations

from typing import Any

from muxc.backends.base import CompletionRequest, Usage
from muxc.backends.http.protocol import (
    Answer,
    BadResponse,
    StreamError,
    as_int,
    as_object,
    as_text,
    checked,
    error_text,
    json_type,
    merge_usage,
    text_or_none,
)

DEFAULT_BASE = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-sonnet-4-20250514"  # llm-mux's claude-api default
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# Overloaded and internal errors inside a stream are worth another attempt.
RETRYABLE_STREAM_ERRORS = {"overloaded_error", "api_error"}


def usage(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    return Usage(
        as_int(data.get("input_tokens")),
        as_int(data.get("cache_read_input_tokens")),
        as_int(data.get("output_tokens")),
        as_int(data.get("cache_creation_input_tokens")),
    )


def _versioned(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class AnthropicAdapter:
    name = "anthropic"
    default_model = DEFAULT_MODEL

    def url(self, base: str) -> str:
        return _versioned(base) + "/messages"

    def models_url(self, base: str) -> str:
        return _versioned(base) + "/models"

    def headers(self, api_key: str | None, stream: bool) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": API_VERSION,
        }
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def body(
        self, model: str, request: CompletionRequest, params: dict[str, Any], stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"max_tokens": DEFAULT_MAX_TOKENS, **params, "model": model}
        body["messages"] = [{"role": "user", "content": request.prompt}]
        if request.system:
            body["system"] = request.system
        body.pop("stream", None)
        if stream:
            body["stream"] = True
        return body

    def parse(self, data: Any) -> Answer:
        if not isinstance(data, dict):
            raise BadResponse("the answer is not a JSON object")
        if data.get("type") == "error":
            raise BadResponse(error_text(data) or "error document")
        content = data.get("content")
        if not isinstance(content, list):
            raise BadResponse("the answer has no content list")
        blocks = [as_object(block, "a content block") for block in content]
        text = "".join(as_text(block.get("text"), "a text block's text", required=True) for block in blocks
                       if block.get("type") == "text")
        return checked(Answer(text, usage(data.get("usage")), text_or_none(data.get("model")),
                              text_or_none(data.get("stop_reason"))))

    def accumulator(self) -> AnthropicStream:
        return AnthropicStream()


class AnthropicStream:
    terminal_name = "message_stop"

    def __init__(self) -> None:
        self.terminal = False
        self.text_length = 0
        self._started = False
        self._parts: list[str] = []
        self._usage = Usage()
        self._model: str | None = None
        self._stop: str | None = None

    @property
    def finished(self) -> bool:
        return self.terminal

    def feed(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            raise BadResponse(f"an event is {json_type(payload)}, not an object")
        handler = getattr(self, "_on_" + str(payload.get("type")), None)
        if handler is not None:
            handler(payload)

    def _on_message_start(self, payload: dict[str, Any]) -> None:
        message = as_object(payload.get("message"), "message_start's message")
        self._started = True
        self._model = text_or_none(message.get("model"))
        self._usage = merge_usage(self._usage, usage(message.get("usage")))

    def _on_content_block_start(self, payload: dict[str, Any]) -> None:
        block = as_object(payload.get("content_block"), "a content block")
        if block.get("type") == "text":
            self._text(as_text(block.get("text"), "a text block's text"))

    def _on_content_block_delta(self, payload: dict[str, Any]) -> None:
        delta = as_object(payload.get("delta"), "a content block delta")
        if delta.get("type") == "text_delta":
            self._text(as_text(delta.get("text"), "a text delta's text"))

    def _on_message_delta(self, payload: dict[str, Any]) -> None:
        stop = as_object(payload.get("delta"), "message_delta's delta").get("stop_reason")
        self._stop = text_or_none(stop) or self._stop
        self._usage = merge_usage(self._usage, usage(payload.get("usage")))

    def _on_message_stop(self, payload: dict[str, Any]) -> None:
        if not self._started:
            raise BadResponse("message_stop arrived without a message_start")
        self.terminal = True

    def _on_error(self, payload: dict[str, Any]) -> None:
        error = payload.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        raise StreamError(
            error_text(payload) or "error event in the stream", retryable=kind in RETRYABLE_STREAM_ERRORS
        )

    def _text(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self.text_length += len(text)

    def answer(self) -> Answer:
        return checked(Answer("".join(self._parts), self._usage, self._model, self._stop))
