"""Durations in backend config: an int (in the key's unit) or a string such as "90s" or "500ms".

``parse_duration`` always answers in float seconds, so callers never juggle units. The config
layer has already validated the values; a value that still does not parse raises ``ValueError``.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: int | float | str, unit: str = "s") -> float:
    """Seconds for ``value``; bare numbers are in ``unit`` ("s" or "ms")."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value) * _UNITS[unit]
    match = _PATTERN.match(value)
    if match is None:
        raise ValueError(f'not a duration: {value!r} (write e.g. 30, "90s", "500ms" or "2m")')
    number, suffix = match.groups()
    return float(number) * _UNITS[suffix or unit]
