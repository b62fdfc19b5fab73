"""Durations in backend config, in float seconds, so callers never juggle units.

The parsing is ``muxc.lang.durations`` (one parser): an int or float in the key's unit, or a
string such as "90s", "500ms" or "1h30m", finite and at most ``MAX_WAIT_MS``. The config layer
has already validated the values; a value that still does not parse raises ``ValueError``.
"""

from __future__ import annotations

from muxc.lang.durations import to_ms


def parse_duration(value: int | float | str, unit: str = "s") -> float:
    """Seconds for ``value``; bare numbers are in ``unit`` ("s" or "ms")."""
    return to_ms(value, unit) / 1000
