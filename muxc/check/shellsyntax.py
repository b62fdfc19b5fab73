"""Shell commands as ``sh`` will read them, for syntax checks run outside the pure rooms.

A shell step's ``run`` and an apply step's ``verify`` are templates. The build writes each
``{{ }}`` as a reference to an environment variable, quoted for where it lands (``"${MUXC_V1}"``
bare, ``${MUXC_V1}`` in double quotes or a heredoc body, ``'"${MUXC_V1}"'`` in single quotes; see
``run.shellvalues``), so the shell code of a command is known before any value exists. A
``ShellProbe`` is that code, with a map from its characters back to the template's, so a line
and column reported by ``sh -n`` or shellcheck becomes a span in the workflow file.

Not probed: a template with ``{% %}`` tags (its shell text depends on the values: the build
judges it when it renders), one Jinja cannot parse, and one with a value where no reference can
go (both are errors of their own). This module only prepares and maps; running the tools is
``app.shellsyntax``'s job.
"""

from __future__ import annotations

import bisect
import re

import msgspec

from muxc.diagnostics.span import Span
from muxc.lang import jinja as J
from muxc.lang.document import Str
from muxc.lang.shellscan import BARE, DOUBLE, HEREDOC, SINGLE, Scanner
from muxc.syntax.ast import Workflow

_LINE_BREAK = re.compile("\n")
# The fields that hold a shell command, per step kind.
SHELL_COMMANDS = {"shell": "run", "apply": "verify"}


class Segment(msgspec.Struct, frozen=True, array_like=True):
    """Probe characters ``[probe, probe_end)`` stand for template characters ``[start, end)``."""

    probe: int
    probe_end: int
    start: int
    end: int


class ShellProbe(msgspec.Struct, frozen=True):
    """One shell command of one step, as the shell will parse it (made by ``make_probe``, which
    fills the two indexes: mapping a finding back costs a binary search, not a pass over the text,
    so a big command with thousands of findings stays linear)."""

    step: str
    field: str
    text: str  # the command with a reference in place of every value
    node: Str  # the template, for spans
    segments: tuple[Segment, ...]
    line_starts: tuple[int, ...] = (0,)  # the offset each line of ``text`` starts at
    segment_starts: tuple[int, ...] = ()  # each segment's ``probe``

    def span(self, start: int, end: int) -> Span:
        """The workflow-file span of probe characters ``[start, end)`` (a value maps to its whole ``{{ }}``)."""
        first, last = self._template(start, False), self._template(max(start, end - 1), True)
        return self.node.source_span(first, max(first, last))

    def _template(self, offset: int, end: bool) -> int:
        at = max(0, bisect.bisect_right(self.segment_starts, offset) - 1)
        segment = self.segments[at] if self.segments else Segment(0, 0, 0, 0)
        if segment.probe_end - segment.probe != segment.end - segment.start:  # a value: all of it
            return segment.end if end else segment.start
        inside = min(offset - segment.probe, segment.end - segment.start)
        return segment.start + inside + (1 if end else 0)

    def offset(self, line: int, column: int) -> int:
        """The probe offset of a 1-based line and column (characters), clamped to the text."""
        line = max(1, min(line, len(self.line_starts)))
        return min(self.line_starts[line - 1] + max(column, 1) - 1, len(self.text))

    def line_span(self, line: int) -> tuple[int, int]:
        """Probe offsets of a 1-based line's non-blank text (the whole command past its end)."""
        if not 1 <= line <= len(self.line_starts):
            return 0, len(self.text)
        start = self.line_starts[line - 1]
        stop = self.line_starts[line] - 1 if line < len(self.line_starts) else len(self.text)
        text = self.text[start:stop]
        lead = len(text) - len(text.lstrip())
        return start + lead, start + max(lead + 1, len(text.rstrip()))


def make_probe(step: str, field: str, text: str, node: Str, segments: tuple[Segment, ...]) -> ShellProbe:
    """The probe of ``text``, with its indexes."""
    line_starts = (0, *(match.end() for match in _LINE_BREAK.finditer(text)))
    return ShellProbe(step, field, text, node, segments, line_starts, tuple(s.probe for s in segments))


def shell_probes(workflow: Workflow) -> list[ShellProbe]:
    """A probe for every shell command of the workflow that can be read before it runs."""
    probes = []
    for step in workflow.steps:
        field = SHELL_COMMANDS.get(step.type)
        node = getattr(step, field) if field else None
        if node is not None and node.value.strip():
            probe = probe_command(step.name, field, node)
            if probe is not None:
                probes.append(probe)
    return probes


def probe_command(step: str, field: str, node: Str) -> ShellProbe | None:
    """The probe of one command template, or None when its shell text depends on the values."""
    source = node.value
    if not J.has_syntax(source):
        return make_probe(step, field, source, node, (Segment(0, len(source), 0, len(source)),))
    if J.analyze(source).error is not None:
        return None
    return _Builder(source).build(step, field, node)


class _Builder:
    """Writes the probe left to right: literal text as is, each value as the build's reference."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.scanner = Scanner()
        self.parts: list[str] = []
        self.segments: list[Segment] = []
        self.length = 0
        self.values = 0

    def build(self, step: str, field: str, node: Str) -> ShellProbe | None:
        position, strip_next, value_start = 0, False, 0
        for token in J.tokens(self.source):
            if token.kind == "block_begin":
                return None
            if token.kind in ("variable_begin", "comment_begin"):
                self._literal(position, token.start, strip_next, token.value.endswith("-"))
                value_start = token.start
            elif token.kind == "variable_end" and not self._value(value_start, token.start + len(token.value)):
                return None
            if token.kind in ("variable_end", "comment_end"):
                position, strip_next = token.start + len(token.value), token.value.startswith("-")
        self._literal(position, len(self.source), strip_next, False)
        return make_probe(step, field, "".join(self.parts), node, tuple(self.segments))

    def _literal(self, start: int, end: int, strip_start: bool, strip_end: bool) -> None:
        text = self.source[start:end]
        if strip_start:
            start += len(text) - len(text.lstrip())
        if strip_end:
            end = start + len(self.source[start:end].rstrip())
        self._add(self.source[start:end], start, end)
        self.scanner.feed(self.source[start:end])

    def _value(self, start: int, end: int) -> bool:
        self.values += 1
        reference = _reference(self.scanner.context, self.values)
        if reference is None:
            return False
        self._add(reference, start, end)
        self.scanner.placeholder()
        return True

    def _add(self, text: str, start: int, end: int) -> None:
        if text:
            self.segments.append(Segment(self.length, self.length + len(text), start, end))
            self.parts.append(text)
            self.length += len(text)


def _reference(context: str, number: int) -> str | None:
    """The reference the build writes for a value landing in ``context`` (``run.shellvalues``)."""
    name = "${MUXC_V" + str(number) + "}"
    if context == BARE:
        return '"' + name + '"'
    if context in (DOUBLE, HEREDOC):
        return name
    if context == SINGLE:
        return "'\"" + name + "\"'"
    return None  # a comment, a quoted heredoc, arithmetic, a delimiter: no reference (reported elsewhere)
