"""Find aider-style SEARCH/REPLACE blocks in LLM output.

    src/app.py
    ```python
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE
    ```

The path is the nearest line above the ``SEARCH`` marker that is neither blank nor a fence;
Markdown decoration around it (``**``, ``#``, backticks, a trailing colon) is stripped, and
from a prose line the last backticked or path-like word is taken. A block right after
another block's ``REPLACE`` marker, or with no path line, edits the previous block's file.

Semantics chosen (aider's): an empty (or blank-only) SEARCH section creates the file with
the REPLACE text if it does not exist, and appends the REPLACE text if it does. Blocks are
line based, so both sides end with a newline.
"""

from __future__ import annotations

import re

from muxc.edits.model import Append, Edit, Found, Replace
from muxc.edits.outputtext import is_fence, line_offsets

FORMAT = "SEARCH/REPLACE"
EXPECTED = (
    'SEARCH/REPLACE: a line with the file path, then "<<<<<<< SEARCH", the old lines, '
    '"=======", the new lines, ">>>>>>> REPLACE"'
)

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_BACKTICKED = re.compile(r"`([^`\n]+)`")


def find_blocks(text: str) -> Found | None:
    """The SEARCH/REPLACE edits in ``text``, or None when it has no SEARCH marker."""
    lines = text.split("\n")
    markers = [index for index, line in enumerate(lines) if _SEARCH.match(line)]
    if not markers:
        return None
    edits: list[Edit] = []
    problems: list[str] = []
    path: str | None = None
    for marker in markers:
        path = _path_before(lines, marker) or path
        edit = _block(lines, marker, path)
        (problems if isinstance(edit, str) else edits).append(edit)
    return Found(FORMAT, line_offsets(lines)[markers[0]], tuple(edits), tuple(problems))


def _block(lines: list[str], marker: int, path: str | None) -> Edit | str:
    """The edit for the block whose SEARCH marker is ``lines[marker]``."""
    where = f"line {marker + 1}: the SEARCH block"
    if path is None:
        return f"{where} has no file path on the line before it"
    divider = _next(lines, marker + 1, _DIVIDER)
    if divider is None:
        return f'{where} for {path} has no "=======" line'
    end = _next(lines, divider + 1, _REPLACE)
    if end is None:
        return f'{where} for {path} has no ">>>>>>> REPLACE" line'
    old, new = _joined(lines[marker + 1 : divider]), _joined(lines[divider + 1 : end])
    return Append(path, new) if not old.strip() else Replace(path, old, new)


def _next(lines: list[str], start: int, marker: re.Pattern[str]) -> int | None:
    """The index of the next ``marker`` line, unless another block starts first."""
    for index in range(start, len(lines)):
        if marker.match(lines[index]):
            return index
        if _SEARCH.match(lines[index]):
            return None
    return None


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _path_before(lines: list[str], marker: int) -> str | None:
    """The path written above a SEARCH marker, or None to reuse the previous block's."""
    for line in reversed(lines[:marker]):
        if not line.strip() or is_fence(line):
            continue
        return None if _REPLACE.match(line) else _path_in(line)
    return None


def _path_in(line: str) -> str | None:
    """The file path in a path line, without its Markdown decoration."""
    backticked = _BACKTICKED.findall(line)
    if backticked:
        return backticked[-1].strip() or None
    cleaned = line.strip().strip("*#`").strip().rstrip(":").strip()
    if not cleaned or not any(char.isspace() for char in cleaned):
        return cleaned or None
    words = [word.rstrip(":,").strip("*`") for word in cleaned.split()]
    candidates = [word for word in words if "/" in word or "." in word.strip(".")]
    return candidates[-1] if candidates else None
