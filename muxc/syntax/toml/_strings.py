"""Decode the four TOML string kinds, keeping a map from decoded characters to the source.

A string token arrives as written (delimiters included) with its source offset. Decoding
gives the value ``tomllib`` gives and the ``pieces`` of ``document.Str``: breakpoints
``(decoded_index, source_offset)``. Every escape starts a breakpoint at its backslash and
the character after it starts another; a CRLF (decoded to LF, as tomllib does) maps its LF
to the source LF; a line-ending backslash maps the next character past the skipped
whitespace. Two breakpoints never share a decoded index (the later one wins).

Invariants:
- strings without escapes or CRs cost one regexp search (for control characters) and a
  slice: no per-character Python loop;
- for every decoded character not produced by an escape, ``text[source_offset(i)]`` is
  that character;
- a problem (control character, bad escape) is raised as ``Problem`` at the exact offset
  of the offending character or escape.
"""

from __future__ import annotations

import re

from muxc.diagnostics.span import Span
from muxc.lang.document import Str
from muxc.syntax.toml.errors import Problem

# Tab is the only control character allowed everywhere; multi-line strings also take LF and
# CRLF. (Comments follow the one-line rule: see COMMENT_CONTROL.)
_LINE_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MULTILINE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
COMMENT_CONTROL = _LINE_CONTROL

# An escape (its parts: simple, \uXXXX, \UXXXXXXXX, line-ending backslash), a lone
# backslash (an invalid escape: no group matched), or a CRLF to fold into LF.
_ESCAPE_OR_CRLF = re.compile(
    r'\\(?:([btnfr"\\])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([ \t]*\r?\n[ \t\r\n]*))?|\r\n'
)
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def basic_string(token: str, start: int, end: int) -> Str:
    value, pieces = _decode_basic(token[1:-1], start + 1, multiline=False)
    return Str(value, Span(start, end), pieces)


def multiline_basic_string(token: str, start: int, end: int) -> Str:
    raw, base = _trim_first_newline(token[3:-3], start + 3)
    value, pieces = _decode_basic(raw, base, multiline=True)
    return Str(value, Span(start, end), pieces)


def literal_string(token: str, start: int, end: int) -> Str:
    raw = token[1:-1]
    _check_control(raw, start + 1, _LINE_CONTROL)
    return Str(raw, Span(start, end), ((0, start + 1),))


def multiline_literal_string(token: str, start: int, end: int) -> Str:
    raw, base = _trim_first_newline(token[3:-3], start + 3)
    _check_control(raw, base, _MULTILINE_CONTROL)
    if "\r" not in raw:
        return Str(raw, Span(start, end), ((0, base),))
    value, pieces = _fold_crlf(raw, base)
    return Str(value, Span(start, end), pieces)


def control_problem(char: str, offset: int, where: str) -> Problem:
    """The message for a control character found ``where`` ("in a string", "here", ...)."""
    if char == "\r":
        return Problem(
            f"a carriage return (U+000D) must be followed by a line feed {where}", Span(offset, offset + 1)
        )
    return Problem(f"control character U+{ord(char):04X} is not allowed {where}", Span(offset, offset + 1))


def _trim_first_newline(raw: str, base: int) -> tuple[str, int]:
    """A newline right after the opening delimiter is not part of a multi-line string."""
    if raw.startswith("\n"):
        return raw[1:], base + 1
    if raw.startswith("\r\n"):
        return raw[2:], base + 2
    return raw, base


def _check_control(raw: str, base: int, pattern: re.Pattern) -> None:
    bad = pattern.search(raw)
    if bad is not None:
        raise control_problem(bad.group()[0], base + bad.start(), "in a string")


def _fold_crlf(raw: str, base: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``raw`` with CRLF as LF; each LF maps to its source LF. ``raw`` has no bare CR."""
    pieces = [(0, base)]
    folded = 0
    at = raw.find("\r\n")
    while at >= 0:
        _add_piece(pieces, at - folded, base + at + 1)
        folded += 1
        at = raw.find("\r\n", at + 2)
    return raw.replace("\r\n", "\n"), tuple(pieces)


def _decode_basic(raw: str, base: int, *, multiline: bool) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Decode the content of a basic string that starts at source offset ``base``."""
    control = (_MULTILINE_CONTROL if multiline else _LINE_CONTROL).search(raw)
    if "\\" not in raw and "\r" not in raw:
        if control is not None:
            raise control_problem(control.group()[0], base + control.start(), "in a string")
        return raw, ((0, base),)
    limit = control.start() if control is not None else len(raw)
    parts: list[str] = []
    pieces = [(0, base)]
    length = last = 0
    for match in _ESCAPE_OR_CRLF.finditer(raw, 0, limit):
        at, after = match.span()
        parts.append(raw[last:at])
        length += at - last
        last = after
        if match.group() == "\r\n":
            _add_piece(pieces, length, base + at + 1)
            parts.append("\n")
            length += 1
            continue
        decoded = _unescape(match, raw, base, multiline, control)
        _add_piece(pieces, length, base + at)
        parts.append(decoded)
        length += len(decoded)
        _add_piece(pieces, length, base + after)
    if control is not None:
        raise control_problem(control.group()[0], base + control.start(), "in a string")
    parts.append(raw[last:])
    return "".join(parts), tuple(pieces)


def _unescape(match: re.Match, raw: str, base: int, multiline: bool, control: re.Match | None) -> str:
    """The text one escape stands for, or a Problem saying why it is invalid."""
    simple, short, long, continuation = match.groups()
    if simple is not None:
        return _SIMPLE_ESCAPES[simple]
    if short is not None or long is not None:
        return _code_point(match.group(), int(short or long, 16), base + match.start())
    if continuation is not None and multiline:
        return ""
    at = match.start()
    if control is not None and control.start() == at + 1:
        raise control_problem(raw[at + 1], base + at + 1, "in a string")
    raise _invalid_escape(raw, at, base, multiline)


def _code_point(escape: str, code: int, offset: int) -> str:
    span = Span(offset, offset + len(escape))
    if 0xD800 <= code <= 0xDFFF:
        raise Problem(f"invalid escape sequence '{escape}': surrogate code points are not allowed", span)
    if code > 0x10FFFF:
        raise Problem(f"invalid escape sequence '{escape}': the largest code point is U+10FFFF", span)
    return chr(code)


def _invalid_escape(raw: str, at: int, base: int, multiline: bool) -> Problem:
    letter = raw[at + 1 : at + 2]
    if letter in ("u", "U"):
        digits = 4 if letter == "u" else 8
        shown = raw[at : at + 2 + digits].split("\n")[0]
        return Problem(
            f"invalid escape sequence '{shown}': expected {digits} hexadecimal digits after '\\{letter}'",
            Span(base + at, base + at + len(shown)),
        )
    if letter in (" ", "\t"):
        hint = (
            "; a line-ending backslash may only be followed by spaces up to the end of the line"
            if multiline
            else "; line-ending backslashes are only allowed in multi-line strings"
        )
        what = "a space" if letter == " " else "a tab"
        return Problem(
            f"invalid escape sequence: backslash followed by {what}{hint}", Span(base + at, base + at + 2)
        )
    return Problem(f"invalid escape sequence '\\{letter}'", Span(base + at, base + at + 2))


def _add_piece(pieces: list[tuple[int, int]], decoded: int, source: int) -> None:
    if pieces[-1][0] == decoded:
        pieces[-1] = (decoded, source)
    else:
        pieces.append((decoded, source))
