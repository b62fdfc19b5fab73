"""Turn Lark's syntax errors on ``.mux`` text into diagnostics in user words.

No Lark internals reach the user: terminal names become words ("a name", "']'"), the end of
input points at the end of the file, and common mistakes (``:`` instead of ``=`` in an
attribute, a missing comma, a misspelled statement keyword, text under a line without ``:``)
get their own message and a hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span

STATEMENTS = ("workflow", "arg", "role", "shell", "query", "apply", "store", "input",
              "tests", "test", "file", "answer", "expect")
_STARTERS = {"WORKFLOW", "ARG", "ROLE", "KIND", "TESTS", "TEST", "FILE", "ANSWER", "EXPECT"}

_WORDS = {
    "NAME": "a name",
    "BASIC_STRING": "a string",
    "LITERAL_STRING": "a string",
    "ML_BASIC_STRING": "a string",
    "ML_LITERAL_STRING": "a string",
    "INTEGER": "a number",
    "FLOAT": "a number",
    "BOOLEAN": "true or false",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "EQUAL": "'='",
    "AT": "'@'",
    "MORETHAN": "'>'",
    "BLOCK": "':' and the step's text",
    "LINE": "':' and the step's text",
    "_NL": "the end of the line",
    "WORKFLOW": "`workflow`",
    "ARG": "`arg`",
    "ROLE": "`role`",
    "KIND": "a step kind (shell, query, apply, store, input)",
    "FROM": "`from`",
    "REQUIRED": "`required`",
    "TESTS": "`tests`",
    "TEST": "`test`",
    "FILE": "`file`",
    "ANSWER": "`answer`",
    "EXPECT": "`expect`",
    "$END": "the end of the file",
}

# Known mistakes, recognised by replaying them through the parser (Lark's match_examples).
_EXAMPLES: dict[str, tuple[str, list[str]]] = {
    "missing-value": (
        "an attribute needs a value after '='",
        ["query a @x [timeout = ]\n", "arg x = \n"],
    ),
}


def report_syntax_error(
    error: UnexpectedInput, source: str, file: str, lark: Callable[[], Lark], sink: DiagnosticSink
) -> None:
    if isinstance(error, UnexpectedCharacters):
        _unexpected_character(error, source, file, sink)
    elif isinstance(error, UnexpectedToken):
        _unexpected_token(error, source, file, lark, sink)
    else:  # UnexpectedEOF cannot happen with LALR, but never show a traceback
        sink.report("mux-syntax", "unexpected end of file", file, Span.point(len(source.rstrip("\n"))))


def _unexpected_character(error: UnexpectedCharacters, source: str, file: str, sink: DiagnosticSink) -> None:
    pos = error.pos_in_stream
    char = source[pos] if pos < len(source) else ""
    line_end = source.find("\n", pos)
    line_end = len(source) if line_end == -1 else line_end
    if char in ("'", '"'):
        sink.report("mux-syntax", "unterminated string", file, Span(pos, line_end), "this string never ends",
                    help=f"close it with {char} on the same line, or use {char * 3} for text over several lines")
        return
    if _in_name(source, pos, char, error.allowed or ()):
        start = pos
        while start > 0 and (source[start - 1].isalnum() or source[start - 1] in "_-"):
            start -= 1
        end = pos
        while end < len(source) and (source[end].isalnum() or source[end] in "_-"):
            end += 1
        word = source[start:end]
        sink.report("mux-syntax", f"unexpected character {char!r} in the name `{word}`", file, Span(pos, pos + 1),
                    "not allowed in a bare name",
                    help=f'bare names are ASCII letters, digits, \'_\' and \'-\'; quote other names: "{word}"')
        return
    expected = _words(error.allowed or ())
    sink.report("mux-syntax", f"unexpected character {char!r}", file, Span(pos, pos + 1),
                f"expected {expected}" if expected else "not allowed here")


def _in_name(source: str, pos: int, char: str, allowed: Iterable[str]) -> bool:
    """A letter or digit outside ASCII where a bare name is being written (``workflow café``).

    The terminals Lark lists there are every follower of a name in any statement (LALR shares
    the state), which would mislead; the user only needs to know names are ASCII or quoted."""
    if char.isascii() or not char.isalnum():
        return False
    return "NAME" in allowed or (pos > 0 and (source[pos - 1].isascii() and (source[pos - 1].isalnum()
                                                                             or source[pos - 1] in "_-")))


def _unexpected_token(error: UnexpectedToken, source: str, file: str, lark: Callable[[], Lark],
                      sink: DiagnosticSink) -> None:
    token = error.token
    expected = set(error.accepts or error.expected)
    if token.type == "$END":
        end = len(source.rstrip("\n"))
        sink.report("mux-syntax", f"unexpected end of file: expected {_words(expected)}", file, Span.point(end),
                    "the file ends here", help=_unclosed_hint(source))
        return
    span = Span(token.start_pos, max(token.end_pos, token.start_pos + 1))
    if expected and expected <= _STARTERS | {"_NL", "$END"} and token.type == "NAME":
        _bad_statement(token, source, span, file, sink)
        return
    hint = _attribute_mistake(token.type, expected)
    if hint is not None:
        sink.report("mux-syntax", hint, file, Span(span.start, span.start + 1), f"unexpected {_describe(token)}")
        return
    known = _known_mistake(error, lark)
    if known is not None:
        sink.report("mux-syntax", known, file, span, f"unexpected {_describe(token)}")
        return
    sink.report("mux-syntax", f"unexpected {_describe(token)}: expected {_words(expected)}", file, span,
                f"expected {_words(expected)}")


def _bad_statement(token: object, source: str, span: Span, file: str, sink: DiagnosticSink) -> None:
    line_start = source.rfind("\n", 0, span.start) + 1
    if source[line_start:span.start].strip(" \t") == "" and span.start > line_start:
        sink.report("mux-syntax", "indented text where a statement was expected", file, span,
                    "not part of any step",
                    help="a step's text goes in a block under a step line that ends with ':'")
        return
    word = str(token)
    close = difflib.get_close_matches(word, STATEMENTS, n=1, cutoff=0.6)
    sink.report("mux-syntax", f"unknown statement `{word}`", file, span, "expected a statement",
                help=f"did you mean `{close[0]}`?" if close else
                "a statement starts with workflow, arg, role, shell, query, apply, store or input (or, for "
                "tests, test, file, answer, expect)")


def _attribute_mistake(kind: str, expected: set[str]) -> str | None:
    """Mistakes inside [attributes] that the expected set identifies without replaying."""
    if kind in ("BLOCK", "LINE") and "EQUAL" in expected:
        return "use '=' between an attribute and its value"
    if kind == "NAME" and "COMMA" in expected and expected & {"RSQB", "RBRACE"}:
        return "separate attributes with ','"
    return None


def _known_mistake(error: UnexpectedToken, lark: Callable[[], Lark]) -> str | None:
    examples = {label: [v for s in samples for v in _in_context(s)] for label, (_, samples) in _EXAMPLES.items()}
    try:
        label = error.match_examples(lark().parse, examples, use_accepts=True)
    except Exception:  # a label lookup must never turn into a crash
        return None
    return _EXAMPLES[label][0] if label else None


def _in_context(sample: str) -> list[str]:
    """The sample as the first statement and after others (with or without a leading comment).

    Lark matches an example by parser state *and stack depth*; the statements before an error
    (and a leading comment line) change the depth, so each position needs its own sample."""
    return [prefix + sample for prefix in ("", "workflow w\n", "#\n", "#\nworkflow w\n")]


def _unclosed_hint(source: str) -> str | None:
    depth = source.count("[") - source.count("]") + source.count("{") - source.count("}")
    return "a '[' or '{' is never closed" if depth > 0 else None


def _describe(token: object) -> str:
    kind = getattr(token, "type", "")
    if kind == "NAME":
        return f"name `{token}`"
    if kind in ("_NL",):
        return "end of the line"
    if kind in ("BLOCK", "LINE"):
        return "':'"
    word = _WORDS.get(kind)
    return word if word and not word.startswith("a ") else f"{str(token)!r}"


def _words(names: Iterable[str]) -> str:
    words = sorted({_WORDS.get(name, name.lower()) for name in names if not name.startswith("__")})
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
