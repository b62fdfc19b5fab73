"""The DSL front-end: ``.mux`` text to the same spanned document the TOML front-end gives.

``grammar/muxc.lark`` is the grammar (LALR, contextual lexer). ``syntax.mux_statements`` reads the
text into statements, each the table its TOML form would have (``name``, ``[args.X]``,
``[roles.X]``, ``[[steps]]``) with spans into the ``.mux`` text, running the grammar's precomputed
tables; this module assembles them into the document, comments placed, so one schema layer
(``syntax.workflow``) validates both formats. Text those tables do not accept is parsed again with
Lark (``syntax.mux_lark``), whose syntax errors become diagnostics in user words
(``syntax.mux_errors``); nothing here raises for bad input.
"""

from __future__ import annotations

import bisect

import msgspec

from muxc.diagnostics.model import Label
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Document, Entry, Table
from muxc.syntax.mux_statements import Statement, read

TEST_STATEMENTS = frozenset({"tests", "test", "file", "answer", "expect"})


# --- assembling the document -----------------------------------------------------------


def parse(text: str, file: str, sink: DiagnosticSink) -> Document | None:
    """The spanned document for ``.mux`` text, or None after reporting a syntax error.

    Test statements (``test``, ``answer``, ``expect``, ...) are not part of the workflow: they are
    left out here and read by ``parse_with_tests``."""
    return parse_with_tests(text, file, sink)[0]


def parse_with_tests(text: str, file: str, sink: DiagnosticSink) -> tuple[Document | None, list[Statement]]:
    """The workflow's document and the test statements, in order (``syntax.mux_tests`` reads them)."""
    source = text if text.endswith("\n") else text + "\n"
    found = read(source)
    if found is None:  # a syntax error, or a misspelled step kind that Lark's path reads on
        from muxc.syntax.mux_lark import read_with_lark

        found = read_with_lark(source, file, sink)
        if found is None:
            return None, []
    statements, comments, problems = found
    for code, message, span, label in problems:
        sink.report(code, message, file, span, label)
    _keep_source(statements, source)
    tests = [statement for statement in statements if statement.kind in TEST_STATEMENTS]
    workflow = [statement for statement in statements if statement.kind not in TEST_STATEMENTS]
    return _document(workflow, _outside(comments, tests, source), source, file, sink), tests


def _outside(comments: list[tuple[int, str]], tests: list[Statement], source: str) -> list[tuple[int, str]]:
    """The comments that are not inside a test statement's text (those stay with the tests)."""
    if not tests:
        return comments
    starts = [source.rfind("\n", 0, test.span.start) + 1 for test in tests]  # in source order, apart
    ends = [start + len(test.source) for start, test in zip(starts, tests, strict=True)]
    return [(at, text) for at, text in comments if not _inside(at, starts, ends)]


def _inside(offset: int, starts: list[int], ends: list[int]) -> bool:
    at = bisect.bisect_right(starts, offset) - 1
    return at >= 0 and offset < ends[at]


def _keep_source(statements: list[Statement], source: str) -> None:
    """Each test statement's text: from its line up to the next statement's line (or the end)."""
    starts = [source.rfind("\n", 0, statement.span.start) + 1 for statement in statements]
    for index, statement in enumerate(statements):
        if statement.kind in TEST_STATEMENTS:
            end = starts[index + 1] if index + 1 < len(statements) else len(source)
            statement.source = source[starts[index]:end]


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
