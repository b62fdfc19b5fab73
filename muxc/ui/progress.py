"""How a build looks while it runs: a live view on a terminal, plain lines otherwise.

Both write to stderr (stdout is for the build's result). Reporters are called from worker
threads, so every update goes through one lock.

The live view is a header (done/total, running, queued, cached, failed, elapsed, tokens and cost
so far) over one row per step; a running query shows the backends asked and the tokens streamed
so far, a step whose inputs are ready but which waits for a free job (``-j``) shows as queued.
``frame_of`` reads all of it from the build once per refresh; ``frame_lines`` renders a frame
and is a pure function of it (the live table is the same text, styled).

On a terminal the view fits the screen: a workflow whose rows fit shows every row; a bigger one
shows the rows that matter (running, failed, queued, then the most recently finished), as many as
the terminal's height allows, and a "… N more done" line (``visible_rows``). So drawing a frame
costs the same for 10 steps or 10,000 rows, and the view is redrawn at most
``REFRESH_PER_SECOND``; reading the states for a new frame (linear in the steps) is held to a
small share of the time (``VIEW_SHARE``), so a huge build's view updates less often rather than
slowing the build.

On a pipe, steps served from the cache (or skipped) print nothing unless ``verbose``: a no-op
build of 1000 steps prints its summary line, not 1000 lines; a dry run prints no progress (its
report on stdout lists what would run).
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import Any, TextIO

import msgspec

from muxc.base.text import plural
from muxc.run.context import CACHED, FAILED, INTERRUPTED, NOT_REACHED, PENDING, RAN, RUNNING, SKIPPED
from muxc.run.events import SilentReporter

QUEUED = "queued"
SYMBOLS = {RAN: "✓", CACHED: "·", FAILED: "✗", SKIPPED: "-", NOT_REACHED: " ", INTERRUPTED: "✗", RUNNING: "…",
           "would run": "?", QUEUED: "⋯"}
LABELS = {RAN: "ran", CACHED: "cached", FAILED: "failed", SKIPPED: "skipped", NOT_REACHED: "not reached",
          INTERRUPTED: "interrupted", RUNNING: "running", "would run": "would run", PENDING: "waiting",
          QUEUED: QUEUED}
STYLES = {FAILED: "red", INTERRUPTED: "red", RAN: "green", CACHED: "dim", RUNNING: "yellow", QUEUED: "cyan"}
# A finished step (anything but pending, running or queued) counts as done in the header.
UNFINISHED = (PENDING, RUNNING, QUEUED)
CHARS_PER_TOKEN = 4  # streamed text is counted in characters; the view says ~tokens
REFRESH_PER_SECOND = 8
# A frame is read from every step's state: for a huge build that is not free, so the view reads
# a new one at most every VIEW_SHARE-th of the time (the last one is redrawn in between).
VIEW_SHARE = 20
LABEL_WIDTH = max(len(label) for label in LABELS.values())
KIND_WIDTH = 5  # shell, query, apply, store, input
# Lines of the terminal the view leaves alone: the "more" line, and one for the cursor (a view
# as tall as the screen would scroll it).
SPARE_LINES = 2
# Which rows a view too big for the terminal keeps first (lower first); finished rows by recency.
PRIORITY = {RUNNING: 0, FAILED: 1, INTERRUPTED: 1, QUEUED: 2}


def describe(state: Any) -> str:
    """'12.3s, local, 1,204 tokens — prompt changed' for a finished step."""
    parts = []
    if state.status in (RAN, FAILED, INTERRUPTED) and state.duration_ms:
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


# --- the live view's frame -------------------------------------------------------------------


class Row(msgspec.Struct, frozen=True):
    step: str
    status: str  # a step status, or QUEUED
    kind: str
    detail: str
    finished: float = 0.0  # when a finished step finished (time.time()), for the most recent ones


class Frame(msgspec.Struct, frozen=True):
    """The live view at one moment."""

    workflow: str
    jobs: int
    elapsed_s: float
    tokens: int  # finished queries' tokens, plus ~ what running ones streamed
    cost_usd: float
    rows: tuple[Row, ...]

    def count(self, *statuses: str) -> int:
        return sum(1 for row in self.rows if row.status in statuses)

    def counts(self) -> Counter[str]:
        """Rows per status, in one pass (the header asks for several)."""
        return Counter(row.status for row in self.rows)


def frame_of(build: Any, now: float, details: bool = True) -> Frame:
    """The live view of ``build`` at ``now`` (``time.time()``); reads the states without the lock
    (a refresh may show a step a moment late, never wrongly). Without ``details`` the rows'
    details are left empty (the live view writes them for the rows it shows)."""
    rows, tokens = [], 0
    for plan in build.plan.steps:
        state = build.state(plan.name)
        status = _status(build, plan, state)
        detail = _detail(state, status, now) if details else ""
        rows.append(Row(plan.name, status, plan.kind, detail, state.finished))
        tokens += _tokens(state)
    return Frame(build.plan.workflow, build.options.jobs, max(0.0, now - build.started), tokens, build.cost_usd,
                 tuple(rows))


def _status(build: Any, plan: Any, state: Any) -> str:
    if state.status == PENDING and all(build.state(dep).status not in (PENDING, RUNNING) for dep in plan.deps):
        return QUEUED  # its inputs are ready: what holds it is a free job (-j)
    return state.status


def _detail(state: Any, status: str, now: float) -> str:
    if status != RUNNING:
        return describe(state) if status not in UNFINISHED else ""
    parts = [f"{max(0.0, now - state.started):.1f}s"]
    if state.asking:
        parts.append(state.asking)
    if state.streamed:
        parts.append(f"~{state.streamed // CHARS_PER_TOKEN:,} tokens")
    return ", ".join(parts)


def _tokens(state: Any) -> int:
    if state.status == RUNNING:
        return state.streamed // CHARS_PER_TOKEN
    record = state.record
    if record is None or state.status != RAN:
        return 0
    return (record.usage.input_tokens or 0) + (record.usage.output_tokens or 0)


def header_line(frame: Frame) -> str:
    """'w — 3/10 done · 2 running · 1 queued (-j 2) · 4 cached · 0 failed · 12.3s · ~1,204 tokens · $0.0123'"""
    count = frame.counts()
    done = len(frame.rows) - sum(count[status] for status in UNFINISHED)
    parts = [f"{done}/{len(frame.rows)} done", f"{count[RUNNING]} running"]
    queued = count[QUEUED]
    if queued:
        held = count[RUNNING] >= frame.jobs
        parts.append(f"{queued} queued" + (f" (-j {frame.jobs})" if held else ""))
    parts += [f"{count[CACHED]} cached", f"{count[FAILED]} failed"]
    if count[INTERRUPTED]:
        parts.append(f"{count[INTERRUPTED]} interrupted")
    parts.append(f"{frame.elapsed_s:.1f}s")
    if frame.tokens:
        parts.append(f"~{frame.tokens:,} tokens" if count[RUNNING] else plural(frame.tokens, "token"))
    if frame.cost_usd:
        parts.append(f"${frame.cost_usd:.4f}")
    return f"{frame.workflow} — " + " · ".join(parts)


def frame_lines(frame: Frame) -> list[str]:
    """The frame as plain text: the header, then one aligned row per step."""
    width = max((len(row.step) for row in frame.rows), default=0)
    lines = [header_line(frame)]
    for row in frame.rows:
        label = LABELS.get(row.status, row.status)
        lines.append(f"{SYMBOLS.get(row.status, ' ')} {row.step.ljust(width)}  {label:<11}  {row.kind:<6}  "
                     f"{row.detail}".rstrip())
    return lines


def visible_rows(rows: tuple[Row, ...], height: int) -> tuple[list[Row], str]:
    """The rows a terminal ``height`` lines tall shows under the header, in plan order, and the line
    that counts the others ("" when every row fits)."""
    if len(rows) + 1 + SPARE_LINES <= height:
        return list(rows), ""
    room = max(1, height - 1 - SPARE_LINES)
    ranked = sorted(range(len(rows)), key=lambda at: _rank(rows[at], at))[:room]
    shown = [rows[at] for at in sorted(ranked)]
    return shown, _more_line(rows, shown)


def _rank(row: Row, at: int) -> tuple[int, float, int]:
    if row.status in PRIORITY:
        return PRIORITY[row.status], 0.0, at
    if row.status not in UNFINISHED:
        # the most recently finished first; among steps the cache served at once, the later in the plan
        return 3, -row.finished, -at
    return 4, 0.0, at  # waiting for its inputs: shown last


def _more_line(rows: tuple[Row, ...], shown: list[Row]) -> str:
    done = sum(1 for row in rows if row.status not in UNFINISHED) - sum(
        1 for row in shown if row.status not in UNFINISHED)
    to_do = len(rows) - len(shown) - done
    parts = ([f"{done:,} more done"] if done else []) + ([f"{to_do:,} more to do"] if to_do else [])
    return "… " + " · ".join(parts)


# --- reporters ------------------------------------------------------------------------------


class PlainReporter:
    """One line per event, for logs and pipes; steps the cache served only with ``verbose``."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self._lock = threading.Lock()
        self._told: set[str] = set()
        self._started: set[str] = set()
        self._dry_run = False

    def _line(self, text: str, *, in_dry_run: bool = False) -> None:
        # a dry run's report on stdout says what would run; progress would repeat it (notes would not)
        if self._dry_run and not in_dry_run:
            return
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def watch(self, build: Any) -> None:
        self._dry_run = build.options.dry_run

    def build_started(self, workflow: str, steps: list[str]) -> None:
        self._line(f"building {workflow} ({plural(len(steps), 'step')})")

    def step_started(self, step: str, detail: str) -> None:
        self._started.add(step)
        self._line(f"  … {step} ({detail})")

    def step_finished(self, step: str, state: Any) -> None:
        self._told.add(step)
        if state.status in (CACHED, SKIPPED) and not self.verbose and step not in self._started:
            return  # a step announced as started always says how it ended
        detail = describe(state)
        label = LABELS.get(state.status, state.status)
        self._line(f"  {SYMBOLS.get(state.status, ' ')} {step}: {label}" + (f" ({detail})" if detail else ""))

    def note(self, message: str) -> None:
        self._line(f"  note: {message}", in_dry_run=True)

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        from muxc.ui.ask import ask

        return ask(question, options, default)

    def build_finished(self, build: Any) -> None:
        """Steps Ctrl-C stopped whose threads never came back to say so."""
        for name, state in build.states.items():
            if state.status == INTERRUPTED and name not in self._told:
                self.step_finished(name, state)


