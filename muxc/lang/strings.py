"""Decode TOML-style string literals (as the DSL writes them) into spanned ``Str`` nodes.

The DSL's quoted strings use TOML's four forms: "basic", 'literal', \"\"\"multi-line basic\"\"\" and
'''multi-line literal''', with TOML 1.0's escapes. Decoding records ``pieces`` so every decoded
character maps back to its source offset (see ``muxc.lang.document.Str``).
"""

from __future__ import annotations

import re

from muxc.diagnostics.span import Span
from muxc.lang.document import Str

_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(?:[btnfr\"\\]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[ \t]*\r?\n[\s]*)")


class StringError(ValueError):
    """A malformed escape; ``offset`` is where it starts in the source."""

    def __init__(self, message: str, offset: int, length: int = 1) -> None:
        super().__init__(message)
        self.offset = offset
        self.length = length


def decode(raw: str, start: int) -> Str:
    """Decode the literal ``raw`` that starts at source offset ``start``."""
    if raw.startswith(('"""', "'''")):
        body_start = 3
        if raw[3:5] == "\r\n":
            body_start = 5
        elif raw[3:4] == "\n":
            body_start = 4
        body = raw[body_start:-3]
        offset = start + body_start
        if raw[0] == "'":
            return Str(body, Span(start, start + len(raw)), ((0, offset),))
        return _decode_basic(body, offset, Span(start, start + len(raw)), multiline=True)
    body = raw[1:-1]
    if raw[0] == "'":
        return Str(body, Span(start, start + len(raw)), ((0, start + 1),))
    return _decode_basic(body, start + 1, Span(start, start + len(raw)), multiline=False)


def _decode_basic(body: str, offset: int, span: Span, multiline: bool) -> Str:
    if "\\" not in body:
        return Str(body, span, ((0, offset),))
    out: list[str] = []
    pieces: list[tuple[int, int]] = [(0, offset)]
    length = 0
    pos = 0
    while (at := body.find("\\", pos)) != -1:
        out.append(body[pos:at])
        length += at - pos
        text, end = _escape(body, at, offset, multiline)
        pieces.append((length, offset + at))
        out.append(text)
        length += len(text)
        pos = end
        pieces.append((length, offset + pos))
    out.append(body[pos:])
    return Str("".join(out), span, tuple(pieces))


def _escape(body: str, at: int, offset: int, multiline: bool) -> tuple[str, int]:
    """The decoded text of the escape at ``at`` and where the source continues."""
    match = _ESCAPE.match(body, at)
    if match is None:
        bad = body[at : at + 2]
        raise StringError(f"invalid escape sequence '{bad}' (write '\\\\' for a backslash)", offset + at, len(bad))
    text = match.group()
    if text[1] in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[text[1]], match.end()
    if text[1] in "uU":
        code = int(text[2:], 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise StringError(f"'{text}' is not a valid Unicode scalar value", offset + at, len(text))
        return chr(code), match.end()
    if not multiline:
        raise StringError("a line-ending backslash is only allowed in a \"\"\"multi-line\"\"\" string", offset + at)
    return "", match.end()


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def escape_basic(value: str, multiline: bool = False) -> str:
    """``value`` escaped for a basic string: quotes and backslashes, control characters as
    ``\\uXXXX``; in a multi-line string line breaks and tabs stay as they are (and quotes are the
    caller's business: only three in a row need care)."""
    out = []
    for char in value:
        if multiline and char in "\n\t":
            out.append(char)
        elif char in _SHORT_ESCAPES and (char != '"' or not multiline):
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def quote_basic(value: str) -> str:
    """A one-line basic string literal for ``value``, escaping what must be escaped."""
    return '"' + escape_basic(value) + '"'
