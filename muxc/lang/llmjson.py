"""Find the JSON value in an LLM's answer, and split an answer into ``for_each`` items.

LLMs rarely answer with bare JSON: they wrap it in ```` ```json ```` fences, put prose around it,
leave raw newlines inside strings or a trailing comma before ``}``. llm-mux needed three fixes for
this (reference §4.3); this module is the one place that deals with it.

``extract_json`` tries, in this order, and returns the first candidate that parses:

1. every ```` ```json ```` fenced block, in document order;
2. every other fenced block, in document order;
3. the whole text;
4. each balanced ``{…}`` or ``[…]``, by start position (the scan respects strings and escapes).

Each candidate is parsed strictly first, then once more after :func:`repair` (raw control
characters inside strings escaped, trailing commas removed). A leading ``=== backend ===`` header,
as a parallel role writes before each answer, is dropped first.

A value nested more than ``MAX_DEPTH`` levels deep is not used, and neither is any fragment of it:
no answer means that, and whatever reads the value afterwards (templates, schema checks, the
console) would have to follow it down. :func:`why_no_json` says so instead of "no JSON".

Invariants: pure and deterministic; never raises on any input (JSON nested 100,000 deep
included, in time linear in its length); the :class:`Extracted` result says where the value was
found so callers can write a precise message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import msgspec

Where = Literal["json-fence", "fence", "whole", "embedded"]

# A parallel role prefixes each answer with "=== <backend> ===". Backend names are identifiers,
# so the name is restricted: a looser pattern could swallow JSON that shares the first line.
_HEADER = re.compile(r"\A\s*=== [A-Za-z0-9_.:/@+-]+ ===[ \t]*\r?\n")

# A fence opens at the start of a line and closes at the start of a line with the same marker.
# Anchoring the close to a line start keeps ``` inside a JSON string from ending the block early.
_FENCE = re.compile(
    r"^[ \t]*(?P<mark>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^[ \t]*(?P=mark)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)

MAX_DEPTH = 100  # levels of nested arrays and objects; far beyond any JSON a model means

_CLOSERS = {"{": "}", "[": "]"}
_CLOSING_AHEAD = re.compile(r"\s*[}\]]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_VALID_ESCAPES = frozenset('"\\/bfnrtu')


class Extracted(msgspec.Struct, frozen=True):
    """A JSON value found in a text, and where: offsets are into the text given to extract_json."""

    value: Any
    where: Where
    start: int
    end: int
    repaired: bool = False  # the JSON only parsed after repair()

    def describe(self, text: str) -> str:
        """Where the value was found, for messages: 'JSON at line 3, in the ```json block'."""
        line = text.count("\n", 0, self.start) + 1
        place = {
            "json-fence": "in the ```json block",
            "fence": "in a fenced block",
            "whole": "the whole answer",
            "embedded": "embedded in prose",
        }[self.where]
        suffix = " (after repairing it)" if self.repaired else ""
        return f"JSON at line {line}, {place}{suffix}"


def extract_json(text: str) -> Extracted | None:
    """The first JSON value found in ``text`` (see the module docstring), or None."""
    return _search(text)[0]


def why_no_json(text: str) -> str:
    """Why ``extract_json`` found nothing, as a predicate: 'holds no JSON', or that its JSON is
    nested deeper than muxc reads."""
    if _search(text)[1]:
        return f"holds JSON nested more than {MAX_DEPTH} levels deep, deeper than muxc reads"
    return "holds no JSON"


def _search(text: str) -> tuple[Extracted | None, bool]:
    """(the first value found, whether a candidate was too deep)."""
    offset = _header_end(text)
    body = text[offset:]
    deep: list[tuple[int, int]] = []  # spans too deep to use: nothing inside them is tried either
    for where, start, end in _candidates(body):
        if where == "embedded" and any(low <= start and end <= high for low, high in deep):
            continue
        try:
            parsed = _parse(body[start:end])
        except _TooDeep:
            deep.append((start, end))
            continue
        if parsed is not None:
            value, repaired = parsed
            return Extracted(value, where, offset + start, offset + end, repaired), False
    return None, bool(deep)


def parse_list_items(text: str) -> list[Any]:
    """Split a rendered ``for_each`` value into items.

    A JSON array (fenced or the whole text) gives its elements; a JSON object gives one item.
    Anything else gives its non-empty lines, trimmed. Commas never split: llm-mux's comma split
    broke every item that contained one. Arrays merely embedded in prose are not used, because
    a plain line such as ``see [1, 2]`` must stay one item.
    """
    found = extract_json(text)
    if found is not None and found.where != "embedded":
        if isinstance(found.value, list):
            return list(found.value)
        if isinstance(found.value, dict):
            return [found.value]
    return [line.strip() for line in text.splitlines() if line.strip()]


def repair(text: str) -> str:
    """Fix the common LLM faults in candidate JSON: raw control characters and stray backslashes
    inside strings are escaped (``"C:\\dir"`` keeps its backslash), and a comma followed only by
    white space before ``}`` or ``]`` is dropped. The one repair muxc has (edits use it too)."""
    out: list[str] = []
    in_string, index = False, 0
    while index < len(text):
        char = text[index]
        if in_string:
            piece, index, in_string = _repair_string_char(text, index)
        else:
            in_string = char == '"'
            piece = "" if char == "," and _closes_next(text, index + 1) else char
            index += 1
        out.append(piece)
    return "".join(out)


def _repair_string_char(text: str, index: int) -> tuple[str, int, bool]:
    """(replacement, next index, still in string) for the character at ``index`` in a string."""
    char = text[index]
    if char == "\\":
        following = text[index + 1 : index + 2]
        if following and following in _VALID_ESCAPES:
            return char + following, index + 2, True
        return "\\\\", index + 1, True
    if char == '"':
        return char, index + 1, False
    return _escape_control(char), index + 1, True


def balanced_end(text: str, start: int) -> int | None:
    """The offset just past the bracket that closes the one at ``start`` (strings respected), or
    None when it never closes or a mismatched bracket comes first."""
    return _scan_from(text, start).get(start)


def _header_end(text: str) -> int:
    match = _HEADER.match(text)
    return match.end() if match else 0


def _candidates(text: str) -> Iterator[tuple[Where, int, int]]:
    """Spans to try, best first; lazily, so the costly embedded scan runs only when needed."""
    fences = [(m.start("body"), m.end("body"), m["lang"].lower()) for m in _FENCE.finditer(text)]
    for start, end, lang in fences:
        if lang == "json":
            yield "json-fence", start, end
    for start, end, lang in fences:
        if lang != "json":
            yield "fence", start, end
    yield "whole", 0, len(text)
    for start, end in _balanced_spans(text):
        yield "embedded", start, end


def _parse(candidate: str) -> tuple[Any, bool] | None:
    """(value, repaired) when the candidate parses, strictly or after repair; ``_TooDeep`` when
    it is nested too deeply (repairing cannot help that)."""
    if not candidate.strip():
        return None
    try:
        return _loads(candidate), False
    except _TooDeep:
        raise
    except ValueError:
        pass
    try:
        return _loads(repair(candidate)), True
    except _TooDeep:
        raise
    except ValueError:
        return None


class _TooDeep(ValueError):
    pass


def _loads(text: str) -> Any:
    """Strict JSON (no NaN, no trailing text); every failure is ValueError, and nesting beyond
    ``MAX_DEPTH`` (or beyond what the interpreter can follow) is ``_TooDeep``."""
    try:
        value = msgspec.json.decode(text)
    except RecursionError as error:
        raise _TooDeep(str(error)) from None
    except msgspec.DecodeError as error:
        raise ValueError(str(error)) from error
    if _depth(value) > MAX_DEPTH:
        raise _TooDeep(f"nested more than {MAX_DEPTH} levels deep")
    return value


def _depth(value: Any) -> int:
    """Levels of nested arrays and objects, without recursion (stops counting past MAX_DEPTH)."""
    deepest, stack = 0, [(value, 1)] if isinstance(value, dict | list) else []
    while stack and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _balanced_spans(text: str) -> Iterator[tuple[int, int]]:
    """Every balanced {…} or […] span, by start position; unbalanced starts are skipped."""
    known: dict[int, int | None] = {}
    for start, char in enumerate(text):
        if char not in _CLOSERS:
            continue
        if start not in known:
            known.update(_scan_from(text, start))
        end = known[start]
        if end is not None:
            yield start, end


def _scan_from(text: str, start: int) -> dict[int, int | None]:
    """The end (exclusive, or None if it never closes) of every bracket seen scanning from ``start``.

    One scan answers for every opener it passes outside a string, not only ``start``: a later
    scan from such an opener would read the same characters the same way. That keeps the search
    linear on answers full of unclosed brackets instead of quadratic.
    """
    ends: dict[int, int | None] = {}
    stack: list[tuple[int, str]] = []
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            in_string, escaped = _string_step(char, escaped)
        elif char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append((index, _CLOSERS[char]))
        elif char in "}]":
            opened, closer = stack.pop()
            if closer != char:
                stack.append((opened, closer))
                break  # a mismatch: no opener still open can be JSON
            ends[opened] = index + 1
            if not stack:
                return ends
    ends.update((opened, None) for opened, _ in stack)
    return ends


def _string_step(char: str, escaped: bool) -> tuple[bool, bool]:
    """(still in string, next char is escaped) after reading ``char`` inside a string."""
    if escaped:
        return True, False
    if char == "\\":
        return True, True
    return char != '"', False


def _escape_control(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04x}" if ord(char) < 0x20 else char


def _closes_next(text: str, index: int) -> bool:
    """Is the next non-whitespace character at or after ``index`` a closing bracket?"""
    return _CLOSING_AHEAD.match(text, index) is not None
