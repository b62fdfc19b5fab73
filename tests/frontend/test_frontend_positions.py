"""The primary label of a diagnostic sits exactly on the offending text, wherever it is written.

Each case is a realistic workflow with one mistake. ``where(text, needle)`` is the expected
place: the 1-based line and column of ``needle`` in the file (columns count characters, so
text such as "é", "日本" or "🦀" earlier on the line counts one column per character), and
the exclusive end, exactly as `muxc check --format json` reports them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.frontend.support import diagnostics


def where(text: str, needle: str, length: int | None = None) -> tuple[int, int, int, int]:
    """(line, column, end_line, end_column) of the first ``needle`` in ``text`` (of its first
    ``length`` characters when given, to tell `dif` in `dif.output` from the one in `diff`)."""
    start = text.index(needle)
    end = start + (len(needle) if length is None else length)

    def line_col(offset: int) -> tuple[int, int]:
        line_start = text.rfind("\n", 0, offset) + 1
        return text.count("\n", 0, offset) + 1, offset - line_start + 1

    return (*line_col(start), *line_col(end))


@pytest.fixture
def check_text(muxc, project: Path):
    """Write ``text`` to ``project/name`` and return the diagnostics `muxc check` reports for it."""

    def run(name: str, text: str, newline: str = "\n") -> list[dict]:
        (project / name).write_bytes(text.replace("\n", newline).encode())
        return diagnostics(muxc("check", "--format", "json", name, cwd=project))

    return run


def only(found: list[dict], code: str) -> tuple[int, int, int, int]:
    matching = [d for d in found if d["code"] == code]
    assert len(matching) == 1, found
    d = matching[0]
    return d["line"], d["column"], d["end_line"], d["end_column"]


def test_a_misspelled_step_deep_in_a_multiline_prompt_after_non_ascii_text(check_text) -> None:
    text = '''name = "review"
description = "Revue de code — naïve approach"

[[steps]]
name = "diff"
type = "shell"
run = "git diff HEAD~1"

[[steps]]
name = "analyze"
type = "query"
role = "analyzer"
prompt = """
Relis ces changements (déjà «commités») 日本語 🦀:

Les voici → {{ steps.dif.output }}
"""
'''
    found = only(check_text("review.toml", text), "unknown-step")
    assert found == where(text, "dif.output", 3) == (16, 22, 16, 25)


def test_a_misspelled_name_inside_a_dsl_block_body(check_text) -> None:
    text = '''workflow rust-audit "Audit a Rust crate: safety, performance, errors, idioms"

arg crate  = "."           "the crate to audit"
arg outdir = "docs/audit"  "where the reports go"

shell sources [inputs = ["{{ crate }}/**/*.rs"]]:
    find {{ crate }}/src -name '*.rs' | sort | xargs cat

query safety @analyzer > "{{ outdir }}/01-safety.md":
    Audit this Rust code for memory-safety problems (unsafe, raw pointers, FFI).
    One bullet per finding: file:line, severity, fix.

        Indented more, with a tab:\t{{ sorces }}

query summary @synthesizer > "{{ outdir }}/README.md":
    Summarize as a markdown table: {{ safety }}
'''
    assert only(check_text("audit.mux", text), "unknown-name") == where(text, "sorces")


def test_a_name_after_escape_sequences_in_a_basic_string(check_text) -> None:
    text = r'''name = "escapes"

[[steps]]
name = "list"
type = "shell"
run = "git ls-files"

[[steps]]
name = "count"
type = "shell"
run = "printf '%s\t%s\n' caf\u00e9 \"{{ steps.lsit.output }}\" | wc -l"
'''
    # the escapes \t \n \u00e9 \" decode to fewer characters than the file holds
    assert only(check_text("escapes.toml", text), "unknown-step") == where(text, "lsit")


def test_a_name_after_a_line_ending_backslash_in_a_multiline_basic_string(check_text) -> None:
    text = '''name = "continued"

[[steps]]
name = "fetch"
type = "shell"
run = """
gh issue view 12 \\
    --json title,body && \\
    echo {{ args.isue }}"""

[args.issue]
required = true
'''
    assert only(check_text("continued.toml", text), "undeclared-arg") == where(text, "isue")


def test_a_name_inside_a_multiline_literal_string(check_text) -> None:
    text = """name = "literal"

[[steps]]
name = "diff"
type = "shell"
run = 'git diff'

