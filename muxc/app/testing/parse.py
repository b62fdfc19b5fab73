"""``*.test.toml`` -> ``model.TestFile``, every problem a diagnostic at the exact spot.

Parsed with muxc's own spanned TOML parser, so a misspelled field, a value of the wrong type or
a regex that does not compile points at its key or value. Pure: the caller reads the file.
Whether the workflow and the steps named exist is decided later (``runner``), against the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from muxc.app.testing.model import Answer, Expect, RunExpect, Spanned, TestCase, TestFile
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Node, Scalar, Str, Table, type_name
from muxc.lang.validate import did_you_mean
from muxc.syntax.toml_front import parse as parse_document

TOP = ("workflow", "test")
TEST_MUX = ".test.mux"
CASE = ("name", "args", "inputs", "files", "fixture", "git", "answers", "expect", "run")
EXPECT_SUBJECTS = ("step", "file", "diff")
EXPECT_CHECKS = ("contains", "not_contains", "regex", "equals", "lines", "exists", "exit_code", "schema", "changed")
EXPECT = (*EXPECT_SUBJECTS, "json", *EXPECT_CHECKS)
RUN_LISTS = ("ran", "cached", "skipped", "failed")
RUN = ("success", *RUN_LISTS, "calls")


class FieldReader:
    def __init__(self, file: str, sink: DiagnosticSink) -> None:
        self.file = file
        self.sink = sink

    def named(self, toml: str, mux: str) -> str:
        """What a part of a test file is called in the file's own format."""
        return mux if self.file.endswith(".mux") else toml

    def error(self, code: str, message: str, span: Span, label: str = "", help: str | None = None) -> None:
        self.sink.report(code, message, self.file, span, label, help=help)

    def fields(self, table: Table, known: tuple[str, ...], where: str) -> None:
        for key, entry in table.entries.items():
            if key not in known:
                self.error("unknown-field", f"{where} has no field `{key}`", entry.key_span, "unknown field",
                           help=did_you_mean(key, known) or "its fields are: " + ", ".join(known))

    def string(self, node: Node | None, what: str) -> Spanned | None:
        if node is None:
            return None
        if isinstance(node, Str):
            return Spanned(node.value, node.span)
        self.error("wrong-type", f"{what} must be a string, not {type_name(node)}", node.span, "expected a string")
        return None

    def integer(self, node: Node | None, what: str) -> Spanned | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and type(node.value) is int and node.value >= 0:
            return Spanned(node.value, node.span)
        self.error("wrong-type", f"{what} must be a whole number ≥ 0", node.span, "expected an integer")
        return None

    def boolean(self, node: Node | None, what: str) -> Spanned | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return Spanned(node.value, node.span)
        self.error("wrong-type", f"{what} must be true or false, not {type_name(node)}", node.span, "expected a boolean")
        return None

    def strings(self, node: Node | None, what: str) -> tuple[Spanned, ...]:
        """A string or an array of strings."""
        if node is None:
            return ()
        items = node.items if isinstance(node, Array) else (node,)
        found = (self.string(item, what) for item in items)
        return tuple(item for item in found if item is not None)

    def names(self, node: Node | None, what: str) -> Spanned | None:
        """An array of strings, kept as one value (a list of step names)."""
        if node is None:
            return None
        if not isinstance(node, Array):
            self.error("wrong-type", f"{what} must be an array of step names", node.span, "expected an array")
            return None
        values = tuple(item.value for item in self.strings(node, f"each of {what}"))
        return Spanned(values, node.span)

    def table(self, node: Node | None, what: str) -> Table | None:
        if node is None or isinstance(node, Table):
            return node
        self.error("wrong-type", f"{what} must be a table, not {type_name(node)}", node.span, "expected a table")
        return None

    def text_map(self, node: Node | None, what: str) -> dict[str, str]:
        """A table of strings (args, inputs, files); numbers and booleans are written as text."""
        table = self.table(node, what)
        out: dict[str, str] = {}
        for key, entry in (table.entries.items() if table is not None else ()):
            value = entry.value
            if isinstance(value, Scalar) and not isinstance(value.value, bool):
                out[key] = str(value.value)
            elif (text := self.string(value, f"{what}.{key}")) is not None:
                out[key] = str(text.value)
        return out

    def tables(self, node: Node | None, what: str) -> list[Table]:
        """An array of tables (``[[x]]``), or one table."""
        if node is None:
            return []
        items = node.items if isinstance(node, Array) else (node,)
        return [table for item in items if (table := self.table(item, f"each {what}")) is not None]