class LiveReporter:
    """The header and the rows that fit the terminal, redrawn in place (a terminal only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self._build: Any = None
        self._step_width = 0
        self._drawn: Any = None
        self._next_frame = 0.0
        self._live = Live(console=self.console, refresh_per_second=REFRESH_PER_SECOND, transient=False,
                          get_renderable=self._view)
        self._started = False

    def watch(self, build: Any) -> None:
        """The build to draw (its states are read at each refresh)."""
        self._build = build
        self._step_width = max((len(step.name) for step in build.plan.steps), default=0)

    def _view(self) -> Any:
        if self._build is None:
            from rich.text import Text

            return Text("")
        start = time.perf_counter()
        if self._drawn is None or start >= self._next_frame:
            self._drawn = self._render(time.time())
            self._next_frame = start + VIEW_SHARE * (time.perf_counter() - start)
        return self._drawn

    def _render(self, now: float) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        frame = frame_of(self._build, now, details=False)
        rows, more = visible_rows(frame.rows, self.console.size.height)
        table = Table(box=None, show_header=False, pad_edge=False)
        if more:  # a moving window of rows: columns as wide as any row may need, so they hold still
            for width in (1, self._step_width, LABEL_WIDTH, KIND_WIDTH):
                table.add_column(min_width=width)
            table.add_column()
        for row in rows:
            style = STYLES.get(row.status)
            label = LABELS.get(row.status, row.status)
            detail = _detail(self._build.state(row.step), row.status, now)
            table.add_row(SYMBOLS.get(row.status, " "), row.step, Text(label, style=style or ""), row.kind, detail)
        header = Text(header_line(frame), style="bold", overflow="ellipsis", no_wrap=True)
        if not more:
            return Group(header, table)
        return Group(header, table, Text(more, style="dim", overflow="ellipsis", no_wrap=True))

    def build_started(self, workflow: str, steps: list[str]) -> None:
        self._live.start()
        self._started = True

    def step_started(self, step: str, detail: str) -> None:
        pass  # the next refresh reads it from the build

    def step_finished(self, step: str, state: Any) -> None:
        pass

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/] {message}")

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        """The live view stops while the question is on the terminal, then goes on."""
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
        self._build = build
        self._drawn = None  # the last frame says how the build ended
        if self._started:
            self._live.refresh()
            self._live.stop()
            self._started = False


class QuietReporter(SilentReporter):
    """JSON and quiet modes: nothing on the terminal but an input step's question."""

    def watch(self, build: Any) -> None:
        pass

    def ask(self, question: str, options: list[str] | None, default: str | None) -> str | None:
        from muxc.ui.ask import ask

        return ask(question, options, default)


def reporter_for(output: str, stream: TextIO | None = None, verbose: bool = False) -> Any:
    if output in ("json", "quiet"):
        return QuietReporter()
    stream = stream or sys.stderr
    return LiveReporter() if stream.isatty() else PlainReporter(stream, verbose)
