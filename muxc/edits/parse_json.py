"""Find JSON edits anywhere in LLM output: fenced or bare, with prose around them.

Accepted shapes: ``{"path", "old", "new"}``, ``{"path", "content"}``, ``{"edits": [...]}``
(its ``summary`` or ``message`` is kept), or a bare array of edit objects. ``file`` is an
alias of ``path`` (lok wrote it). Several JSON values in one output are all used, in order.

How values are found: every ``{`` or ``[`` is a possible start. ``json.raw_decode`` tries it
first (fast, and exact for valid JSON); when that fails and the text there looks like
JSON, a string-aware bracket scan finds its end and a repair pass escapes what LLMs get
wrong inside strings (raw newlines and tabs, stray backslashes) and drops trailing commas.
Values that are not edit-shaped are skipped, so prose like ``{x}`` or a config example
cannot become an edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import NamedTuple

from muxc.edits.model import Edit, Found, Replace, Write
from muxc.edits.outputtext import line_number
from muxc.lang.llmjson import balanced_end, repair

FORMAT = "json"
EXPECTED = (
    'JSON: {"path": ..., "old": ..., "new": ...} or {"path": ..., "content": ...}, '
    'a list of them, or {"edits": [...]}'
)

_EDIT_KEYS = ("path", "file", "edits")
_ACTION_KEYS = ("old", "new", "content")
_LOOKS_LIKE_JSON = re.compile(r'\{\s*"|\[\s*\{')
_OPENS_AS_EDIT = re.compile(r'(\[\s*)?\{\s*"(path|file|edits)"')
# A broken candidate costs a Python-speed scan to the end of the output; after this many
# the output is not JSON-with-mistakes and scanning on would only burn time.
_MAX_REPAIRS = 20


def find_json(text: str) -> Found | None:
    """The JSON edits in ``text``, or None when nothing edit-shaped is there."""
    values, problems, positions = [], [], []
    for position, value in _values(text):
        positions.append(position)
        if isinstance(value, str):
            problems.append(f"line {line_number(text, position)}: {value}")
        else:
            values.append((position, value))
    if not positions:
        return None
    return _interpret(text, values, problems, positions[0])


def _interpret(text: str, values: list, problems: list[str], first: int) -> Found:
    edits: list[Edit] = []
    summary, number = None, 0
    for position, value in values:
        items, found_summary = _items(value)
        summary = summary or found_summary
        if not items:
            problems.append(f"line {line_number(text, position)}: the JSON has an empty list of edits")
        for item in items:
            number += 1
            edit = _edit(item, number)
            (problems if isinstance(edit, str) else edits).append(edit)
    return Found(FORMAT, first, tuple(edits), tuple(problems), summary)


def _items(value: object) -> tuple[list, str | None]:
    """The edit objects inside one JSON value, and its summary if it has one."""
    if isinstance(value, list):
        return value, None
    assert isinstance(value, dict)
    if "edits" not in value:
        return [value], None
    summary = value.get("summary", value.get("message"))
    edits = value["edits"]
    return (edits if isinstance(edits, list) else [edits]), (summary if isinstance(summary, str) else None)


def _edit(item: object, number: int) -> Edit | str:
    """One edit object as an ``Edit``, or a sentence saying what is wrong with it."""
    if not isinstance(item, dict):
        return f"edit {number} is not a JSON object"
    path = item.get("path", item.get("file"))
    if not isinstance(path, str) or not path.strip():
        return f'edit {number} has no "path" (a non-empty string)'
    path = path.strip()
    if "content" in item and ("old" in item or "new" in item):
        return f'edit {number} ({path}) has both "content" and "old"/"new"; use one'
    if "content" in item:
        return _string_fields(item, number, path, "content") or Write(path, item["content"])
    if "old" in item or "new" in item:
        return _string_fields(item, number, path, "old", "new") or Replace(path, item["old"], item["new"])
    return f'edit {number} ({path}) needs "old" and "new", or "content"'


def _string_fields(item: dict, number: int, path: str, *names: str) -> str | None:
    for name in names:
        if not isinstance(item.get(name), str):
            return f'edit {number} ({path}): "{name}" must be a string'
    return None


class _Candidate(NamedTuple):
    value: object = None
    end: int | None = None
    problem: str | None = None
    repaired: bool = False
    skip_to: int | None = None  # where the search goes on when nothing from here on can be read


def _values(text: str) -> Iterator[tuple[int, object]]:
    """(position, value) for each top-level edit-shaped JSON value, in order.

    Broken JSON that was meant to be edits comes out as (position, message).
    """
    decoder = json.JSONDecoder()
    position, repairs = 0, 0
    while (start := _next_open(text, position)) != -1:
        found = _decode(decoder, text, start, repairs < _MAX_REPAIRS)
        repairs += found.repaired
        if found.end is not None and _edit_shaped(found.value):
            yield start, found.value
            position = found.end
            continue
        if found.problem:
            yield start, found.problem
        position = found.skip_to or start + 1


def _next_open(text: str, position: int) -> int:
    brace, bracket = text.find("{", position), text.find("[", position)
    return min(brace, bracket) if -1 not in (brace, bracket) else max(brace, bracket)


def _decode(decoder: json.JSONDecoder, text: str, start: int, may_repair: bool) -> _Candidate:
    """The JSON value that starts at ``start``, if any, repaired if need be."""
    try:
        value, end = decoder.raw_decode(text, start)
        return _Candidate(value, end)
    except json.JSONDecodeError:
        pass
    except RecursionError:  # nested past what the parser follows: neither it nor its insides are edits
        return _Candidate(skip_to=balanced_end(text, start) or len(text))
    if not may_repair or not _LOOKS_LIKE_JSON.match(text, start):
        return _Candidate()
    end = balanced_end(text, start)
    if end is None:
        # Unbounded, the rest of the output would always mention "path" somewhere: only an
        # edit that starts like one is reported (an LLM cut off mid-edit, typically).
        opened_as_edit = _OPENS_AS_EDIT.match(text, start)
        return _Candidate(
            problem=opened_as_edit and _problem(text[start:], "it never closes (was the output cut off?)"),
            repaired=True,
        )
    try:
        return _Candidate(json.loads(repair(text[start:end])), end, repaired=True)
    except RecursionError:
        return _Candidate(problem=_problem(text[start:end], "it is nested too deeply to read"), repaired=True,
                          skip_to=end)
    except json.JSONDecodeError as error:
        return _Candidate(
            problem=_problem(text[start:end], f"it does not parse ({error.msg})"), repaired=True
        )


def _problem(candidate: str, why: str) -> str | None:
    """A message about broken JSON, but only if it was meant to be edits."""
    if any(f'"{key}"' in candidate for key in _EDIT_KEYS):
        return f"found JSON that looks like edits, but {why}"
    return None


def _edit_shaped(value: object) -> bool:
    """An edits object, or an object with a path and something to do with it: JSON that
    merely has a "path" key (an API example in prose) is not an edit."""
    if isinstance(value, dict):
        has_path = "path" in value or "file" in value
        return "edits" in value or (has_path and any(key in value for key in _ACTION_KEYS))
    if isinstance(value, list) and value:
        return all(isinstance(item, dict) for item in value) and _edit_shaped(value[0])
    return False
