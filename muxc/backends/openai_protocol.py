"""OpenAI chat completions: ``POST {base}/chat/completions`` (the base URL includes ``/v1``).

Body: model, an optional system message and one user message, the merged params, and when
streaming ``stream: true`` with ``stream_options.include_usage`` so the last chunk carries usage.
A streamed answer is complete at ``[DONE]``, or when the stream ends after a ``finish_reason``
(some servers omit ``[DONE]``); anything shorter is truncated, never a short answer.

Usage: ``prompt_tokens`` (or ``input_tokens``) *includes* cached tokens, reported in
``prompt_tokens_details.cached_tokens`` (or ``input_tokens_details``); fresh = total − cached.
"""

from __future__ import annotations

from typing import Any

from muxc.backends.base import CompletionRequest, Usage
from muxc.backends.protocol import Answer, BadResponse, StreamError, error_text, first_int, merge_usage
from muxc.backends.sse import DONE

DEFAULT_MODEL = "gpt-4"  # llm-mux's default for HTTP backends


def usage(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    total = first_int(data, "prompt_tokens", "input_tokens")
    details = data.get("prompt_tokens_details") or data.get("input_tokens_details")
    cached = first_int(details, "cached_tokens") if isinstance(details, dict) else None
    fresh = total - cached if total is not None and cached is not None else total
    return Usage(fresh, cached, first_int(data, "completion_tokens", "output_tokens"), None)


def _content_text(content: Any) -> str:
    """Message content: a string, null (no text), or a list of parts (some servers)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise BadResponse(f"message content is {type(content).__name__}, not text")


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
        first = choices[0]
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            raise BadResponse("the first choice has no message")
        return Answer(
            _content_text(message.get("content")),
            usage(data.get("usage")),
            data.get("model"),
            first.get("finish_reason"),
        )

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
        self.text_length = 0  # characters so far, for progress reports

    @property
    def finished(self) -> bool:
        return self.terminal or self._finish is not None

    def feed(self, payload: Any) -> None:
        if payload is DONE or payload == DONE:
            self.terminal = True
            return
        if not isinstance(payload, dict):
            return
        if "error" in payload:
            raise StreamError(error_text(payload) or "error event in the stream", retryable=True)
        self._model = payload.get("model") or self._model
        if isinstance(payload.get("usage"), dict):
            self._usage = merge_usage(self._usage, usage(payload["usage"]))
        for choice in payload.get("choices") or []:
            self._choice(choice)

    def _choice(self, choice: Any) -> None:
        if not isinstance(choice, dict):
            return
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            self._parts.append(delta["content"])
            self.text_length += len(delta["content"])
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]

    def answer(self) -> Answer:
        return Answer("".join(self._parts), self._usage, self._model, self._finish)
