"""Find unified diffs in LLM output: git style (``a/``/``b/``) or plain, fenced or bare.

A file section is a ``--- old`` line, a ``+++ new`` line and one or more ``@@`` hunks.
``/dev/null`` on the old side creates the file, on the new side deletes it. Several files
and hunks may follow each other, also across several fenced blocks.

Hunk bodies are read by their line prefixes, not by the counts in the ``@@`` header, because
LLMs miscount. What LLMs also do, and what is tolerated:

- a blank context line whose leading space was stripped is still context (llm-mux dropped it,
  which shifted every later line of the hunk);
- a context line that lost its leading space entirely counts as context when more diff lines
  follow it; otherwise it ends the hunk (it is the prose after the diff);
- blank lines at the end of a hunk are kept only as far as the header's old count needs them.

A hunk ends at a fence line, the next ``@@`` or file header, or prose.
"""

from __future__ import annotations

import re

from muxc.edits.model import Delete, DiffHunks, Edit, Found, Hunk
from muxc.edits.outputtext import is_fence, line_offsets

FORMAT = "unified diff"
EXPECTED = 'unified diff: "--- a/<path>" and "+++ b/<path>" lines, then "@@ -l,c +l,c @@" hunks'

DEV_NULL = "/dev/null"
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_DIFF_LINE = (" ", "-", "+", "\\")
# How many lines ahead a prefixed diff line may be for an unprefixed line to count as context.
_LOST_SPACE_LOOKAHEAD = 4


def find_diff(text: str) -> Found | None:
    """The diff edits in ``text``, or None when it has no ``---``/``+++`` header pair."""
    lines = text.split("\n")
    edits: list[Edit] = []
    problems: list[str] = []
    first, index = None, 0
    while index < len(lines):
        if not _is_header(lines, index):
            index += 1
            continue
        first = index if first is None else first
        edit, index = _file_section(lines, index)
        (problems if isinstance(edit, str) else edits).append(edit)
    if first is None:
        return None
    return Found(FORMAT, line_offsets(lines)[first], tuple(edits), tuple(problems))


def _is_header(lines: list[str], index: int) -> bool:
    return lines[index].startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ ")


def _file_section(lines: list[str], start: int) -> tuple[Edit | str, int]:
    """The edit for the file section whose ``---`` line is ``lines[start]``, and the index
    after the section."""
    old, new = _header_path(lines[start], "a/"), _header_path(lines[start + 1], "b/")
    hunks, index = [], start + 2
    while index < len(lines) and lines[index].startswith("@@"):
        hunk, index = _hunk(lines, index)
        hunks.append(hunk)
    return _section_edit(old, new, hunks, start + 1), index


def _section_edit(old: str, new: str, hunks: list[Hunk], line: int) -> Edit | str:
    if old == new == DEV_NULL:
        return f"line {line}: both sides of the diff header are /dev/null"
    if new == DEV_NULL:
        return Delete(old)
    if not hunks:
        return f'line {line}: the diff for {new} has no "@@" hunk after its "+++" line'
    return DiffHunks(new, tuple(hunks), creates=old == DEV_NULL)


def _header_path(line: str, prefix: str) -> str:
    """The path of a ``---``/``+++`` line without its git prefix, quotes or timestamp."""
    path = line[4:].split("\t", 1)[0].strip()
    if len(path) > 1 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return path[len(prefix) :] if path.startswith(prefix) else path


def _hunk(lines: list[str], start: int) -> tuple[Hunk, int]:
    """The hunk whose ``@@`` line is ``lines[start]``, and the index after it."""
    header = lines[start]
    match = _HUNK_HEADER.match(header)
    counts = (_count(match, 2), _count(match, 4)) if match else None
    body, end = _hunk_body(lines, start + 1, counts)
    body = _trim_blank_tail(body, counts[0] if counts else None)
    return _build_hunk(body, header, int(match[1]) if match else None), end


def _count(match: re.Match[str], group: int) -> int:
    return 1 if match[group] is None else int(match[group])


def _hunk_body(lines: list[str], start: int, counts: tuple[int, int] | None) -> tuple[list[str], int]:
    """The raw lines of a hunk body, and the index of the first line after it.

    Once the header's counts are met, only a prefixed line continues the hunk (LLMs
    undercount), so a blank line or prose right after a bare diff is not taken as context.
    """
    index, old_seen, new_seen = start, 0, 0
    while index < len(lines) and not _ends_hunk(lines, index):
        line = lines[index]
        counted = counts is not None and old_seen >= counts[0] and new_seen >= counts[1]
        if counted and not line.startswith(_DIFF_LINE):
            break
        old_seen += not line.startswith(("+", "\\"))
        new_seen += not line.startswith(("-", "\\"))
        index += 1
    return lines[start:index], index


def _ends_hunk(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line.startswith("@@") or is_fence(line) or line.startswith("diff --git "):
        return True
    if line.startswith("--- ") and _is_header(lines, index):
        return index + 2 >= len(lines) or lines[index + 2].startswith("@@")
    if line == "" or line.startswith(_DIFF_LINE):
        return False
    return not _diff_lines_follow(lines, index + 1)


def _diff_lines_follow(lines: list[str], index: int) -> bool:
    """Whether a prefixed diff line follows closely, before the hunk would end anyway: then
    the unprefixed line at ``index - 1`` is a context line that lost its leading space."""
    for line in lines[index : index + _LOST_SPACE_LOOKAHEAD]:
        if line.startswith(_DIFF_LINE) and not line.startswith(("--- ", "+++ ")):
            return True
        if line.startswith("@@") or is_fence(line) or line.startswith(("--- ", "diff --git ")):
            return False
    return False


def _trim_blank_tail(body: list[str], old_count: int | None) -> list[str]:
    """Drop trailing empty lines the header's old count does not account for."""
    while body and body[-1] == "":
        if old_count is not None and _old_side(body) <= old_count:
            break
        body = body[:-1]
    return body


def _old_side(body: list[str]) -> int:
    return sum(1 for line in body if not line.startswith(("+", "\\")))


def _build_hunk(body: list[str], header: str, old_start: int | None) -> Hunk:
    lines: list[str] = []
    old_no_eol = new_no_eol = False
    for raw in body:
        if raw.startswith("\\"):
            previous = lines[-1][0] if lines else " "
            old_no_eol = old_no_eol or previous in " -"
            new_no_eol = new_no_eol or previous in " +"
        else:
            lines.append(raw if raw.startswith(("-", "+", " ")) else " " + raw)
    return Hunk(tuple(lines), old_start, header, old_no_eol, new_no_eol)
