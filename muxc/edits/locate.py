"""Find where an edit applies: the one place ``old`` occurs, or where a hunk's lines are.

Invariants: a match is used only when it is unique. The exact text is tried first; only if
it occurs nowhere is a whitespace-normalised match tried (trailing whitespace of each line
and CRLF/LF ignored, whole lines only), and that must be unique too. Anything else is an
error written for the LLM: the 1-based line of every match when there are several, the
closest region of the file when there is none.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import NamedTuple

from muxc.edits.text import bare, line_starts, split_lines

NORMALISED_NOTE = "ignoring trailing whitespace and line endings"
# How far (in lines) from the stated line a hunk is looked for before the whole file.
HUNK_WINDOW = 5
_SHOWN_LINES = 12
_CANDIDATE_WINDOWS = 5


class Span(NamedTuple):
    start: int
    end: int


def find_unique(content: str, old: str, path: str) -> Span | str:
    """The span of the one place ``old`` occurs in ``content``, or why there is none."""
    exact = _occurrences(content, old)
    if len(exact) == 1:
        return Span(exact[0], exact[0] + len(old))
    if exact:
        return _ambiguous(content, exact, path, "")
    loose = _normalised_spans(content, old)
    if len(loose) == 1:
        return loose[0]
    if loose:
        return _ambiguous(content, [span.start for span in loose], path, f" ({NORMALISED_NOTE})")
    return f"old text was not found in {path}{closest_region(split_lines(content), old)}"


def _occurrences(content: str, old: str) -> list[int]:
    """Every offset where ``old`` starts, overlapping ones included."""
    found, start = [], content.find(old)
    while start != -1:
        found.append(start)
        start = content.find(old, start + 1)
    return found


def _normalised_spans(content: str, old: str) -> list[Span]:
    """Spans of whole-line runs equal to ``old`` when trailing whitespace is ignored."""
    wanted = old.replace("\r\n", "\n").split("\n")
    keeps_last_ending = wanted[-1] == ""
    wanted = [line.rstrip() for line in (wanted[:-1] if keeps_last_ending else wanted)]
    lines = split_lines(content)
    starts = line_starts(lines)
    spans = []
    for index in block_matches([line.rstrip() for line in lines], wanted):
        last = index + len(wanted) - 1
        end = starts[last + 1] if keeps_last_ending else starts[last] + len(bare(lines[last]))
        spans.append(Span(starts[index], end))
    return spans


def block_matches(keys: list[str], wanted: list[str]) -> list[int]:
    """Every index where ``wanted`` occurs as a run of ``keys``."""
    if not wanted:
        return []
    size = len(wanted)
    return [
        index
        for index in range(len(keys) - size + 1)
        if keys[index] == wanted[0] and keys[index : index + size] == wanted
    ]


def _ambiguous(content: str, offsets: list[int], path: str, note: str) -> str:
    numbers = ", ".join(str(content.count("\n", 0, offset) + 1) for offset in offsets)
    return (
        f"old text matches {len(offsets)} places in {path}{note}, at lines {numbers}; "
        "include more of the surrounding lines in old so that it matches exactly one"
    )


def pick_hunk_position(keys: list[str], wanted: list[str], hint: int | None) -> int | list[int] | None:
    """Where a hunk goes: the stated line, else the one match near it, else the one match in
    the file. Several candidates come back as a list; no match as None."""
    found = block_matches(keys, wanted)
    if not found:
        return None
    if hint is not None:
        if hint in found:
            return hint
        near = [index for index in found if abs(index - hint) <= HUNK_WINDOW]
        if len(near) == 1:
            return near[0]
    return found[0] if len(found) == 1 else found


def closest_region(lines: list[str], old: str) -> str:
    """A sentence showing the part of the file most like ``old`` (empty if nothing is)."""
    wanted = [line.strip() for line in old.strip("\n").split("\n")]
    keys = [bare(line).strip() for line in lines]
    best = _best_window(keys, wanted)
    if best is None:
        return ""
    start, ratio = best
    shown = lines[start : start + min(len(wanted), _SHOWN_LINES)]
    numbered = "".join(f"\n    {start + offset + 1:>5} | {bare(line)}" for offset, line in enumerate(shown))
    last = start + len(shown)
    return f". The closest region ({ratio:.0%} similar) is lines {start + 1}-{last}:{numbered}"


def _best_window(keys: list[str], wanted: list[str]) -> tuple[int, float] | None:
    """The start of the window of ``len(wanted)`` lines most similar to ``wanted``.

    Windows are first voted for by lines that appear in both (cheap), and only the few best
    are compared with difflib, so a large file stays fast.
    """
    candidates = _voted_starts(keys, wanted) or _fuzzy_starts(keys, wanted)
    scored = [(_similarity(keys[start : start + len(wanted)], wanted), start) for start in candidates]
    if not scored:
        return None
    ratio, start = max(scored, key=lambda pair: (pair[0], -pair[1]))
    return (start, ratio) if ratio > 0.3 else None


def _voted_starts(keys: list[str], wanted: list[str]) -> list[int]:
    positions: dict[str, list[int]] = {}
    for offset, line in enumerate(wanted):
        if line:
            positions.setdefault(line, []).append(offset)
    votes: Counter[int] = Counter()
    for index, key in enumerate(keys):
        for offset in positions.get(key, ()):
            votes[max(index - offset, 0)] += 1
    return [start for start, _ in votes.most_common(_CANDIDATE_WINDOWS)]


def _fuzzy_starts(keys: list[str], wanted: list[str]) -> list[int]:
    """Windows starting at the lines most like the first non-blank wanted line."""
    first = next((line for line in wanted if line), "")
    close = difflib.get_close_matches(first, keys, n=_CANDIDATE_WINDOWS, cutoff=0.5)
    return sorted({index for index, key in enumerate(keys) if key in close})[:_CANDIDATE_WINDOWS]


def _similarity(window: list[str], wanted: list[str]) -> float:
    return difflib.SequenceMatcher(None, "\n".join(window), "\n".join(wanted), autojunk=False).ratio()
