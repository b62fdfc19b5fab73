"""Diagnostics as data: a code, a severity, a terse message and labelled spans.

Every stage reports problems as ``Diagnostic`` values; nothing but the CLI prints them.
The primary label is the narrowest span that shows the problem (the misspelled name, the
offending value); secondary labels give context (the other half of a duplicate, the rest
of a cycle). Offsets live in the data; lines and columns are computed only when rendering.
"""

from __future__ import annotations

import enum

import msgspec

from muxc.diagnostics.span import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        """Sort rank: errors first."""
        return {"error": 0, "warning": 1, "note": 2}[self.value]


class Label(msgspec.Struct, frozen=True):
    """A span in a file, with an optional short message shown under it."""

    file: str
    span: Span
    message: str = ""
    primary: bool = True

    def secondary(self) -> Label:
        return Label(self.file, self.span, self.message, primary=False)


class Diagnostic(msgspec.Struct, frozen=True):
    code: str
    severity: Severity
    message: str
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str | None = None

    @property
    def primary(self) -> Label | None:
        for label in self.labels:
            if label.primary:
                return label
        return self.labels[0] if self.labels else None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Order by file, then position, then severity (errors first), then code."""
        label = self.primary
        if label is None:
            return ("", -1, self.severity.rank, self.code, self.message)
        return (label.file, label.span.start, self.severity.rank, self.code, self.message)


class Code(msgspec.Struct, frozen=True):
    name: str
    severity: Severity
    title: str
    explanation: str
    example: str = ""
    fix: str = ""
