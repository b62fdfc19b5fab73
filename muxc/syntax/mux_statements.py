""".mux text to statements: each rule of ``grammar/muxc.lark`` as the node it builds, and the fast reader.

A statement becomes the table its TOML form would have (``name``, ``[args.X]``, ``[roles.X]``,
``[[steps]]``) with spans into the ``.mux`` text; ``syntax.mux`` assembles the document.

``read`` runs the grammar's LALR tables (``mux_tables``, generated from the grammar by
``tools.lalr_tables``) with ``syntax.lalr``: no Lark, no parse tree, each rule's node built as
the rule is reduced. Its post-lexer hooks do what Lark's post-lexer in ``syntax.mux_lark`` does:
line breaks inside brackets, and right after a block body, are dropped; comments are collected;
nesting deeper than ``MAX_DEPTH`` levels is refused. Text the tables do not accept, or nest too
deeply, gets ``None``: the caller parses it again with Lark, whose errors (and repair of a
misspelled step kind) are the ones users see. The same rule callbacks serve Lark's tree there
(``call_rule``), so both paths build the same statements.

Invariants: for text both accept, ``read`` gives what Lark's path gives (tests compare them on
every case and seed file); rule callbacks see children shaped as Lark's tree builder makes them
(filtered tokens dropped, ``[optional]`` items as ``None``), with tokens as ``Lexeme``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Entry, Node, Scalar, Str, Table
from muxc.lang.strings import StringError, decode
from muxc.syntax.fields import ALL as STEP_KINDS
from muxc.syntax.fields import BODY_FIELD
from muxc.syntax.lalr import Parser, SyntaxFailure, TooDeep

# muxc.syntax.toml refuses documents nested more than 100 levels (deeper is never meant and would exhaust
# the stack later). A statement's values sit three levels deep in its TOML form (the root,
# [[steps]] or [args]/[roles], the entry), so the DSL allows 97 levels: what it accepts, fmt can
# always write as TOML that reads back.
MAX_DEPTH = 97
_COMMENT = re.compile(r"#([^\n]*)")

Problem = tuple[str, str, Span, str]  # (code, message, span, label)


class Lexeme:
    """A token as the rule callbacks see it (the names Lark's ``Token`` uses)."""

    __slots__ = ("end_pos", "start_pos", "value")

    def __init__(self, value: str, start_pos: int, end_pos: int) -> None:
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos


class Statement:
    """One parsed statement: its kind, its header span, its table, and its name span."""

    __slots__ = ("kind", "name", "source", "span", "table")

    def __init__(self, kind: str, name: Str | None, span: Span, table: Table) -> None:
        self.kind = kind
        self.name = name
        self.span = span
        self.table = table
        self.source = ""  # its text as written, body included (test statements: fmt keeps them as they are)


class Unsure(Exception):
    """The fast reader leaves this text to Lark (a post-lexer check failed)."""


def read(source: str) -> tuple[list[Statement], list[tuple[int, str]], list[Problem]] | None:
    """The statements, comments (offset, text after ``#``) and problems of ``source`` (which ends
    with a line break), or None when Lark must parse it (a syntax error, nesting too deep)."""
    reader = Reader(source)
    try:
        statements = _parser().parse(source, 0, reader)
    except (SyntaxFailure, TooDeep, Unsure):
        return None
    return statements, reader.comments, reader.problems


def call_rule(reader: Reader, rule: str, children: list) -> Any:
    """The node of ``rule`` for ``children`` (Lark's path: its tree, bottom up)."""
    return RULES[rule](reader, children)


# --- the reader: callbacks and post-lexer state ------------------------------------------------


class Reader:
    """Per-parse state: the text, problems found, comments, and the brackets seen."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.problems: list[Problem] = []
        self.comments: list[tuple[int, str]] = []
        # post-lexer: open brackets' offsets, and each closed bracket pair's span, in the order the
        # closing brackets come (the order their rules are reduced in; each takes the next)
        self.opened: list[int] = []
        self.closed: list[Span] = []
        self.next_closed = 0
        self.block_end = -1

    def brackets(self) -> Span:
        span = self.closed[self.next_closed]
        self.next_closed += 1
        return span

    # values
    def string(self, token: Lexeme) -> Str:
        try:
            return decode(token.value, token.start_pos)
        except StringError as error:
            self.problems.append(("invalid-string", str(error), Span(error.offset, error.offset + error.length), ""))
            return Str(token.value, Span(token.start_pos, token.end_pos), ((0, token.start_pos),))

    def integer(self, token: Lexeme) -> Scalar:
        return Scalar(int(token.value.replace("_", "")), Span(token.start_pos, token.end_pos))

    def float(self, token: Lexeme) -> Scalar:
        return Scalar(float(token.value.replace("_", "")), Span(token.start_pos, token.end_pos))

    def boolean(self, token: Lexeme) -> Scalar:
        return Scalar(token.value == "true", Span(token.start_pos, token.end_pos))

    def array(self, *items: Node | None) -> Array:
        return Array(tuple(item for item in items if item is not None), self.brackets())

    def table(self, *attrs: tuple[Str, Node] | None) -> Table:
        span = self.brackets()
        entries: dict[str, Entry] = {}
        for key, value in (attr for attr in attrs if attr is not None):
            if key.value in entries:
                self.problems.append(("duplicate-field", f"`{key.value}` is set twice", key.span, "set again here"))
                continue
            entries[key.value] = Entry(key.value, key.span, value)
        return Table(entries, span, "inline")

    def attrs(self, *attrs: tuple[Str, Node] | None) -> list[tuple[Str, Node]]:
        self.brackets()  # the list's own brackets: not a value, no span kept
        return [attr for attr in attrs if attr is not None]

    def attr(self, key: Str, value: Node) -> tuple[Str, Node]:
        return key, value

    def key(self, part: Lexeme | Str) -> Str:
        return self.name(part)

    def name(self, part: Lexeme | Str) -> Str:
        if isinstance(part, Lexeme):
            return Str(part.value, Span(part.start_pos, part.end_pos), ((0, part.start_pos),))
        return part

    # clauses and bodies
    def role_clause(self, name: Str) -> tuple[str, Str]:
        return "role", name

    def from_clause(self, keyword: Lexeme, name: Str) -> tuple[str, Str]:
        return "source", name

    def dotted_name(self, *parts: Lexeme) -> Str:
        """``steps.fix`` after ``from``: one name with its dots (llm-mux's spelling of a source)."""
        start, end = parts[0].start_pos, parts[-1].end_pos
        return Str(self.text[start:end], Span(start, end), ((0, start),))

    def save_clause(self, path: Str) -> tuple[str, Str]:
        return "save", path

    def block_body(self, token: Lexeme) -> tuple[str, Str, str | None]:
        text, comment = _decode_block(token, self.problems)
        return "body", text, comment

    def line_body(self, token: Lexeme) -> tuple[str, Str, None]:
        return "body", _decode_line(token), None

    def string_body(self, value: Str) -> tuple[str, Str, None]:
        return "body", value, None

    def no_body(self) -> None:
        return None

    # statements
    def workflow_stmt(self, keyword: Lexeme, name: Str, description: Str | None, attrs: list | None) -> Statement:
        entries = {"name": Entry("name", _span(keyword), name)}
        if description is not None:
            entries["description"] = Entry("description", description.span, description)
        table = Table(entries, _span(keyword, name, description), "header")
        self._add_attrs(table, attrs or [])
        return Statement("workflow", name, _span(keyword, name, description, *(attrs or [])), table)

    def arg_stmt(self, keyword: Lexeme, name: Str, default: Node | None, required: Lexeme | None,
                 description: Str | None) -> Statement:
        span = _span(keyword, name, default, required, description)
        table = Table({}, span, "header")
        if default is not None:
            table.entries["default"] = Entry("default", default.span, default)
        if required is not None:
            flag = Scalar(True, Span(required.start_pos, required.end_pos))
            table.entries["required"] = Entry("required", flag.span, flag)
        if description is not None:
            table.entries["description"] = Entry("description", description.span, description)
        return Statement("arg", name, span, table)

    def role_stmt(self, keyword: Lexeme, name: Str, attrs: list) -> Statement:
        span = _span(keyword, name, *attrs)
        table = Table({}, span, "header")
        self._add_attrs(table, attrs)
        return Statement("role", name, span, table)

    def step_stmt(self, kind: Lexeme, name: Str, *rest: Any) -> Statement:
        *clauses, attrs, body = rest
        header = [kind, name, *(value for _, value in clauses), *(attrs or [])]
        span = _span(*header)
        kind_node = Str(kind.value, Span(kind.start_pos, kind.end_pos), ((0, kind.start_pos),))
        table = Table({"name": Entry("name", name.span, name), "type": Entry("type", kind_node.span, kind_node)},
                      span, "array-element")
        for field, value in clauses:
            self._set(table, field, value.span, value)
        self._add_attrs(table, attrs or [])
        if body is not None:
            self._add_body(table, kind.value, body)
        return Statement("step", name, span, table)

    def _add_body(self, table: Table, kind: str, body: tuple[str, Str, str | None]) -> None:
        _, text, comment = body
        # A misspelled kind (read on by syntax.mux_lark's repair) keeps its text somewhere: the step
        # is reported and never built, so which field holds it matters only to later hints.
        field = BODY_FIELD.get(kind, "prompt" if kind not in STEP_KINDS else None)
        if field is None:
            self.problems.append(("mux-syntax", f"an {kind} step has no text", text.span, "not expected here"))
            return
        self._set(table, field, text.span, text, comments=(comment,) if comment is not None else ())

    def _add_attrs(self, table: Table, attrs: list[tuple[Str, Node]]) -> None:
        for key, value in attrs:
            self._set(table, key.value, key.span, value)

    def _set(self, table: Table, key: str, key_span: Span, value: Node, comments: tuple[str, ...] = ()) -> None:
        previous = table.entries.get(key)
        if previous is not None:
            self.problems.append(("duplicate-field", f"`{key}` is set twice", key_span, "set again here"))
            return
        table.entries[key] = Entry(key, key_span, value, comments)

    # tests (assembled into a test file's table by syntax.mux_tests)
    def tests_stmt(self, keyword: Lexeme, path: Str) -> Statement:
        return Statement("tests", path, _span(keyword, path), Table({}, _span(keyword, path), "header"))

    def test_stmt(self, keyword: Lexeme, name: Str, attrs: list | None) -> Statement:
        span = _span(keyword, name, *(attrs or []))
        table = Table({"name": Entry("name", name.span, name)}, span, "array-element")
        self._add_attrs(table, attrs or [])
        return Statement("test", name, span, table)

    def file_stmt(self, keyword: Lexeme, path: Str, body: tuple[str, Str, str | None] | None) -> Statement:
        return self._with_body("file", keyword, path, body)

    def answer_stmt(self, keyword: Lexeme, step: Str, body: tuple[str, Str, str | None] | None) -> Statement:
        return self._with_body("answer", keyword, step, body)

    def _with_body(self, kind: str, keyword: Lexeme, name: Str, body: tuple[str, Str, str | None] | None
                   ) -> Statement:
        span = _span(keyword, name)
        table = Table({}, span, "header")
        if body is None:
            self.problems.append(("mux-syntax", f"`{kind} {name.value}` needs its text", name.span,
                                  "write `: text`, or `:` and the text indented below"))
        else:
            table.entries["text"] = Entry("text", body[1].span, body[1])
        return Statement(kind, name, span, table)

    def expect_stmt(self, keyword: Lexeme, subject: Lexeme, name: Str | None, attrs: list | None) -> Statement:
        what = self.name(subject)
        span = _span(keyword, subject, name, *(attrs or []))
        table = Table({}, span, "array-element")
        table.entries["subject"] = Entry("subject", what.span, what)
        if name is not None:
            table.entries["target"] = Entry("target", name.span, name)
        self._add_attrs(table, attrs or [])
        return Statement("expect", what, span, table)

    def start(self, *statements: Statement) -> list[Statement]:
        return list(statements)


def _rule(method: Any) -> Any:
    return lambda reader, children: method(reader, *children)


RULE_NAMES = (
    "string", "integer", "float", "boolean", "array", "table", "attrs", "attr", "key", "name", "role_clause",
    "from_clause", "dotted_name", "save_clause", "block_body", "line_body", "string_body", "no_body",
    "workflow_stmt", "arg_stmt", "role_stmt", "step_stmt", "tests_stmt", "test_stmt", "file_stmt", "answer_stmt",
    "expect_stmt", "start",
)
RULES = {name: _rule(getattr(Reader, name)) for name in RULE_NAMES}


def _span(*parts: Any) -> Span:
    spans = [_part_span(p) for p in parts if p is not None]
    return Span(min(s.start for s in spans), max(s.end for s in spans))


def _part_span(part: Any) -> Span:
    if isinstance(part, Lexeme):
        return Span(part.start_pos, part.end_pos)
    if isinstance(part, tuple):  # (key, value) attribute
        return _span(part[0], part[1])
    return part.span


# --- bodies ------------------------------------------------------------------------------------


def _decode_line(token: Lexeme) -> Str:
    raw = token.value[1:]
    lead = len(raw) - len(raw.lstrip(" \t"))
    text = raw.strip(" \t\r")
    start = token.start_pos + 1 + lead
    return Str(text, Span(start, start + len(text)), ((0, start),))


def _decode_block(token: Lexeme, problems: list) -> tuple[Str, str | None]:
    """The indented text under a ':' line: common indentation removed, one final newline."""
    raw = token.value
    first_break = raw.find("\n")
    header = raw[1:first_break if first_break != -1 else len(raw)].strip(" \t\r")
    comment = header[1:] if header.startswith("#") else None
    colon = Span(token.start_pos, token.start_pos + 1)  # where an empty body is: the ':' that promised it
    if first_break == -1:
        return Str("", colon), comment
    lines = raw[first_break + 1 :].split("\n")
    offsets = []
    position = token.start_pos + first_break + 1
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    text = _dedent(lines, offsets, problems)
    return (text if text.value else Str("", colon)), comment


def _dedent(lines: list[str], offsets: list[int], problems: list) -> Str:
    lines = [line.removesuffix("\r") for line in lines]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return Str("", Span(offsets[0], offsets[0]))
    first = next(line for line in lines if line.strip())
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    out, pieces, length = [], [], 0
    for line, offset in zip(lines, offsets):
        if not line.strip():
            cut = len(line) if not line.startswith(indent) else len(indent)
        elif line.startswith(indent):
            cut = len(indent)
        else:
            cut = len(line) - len(line.lstrip(" \t"))
            message, label = _indentation_problem(line[:cut], indent)
            problems.append(("bad-indentation", message, Span(offset, offset + cut), label))
        pieces.append((length, offset + cut))
        out.append(line[cut:])
        length += len(line) - cut + 1
    text = "\n".join(out) + "\n"
    return Str(text, Span(pieces[0][1], offsets[len(lines) - 1] + len(lines[-1])), tuple(pieces))


def _indentation_problem(lead: str, indent: str) -> tuple[str, str]:
    """(message, label) for a line whose indentation ``lead`` does not start with ``indent``."""
    used, first = _whitespace_kind(lead), _whitespace_kind(indent)
    if used != first:  # not "less": a tab and four spaces only look alike
        return f"this line is indented with {used}, the first line of the text with {first}", f"{used}"
    return "this line is indented less than the first line of the text", "indented less"


def _whitespace_kind(text: str) -> str:
    return {frozenset("\t"): "a tab" if text == "\t" else "tabs", frozenset(" "): "spaces"}.get(
        frozenset(text), "tabs and spaces")


# --- the table-driven parser and its post-lexer --------------------------------------------------


def comments_in(token: str, start: int) -> list[tuple[int, str]]:
    """The comments a line-break token at ``start`` holds: (offset, text after ``#``) each."""
    return [(start + match.start(), match.group(1)) for match in _COMMENT.finditer(token)] if "#" in token else []


def _line_break(reader: Reader, token: str, start: int, end: int) -> bool:
    reader.comments += comments_in(token, start)
    # A block body already ends its statement with its last line, so comment lines at column 1
    # right after it are only comments, not a line break to parse (nothing can stand between a
    # block and what follows it: it ends at a line's first column).
    return not reader.opened and start != reader.block_end


def _open(reader: Reader, token: str, start: int, end: int) -> bool:
    reader.opened.append(start)
    if len(reader.opened) > MAX_DEPTH + 1:  # the attribute list's own "[" is not a value
        raise Unsure  # Lark's path reports it
    return True


def _close(reader: Reader, token: str, start: int, end: int) -> bool:
    if not reader.opened:
        raise Unsure  # a stray bracket: a syntax error, worded by Lark's path
    reader.closed.append(Span(reader.opened.pop(), end))
    return True


def _block(reader: Reader, token: str, start: int, end: int) -> bool:
    reader.block_end = end
    return True


_PUNCTUATION = frozenset({"LSQB", "RSQB", "LBRACE", "RBRACE", "COMMA", "EQUAL", "AT", "MORETHAN", "DOT"})
POSTLEX = {"_NL": _line_break, "LSQB": _open, "LBRACE": _open, "RSQB": _close, "RBRACE": _close, "BLOCK": _block}


@cache
def _parser() -> Parser:
    from muxc.syntax.mux_tables import TABLES

    # punctuation is filtered out of every rule's children: no token object for it
    terminals = {name: Lexeme for name, _ in TABLES["terminals"] if name.isupper() and name not in _PUNCTUATION}
    # each nesting level takes a few stack entries; the post-lexer's depth check comes first
    return Parser(TABLES, terminals, RULES, max_stack=8 * MAX_DEPTH + 64, postlex=POSTLEX)
