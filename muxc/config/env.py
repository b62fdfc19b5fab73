"""``${VAR}`` and ``${VAR:-default}`` expansion, pure: the caller passes the environment.

As in the shell, ``${VAR:-default}`` gives the default when ``VAR`` is unset *or empty*; a
``${VAR}`` whose variable is unset or empty counts as missing (an empty key is never meant).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def references(text: str) -> list[tuple[str, str | None, int, int]]:
    """Each ``${VAR}`` in ``text``: (name, default or None, start, end)."""
    return [(m.group(1), m.group(2), m.start(), m.end()) for m in REFERENCE.finditer(text)]


def missing(text: str, environ: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """References without a value and without a default: (name, start, end)."""
    return [(name, s, e) for name, default, s, e in references(text) if default is None and not environ.get(name)]


def expand(text: str, environ: Mapping[str, str]) -> str:
    """Replace references; a missing variable without a default becomes the empty string."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if environ.get(name):
            return environ[name]
        return default if default is not None else ""

    return REFERENCE.sub(value, text)
