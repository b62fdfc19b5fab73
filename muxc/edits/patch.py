"""Apply the hunks of a unified diff to a file's text, tolerating drifted line numbers.

Invariants: hunks apply in order against the evolving text; each is placed where its
context and removed lines are (exact text first, then ignoring trailing whitespace), at
the stated line if they are there, else at the one match within ``HUNK_WINDOW`` lines of
it, else at the one match in the file; several candidates are an error naming their lines.
Context lines keep the file's own bytes (its whitespace and line endings); added lines get
the file's dominant line ending. ``\\ No newline at end of file`` markers are honoured only
when a hunk reaches the end of the file and the two sides disagree.
"""

from __future__ import annotations

from typing import NamedTuple

from muxc.edits.locate import closest_region, pick_hunk_position
from muxc.edits.model import Hunk
from muxc.edits.text import bare, split_lines


class Patched(NamedTuple):
    text: str
    # True/False when a hunk explicitly added/removed the final newline; None otherwise.
    final_newline: bool | None


def apply_hunks(text: str, hunks: tuple[Hunk, ...], path: str, eol: str) -> Patched | str:
    """``text`` with every hunk applied, or an error naming the hunk that does not fit."""
    lines = split_lines(text)
    delta, final_newline = 0, None
    for number, hunk in enumerate(hunks, 1):
        at = _position(lines, hunk, delta)
        if not isinstance(at, int):
            return _misplaced(lines, hunk, number, path, at)
        old_size = len(hunk.old_lines)
        if at + old_size == len(lines) and hunk.old_no_eol != hunk.new_no_eol:
            final_newline = not hunk.new_no_eol
        replacement = _replacement(lines[at : at + old_size], hunk, eol)
        lines[at : at + old_size] = replacement
        delta += len(replacement) - old_size
    return Patched("".join(_terminated(lines, eol)), final_newline)


def _position(lines: list[str], hunk: Hunk, delta: int) -> int | list[int] | None:
    """Where the hunk's old side starts in ``lines`` (see ``pick_hunk_position``)."""
    wanted = list(hunk.old_lines)
    hint = None if hunk.old_start is None else hunk.old_start + delta - (1 if wanted else 0)
    if not wanted:
        # A hunk with no context or removed lines inserts after its stated line.
        return hint if hint is not None and 0 <= hint <= len(lines) else None
    exact = pick_hunk_position([bare(line) for line in lines], wanted, hint)
    if exact is not None:
        return exact
    keys = [bare(line).rstrip() for line in lines]
    return pick_hunk_position(keys, [line.rstrip() for line in wanted], hint)


def _misplaced(lines: list[str], hunk: Hunk, number: int, path: str, at: list[int] | None) -> str:
    where = f"hunk {number} of {path} ({hunk.header})"
    if isinstance(at, list):
        numbers = ", ".join(str(index + 1) for index in at)
        return (
            f"{where} fits {len(at)} places, at lines {numbers}, none of them at the line it states; "
            "include more context lines so that it fits exactly one"
        )
    if not hunk.old_lines:
        return f"{where} has no context or removed lines, and its line number is missing or past the end"
    old = "\n".join(hunk.old_lines)
    return f"{where}: its context and removed lines were not found{closest_region(lines, old)}"


def _replacement(region: list[str], hunk: Hunk, eol: str) -> list[str]:
    """The lines that replace ``region``: the file's own context lines, plus added lines."""
    originals = iter(region)
    out = []
    for line in hunk.lines:
        if line[0] == "+":
            out.append(line[1:] + eol)
            continue
        original = next(originals)
        if line[0] == " ":
            out.append(original)
    return out


def _terminated(lines: list[str], eol: str) -> list[str]:
    """Every line but the last ends with a line ending (a former last line may not)."""
    return [
        line if index == len(lines) - 1 or line.endswith("\n") else line + eol
        for index, line in enumerate(lines)
    ]