[[steps]]
name = "analyze"
type = "query"
role = "analyzer"
prompt = '''
Backslashes stay as written here: C:\\temp\\x — "quotes" too.
{{ steps.diff.ouput }}
'''
"""
    assert only(check_text("literal.toml", text), "unknown-step-field") == where(text, "ouput")


def test_a_depends_on_entry_points_at_that_entry(check_text) -> None:
    text = '''name = "issue"

[[steps]]
name = "fetch_issue"
type = "shell"
run = "gh issue view 12"

[[steps]]
name = "plan"
type = "query"
role = "planner"
prompt = "Plan a fix."
depends_on = [
    "fetch_issue",
    "fetch_isue",
]
'''
    assert only(check_text("issue.toml", text), "unknown-step") == where(text, '"fetch_isue"')


def test_a_filter_name_in_a_shell_command_with_a_real_pipe(check_text) -> None:
    text = '''workflow todo "Count the TODOs — «vite»"

shell todos: grep -rn TODO src | sort

shell count: echo {{ todos | shell_escape }} | wc -l && echo {{ todos | linse | length }}
'''
    assert only(check_text("todo.mux", text), "unknown-filter") == where(text, "linse")


def test_the_offending_value_of_a_wrongly_typed_field(check_text) -> None:
    text = '''name = "review"

[[steps]]
name = "diff"
type = "shell"
run = "git diff"
retries = "three"
continue_on_error = "yes"
'''
    found = check_text("typed.toml", text)
    assert [(d["line"], d["column"], d["end_line"], d["end_column"]) for d in found] == [
        where(text, '"three"'), where(text, '"yes"')]


def test_a_cycle_is_reported_at_the_reference_that_closes_it_with_the_rest_as_labels(check_text) -> None:
    text = '''workflow loop

query plan @planner:
    Plan, taking the review into account: {{ review }}

query code @coder [depends_on = ["plan"]]:
    Write the code.

query review @reviewer:
    Review {{ steps.code.output }}
'''
    [cycle] = check_text("loop.mux", text)
    assert cycle["code"] == "dependency-cycle"
    assert (cycle["line"], cycle["column"], cycle["end_line"], cycle["end_column"]) == where(text, '"plan"')
    others = {(label["line"], label["column"], label["end_line"], label["end_column"])
              for label in cycle["labels"][1:]}
    assert others == {where(text, "review }}", 6), where(text, "code.output", 4)}


def test_an_unknown_step_in_an_if_expression(check_text) -> None:
    text = '''name = "fix"

[[steps]]
name = "test"
type = "shell"
run = "cargo test"
continue_on_error = true

[[steps]]
name = "report"
type = "shell"
run = "echo failed"
if = "steps.tset.failed and team.name == 'rust'"
'''
    assert only(check_text("if.toml", text), "unknown-step") == where(text, "tset")


def test_positions_in_a_file_with_crlf_line_endings(check_text) -> None:
    text = '''workflow review

shell diff: git diff

query analyze @analyzer:
    Find the bugs in
    these changes:

    Review 🦀 {{ steps.dif.output }}
'''
    # \r is part of the line ending: columns are the same as with \n
    found = only(check_text("crlf.mux", text, newline="\r\n"), "unknown-step")
    assert found == where(text, "dif.output", 3) == (9, 23, 9, 26)


def test_a_name_in_a_dsl_save_path_after_an_escape(check_text) -> None:
    text = '''workflow report

arg outdir = "docs"

query summary @summarizer > "{{ outdir }}/r\\u00e9sum\\u00e9-{{ outdri }}.md":
    Summarize the project.
'''
    assert only(check_text("save.mux", text), "unknown-name") == where(text, "outdri")


def test_a_toml_syntax_error_after_wide_characters(check_text) -> None:
    text = 'name = "日本語のレビュー"\ndescription = "🦀🦀" oops\n'
    [error] = check_text("wide.toml", text)
    assert error["code"] == "toml-syntax"
    assert (error["line"], error["column"]) == where(text, "oops")[:2] == (2, 20)


def test_a_mux_syntax_error_after_non_ascii_text(check_text) -> None:
    text = 'workflow "café" "naïve — ünïcode"\n\nquery analyze @analyzer [timeout = "3m" retries = 2]: Find bugs\n'
    [error] = check_text("syntax.mux", text)
    assert (error["line"], error["column"]) == where(text, "retries")[:2]


def test_every_repeat_of_a_mistake_points_at_its_own_place(check_text) -> None:
    """The same unknown name, chain or filter many times on a line and on many lines: one
    diagnostic each, at its own occurrence (positions are indexed once per template)."""
    line = "    echo {{ y }} {{ steps.gone.output }} {{ x | nosuch }} {{ y }}{{ y }} {{ x | nosuch }}\n"
    text = 'workflow w\n\narg x = "v"\n\nshell s:\n' + line * 300
    found = check_text("w.mux", text)
    places = {code: sorted((d["line"], d["column"]) for d in found if d["code"] == code)
              for code in ("unknown-name", "unknown-step", "unknown-filter")}
    columns = {code: sorted({c for _, c in spots}) for code, spots in places.items()}

    def at(needle: str) -> list[int]:
        return [i + 1 for i in range(len(line)) if line.startswith(needle, i)]

    assert columns == {"unknown-name": [c + 3 for c in at("{{ y }}")], "unknown-step": at("gone"),
                       "unknown-filter": at("nosuch")}
    assert [len(spots) for spots in places.values()] == [900, 300, 600]
    assert {n for n, _ in places["unknown-name"]} == set(range(6, 306))
