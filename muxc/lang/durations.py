"""Durations as users write them: an integer in the field's unit, or a string with units.

``"250ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"``. A bare integer means the field's unit
(llm-mux: milliseconds for step and workflow ``timeout``, seconds for backend ``timeout``).

This is the one duration parser; ``to_seconds`` gives backend settings in float seconds.
Every duration it returns is finite and bounded: ``inf``, ``nan`` and ``1e308`` are user
errors, never an ``OverflowError`` in a timer later. A wait (timeout, delay, interval) is at
most ``MAX_WAIT_MS``: poll/epoll take a C int of milliseconds, so a longer one overflows the
operating system's timers. A cache lifetime is not handed to a timer; its bound only keeps it
an ordinary integer, and "forever" says the rest.
"""

from __future__ import annotations

import math
import re

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_WHOLE = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+")

MAX_WAIT_MS = 24 * 86_400_000  # 24 days; 2**31 - 1 ms is 24.8 days
MAX_CACHE_MS = 3650 * 86_400_000  # 10 years


class DurationError(ValueError):
    pass


class DurationRangeError(DurationError):
    """A well-formed duration that is not finite or longer than the field allows."""


def to_ms(value: int | float | str, unit: str = "ms", most: int = MAX_WAIT_MS) -> int:
    """Milliseconds for a duration value, at most ``most``; raises ``DurationError`` with a user message."""
    if isinstance(value, bool):
        raise DurationError("expected a duration such as 30s or 5m, got a boolean")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise DurationRangeError(f"a duration must be a finite number (got {value})")
        if value < 0:
            raise DurationError("a duration cannot be negative")
        return _bounded(value * _UNITS_MS[unit], most, f"{value:g} {unit}")
    if not _WHOLE.fullmatch(value):
        raise DurationError(f"'{value}' is not a duration: write a number with a unit, such as 30s, 5m, 2h or 250ms")
    return _bounded(sum(float(n) * _UNITS_MS[u] for n, u in _PART.findall(value)), most, value.strip())


def _bounded(ms: float, most: int, written: str) -> int:
    # also catches a string of 400 digits, which float() reads as inf
    if ms > most:
        written = written if len(written) <= 24 else written[:20] + "…"
        raise DurationRangeError(f"a duration must be at most {most // _UNITS_MS['d']} days (got {written})")
    return round(ms)


def format_ms(ms: int) -> str:
    """A short human form: 1500 -> '1.5s', 90000 -> '1m30s'."""
    if ms < 1000:
        return f"{ms}ms"
    seconds, rest = divmod(ms, 1000)
    if seconds < 60:
        return f"{seconds}.{rest // 100}s" if rest else f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


def to_seconds(value: int | float | str, unit: str = "s") -> float:
    """Seconds for ``value`` (backend settings); bare numbers are in ``unit`` ("s" or "ms")."""
    return to_ms(value, unit) / 1000
