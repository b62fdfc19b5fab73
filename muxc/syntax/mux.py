"""The DSL front-end: ``.mux`` text to the same spanned document the TOML front-end gives.

``grammar/muxc.lark`` is the grammar (LALR, contextual lexer). A post-lexer drops line breaks
inside brackets and keeps comments; the transformer turns each statement into the table the
TOML form would have (``name``, ``[args.X]``, ``[roles.X]``, ``[[steps]]``) with spans into the
``.mux`` text, so one schema layer (``syntax.workflow``) validates both formats. Syntax errors
become diagnostics in user words (``syntax.mux_errors``); nothing here raises for bad input.
"""

from __future__ import annotations

import bisect
import difflib
import re
from functools import cache
from typing import Any

import msgspec
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput

from muxc.base import resources
from muxc.diagnostics.model import Label
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Document, Entry, Node, Scalar, Str, Table
from muxc.lang.strings import StringError, decode
from muxc.syntax.fields import ALL as STEP_KINDS
from muxc.syntax.fields import BODY_FIELD

_COMMENT = re.compile(r"#([^\n]*)")
TEST_STATEMENTS = frozenset({"tests", "test", "file", "answer", "expect"})
_OPEN, _CLOSE = {"LSQB", "LBRACE"}, {"RSQB", "RBRACE"}


# muxc.syntax.toml refuses documents nested more than 100 levels (deeper is never meant and would exhaust
# the stack later). A statement's values sit three levels deep in its TOML form (the root,
# [[steps]] or [args]/[roles], the entry), so the DSL allows 97 levels: what it accepts, fmt can
# always write as TOML that reads back.
MAX_DEPTH = 97


class TooDeep(Exception):
    """Raised by the post-lexer at the bracket that opens value level ``MAX_DEPTH + 1``."""

    def __init__(self, token: Token) -> None:
        super().__init__("nested too deeply")
        self.token = token


class _PostLex:
    """Drop line breaks inside brackets; collect comments (offset, text) as they pass."""

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
        for match in _COMMENT.finditer(token.value):
            self.comments.append((token.start_pos + match.start(), match.group(1)))


_POSTLEX = _PostLex()


@cache
def _lark() -> Lark:
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


# --- statements ------------------------------------------------------------------------


class Statement:
    """One parsed statement: its kind, its header span, its table, and its name span."""

    __slots__ = ("kind", "name", "source", "span", "table")

    def __init__(self, kind: str, name: Str | None, span: Span, table: Table) -> None:
        self.kind = kind
        self.name = name
        self.span = span
        self.table = table
        self.source = ""  # its text as written, body included (test statements: fmt keeps them as they are)


def _span(*parts: Any) -> Span:
    spans = [_part_span(p) for p in parts if p is not None]
    return Span(min(s.start for s in spans), max(s.end for s in spans))


def _part_span(part: Any) -> Span:
    if isinstance(part, Token):
        return Span(part.start_pos, part.end_pos)
    if isinstance(part, Statement):
        return part.span
    if isinstance(part, tuple):  # (key, value) attribute
        return _span(part[0], part[1])
    return part.span


