"""Asking the person at the terminal (input steps), with any live display paused meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable

_LOCK = threading.Lock()
PAUSERS: list[tuple[Callable[[], None], Callable[[], None]]] = []  # (pause, resume) of live displays


def ask(question: str, options: list[str] | None, default: str | None) -> str | None:
    import click

    with _LOCK:
        for pause, _ in PAUSERS:
            pause()
        try:
            choice = click.Choice(options) if options else None
            return click.prompt(question, type=choice, default=default, err=True, show_choices=bool(options))
        except (click.Abort, EOFError):
            return None
        finally:
            for _, resume in PAUSERS:
                resume()