def parse_test_file(text: str, path: str, directory: str, sink: DiagnosticSink) -> TestFile | None:
    """The test file, or None when it is unusable; problems go to ``sink``.

    ``NAME.test.toml`` is TOML; ``NAME.test.mux`` and a ``.mux`` workflow carrying its own tests are
    the DSL's test statements (``syntax.mux_tests``), read into the same table first."""
    if path.endswith(".mux"):
        root = _mux_root(text, path, sink)
    else:
        document = parse_document(text, path, sink)
        root = document.root if document is not None else None
    if root is None:
        return None
    return _test_file(root, path, directory, FieldReader(path, sink))


def _mux_root(text: str, path: str, sink: DiagnosticSink) -> Table | None:
    from pathlib import PurePath

    from muxc.syntax.mux import parse_with_tests
    from muxc.syntax.mux_tests import tests_table

    errors = sink.error_count
    document, statements = parse_with_tests(text, path, sink)
    if document is None:
        return None
    own = None if path.endswith(TEST_MUX) else PurePath(path).name  # a workflow's own tests test it
    if own is None:
        _only_tests(document.root, path, sink)
    root = tests_table(statements, path, sink, own)
    if root is None and sink.error_count == errors:
        root = Table({}, Span(0, 0), "root")  # no test at all: said by the reader, as for TOML
    return root


def _only_tests(root: Table, path: str, sink: DiagnosticSink) -> None:
    for key, entry in root.entries.items():
        span = entry.value.items[0].span if key == "steps" and isinstance(entry.value, Array) else entry.key_span
        sink.report("mux-syntax", "a NAME.test.mux file holds tests only", path, span, "not a test statement",
                    help="put the workflow in its own file and name it with `tests \"PATH\"`, or write the "
                    "tests in the workflow's file")
        return


def _test_file(root: Table, path: str, directory: str, reader: FieldReader) -> TestFile | None:
    reader.fields(root, TOP, "a test file")
    workflow = reader.string(root.get("workflow"), "`workflow`")
    mux = reader.file.endswith(".mux")
    if workflow is None and root.get("workflow") is None:
        reader.error("missing-field", "a test file must name its workflow", Span(0, 0), "",
                     help='add `tests "review.mux"` as its first line' if mux else
                     'add `workflow = "review.mux"` (a path beside the test file, or a workflow name)')
    if not root.get("test"):
        reader.error("missing-field", "a test file needs at least one `[[test]]`" if not mux else
                     "a test file needs at least one `test`", Span(0, 0), "",
                     help='add `test "NAME"` and its answers and expectations below it' if mux else
                     'add `[[test]]` with `name = "..."` and its answers and expectations')
    cases = tuple(_case(reader, table, index) for index, table in enumerate(reader.tables(root.get("test"), "test")))
    if workflow is None:
        return None
    return TestFile(path, directory, workflow, cases)


def _case(reader: FieldReader, table: Table, index: int) -> TestCase:
    reader.fields(table, CASE, reader.named("a [[test]]", "a `test`"))
    name = reader.string(table.get("name"), "a test's `name`")
    return TestCase(
        name=str(name.value) if name is not None else f"test {index + 1}",
        span=name.span if name is not None else table.span,
        args=reader.text_map(table.get("args"), "args"),
        inputs=reader.text_map(table.get("inputs"), "inputs"),
        files=reader.text_map(table.get("files"), "files"),
        fixture=reader.string(table.get("fixture"), "`fixture`"),
        git=bool(git.value) if (git := reader.boolean(table.get("git"), "`git`")) is not None else False,
        answers=_answers(reader, table.get("answers")),
        expects=tuple(_expect(reader, t) for t in reader.tables(table.get("expect"), "expect")),
        run=_run(reader, reader.table(table.get("run"), "`run`")),
    )


