"""Word a syntax failure the way a person would: what was expected, where, and why.

The parser reports the terminals it could have accepted, what it found instead (if any
terminal matches there at all) and its value stack (whose ``Opening`` markers say which
brackets are open). From that this module picks one message in user words: "expected '='
after the key", "unterminated string", "inline tables must be on one line". Grammar names
(``BARE_KEY``, ``$END``) never reach the message.

Invariant: ``describe`` always returns a ``Problem`` whose span lies inside the text.
"""

from __future__ import annotations

import re

from muxc.diagnostics.span import Span
from muxc.toml._callbacks import Opening
from muxc.toml._lalr import END, Parser, SyntaxFailure
from muxc.toml._strings import control_problem
from muxc.toml.errors import Problem

KEY_TERMINALS = frozenset({"BARE_KEY", "BASIC_STRING", "LITERAL_STRING"})
STRING_TERMINALS = ("ML_BASIC_STRING", "BASIC_STRING", "ML_LITERAL_STRING", "LITERAL_STRING")
VALUE_TERMINALS = frozenset(
    {"ML_BASIC_STRING", "ML_LITERAL_STRING", "DEC_INT", "HEX_INT", "OCT_INT", "BIN_INT", "FLOAT"}
    | {
        "BOOLEAN",
        "OFFSET_DATETIME",
        "LOCAL_DATETIME",
        "LOCAL_DATE",
        "LOCAL_TIME",
        "ARRAY_OPEN",
        "INLINE_OPEN",
    }
)

_WORD = re.compile(r"[^\s,=\[\]{}#]+|\S")
_ALLOWED_CONTROL = "\t\n"


def describe(failure: SyntaxFailure, text: str, parser: Parser) -> Problem:
    """The problem to report for ``failure`` in ``text``."""
    at = failure.offset
    expected = frozenset(failure.expected)
    char = text[at : at + 1]
    special = _special_character(char, at, text, expected, parser)
    if special is not None:
        return special
    found, span = _found(text, at, failure, parser)
    return Problem(_expectation(expected, found, char, text, at, failure.values), span)


def _special_character(char: str, at: int, text: str, expected: frozenset, parser: Parser) -> Problem | None:
    """Problems named by the character itself: control characters and unclosed strings."""
    if char == "\r" and text[at + 1 : at + 2] != "\n":
        return control_problem("\r", at, "(a bare carriage return is not a line break)")
    if char and (ord(char) < 0x20 or char == "\x7f") and char not in _ALLOWED_CONTROL and char != "\r":
        return control_problem(char, at, "here")
    if char in ("'", '"') and not expected.isdisjoint(STRING_TERMINALS) and not _any_string(text, at, parser):
        return _unterminated(text, at)
    return None


def _any_string(text: str, at: int, parser: Parser) -> bool:
    return any(re.compile(parser.terminal_pattern(name)).match(text, at) for name in STRING_TERMINALS)


def _unterminated(text: str, at: int) -> Problem:
    quote = text[at]
    if text.startswith(quote * 3, at):
        return Problem(f"unterminated multi-line string: no closing {quote * 3}", Span(at, at + 3))
    end_of_line = text.find("\n", at)
    end = len(text) if end_of_line < 0 else end_of_line
    hint = " (use triple quotes for a multi-line string)" if end_of_line >= 0 else ""
    return Problem(f"unterminated string: no closing {quote} on this line{hint}", Span(at, end))


def _found(text: str, at: int, failure: SyntaxFailure, parser: Parser) -> tuple[str | None, Span]:
    """The terminal at ``at`` (whatever the parser state) and the span to report."""
    if at >= len(text):
        return END, Span(len(text), len(text))
    if text[at] in "\r\n":
        return "_NEWLINE", Span(at, at)
    if failure.found is not None:
        return failure.found, Span(at, failure.end)
    found = parser.match_any(text, at)
    if found is not None:
        name, end = found
        return name, Span(at, end)
    word = _WORD.match(text, at)
    return None, Span(at, word.end() if word else at + 1)


def _expectation(expected: frozenset, found: str | None, char: str, text: str, at: int, values: list) -> str:
    """The message: what the parser expected here, in words."""
    opening = _innermost_opening(values)
    if "_EQUALS" in expected:
        return _after_key(char, text, at)
    if "TABLE_CLOSE" in expected:
        return "expected ']' to close the table header"
    if "ARRAY_TABLE_CLOSE" in expected:
        return "expected ']]' to close the array-of-tables header"
    if "INLINE_CLOSE" in expected and "_COMMA" in expected:
        if found in ("_NEWLINE", END):
            return "expected '}': inline tables must be on one line"
        return "expected ',' or '}' after the value in the inline table"
    if "ARRAY_CLOSE" in expected and "_COMMA" in expected:
        return "expected ',' or ']' after the value in the array"
    if expected >= KEY_TERMINALS:
        return _key_expected(expected, found, text, at, opening)
    if not expected.isdisjoint(VALUE_TERMINALS):
        if "ARRAY_CLOSE" in expected:
            return "expected a value or ']'"
        return "expected a value after '='"
    if "_NEWLINE" in expected:
        return f"expected the end of the line after the {_last_statement(values)}"
    return "unexpected text"


def _after_key(char: str, text: str, at: int) -> str:
    if char and not char.isspace() and char not in "=.[]{}#\"'" and at > 0 and _is_bare(text[at - 1]):
        return (
            f"invalid character {char!r} in a bare key: bare keys use only A-Z, a-z, 0-9, '_' and '-' "
            "(quote the key to use other characters)"
        )
    return "expected '=' after the key"


def _key_expected(expected: frozenset, found: str | None, text: str, at: int, opening: Opening | None) -> str:
    previous = _previous_significant(text, at)
    if "TABLE_OPEN" in expected:  # the start of a line
        if found == "_EQUALS":
            return "expected a key before '='"
        if text[at : at + 1].isprintable() and not text[at : at + 1].isascii():
            return (
                f"invalid character {text[at]!r} in a bare key: bare keys use only A-Z, a-z, 0-9, '_' "
                "and '-' (quote the key to use other characters)"
            )
        if found in ("ML_BASIC_STRING", "ML_LITERAL_STRING"):
            return "a multi-line string cannot be a key"
        return "expected a key, a [table] header or a comment"
    if found in ("ML_BASIC_STRING", "ML_LITERAL_STRING"):
        return "a multi-line string cannot be a key"
    if opening is not None and opening.kind == "inline":
        if found in ("_NEWLINE", END):
            return "expected '}': inline tables must be on one line"
        if previous == ",":
            return (
                "trailing comma is not allowed in an inline table"
                if found == "INLINE_CLOSE"
                else ("expected a key after ','")
            )
        return "expected a key or '}'"
    if previous == ".":
        return "expected a key after '.'"
    if opening is not None and opening.kind == "table":
        return "expected a table name after '['"
    if opening is not None and opening.kind == "array-table":
        return "expected a table name after '[['"
    return "expected a key"


def _innermost_opening(values: list) -> Opening | None:
    """The last bracket still open: closed ones were reduced into values already."""
    for value in reversed(values):
        if value.__class__ is Opening:
            return value
    return None


def _last_statement(values: list) -> str:
    """What the unfinished statement on the stack is: a header keeps its '[' there."""
    opening = _innermost_opening(values)
    return "table header" if opening is not None and opening.kind in ("table", "array-table") else "value"


def _previous_significant(text: str, at: int) -> str:
    stripped = text[:at].rstrip(" \t")
    return stripped[-1:] if stripped else ""


def _is_bare(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-")
