"""Build events and the reporter interface the UI implements.

The runtime never prints: it tells a ``Reporter`` what happens (a step starts, is served from the
cache, finishes, fails) and the UI decides how that looks (a live rich view on a terminal, plain
lines otherwise, nothing in JSON mode). Reporters must be thread-safe: workers call them. An
input step asks its question through the reporter too (``ask``), so the runtime never touches
the terminal itself.
"""

from __future__ import annotations

from typing import Any, Protocol


class Reporter(Protocol):
    def build_started(self, workflow: str, steps: list[str]) -> None: ...

    def step_started(self, step: str, detail: str) -> None: ...

    def step_finished(self, step: str, state: Any) -> None: ...

    def note(self, message: str) -> None: ...

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        """An input step's question to the person running the build; None when nobody answers."""
        ...

    def build_finished(self, build: Any) -> None: ...


class SilentReporter:
    """Reports nothing (JSON and quiet modes, tests)."""

    def build_started(self, workflow: str, steps: list[str]) -> None:
        pass

    def step_started(self, step: str, detail: str) -> None:
        pass

    def step_finished(self, step: str, state: Any) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        return None

    def build_finished(self, build: Any) -> None:
        pass
