"""Anthropic messages: ``POST {base}/v1/messages`` with ``x-api-key`` and ``anthropic-version``.

The base defaults to ``https://api.anthropic.com``; a base that already ends in ``/v1`` is not
doubled. ``max_tokens`` is required by the API: 4096 unless the params set it. Text blocks are
concatenated as the API means them (one block may end mid-sentence). A streamed answer is
complete only at ``message_stop``.

Usage: ``input_tokens`` already *excludes* ``cache_read_input_tokens`` and
``cache_creation_input_tokens``; a missing cache field stays None.
"""

from __future__ import annotations

from typing import Any

from muxc.backends.base import CompletionRequest, Usage
from muxc.backends.protocol import Answer, BadResponse, StreamError, as_int, error_text, merge_usage

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
        text = "".join(
            block.get("text", "")
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
        return Answer(text, usage(data.get("usage")), data.get("model"), data.get("stop_reason"))

    def accumulator(self) -> AnthropicStream:
        return AnthropicStream()


class AnthropicStream:
    terminal_name = "message_stop"

    def __init__(self) -> None:
        self.terminal = False
        self.text_length = 0
        self._parts: list[str] = []
        self._usage = Usage()
        self._model: str | None = None
        self._stop: str | None = None

    @property
    def finished(self) -> bool:
        return self.terminal

    def feed(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        handler = getattr(self, "_on_" + str(payload.get("type")), None)
        if handler is not None:
            handler(payload)

    def _on_message_start(self, payload: dict[str, Any]) -> None:
        message = payload.get("message") or {}
        self._model = message.get("model")
        self._usage = merge_usage(self._usage, usage(message.get("usage")))

    def _on_content_block_start(self, payload: dict[str, Any]) -> None:
        block = payload.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            self._text(block["text"])

    def _on_content_block_delta(self, payload: dict[str, Any]) -> None:
        delta = payload.get("delta") or {}
        if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
            self._text(delta["text"])

    def _on_message_delta(self, payload: dict[str, Any]) -> None:
        self._stop = (payload.get("delta") or {}).get("stop_reason") or self._stop
        self._usage = merge_usage(self._usage, usage(payload.get("usage")))

    def _on_message_stop(self, payload: dict[str, Any]) -> None:
        self.terminal = True

    def _on_error(self, payload: dict[str, Any]) -> None:
        kind = (payload.get("error") or {}).get("type")
        raise StreamError(
            error_text(payload) or "error event in the stream", retryable=kind in RETRYABLE_STREAM_ERRORS
        )

    def _text(self, text: str) -> None:
        self._parts.append(text)
        self.text_length += len(text)

    def answer(self) -> Answer:
        return Answer("".join(self._parts), self._usage, self._model, self._stop)
