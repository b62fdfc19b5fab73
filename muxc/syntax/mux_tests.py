"""Test statements of a ``.mux`` file, as the table a ``NAME.test.toml`` file would be.

A ``.mux`` workflow may carry its own tests after its steps, and a ``NAME.test.mux`` file holds
only tests (its ``tests "PATH"`` line names the workflow, like ``workflow = "PATH"`` in TOML)::

    test "approves a small change" [args = { file = "a.txt" }, git = true]
    file "a.txt": hello
    answer verdict:
        Looks good.
    expect step verdict [contains = "good"]
    expect file "out/verdict.md" [exists = true]
    expect run [ran = ["content", "verdict"], calls = 1]

``file``, ``answer`` and ``expect`` belong to the ``test`` above them. Each becomes what the TOML
form writes (``files``, ``[test.answers]``, ``[[test.expect]]``, ``[test.run]``) with its spans,
so one reader (``app.testing.parse``) validates both formats and points into the ``.mux`` text.
Pure; problems in the statements' shape are reported here, everything else by the reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Entry, Str, Table
from muxc.lang.validate import did_you_mean

SUBJECTS = ("step", "file", "diff", "run")
_TEST_LINE = re.compile(r"^test[ \t]", re.MULTILINE)


def has_test_statement(text: str) -> bool:
    """Whether ``.mux`` text has a ``test`` statement (a line starting with ``test``): cheap, no parse."""
    return _TEST_LINE.search(text) is not None


def test_sources(text: str, file: str) -> list[str]:
    """The text of every test statement of a ``.mux`` file, as written (``muxc fmt`` keeps them)."""
    from muxc.syntax.mux import parse_with_tests

    return [statement.source for statement in parse_with_tests(text, file, DiagnosticSink())[1]]


def tests_table(statements: Sequence[Any], file: str, sink: DiagnosticSink, workflow: str | None) -> Table | None:
    """The test file's table (``workflow`` and ``test``), or None when there is no test statement.

    ``workflow``: the file itself when it is a workflow carrying tests (``tests "..."`` is then
    refused); None for a ``NAME.test.mux`` file, which must name its workflow."""
    if not statements:
        return None
    root = Table({}, Span(0, 0), "root")
    cases: list[Table] = []
    for statement in statements:
        if statement.kind == "tests":
            _tests_line(root, statement, file, sink, workflow)
        elif statement.kind == "test":
            cases.append(statement.table)
        elif not cases:
            sink.report("mux-syntax", f"`{statement.kind}` belongs to a test", file, statement.span,
                        "no `test` above it", help='write `test "what it checks"` on a line above it')
        else:
            _add_to_case(cases[-1], statement, file, sink)
    if workflow is not None and "workflow" not in root.entries:
        name = Str(workflow, cases[0].span if cases else Span(0, 0))
        root.entries["workflow"] = Entry("workflow", name.span, name)
    if cases:
        root.entries["test"] = Entry("test", cases[0].span, Array(tuple(cases), cases[0].span))
    return root


def _tests_line(root: Table, statement: Any, file: str, sink: DiagnosticSink, workflow: str | None) -> None:
    if workflow is not None:
        sink.report("mux-syntax", "a workflow's own tests test it: `tests` names a workflow in a NAME.test.mux file",
                    file, statement.span, "not in a workflow file", help="remove this line")
    elif "workflow" in root.entries:
        sink.report("duplicate-name", "a second `tests` line", file, statement.span, "declared again here",
                    help="a test file tests one workflow")
    else:
        root.entries["workflow"] = Entry("workflow", statement.span, statement.name)


def _add_to_case(case: Table, statement: Any, file: str, sink: DiagnosticSink) -> None:
    if statement.kind == "file":
        _add_text(case, "files", statement, file, sink)
    elif statement.kind == "answer":
        _add_answer(case, statement)
    else:
        _add_expect(case, statement, file, sink)


def _group(case: Table, key: str, span: Span) -> Table | None:
    """The case's table ``key`` (``files``, ``answers``), made when absent; None when it is not a table."""
    entry = case.entries.get(key)
    if entry is None:
        table = Table({}, span, "implicit")
        case.entries[key] = Entry(key, span, table)
        return table
    return entry.value if isinstance(entry.value, Table) else None


def _add_text(case: Table, key: str, statement: Any, file: str, sink: DiagnosticSink) -> None:
    text = statement.table.get("text")
    group = _group(case, key, statement.span)
    if text is None or group is None:
        return
    name = statement.name.value
    if name in group.entries:
        sink.report("duplicate-field", f"file {name!r} is given twice in this test", file, statement.name.span,
                    "given again here")
        return
    group.entries[name] = Entry(name, statement.name.span, text)


def _add_answer(case: Table, statement: Any) -> None:
    """``answer X`` again adds the next answer of X (for_each items, retries): in order."""
    text = statement.table.get("text")
    group = _group(case, "answers", statement.span)
    if text is None or group is None:
        return
    step = statement.name.value
    earlier = group.entries.get(step)
    if earlier is None:
        group.entries[step] = Entry(step, statement.name.span, text)
        return
    items = earlier.value.items if isinstance(earlier.value, Array) else (earlier.value,)
    group.entries[step] = Entry(step, earlier.key_span, Array((*items, text), earlier.value.span))


def _add_expect(case: Table, statement: Any, file: str, sink: DiagnosticSink) -> None:
    table: Table = statement.table
    subject, target = table.entries.pop("subject").value, table.entries.pop("target", None)
    if subject.value not in SUBJECTS:
        sink.report("mux-syntax", f"`expect {subject.value}`: expect what?", file, subject.span, "not a subject",
                    help=did_you_mean(subject.value, SUBJECTS) or
                    "write `expect step NAME`, `expect file PATH`, `expect diff PATH` or `expect run`")
        return
    if subject.value == "run":
        _add_run(case, table, target, file, sink)
        return
    if target is None:
        sink.report("mux-syntax", f"`expect {subject.value}` needs the {_noun(subject.value)} it checks", file,
                    subject.span, "which one?", help=f"write `expect {subject.value} {_example(subject.value)} [...]`")
        return
    table.entries[subject.value] = Entry(subject.value, subject.span, target.value)
    entry = case.entries.get("expect")
    items = entry.value.items if entry is not None and isinstance(entry.value, Array) else ()
    case.entries["expect"] = Entry("expect", entry.key_span if entry else table.span,
                                   Array((*items, table), entry.value.span if entry else table.span))


def _add_run(case: Table, table: Table, target: Entry | None, file: str, sink: DiagnosticSink) -> None:
    if target is not None:
        sink.report("mux-syntax", "`expect run` checks the whole build: it takes no name", file, target.value.span,
                    "not expected here", help="write `expect run [ran = [...], calls = 1]`")
    if "run" in case.entries:
        sink.report("duplicate-field", "a second `expect run` in this test", file, table.span, "given again here",
                    help="put all the run's checks in one `expect run [...]`")
        return
    case.entries["run"] = Entry("run", table.span, table)


def _noun(subject: str) -> str:
    return "step" if subject == "step" else "file"


def _example(subject: str) -> str:
    return "NAME" if subject == "step" else '"PATH"'
