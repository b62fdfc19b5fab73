"""The backend contract: what a step asks of an LLM backend and what it gets back.

Backends are synchronous and thread-safe: the build runs steps on worker threads, and one
backend instance (one HTTP client, one concurrency limit, one credential pool) serves the
whole build. Failures are ``BackendError`` values carrying a ``kind`` the role layer acts on;
their messages are already masked (no API key or bearer token ever appears in them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

import msgspec

from muxc.base.cancel import Cancel

ProgressCallback = Callable[[int], None]  # characters received so far

FailureKind = Literal[
    "auth",  # 401/403 on every credential
    "rate_limit",  # 429 that outlasted the allowed wait
    "timeout",  # connect, idle (between chunks) or total
    "connection",  # refused, reset, DNS
    "server",  # 5xx after retries
    "bad_response",  # garbage: HTML, invalid JSON, no choices, truncated stream
    "config",  # 4xx other than auth/rate limit, bad URL, missing key, missing executable
    "process",  # CLI backend exited non-zero or was killed
    "cancelled",  # the build was interrupted
    "unavailable",  # a managed backend failed to start, or the local extra is missing
]


class Usage(msgspec.Struct, frozen=True):
    """Token counts, normalised across protocols. ``None`` means unknown, never zero."""

    input_tokens: int | None = None  # fresh input, excluding cached
    cached_input_tokens: int | None = None  # input served from the provider's prompt cache
    output_tokens: int | None = None
    cache_write_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            add(self.input_tokens, other.input_tokens),
            add(self.cached_input_tokens, other.cached_input_tokens),
            add(self.output_tokens, other.output_tokens),
            add(self.cache_write_tokens, other.cache_write_tokens),
        )


class CompletionRequest(msgspec.Struct, frozen=True):
    prompt: str
    system: str | None = None
    params: dict[str, Any] = {}  # step-level overrides, merged over the backend's `params`
    step: str = ""  # the step name, for logs and messages
    workflow: str = ""
    cache_key: str = ""  # recorded in the LLM log
    timeout: float | None = None  # seconds; caps the backend's own timeout


class Completion(msgspec.Struct, frozen=True):
    text: str
    backend: str
    model: str | None = None
    usage: Usage = Usage()
    latency_ms: int = 0
    attempts: int = 1
    cost_usd: float | None = None
    finish_reason: str | None = None


class BackendError(Exception):
    """A failed call. ``message`` is masked and says what happened and what to do."""

    def __init__(
        self,
        kind: FailureKind,
        backend: str,
        message: str,
        *,
        retry_at: float | None = None,
        body_start: str | None = None,
        exit_code: int | None = None,
        stderr_tail: str | None = None,
        attempts: int = 1,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.backend = backend
        self.message = message
        self.retry_at = retry_at  # wall-clock time (time.time()) when a retry could succeed
        self.body_start = body_start
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        self.attempts = attempts
        self.finish_reason = finish_reason  # a well-formed answer rejected as empty: why it stopped

    def __str__(self) -> str:
        return f"{self.backend}: {self.message}"


class Backend(Protocol):
    name: str

    @property
    def reads_project(self) -> bool:
        """True when the backend reads the project tree itself (agentic CLIs)."""

    def identity(self) -> dict[str, Any]:
        """What determines this backend's answers, for cache keys: kind, protocol, model,
        parameters, command and args. Never credentials, URLs' secrets or timeouts."""

    def complete(
        self, request: CompletionRequest, cancel: Cancel, on_progress: ProgressCallback | None = None
    ) -> Completion:
        """Answer one prompt or raise ``BackendError``."""

    def close(self) -> None: ...


class BackendWrapper:
    """A backend wrapped to add something around ``complete`` (logging, a managed server's lease);
    everything else is the inner backend's."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def reads_project(self) -> bool:
        return self.inner.reads_project

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def close(self) -> None:
        self.inner.close()