def _answers(reader: FieldReader, node: Node | None) -> tuple[Answer, ...]:
    table = reader.table(node, "`answers`")
    if table is None:
        return ()
    answers = []
    for key, entry in table.entries.items():
        texts = reader.strings(entry.value, f"the answer of `{key}`")
        answers.append(Answer(key, entry.key_span, tuple(str(text.value) for text in texts)))
    return tuple(answers)


def _expect(reader: FieldReader, table: Table) -> Expect:
    reader.fields(table, EXPECT, reader.named("an [[test.expect]]", "an `expect`"))
    get = table.get
    expect = Expect(
        span=table.span,
        step=reader.string(get("step"), "`step`"),
        file=reader.string(get("file"), "`file`"),
        diff=reader.string(get("diff"), "`diff`"),
        json=reader.string(get("json"), "`json`"),
        contains=reader.strings(get("contains"), "`contains`"),
        not_contains=reader.strings(get("not_contains"), "`not_contains`"),
        regex=_regex(reader, get("regex")),
        equals=reader.string(get("equals"), "`equals`"),
        lines=reader.integer(get("lines"), "`lines`"),
        exists=reader.boolean(get("exists"), "`exists`"),
        exit_code=reader.integer(get("exit_code"), "`exit_code`"),
        schema=_schema(reader, get("schema")),
        schema_span=get("schema").span if get("schema") is not None else None,
        changed=reader.names(get("changed"), "`changed`"),
    )
    _one_subject(reader, table, expect)
    return expect


def _one_subject(reader: FieldReader, table: Table, expect: Expect) -> None:
    subjects = [key for key in EXPECT_SUBJECTS if key in table.entries]
    if len(subjects) != 1:
        span = table.entries[subjects[1]].key_span if subjects else table.span
        reader.error("invalid-value", "an expectation checks exactly one `step`, `file` or `diff`", span,
                     help='write `step = "NAME"`, `file = "PATH"` or `diff = "PATH"` (one per [[test.expect]])')
    if not any(key in table.entries for key in (*EXPECT_CHECKS, "json")):  # `json` alone: the path exists
        reader.error("missing-field", f"this expectation on {expect.subject} checks nothing", table.span,
                     help="add one of: " + ", ".join((*EXPECT_CHECKS, "json")))
    if expect.exists is not None and expect.step is not None:
        reader.error("invalid-value", "`exists` applies to a file, not a step", expect.exists.span)
    for check in (expect.exit_code, expect.changed):
        if check is not None and expect.step is None:
            reader.error("invalid-value", "`exit_code` and `changed` apply to a step", check.span)


def _schema(reader: FieldReader, node: Node | None) -> dict | None:
    from muxc.lang.document import to_python
    from muxc.lang.outschema import schema_errors

    table = reader.table(node, "`schema`")
    if table is None:
        return None
    schema = to_python(table)
    problems = schema_errors(schema)
    for problem in problems:
        reader.error("invalid-output-schema", f"this schema cannot be used: {problem}", table.span,
                     help="a schema uses output_schema's subset of JSON Schema (docs/language.md)")
    return schema if not problems and isinstance(schema, dict) else None


def _regex(reader: FieldReader, node: Node | None) -> Spanned | None:
    pattern = reader.string(node, "`regex`")
    if pattern is None:
        return None
    try:
        re.compile(str(pattern.value))
    except re.error as error:
        assert isinstance(node, Str)
        at = node.source_span(error.pos, error.pos + 1) if error.pos is not None else node.span
        reader.error("invalid-value", f"this regex does not compile: {error.msg}", at, error.msg)
        return None
    return pattern


def _run(reader: FieldReader, table: Table | None) -> RunExpect | None:
    if table is None:
        return None
    reader.fields(table, RUN, reader.named("[test.run]", "`expect run`"))
    lists: dict[str, Callable[..., Spanned | None]] = {name: reader.names for name in RUN_LISTS}
    values = {name: read(table.get(name), f"`{name}`") for name, read in lists.items()}
    return RunExpect(span=table.span, success=reader.boolean(table.get("success"), "`success`"),
                     calls=reader.integer(table.get("calls"), "`calls`"), **values)
