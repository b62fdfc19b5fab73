"""Word a syntax failure the way a person would: what was expected, where, and why.

The parser reports its stack as grammar symbols (exactly what has been read: ``key``,
``_EQUALS``, ``ARRAY_OPEN``, ...) and the offset where nothing it could accept matches.
From the innermost open bracket and the last thing read, this module picks one message in
user words: "expected '=' after the key", "unterminated string", "inline tables must be on
one line". Grammar names (``BARE_KEY``, ``$END``) never reach the message.

The symbols, not the parser's list of acceptable terminals, decide: LALR merges lookahead
sets of similar states, so that list may name terminals that cannot follow here.

Invariant: ``describe`` always returns a ``Problem`` whose span lies inside the text.
"""

from __future__ import annotations

import re

from muxc.diagnostics.span import Span
from muxc.syntax.lalr import END, Parser, SyntaxFailure
from muxc.syntax.toml._strings import control_problem
from muxc.syntax.toml.errors import Problem

STRING_TERMINALS = ("ML_BASIC_STRING", "BASIC_STRING", "ML_LITERAL_STRING", "LITERAL_STRING")
_KEY_PARTS = frozenset({"BARE_KEY", "BASIC_STRING", "LITERAL_STRING", "simple_key", "key"})
_OPENERS = {"TABLE_OPEN": "TABLE_CLOSE", "ARRAY_TABLE_OPEN": "ARRAY_TABLE_CLOSE", "ARRAY_OPEN": "ARRAY_CLOSE"}
_OPENERS["INLINE_OPEN"] = "INLINE_CLOSE"
_HEADER_CLOSERS = frozenset({"TABLE_CLOSE", "ARRAY_TABLE_CLOSE", "table_header", "array_table_header"})
_LINE_START = frozenset({"_NEWLINE", "line", "start"})
_BARE_KEY_RULE = "bare keys use only A-Z, a-z, 0-9, '_' and '-' (quote the key to use other characters)"

_WORD = re.compile(r"[^\s,=\[\]{}#]+|\S")


def describe(failure: SyntaxFailure, text: str, parser: Parser) -> Problem:
    """The problem to report for ``failure`` in ``text``."""
    at = failure.offset
    special = _special_character(text, at, failure, parser)
    if special is not None:
        return special
    found, span = _found(text, at, failure, parser)
    after_value = _after_value(failure.symbols, text, at)
    if after_value is not None:
        return after_value
    return Problem(_message(failure.symbols, found, text, at), span)


def _after_value(symbols: list[str], text: str, at: int) -> Problem | None:
    """Mistakes glued to the value before them: a bad time after a date, too many quotes."""
    last = symbols[-1] if symbols else None
    char = text[at : at + 1]
    if last == "LOCAL_DATE" and char.isdigit() and text[at - 1 : at] == " ":
        word = _WORD.match(text, at)
        start = at - 11  # the date (10 characters) and the space
        return Problem(
            f"invalid date-time '{text[start : word.end()]}': expected a time like 07:32:00, "
            "optionally with an offset like Z or +01:00",
            Span(start, word.end()),
        )
    if last in ("ML_BASIC_STRING", "ML_LITERAL_STRING") and char in "\"'" and text[at - 1 : at] == char:
        escape = "; escape quotes inside it with a backslash" if char == '"' else ""
        return Problem(
            f"too many quotes: a multi-line string ends at the first {char * 3} and at most two more "
            f"quotes{escape}",
            Span(at, at + 1),
        )
    return None


# ---------------------------------------------------------------------- what stands at the offset


def _special_character(text: str, at: int, failure: SyntaxFailure, parser: Parser) -> Problem | None:
    """Problems named by the character itself: control characters and unclosed strings."""
    char = text[at : at + 1]
    if char == "\r" and text[at + 1 : at + 2] != "\n":
        return control_problem("\r", at, "(a bare carriage return is not a line break)")
    if char and (ord(char) < 0x20 or char == "\x7f") and char not in "\t\n\r":
        return control_problem(char, at, "here")
    could_be_string = not set(failure.expected).isdisjoint(STRING_TERMINALS)
    if char in ("'", '"') and could_be_string and not _any_string(text, at, parser):
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


# ---------------------------------------------------------------------- what was expected


def _message(symbols: list[str], found: str | None, text: str, at: int) -> str:
    opening, last, before_last = _context(symbols)
    if opening in ("TABLE_OPEN", "ARRAY_TABLE_OPEN"):
        return _in_header(opening, last, found, text, at)
    if opening == "INLINE_OPEN":
        return _in_inline_table(last, before_last, found, text, at)
    if opening == "ARRAY_OPEN":
        if last in ("ARRAY_OPEN", "_COMMA"):
            return "expected a value or ']'"
        return "expected ',' or ']' after the value in the array"
    return _in_statement(last, before_last, found, text, at)


