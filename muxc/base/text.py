"""Small text helpers every room may use."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 step``, ``2 steps``; ``plural_form`` for nouns that do not just take an s."""
    return f"{count} {singular if count == 1 else plural_form or singular + 's'}"
