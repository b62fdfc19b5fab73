"""Recording every LLM call: the ``CallRecord`` a logger receives, and the wrapper that sends it.

``LoggedBackend`` wraps any backend: after each ``complete`` (answer or error) it hands one
``CallRecord`` to the call logger (the LLM log, usually). Records are masked here, before they
leave the backend layer, so no logger can store a credential. A logger that fails is reported in
the debug log and never fails the step: the answer matters more than its bookkeeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from muxc.backends.base import (
    Backend,
    BackendError,
    BackendWrapper,
    Cancel,
    Completion,
    CompletionRequest,
    ProgressCallback,
    Usage,
)
from muxc.base.masking import SECRETS, Secrets, mask

log = logging.getLogger(__name__)


class CallRecord(msgspec.Struct, frozen=True):
    time: float  # time.time() when the call started
    backend: str
    prompt: str
    status: str  # "ok" or the failure kind
    workflow: str = ""
    step: str = ""
    model: str | None = None
    system: str | None = None
    response: str | None = None
    error: str | None = None
    usage: Usage = Usage()
    latency_ms: int = 0
    cost_usd: float | None = None
    cache_key: str = ""
    attempts: int = 1


CallLogger = Callable[[CallRecord], None]


def record_for(
    request: CompletionRequest,
    backend: str,
    model: str | None,
    started: float,
    outcome: Completion | BackendError,
    secrets: Secrets = SECRETS,
) -> CallRecord:
    """The masked record of one call's outcome."""
    common: dict[str, Any] = {
        "time": started,
        "backend": backend,
        "prompt": mask(request.prompt, secrets),
        "system": mask(request.system, secrets) if request.system else None,
        "workflow": request.workflow,
        "step": request.step,
        "cache_key": request.cache_key,
    }
    if isinstance(outcome, BackendError):
        latency = int((time.time() - started) * 1000)
        return CallRecord(
            status=outcome.kind,
            model=model,
            error=mask(outcome.message, secrets),
            latency_ms=latency,
            attempts=outcome.attempts,
            **common,
        )
    return CallRecord(
        status="ok",
        model=outcome.model or model,
        response=mask(outcome.text, secrets),
        usage=outcome.usage,
        latency_ms=outcome.latency_ms,
        cost_usd=outcome.cost_usd,
        attempts=outcome.attempts,
        **common,
    )


class LoggedBackend(BackendWrapper):
    """A backend whose every call is handed to ``logger``; otherwise identical to ``inner``."""

    def __init__(self, inner: Backend, logger: CallLogger, secrets: Secrets = SECRETS) -> None:
        super().__init__(inner)
        self._logger = logger
        self._secrets = secrets

    def complete(
        self, request: CompletionRequest, cancel: Cancel, on_progress: ProgressCallback | None = None
    ) -> Completion:
        started = time.time()
        model = self.inner.identity().get("model")
        try:
            completion = self.inner.complete(request, cancel, on_progress)
        except BackendError as error:
            self._log(record_for(request, self.name, model, started, error, self._secrets))
            raise
        self._log(record_for(request, self.name, model, started, completion, self._secrets))
        return completion

    def __getattr__(self, attribute: str) -> Any:
        # Backend-specific extras (in_flight, config) stay reachable through the wrapper.
        return getattr(self.inner, attribute)

    def _log(self, record: CallRecord) -> None:
        try:
            self._logger(record)
        except Exception as exc:  # the log is bookkeeping; never fail a step over it
            log.warning(
                "could not record the call to %s in the LLM log: %s", self.name, mask(str(exc), self._secrets)
            )
