"""Retry policy: how long to wait before the next attempt, and which failures deserve one.

- Backoff is exponential from ``retry_delay`` (ms in config), doubling per retry, with up to +25 %
  jitter, capped at 60 s; so successive waits always grow until the cap.
- ``max_retries`` counts retries after the first attempt (llm-mux: 3, so 4 attempts at most).
- ``Retry-After`` is read as delta-seconds or an HTTP date; garbage and negative values give None.
- ``retry_rate_limit`` (default true) and ``retry_timeout`` (default false) are honoured, unlike
  llm-mux, which parsed and ignored them. Malformed answers are retried like 5xx.
- Every wait goes through ``Cancel.wait`` so Ctrl-C interrupts it.

``Tuning`` holds the knobs that are not user config (short-wait threshold, heuristic park length,
cap); tests shrink them to keep rate-limit scenarios fast.
"""

from __future__ import annotations

import email.utils
import random
import time

import msgspec

from muxc.backends.base import BackendError, Cancel
from muxc.config.schema import BackendConfig
from muxc.lang.durations import to_seconds as parse_duration


class Tuning(msgspec.Struct, frozen=True):
    """Internal bounds of the retry and rate-limit machinery (seconds)."""

    max_delay: float = 60.0  # cap of the exponential backoff and of a honoured Retry-After
    jitter: float = 0.25  # up to +25 % on each backoff wait
    short_wait_max: float = 5.0  # a 429 asking for at most this long waits on the same key
    max_same_key_waits: int = 2  # then the key is parked and the pool fails over
    heuristic_park: float = 8.0  # a 429 without Retry-After parks the key this long (doubling)
    cli_kill_grace: float = 2.0  # SIGTERM to SIGKILL on a CLI timeout


class RetryPolicy(msgspec.Struct, frozen=True):
    max_retries: int = 3
    base_delay: float = 1.0  # seconds
    retry_rate_limit: bool = True
    retry_timeout: bool = False
    tuning: Tuning = Tuning()

    @classmethod
    def from_config(cls, config: BackendConfig, tuning: Tuning | None = None) -> RetryPolicy:
        return cls(
            max_retries=max(0, config.max_retries),
            base_delay=parse_duration(config.retry_delay, "ms"),
            retry_rate_limit=config.retry_rate_limit,
            retry_timeout=config.retry_timeout,
            tuning=tuning or Tuning(),
        )

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry number ``retry`` (1-based): base·2^(retry-1), +jitter, capped."""
        raw = self.base_delay * (2 ** max(0, retry - 1))
        jitter = 1.0 + (rng or random).uniform(0.0, self.tuning.jitter)
        return min(self.tuning.max_delay, raw * jitter)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """The server's ``Retry-After`` when it gave one (capped), else the backoff."""
        if retry_after is not None:
            return min(self.tuning.max_delay, retry_after)
        return self.backoff(retry)

    def retries_transient(self, kind: str) -> bool:
        """Whether a failure of this kind is worth another attempt on the same credential: a
        malformed answer (``bad_response``) is as transient as a 5xx, often a proxy's hiccup."""
        if kind in ("server", "connection", "bad_response"):
            return True
        return kind == "timeout" and self.retry_timeout


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date, else None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.lstrip("+-").replace(".", "", 1).isdigit():
        seconds = float(text)
        return seconds if seconds >= 0 else None
    return _seconds_until_http_date(text, time.time() if now is None else now)


def _seconds_until_http_date(text: str, now: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def wait_or_cancel(cancel: Cancel, seconds: float, backend: str, attempts: int = 1) -> None:
    """Sleep ``seconds``; raise a ``cancelled`` error if the build is interrupted meanwhile."""
    if (seconds > 0 and cancel.wait(seconds)) or cancel.is_set:
        raise BackendError("cancelled", backend, "interrupted while waiting to retry", attempts=attempts)
