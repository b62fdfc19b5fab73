"""What an HTTP protocol adapter provides, and the pieces adapters share.

An adapter is pure: it builds the request (URL, headers, JSON body) and turns the server's JSON
(one document, or stream events one at a time) into an ``Answer``. Transport, retries and
credentials live in ``http.py``. Adapters raise ``BadResponse`` for answers that do not have the
promised shape and ``StreamError`` for an error the server reported inside a stream.

A malformed answer is an error, never an empty success (``checked``): a null content without a
tool call, no choices, an event that is not JSON, a stream cut before its end. An *empty* text is
an answer only when the model stopped on its own (``stop``, ``end_turn``, a tool call, or no reason
given); empty because the token limit cut it off is an error that asking again cannot fix.

Usage is normalised here: ``Usage.input_tokens`` is *fresh* input (never including cached tokens),
and a field the server did not send stays None.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import msgspec

from muxc.backends.base import CompletionRequest, Usage
from muxc.config.schema import Price


class Answer(msgspec.Struct, frozen=True):
    text: str
    usage: Usage = Usage()
    model: str | None = None
    finish_reason: str | None = None


class BadResponse(Exception):
    """The server answered 200 with something that is not a usable answer.

    ``retryable``: whether asking again may help (a garbled answer: yes; an answer the token
    limit emptied: no, the same request meets the same limit). ``finish_reason``: the stop reason
    of a well-formed answer rejected as empty."""

    def __init__(self, message: str, *, retryable: bool = True, finish_reason: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.finish_reason = finish_reason


class TooDeep(ValueError):
    """JSON nested deeper than the parser can follow (a hostile or broken server)."""


def parse_json(raw: bytes | str) -> Any:
    """``json.loads`` where every failure is a ``ValueError``: absurd nesting (``[[[[…`` 100,000
    deep) is ``TooDeep`` rather than a ``RecursionError`` escaping into the step."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise TooDeep("JSON nested too deeply to read") from None


def as_object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object from the answer (absent: empty), or ``BadResponse`` naming what is wrong."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadResponse(f"{what} is {json_type(value)}, not an object")
    return value


def as_text(value: Any, what: str, *, required: bool = False) -> str:
    """A text field of the answer (absent or null: empty, unless ``required``), or ``BadResponse``."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadResponse(f"{what} is {json_type(value)}, not text")
    return value


def text_or_none(value: Any) -> str | None:
    """An optional text field (model, stop reason): anything but a string is unknown."""
    return value if isinstance(value, str) else None


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


# The model stopped because the output token limit was reached.
CUT_OFF = frozenset({"length", "max_tokens", "model_context_window_exceeded"})
# The provider withheld the answer.
WITHHELD = frozenset({"content_filter", "refusal"})


def checked(answer: Answer) -> Answer:
    """``answer`` if it is one: an empty text counts only when the model stopped on its own."""
    if answer.text.strip() or answer.finish_reason not in CUT_OFF | WITHHELD:
        return answer
    reason = answer.finish_reason
    if reason in CUT_OFF:
        raise BadResponse(
            f"the answer is empty: the model reached its output token limit (stop reason {reason!r}) before "
            "writing any text; raise max_tokens in the backend's or the step's params",
            retryable=False, finish_reason=reason)
    raise BadResponse(f"the answer is empty: the provider withheld it (stop reason {reason!r})", finish_reason=reason)


class StreamError(Exception):
    """The server reported an error inside the event stream."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Accumulator(Protocol):
    """Collects a streamed answer from decoded event payloads."""

    terminal: bool  # the protocol's last event arrived: stop reading
    finished: bool  # enough arrived to call the answer complete if the stream ends now
    terminal_name: str  # for "stream ended before …" messages
    text_length: int  # characters of answer so far, for progress reports

    def feed(self, payload: Any) -> None: ...

    def answer(self) -> Answer: ...


class Adapter(Protocol):
    name: str
    default_model: str

    def url(self, base: str) -> str: ...

    def models_url(self, base: str) -> str: ...

    def headers(self, api_key: str | None, stream: bool) -> dict[str, str]: ...

    def body(
        self, model: str, request: CompletionRequest, params: dict[str, Any], stream: bool
    ) -> dict[str, Any]: ...

    def parse(self, data: Any) -> Answer: ...

    def accumulator(self) -> Accumulator: ...


def as_int(value: Any) -> int | None:
    """A token count, or None when absent or not a number (never a guessed 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def first_int(data: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = as_int(data.get(key))
        if value is not None:
            return value
    return None


def merge_usage(old: Usage, new: Usage) -> Usage:
    """Later stream events refine earlier ones; a field a later event omits keeps its value."""
    fields = ("input_tokens", "cached_input_tokens", "output_tokens", "cache_write_tokens")
    values = {f: getattr(new, f) if getattr(new, f) is not None else getattr(old, f) for f in fields}
    return Usage(**values)


def error_text(data: Any) -> str | None:
    """The human message in an error document (OpenAI and Anthropic shapes), if any."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        if isinstance(message, str):
            return f"{kind}: {message}" if isinstance(kind, str) else message
    message = data.get("message")
    return message if isinstance(message, str) else None


def cost_usd(usage: Usage, price: Price | None) -> float | None:
    """USD for ``usage`` at ``price`` (per million tokens); None when either is unknown."""
    counts = (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens, usage.cache_write_tokens)
    if price is None or all(count is None for count in counts):
        return None
    cache_read = price.cache_read if price.cache_read is not None else price.input
    cache_write = price.cache_write if price.cache_write is not None else price.input
    rates = (price.input, cache_read, price.output, cache_write)
    return sum((count or 0) * rate for count, rate in zip(counts, rates, strict=True)) / 1_000_000


def merged_params(config_params: dict[str, Any], request: CompletionRequest) -> dict[str, Any]:
    """Backend ``params`` with the step's own over them (the request wins)."""
    return {**config_params, **request.params}
