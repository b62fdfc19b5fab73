"""The one exception ``muxc.syntax.toml`` raises for bad input, and how positions are computed.

Invariants:
- ``TOMLError`` is the only exception a caller of ``muxc.syntax.toml`` sees for any text or bytes;
- line and column are 1-based and count characters (a column never counts UTF-8 bytes);
  ``offset`` is the 0-based character offset of ``span.start``;
- ``msg`` says what was expected in the user's words; ``str(error)`` adds the position.

Inside the parser, problems are raised as ``Problem`` (message and span only) and turned
into a ``TOMLError`` at the API boundary, where the text is at hand to compute positions.
"""

from __future__ import annotations

from muxc.diagnostics.span import Span


class TOMLError(ValueError):
    """The input is not valid TOML; ``span`` is the offending text (possibly empty)."""

    def __init__(
        self,
        msg: str,
        *,
        line: int,
        column: int,
        offset: int,
        span: Span,
        related: Span | None = None,
    ):
        super().__init__(f"{msg} (at line {line}, column {column})")
        self.msg = msg
        self.line = line
        self.column = column
        self.offset = offset
        self.span = span
        self.related = related

    @classmethod
    def at(cls, text: str, msg: str, span: Span, related: Span | None = None) -> TOMLError:
        """The error for ``span`` of ``text``."""
        line, column = position(text, span.start)
        return cls(msg, line=line, column=column, offset=span.start, span=span, related=related)

    def __reduce__(self):
        # the keyword-only constructor does not fit BaseException's default (args-based) pickling
        return (_rebuild, (self.msg, self.line, self.column, self.offset, self.span, self.related))


def _rebuild(msg: str, line: int, column: int, offset: int, span: Span, related: Span | None) -> TOMLError:
    return TOMLError(msg, line=line, column=column, offset=offset, span=span, related=related)


class Problem(Exception):
    """A user error found while parsing: a message and the span it is about."""

    def __init__(self, msg: str, span: Span, related: Span | None = None):
        super().__init__(msg)
        self.msg = msg
        self.span = span
        self.related = related

    def error(self, text: str) -> TOMLError:
        return TOMLError.at(text, self.msg, self.span, self.related)


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character ``offset``; lines end at LF."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def line_number(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