@v_args(inline=True)
class _ToDocument(Transformer[Token, Any]):
    """Lark callbacks: every rule returns a document node or a ``Statement``."""

    def __init__(self, text: str, problems: list[tuple[str, str, Span, str]]) -> None:
        super().__init__()
        self.text = text
        self.problems = problems  # (code, message, span, label)

    # values
    def string(self, token: Token) -> Str:
        try:
            return decode(token.value, token.start_pos)
        except StringError as error:
            self.problems.append(("invalid-string", str(error), Span(error.offset, error.offset + error.length), ""))
            return Str(token.value, Span(token.start_pos, token.end_pos), ((0, token.start_pos),))

    def integer(self, token: Token) -> Scalar:
        return Scalar(int(token.value.replace("_", "")), Span(token.start_pos, token.end_pos))

    def float(self, token: Token) -> Scalar:
        return Scalar(float(token.value.replace("_", "")), Span(token.start_pos, token.end_pos))

    def boolean(self, token: Token) -> Scalar:
        return Scalar(token.value == "true", Span(token.start_pos, token.end_pos))

    @v_args(inline=True, meta=True)
    def array(self, meta: Any, *items: Node | None) -> Array:
        return Array(tuple(item for item in items if item is not None), Span(meta.start_pos, meta.end_pos))

    @v_args(inline=True, meta=True)
    def table(self, meta: Any, *attrs: tuple[Str, Node] | None) -> Table:
        entries: dict[str, Entry] = {}
        for key, value in (attr for attr in attrs if attr is not None):
            if key.value in entries:
                self.problems.append(("duplicate-field", f"`{key.value}` is set twice", key.span, "set again here"))
                continue
            entries[key.value] = Entry(key.value, key.span, value)
        return Table(entries, Span(meta.start_pos, meta.end_pos), "inline")

    def attrs(self, *attrs: tuple[Str, Node] | None) -> list[tuple[Str, Node]]:
        return [attr for attr in attrs if attr is not None]

    def attr(self, key: Str, value: Node) -> tuple[Str, Node]:
        return key, value

    def key(self, part: Token | Str) -> Str:
        return self.name(part)

    def name(self, part: Token | Str) -> Str:
        if isinstance(part, Token):
            return Str(part.value, Span(part.start_pos, part.end_pos), ((0, part.start_pos),))
        return part

    # clauses and bodies
    def role_clause(self, name: Str) -> tuple[str, Str]:
        return "role", name

    def from_clause(self, keyword: Token, name: Str) -> tuple[str, Str]:
        return "source", name

    def dotted_name(self, *parts: Token) -> Str:
        """``steps.fix`` after ``from``: one name with its dots (llm-mux's spelling of a source)."""
        start, end = parts[0].start_pos, parts[-1].end_pos
        return Str(self.text[start:end], Span(start, end), ((0, start),))

    def save_clause(self, path: Str) -> tuple[str, Str]:
        return "save", path

    def block_body(self, token: Token) -> tuple[str, Str, str | None]:
        text, comment = _decode_block(token, self.problems)
        return "body", text, comment

    def line_body(self, token: Token) -> tuple[str, Str, None]:
        return "body", _decode_line(token), None

    def string_body(self, value: Str) -> tuple[str, Str, None]:
        return "body", value, None

    def no_body(self) -> None:
        return None

    # statements
    def workflow_stmt(self, keyword: Token, name: Str, description: Str | None, attrs: list | None) -> Statement:
        entries = {"name": Entry("name", _span(keyword), name)}
        if description is not None:
            entries["description"] = Entry("description", description.span, description)
        table = Table(entries, _span(keyword, name, description), "header")
        self._add_attrs(table, attrs or [])
        return Statement("workflow", name, _span(keyword, name, description, *(attrs or [])), table)

    def arg_stmt(self, keyword: Token, name: Str, default: Node | None, required: Token | None,
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

    def role_stmt(self, keyword: Token, name: Str, attrs: list) -> Statement:
        span = _span(keyword, name, *attrs)
        table = Table({}, span, "header")
        self._add_attrs(table, attrs)
        return Statement("role", name, span, table)

    def step_stmt(self, kind: Token, name: Str, *rest: Any) -> Statement:
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
        # A misspelled kind (read on by _misspelled_kind) keeps its text somewhere: the step is
        # reported and never built, so which field holds it matters only to later hints.
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
    def tests_stmt(self, keyword: Token, path: Str) -> Statement:
        return Statement("tests", path, _span(keyword, path), Table({}, _span(keyword, path), "header"))

    def test_stmt(self, keyword: Token, name: Str, attrs: list | None) -> Statement:
        span = _span(keyword, name, *(attrs or []))
        table = Table({"name": Entry("name", name.span, name)}, span, "array-element")
        self._add_attrs(table, attrs or [])
        return Statement("test", name, span, table)

    def file_stmt(self, keyword: Token, path: Str, body: tuple[str, Str, str | None] | None) -> Statement:
        return self._with_body("file", keyword, path, body)

    def answer_stmt(self, keyword: Token, step: Str, body: tuple[str, Str, str | None] | None) -> Statement:
        return self._with_body("answer", keyword, step, body)

    def _with_body(self, kind: str, keyword: Token, name: Str, body: tuple[str, Str, str | None] | None) -> Statement:
        span = _span(keyword, name)
        table = Table({}, span, "header")
        if body is None:
            self.problems.append(("mux-syntax", f"`{kind} {name.value}` needs its text", name.span,
                                  "write `: text`, or `:` and the text indented below"))
        else:
            table.entries["text"] = Entry("text", body[1].span, body[1])
        return Statement(kind, name, span, table)

    def expect_stmt(self, keyword: Token, subject: Token, name: Str | None, attrs: list | None) -> Statement:
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


def _decode_line(token: Token) -> Str:
    raw = token.value[1:]
    lead = len(raw) - len(raw.lstrip(" \t"))
    text = raw.strip(" \t\r")
    start = token.start_pos + 1 + lead
    return Str(text, Span(start, start + len(text)), ((0, start),))


def _decode_block(token: Token, problems: list) -> tuple[Str, str | None]:
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


# --- assembling the document -----------------------------------------------------------


def parse(text: str, file: str, sink: DiagnosticSink) -> Document | None:
    """The spanned document for ``.mux`` text, or None after reporting a syntax error.

    Test statements (``test``, ``answer``, ``expect``, ...) are not part of the workflow: they are
    left out here and read by ``parse_with_tests``."""
    return parse_with_tests(text, file, sink)[0]


def parse_with_tests(text: str, file: str, sink: DiagnosticSink) -> tuple[Document | None, list[Statement]]:
    """The workflow's document and the test statements, in order (``syntax.mux_tests`` reads them)."""
    source = text if text.endswith("\n") else text + "\n"
    problems: list[tuple[str, str, Span, str]] = []
    _POSTLEX.comments = []
    repaired: list[UnexpectedInput] = []
    try:
        tree = _lark().parse(source, on_error=lambda error: _misspelled_kind(error, repaired))
    except UnexpectedInput as error:
        from muxc.syntax.mux_errors import report_syntax_error

        if repaired and getattr(error, "line", -1) == repaired[-1].line:
            error = repaired[-1]  # the misspelled keyword did not start a step after all: report it
        report_syntax_error(error, source, file, _lark, sink)
        return None, []
    except TooDeep as error:
        at = error.token.start_pos
        sink.report("mux-syntax", f"values are nested too deeply (more than {MAX_DEPTH} levels)", file,
                    Span(at, at + 1), "one level too many")
        return None, []
    statements = _ToDocument(source, problems).transform(tree)
    for code, message, span, label in problems:
        sink.report(code, message, file, span, label)
    _keep_source(statements, source)
    tests = [statement for statement in statements if statement.kind in TEST_STATEMENTS]
    workflow = [statement for statement in statements if statement.kind not in TEST_STATEMENTS]
    return _document(workflow, _outside(list(_POSTLEX.comments), tests, source), source, file, sink), tests


def _outside(comments: list[tuple[int, str]], tests: list[Statement], source: str) -> list[tuple[int, str]]:
    """The comments that are not inside a test statement's text (those stay with the tests)."""
    if not tests:
        return comments
    starts = [source.rfind("\n", 0, test.span.start) + 1 for test in tests]
    ranges = [(start, start + len(test.source)) for start, test in zip(starts, tests, strict=True)]
    return [(at, text) for at, text in comments if not any(start <= at < end for start, end in ranges)]


def _keep_source(statements: list[Statement], source: str) -> None:
    """Each test statement's text: from its line up to the next statement's line (or the end)."""
    starts = [source.rfind("\n", 0, statement.span.start) + 1 for statement in statements]
    for index, statement in enumerate(statements):
        if statement.kind in TEST_STATEMENTS:
            end = starts[index + 1] if index + 1 < len(statements) else len(source)
            statement.source = source[starts[index]:end]


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


def _document(statements: list[Statement], comments: list[tuple[int, str]], source: str, file: str,
              sink: DiagnosticSink) -> Document:
    placed, trailing = _place_comments(statements, comments, source)
    root = Table({}, Span(0, len(source)), "root")
    groups: dict[str, Table] = {}
    steps: list[Table] = []
    for statement in statements:
        above = placed.get(id(statement), ())
        if statement.kind == "workflow":
            _add_workflow(root, statement, above, file, sink)
        elif statement.kind == "step":
            steps.append(msgspec.structs.replace(statement.table, comments=above))
        else:
            _add_named(root, groups, statement, above, file, sink)
    if steps:
        first = steps[0].span
        root.entries["steps"] = Entry("steps", first, Array(tuple(steps), first))
    return Document(root, source, tuple(trailing))


def _add_workflow(root: Table, statement: Statement, above: tuple[str, ...], file: str, sink: DiagnosticSink) -> None:
    if "name" in root.entries:
        first = root.entries["name"].key_span
        sink.report("duplicate-name", "a second `workflow` line", file, statement.span, "declared again here",
                    secondary=[Label(file, first, "first declared here", primary=False)],
                    help="a file holds one workflow; remove one of the lines")
        return
    for key, entry in statement.table.entries.items():
        comments = (*above, *entry.comments) if key == "name" else entry.comments
        root.entries[key] = Entry(key, entry.key_span, entry.value, comments)


def _add_named(root: Table, groups: dict[str, Table], statement: Statement, above: tuple[str, ...], file: str,
               sink: DiagnosticSink) -> None:
    key = "args" if statement.kind == "arg" else "roles"
    group = groups.get(key)
    if group is None:
        group = groups[key] = Table({}, statement.span, "implicit")
        root.entries[key] = Entry(key, statement.span, group)
    name = statement.name
    if name.value in group.entries:
        first = group.entries[name.value].key_span
        sink.report("duplicate-name", f"{statement.kind} `{name.value}` is declared twice", file, name.span,
                    "declared again here", secondary=[Label(file, first, "first declared here", primary=False)])
        return
    group.entries[name.value] = Entry(name.value, name.span, statement.table, above)


def _place_comments(statements: list[Statement], comments: list[tuple[int, str]], source: str
                    ) -> tuple[dict[int, tuple[str, ...]], list[str]]:
    """Attach each comment to the statement or attribute it belongs to.

    A comment on the same line as an anchor (a statement or one of its attributes) trails that
    anchor; any other comment belongs to the next anchor. What `muxc fmt` writes puts them all
    above their anchor.
    """
    anchors = _anchors(statements)
    starts = [start for start, _, _ in anchors]
    placed: dict[int, list[str]] = {}
    attr_comments: dict[tuple[int, str], list[str]] = {}
    trailing: list[str] = []
    for offset, text in comments:
        line_start = source.rfind("\n", 0, offset) + 1
        at = bisect.bisect_left(starts, offset)
        if at > 0 and starts[at - 1] >= line_start:
            at -= 1
        if at >= len(anchors):
            trailing.append(text)
            continue
        _, statement, key = anchors[at]
        if key is None:
            placed.setdefault(id(statement), []).append(text)
        else:
            attr_comments.setdefault((id(statement), key), []).append(text)
    _apply_attr_comments(statements, attr_comments)
    return {k: tuple(v) for k, v in placed.items()}, trailing


def _anchors(statements: list[Statement]) -> list[tuple[int, Statement, str | None]]:
    anchors: list[tuple[int, Statement, str | None]] = []
    for statement in statements:
        anchors.append((statement.span.start, statement, None))
        for key, entry in statement.table.entries.items():
            if entry.key_span.start > statement.span.start and key not in ("name", "type"):
                anchors.append((entry.key_span.start, statement, key))
    anchors.sort(key=lambda anchor: anchor[0])
    return anchors


def _apply_attr_comments(statements: list[Statement], found: dict[tuple[int, str], list[str]]) -> None:
    for statement in statements:
        for key, entry in list(statement.table.entries.items()):
            extra = found.get((id(statement), key))
            if extra:
                statement.table.entries[key] = Entry(key, entry.key_span, entry.value, (*extra, *entry.comments))
