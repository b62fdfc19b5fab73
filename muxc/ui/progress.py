"""How a build looks while it runs: a live rich table on a terminal, plain lines otherwise.

Both write to stderr (stdout is for the build's result). Reporters are called from worker
threads, so every update goes through one lock.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from muxc.run.context import CACHED, FAILED, NOT_REACHED, RAN, RUNNING, SKIPPED
from muxc.run.events import SilentReporter

SYMBOLS = {RAN: "✓", CACHED: "·", FAILED: "✗", SKIPPED: "-", NOT_REACHED: " ", RUNNING: "…", "would run": "?"}
LABELS = {RAN: "ran", CACHED: "cached", FAILED: "failed", SKIPPED: "skipped", NOT_REACHED: "not reached",
          RUNNING: "running", "would run": "would run", "pending": "waiting"}


def describe(state: Any) -> str:
    """'12.3s, local, 1,204 tokens — prompt changed' for a finished step."""
    parts = []
    if state.status in (RAN, FAILED) and state.duration_ms:
        parts.append(f"{state.duration_ms / 1000:.1f}s")
    record = state.record
    if record is not None and record.backends:
        parts.append(", ".join(record.backends))
    if record is not None and state.status == RAN:
        tokens = (record.usage.input_tokens or 0) + (record.usage.output_tokens or 0)
        if tokens:
            parts.append(f"{tokens:,} tokens")
        if record.usage.cost_usd:
            parts.append(f"${record.usage.cost_usd:.4f}")
    text = ", ".join(parts)
    if state.reason and state.status in (RAN, "would run", SKIPPED):
        text += (" — " if text else "") + state.reason.splitlines()[0]
    if state.status == FAILED and state.failure is not None:
        text += (" — " if text else "") + state.failure.message.splitlines()[0]
    return text


class PlainReporter:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def build_started(self, workflow: str, steps: list[str]) -> None:
        self._line(f"building {workflow} ({len(steps)} step{'' if len(steps) == 1 else 's'})")

    def step_started(self, step: str, detail: str) -> None:
        self._line(f"  … {step} ({detail})")

    def step_finished(self, step: str, state: Any) -> None:
        detail = describe(state)
        label = LABELS.get(state.status, state.status)
        self._line(f"  {SYMBOLS.get(state.status, ' ')} {step}: {label}" + (f" ({detail})" if detail else ""))

    def note(self, message: str) -> None:
        self._line(f"  note: {message}")

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        from muxc.ui.ask import ask

        return ask(question, options, default)

    def build_finished(self, build: Any) -> None:
        pass


class LiveReporter:
    """A rich table of every step that updates in place (a terminal only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[str, float, str, str]] = {}  # step -> (status, start, kind, detail)
        self._live = Live(console=self.console, refresh_per_second=8, transient=False, get_renderable=self._table)
        self._started = False

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for step, (status, start, kind, detail) in rows:
            elapsed = f"{now - start:.1f}s" if status == RUNNING else ""
            style = {FAILED: "red", RAN: "green", CACHED: "dim", RUNNING: "yellow"}.get(status)
            label = LABELS.get(status, status)
            table.add_row(SYMBOLS.get(status, " "), step, f"[{style}]{label}[/]" if style else label, kind,
                          elapsed or detail)
        return table

    def build_started(self, workflow: str, steps: list[str]) -> None:
        with self._lock:
            for step in steps:
                self._rows[step] = ("pending", 0.0, "", "")
        self._live.start()
        self._started = True

    def step_started(self, step: str, detail: str) -> None:
        with self._lock:
            self._rows[step] = (RUNNING, time.monotonic(), detail, "")

    def step_finished(self, step: str, state: Any) -> None:
        with self._lock:
            _, start, kind, _ = self._rows.get(step, ("", 0.0, "", ""))
            self._rows[step] = (state.status, start, kind, describe(state))

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {message}")

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        """The live table stops while the question is on the terminal, then goes on."""
        from muxc.ui.ask import ask

        live = self._started
        if live:
            self._live.stop()
        try:
            return ask(question, options, default)
        finally:
            if live:
                self._live.start()

    def build_finished(self, build: Any) -> None:
        for name, state in build.states.items():
            self.step_finished(name, state)
        if self._started:
            self._live.stop()
            self._started = False


class QuietReporter(SilentReporter):
    """JSON and quiet modes: nothing on the terminal but an input step's question."""

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        from muxc.ui.ask import ask

        return ask(question, options, default)


def reporter_for(output: str, stream: TextIO | None = None) -> Any:
    if output in ("json", "quiet"):
        return QuietReporter()
    stream = stream or sys.stderr
    return LiveReporter() if stream.isatty() else PlainReporter(stream)
