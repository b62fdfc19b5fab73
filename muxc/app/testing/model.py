"""A workflow test file as data: frozen Structs, each value with the span it came from.

Front-end neutral: ``parse`` builds it from TOML; a DSL ``test`` block can build the same.
Subjects and checks are kept apart so a new check (JSON Schema, a diff) is one field more.
"""

from __future__ import annotations

from typing import Any

import msgspec

from muxc.diagnostics.span import Span


class Spanned(msgspec.Struct, frozen=True):
    """A value and where it is written in the test file."""

    value: str | int | bool | tuple[str, ...]
    span: Span


class Expect(msgspec.Struct, frozen=True):
    """One assertion: a subject (a step's output or a project file), an optional JSON path into
    it, and the checks it must pass (all of them)."""

    span: Span
    step: Spanned | None = None
    file: Spanned | None = None
    diff: Spanned | None = None  # a project file's unified diff, before the build -> after it
    json: Spanned | None = None  # `a.b[0]`, optionally starting with `$.`
    contains: tuple[Spanned, ...] = ()
    not_contains: tuple[Spanned, ...] = ()
    regex: Spanned | None = None
    equals: Spanned | None = None
    lines: Spanned | None = None
    exists: Spanned | None = None
    exit_code: Spanned | None = None  # a step's: 0 when it succeeded
    schema: dict[str, Any] | None = None  # a JSON Schema (output_schema's subset) the JSON must satisfy
    schema_span: Span | None = None
    changed: Spanned | None = None  # an apply step's: exactly these files changed

    @property
    def subject(self) -> str:
        if self.step is not None:
            where = f"step `{self.step.value}`"
        elif self.diff is not None:
            where = f"the diff of {self.diff.value}"
        else:
            where = f"file {self.file.value}" if self.file is not None else "?"
        return where + (f" at {self.json.value}" if self.json is not None else "")


class RunExpect(msgspec.Struct, frozen=True):
    """Assertions on the build itself: its outcome, which steps ran, and how many LLM calls."""

    span: Span
    success: Spanned | None = None
    ran: Spanned | None = None  # step names (executed for real)
    cached: Spanned | None = None
    skipped: Spanned | None = None
    failed: Spanned | None = None
    calls: Spanned | None = None


class Answer(msgspec.Struct, frozen=True):
    """The scripted answers of one query step, used in order (the last one repeats)."""

    step: str
    span: Span  # the key
    texts: tuple[str, ...]


class TestCase(msgspec.Struct, frozen=True):
    name: str
    span: Span  # the name's value, or the case's table
    args: dict[str, str] = {}
    inputs: dict[str, str] = {}  # answers to input steps
    files: dict[str, str] = {}  # fixture files written inline
    fixture: Spanned | None = None  # a directory copied into the project first
    git: bool = False  # a git repository: the fixture committed, then `files` as uncommitted changes
    answers: tuple[Answer, ...] = ()
    expects: tuple[Expect, ...] = ()
    run: RunExpect | None = None


class TestFile(msgspec.Struct, frozen=True):
    path: str  # as shown in diagnostics
    directory: str  # absolute: where relative paths in the file start
    workflow: Spanned
    cases: tuple[TestCase, ...]
