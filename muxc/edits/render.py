"""Describe what an apply changed: a standard unified diff and a one-line summary.

The diff uses ``a/``/``b/`` headers and ``/dev/null`` for created and deleted files, marks a
missing final newline the standard way, and is accepted by ``git apply`` and ``patch -p1``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Protocol

from muxc.edits.text import split_lines

NO_EOL = "\\ No newline at end of file\n"


class Change(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def before(self) -> bytes | None: ...
    @property
    def after(self) -> bytes | None: ...


def file_diff(change: Change) -> list[str]:
    """The unified diff lines (with endings) of one file's change."""
    before, after = _lines(change.before), _lines(change.after)
    old_name = "/dev/null" if change.before is None else f"a/{change.path}"
    new_name = "/dev/null" if change.after is None else f"b/{change.path}"
    out = []
    for line in difflib.unified_diff(before, after, old_name, new_name):
        out.append(line if line.endswith("\n") else line + "\n" + NO_EOL)
    return out


def _lines(content: bytes | None) -> list[str]:
    # split_lines, not str.splitlines: only LF ends a line (not form feeds or U+2028).
    return [] if content is None else split_lines(content.decode("utf-8", errors="replace"))


def unified_diff(changes: Iterable[Change]) -> str:
    return "".join("".join(file_diff(change)) for change in changes)


def summary_line(changes: Iterable[Change]) -> str:
    """``2 files changed: src/a.rs (+4 −1), new.py (created, +3 −0)``."""
    parts = [_file_summary(change) for change in changes]
    if not parts:
        return "no files changed"
    noun = "file" if len(parts) == 1 else "files"
    return f"{len(parts)} {noun} changed: " + ", ".join(parts)


def _file_summary(change: Change) -> str:
    added = removed = 0
    for line in file_diff(change)[2:]:  # after the ---/+++ header lines
        added += line.startswith("+")
        removed += line.startswith("-")
    kind = "created, " if change.before is None else "deleted, " if change.after is None else ""
    return f"{change.path} ({kind}+{added} −{removed})"
