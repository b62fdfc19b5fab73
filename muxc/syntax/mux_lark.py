"""The DSL parsed with Lark: for text the fast reader (``syntax.mux_statements``) leaves to it.

That is text with a syntax error, or nested too deeply: Lark's errors carry what the diagnostics
in user words need (``syntax.mux_errors``: expected terminals, the interactive parser for known
mistakes). One error is repaired rather than reported: a misspelled step keyword at the start of a
line (``qeury fetch @x:``) is read as a step kind, so the schema layer reports the type with a
did-you-mean and later hints still know the step. The tree Lark builds then goes through the same
rule callbacks as the fast reader (``call_rule``), so the statements are the same either way.

Lark is imported only here, so a file without errors never loads it.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from muxc.base import resources
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.syntax.fields import ALL as STEP_KINDS
from muxc.syntax.mux_statements import MAX_DEPTH, Lexeme, Problem, Reader, Statement, call_rule, comments_in

_OPEN, _CLOSE = {"LSQB", "LBRACE"}, {"RSQB", "RBRACE"}
_BRACKETED = {"array", "table", "attrs"}  # rules whose node takes its brackets' span


class TooDeep(Exception):
    """Raised by the post-lexer at the bracket that opens value level ``MAX_DEPTH + 1``."""

    def __init__(self, token: Token) -> None:
        super().__init__("nested too deeply")
        self.token = token


class _PostLex:
    """Drop line breaks inside brackets and right after a block; collect comments as they pass."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.comments: list[tuple[int, str]] = []

    def process(self, stream: Any) -> Any:
        depth = 0
        previous = None
        for token in stream:
            after_block, previous = previous == "BLOCK", token.type
            if token.type == "_NL":
                self._collect(token)
                # A block body already ends its statement with its last line, so comment lines
                # at column 1 right after it are only comments, not a line break to parse.
                if depth or after_block:
                    continue
            elif token.type in _OPEN:
                depth += 1
                if depth > MAX_DEPTH + 1:  # the attribute list's own "[" is not a value
                    raise TooDeep(token)
            elif token.type in _CLOSE:
                depth = max(0, depth - 1)
            yield token

    def _collect(self, token: Token) -> None:
        self.comments += comments_in(token.value, token.start_pos)


_POSTLEX = _PostLex()


@cache
def lark() -> Lark:
    options = {"parser": "lalr", "lexer": "contextual", "postlex": _POSTLEX, "propagate_positions": True,
               "maybe_placeholders": True}
    grammar = resources.grammar_text("muxc.lark")
    try:  # Lark's cache (keyed by the grammar's hash) saves ~40 ms per process
        return Lark(grammar, cache=_cache_file(), **options)
    except (OSError, KeyError):  # an unwritable cache directory, or a uid with no user name (containers)
        return Lark(grammar, **options)  # only costs time


def _cache_file() -> str:
    import getpass
    import tempfile

    from muxc import __version__

    return f"{tempfile.gettempdir()}/muxc-{getpass.getuser()}-{__version__}-muxc-lark.cache"


def read_with_lark(source: str, file: str, sink: DiagnosticSink
                   ) -> tuple[list[Statement], list[tuple[int, str]], list[Problem]] | None:
    """What ``mux_statements.read`` gives, or None after reporting the syntax error."""
    _POSTLEX.comments = []
    repaired: list[UnexpectedInput] = []
    try:
        tree = lark().parse(source, on_error=lambda error: _misspelled_kind(error, repaired))
    except UnexpectedInput as error:
        from muxc.syntax.mux_errors import report_syntax_error

        if repaired and getattr(error, "line", -1) == repaired[-1].line:
            error = repaired[-1]  # the misspelled keyword did not start a step after all: report it
        report_syntax_error(error, source, file, lark, sink)
        return None
    except TooDeep as error:
        at = error.token.start_pos
        sink.report("mux-syntax", f"values are nested too deeply (more than {MAX_DEPTH} levels)", file,
                    Span(at, at + 1), "one level too many")
        return None
    reader = Reader(source)
    statements = _Callbacks(reader).transform(tree)
    return statements, list(_POSTLEX.comments), reader.problems


class _Callbacks(Transformer[Token, Any]):
    """Each tree node through the fast reader's rule callback, tokens as ``Lexeme``s."""

    def __init__(self, reader: Reader) -> None:
        super().__init__(visit_tokens=False)
        self.reader = reader

    def __default__(self, data: Any, children: list, meta: Any) -> Any:
        rule = str(data)
        if rule in _BRACKETED:  # the reader takes bracket spans in the order rules are reduced
            self.reader.closed.append(Span(meta.start_pos, meta.end_pos))
        children = [Lexeme(c.value, c.start_pos, c.end_pos) if isinstance(c, Token) else c for c in children]
        return call_rule(self.reader, rule, children)


def _misspelled_kind(error: UnexpectedInput, repaired: list[UnexpectedInput]) -> bool:
    """Read a misspelled step keyword at the start of a line (``qeury fetch @x:``) as a step kind.

    The step then stays in the document, so the schema layer reports its type with a did-you-mean
    and later hints still know the step's name; any other error stops the parse as before."""
    token = getattr(error, "token", None)
    expected = getattr(error, "accepts", None) or getattr(error, "expected", None) or ()
    if not isinstance(token, Token) or token.type != "NAME" or "KIND" not in expected or token.column != 1:
        return False
    if not difflib.get_close_matches(token.value, sorted(STEP_KINDS), n=1, cutoff=0.6):
        return False
    repaired.append(error)
    error.interactive_parser.feed_token(Token("KIND", token.value, token.start_pos, token.line, token.column,
                                              token.end_line, token.end_column, token.end_pos))
    return True