def _context(symbols: list[str]) -> tuple[str | None, str | None, str | None]:
    """(innermost open bracket, last symbol read, the one before), ignoring array layout."""
    open_brackets: list[str] = []
    for symbol in symbols:
        if symbol in _OPENERS:
            open_brackets.append(symbol)
        elif open_brackets and symbol == _OPENERS[open_brackets[-1]]:
            open_brackets.pop()
    opening = open_brackets[-1] if open_brackets else None
    meaningful = [s for s in symbols if not _is_layout(s, in_array=opening == "ARRAY_OPEN")]
    last = meaningful[-1] if meaningful else None
    before_last = meaningful[-2] if len(meaningful) > 1 else None
    return opening, last, before_last


def _is_layout(symbol: str, *, in_array: bool) -> bool:
    """Comments, and newlines inside an array (a newline between statements is not layout)."""
    return symbol == "COMMENT" or "_array_space" in symbol or (in_array and symbol == "_NEWLINE")


def _in_header(opening: str, last: str | None, found: str | None, text: str, at: int) -> str:
    brackets = "[" if opening == "TABLE_OPEN" else "[["
    if last == opening:
        return _multiline_key(found) or f"expected a table name after '{brackets}'"
    if last == "_DOT":
        return _multiline_key(found) or "expected a key after '.'"
    bad = _bad_bare_key_character(text, at)
    if bad is not None:
        return bad
    closing = "']'" if opening == "TABLE_OPEN" else "']]'"
    return (
        f"expected {closing} to close the {'table' if opening == 'TABLE_OPEN' else 'array-of-tables'} header"
    )


def _in_inline_table(last: str | None, before_last: str | None, found: str | None, text: str, at: int) -> str:
    end_of_line = found in ("_NEWLINE", END)
    if last in ("INLINE_OPEN", "_COMMA"):
        if end_of_line:
            return "expected '}': inline tables must be on one line"
        if last == "_COMMA" and found == "INLINE_CLOSE":
            return "trailing comma is not allowed in an inline table"
        return _multiline_key(found) or (
            "expected a key after ','" if last == "_COMMA" else "expected a key or '}'"
        )
    within = _within_key_value(last, before_last, found, text, at)
    if within is not None:
        return within
    if end_of_line:
        return "expected '}': inline tables must be on one line"
    return "expected ',' or '}' after the value in the inline table"


def _in_statement(last: str | None, before_last: str | None, found: str | None, text: str, at: int) -> str:
    if last is None or last in _LINE_START or last.startswith("__start"):
        return _at_line_start(found, text, at)
    within = _within_key_value(last, before_last, found, text, at)
    if within is not None:
        return within
    if last in _HEADER_CLOSERS:
        return "expected the end of the line after the table header"
    return "expected the end of the line after the value"


def _within_key_value(
    last: str | None, before_last: str | None, found: str | None, text: str, at: int
) -> str | None:
    """Messages for a key/value pair cut short: the same on a line and in an inline table."""
    if last == "_DOT":
        return _multiline_key(found) or "expected a key after '.'"
    if last == "_EQUALS":
        return "expected a value after '='"
    if _is_key_part(last, before_last):
        return _bad_bare_key_character(text, at) or "expected '=' after the key"
    return None


def _at_line_start(found: str | None, text: str, at: int) -> str:
    if found == "_EQUALS":
        return "expected a key before '='"
    char = text[at : at + 1]
    if char.isprintable() and not char.isascii():
        return f"invalid character {char!r} in a bare key: {_BARE_KEY_RULE}"
    if char and not char.isprintable():
        return f"unexpected character U+{ord(char):04X}: expected a key, a [table] header or a comment"
    return _multiline_key(found) or "expected a key, a [table] header or a comment"


def _is_key_part(last: str | None, before_last: str | None) -> bool:
    """A key part was read last (a string is a key part unless it follows '=')."""
    if last in ("BASIC_STRING", "LITERAL_STRING"):
        return before_last != "_EQUALS"
    return last in _KEY_PARTS


def _multiline_key(found: str | None) -> str | None:
    if found in ("ML_BASIC_STRING", "ML_LITERAL_STRING"):
        return "a multi-line string cannot be a key"
    return None


def _bad_bare_key_character(text: str, at: int) -> str | None:
    """A character glued to a bare key that bare keys cannot contain ("a@b = 1")."""
    char = text[at : at + 1]
    if not char or char.isspace() or char in "=.[]{}#\"'" or at == 0 or not _is_bare(text[at - 1]):
        return None
    return f"invalid character {char!r} in a bare key: {_BARE_KEY_RULE}"


def _is_bare(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_-")
