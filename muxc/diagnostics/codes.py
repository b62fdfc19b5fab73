"""The registry of diagnostic codes: stable kebab-case names, severities and explanations.

A code never changes meaning once released; ``muxc explain CODE`` prints the explanation
with an example and its fix, and ``docs/diagnostics.md`` is generated from this table.
The entries themselves live in ``catalog`` (one place to read and extend).
"""

from __future__ import annotations

import difflib

from muxc.diagnostics.model import Code


def _registry() -> dict[str, Code]:
    from muxc.diagnostics.catalog import CATALOG

    return {code.name: code for code in CATALOG}


_CODES: dict[str, Code] | None = None


def all_codes() -> dict[str, Code]:
    global _CODES
    if _CODES is None:
        _CODES = _registry()
    return _CODES


def lookup(name: str) -> Code:
    """The registered code; an unregistered name is a bug in muxc, not user input."""
    try:
        return all_codes()[name]
    except KeyError:
        raise KeyError(f"diagnostic code {name!r} is not registered in muxc.diagnostics.catalog") from None


def suggest(name: str) -> list[str]:
    """Close registered names, for `muxc explain` with a typo."""
    return difflib.get_close_matches(name, list(all_codes()), n=3, cutoff=0.6)
