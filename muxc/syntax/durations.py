"""Durations as users write them: an integer in the field's unit, or a string with units.

``"250ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"``. A bare integer means the field's unit
(llm-mux: milliseconds for step and workflow ``timeout``, seconds for backend ``timeout``).
"""

from __future__ import annotations

import re

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_WHOLE = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+")


class DurationError(ValueError):
    pass


def to_ms(value: int | float | str, unit: str = "ms") -> int:
    """Milliseconds for a duration value; raises ``DurationError`` with a user message."""
    if isinstance(value, bool):
        raise DurationError("expected a duration such as 30s or 5m, got a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise DurationError("a duration cannot be negative")
        return round(value * _UNITS_MS[unit])
    if not _WHOLE.fullmatch(value):
        raise DurationError(f"'{value}' is not a duration: write a number with a unit, such as 30s, 5m, 2h or 250ms")
    return round(sum(float(n) * _UNITS_MS[u] for n, u in _PART.findall(value)))


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
