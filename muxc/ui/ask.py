"""Asking the person at the terminal (input steps), one question at a time.

Reporters answer ``Reporter.ask`` with this; a live display pauses itself around it.
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()


def ask(question: str, options: list[str] | None, default: str | None) -> str | None:
    """The answer typed on the terminal, or None when the person gave none (Ctrl-D, Ctrl-C)."""
    import click

    with _LOCK:
        try:
            choice = click.Choice(options) if options else None
            return click.prompt(question, type=choice, default=default, err=True, show_choices=bool(options))
        except (click.Abort, EOFError):
            return None
