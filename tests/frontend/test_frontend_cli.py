"""The command line of the front-end: `muxc check`, `fmt`, `explain`, `list` and `show`.

Exit status 0 clean (warnings allowed), 1 errors, 2 usage; every output format has the shape
its consumers parse; fmt converts, checks and rewrites files safely.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from muxc.diagnostics.codes import all_codes
from tests.frontend.support import CASES, REPO, diagnostics

CLEAN = '''workflow review "Review the last commit"

arg base = "HEAD~1" "what to diff against"

shell diff: git diff {{ base }}

query analyze @analyzer:
    Review these changes for bugs:

    {{ diff }}
'''

BROKEN = CLEAN.replace("{{ diff }}", "{{ dif }}").replace("@analyzer", "@analyser")


@pytest.fixture
def files(project: Path) -> Path:
    (project / "clean.mux").write_text(CLEAN)
    (project / "broken.mux").write_text(BROKEN)
    (project / "warns.toml").write_text((CASES / "implicit-arg.toml").read_text())
    return project


# --- check: exit status ----------------------------------------------------------------------


@pytest.mark.parametrize("args, status", [
    (["clean.mux"], 0),
    (["warns.toml"], 0),  # warnings are allowed
    (["warns.toml", "--strict"], 1),  # ... unless --strict
    (["broken.mux"], 1),
    (["clean.mux", "broken.mux"], 1),
    (["no-such-workflow"], 2),
    (["clean.mux", "--format", "xml"], 2),
])
def test_check_exit_status(args: list[str], status: int, muxc, files: Path) -> None:
    assert muxc("check", *args, cwd=files).exit_code == status


def test_check_of_an_unknown_name_says_how_to_find_the_right_one(muxc, files: Path) -> None:
    result = muxc("check", "reveiw-typo", cwd=files)  # not close to any name: how to find them
    assert result.exit_code == 2
    assert "no workflow named 'reveiw-typo'; run `muxc list` to see them, or pass a path" in result.stderr
    assert result.stdout == ""


def test_check_finds_a_workflow_by_name_in_the_project(muxc, files: Path) -> None:
    (files / ".muxc" / "workflows").mkdir(parents=True)
    (files / ".muxc" / "workflows" / "mine.mux").write_text(BROKEN)
    result = muxc("check", "--format", "concise", "mine", cwd=files)
    assert result.exit_code == 1
    assert result.stdout.startswith(".muxc/workflows/mine.mux:7:")


def test_check_with_no_file_checks_every_workflow_it_can_find(muxc, files: Path) -> None:
    (files / ".muxc" / "workflows").mkdir(parents=True)
    (files / ".muxc" / "workflows" / "mine.mux").write_text(CLEAN)
    result = muxc("check", "--format", "concise", cwd=files)
    stdlib = sorted((REPO / "stdlib").glob("*.*"))
    assert result.stderr == f"checked {len(stdlib) + 1} workflows: no problems\n"
    assert result.exit_code == 0


def test_a_directory_is_checked_workflow_by_workflow(muxc, files: Path) -> None:
    (files / "flows").mkdir()
    (files / "flows" / "clean.mux").write_text((files / "clean.mux").read_text())
    (files / "flows" / "config.toml").write_text("[roles.x]\nbackends = []\n")  # not a workflow: skipped
    result = muxc("check", "--format", "concise", "flows", cwd=files)
    assert result.exit_code == 0
    assert result.stderr == "checked 1 workflow: no problems\n"


def test_a_directory_without_workflows_is_a_usage_error(muxc, files: Path) -> None:
    (files / "dir.toml").mkdir()
    result = muxc("check", "--format", "concise", "dir.toml", cwd=files)
    assert result.exit_code == 2
    assert "no workflow files (.mux, .toml) in dir.toml" in result.output


# --- check: formats ----------------------------------------------------------------------------


def test_concise_is_one_line_per_diagnostic_with_its_help_and_a_summary_on_stderr(muxc, files: Path) -> None:
    result = muxc("check", "--format", "concise", "broken.mux", "warns.toml", cwd=files)
    assert result.stdout.splitlines() == [
        "broken.mux:7:16: error[unknown-role]: no role named `analyser` (help: did you mean `analyzer`?)",
        "broken.mux:10:8: error[unknown-name]: `dif` is not defined (help: did you mean `diff`?)",
        "warns.toml:7:35: warning[implicit-arg]: argument `file` is used but not declared (help: declare it "
        "([args.file] or `arg file`) so `muxc build` can check it; until then the build requires it)",
    ]
    # one-line formats carry no pointer per line: the summary says where codes are explained
    assert result.stderr == "checked 2 workflows: 2 errors, 1 warning (`muxc explain CODE` explains a code)\n"


def test_json_is_an_array_on_stdout_and_nothing_else(muxc, files: Path) -> None:
    result = muxc("check", "--format", "json", "broken.mux", "clean.mux", cwd=files)
    assert result.stderr == ""
    found = json.loads(result.stdout)
    assert [d["code"] for d in found] == ["unknown-role", "unknown-name"]
    for d in found:
        assert {"file", "line", "column", "end_line", "end_column", "severity", "code", "message"} <= set(d)
        assert d["file"] == "broken.mux" and d["severity"] == "error"
        assert d["end_line"] >= d["line"] and d["end_column"] > d["column"]
    assert (found[1]["line"], found[1]["column"], found[1]["end_line"], found[1]["end_column"]) == (10, 8, 10, 11)


def test_json_of_a_clean_workflow_is_an_empty_array(muxc, files: Path) -> None:
    result = muxc("check", "--format", "json", "clean.mux", cwd=files)
    assert (result.exit_code, result.stdout) == (0, "[]\n")


def test_the_global_json_output_selects_the_json_format(muxc, files: Path) -> None:
    result = muxc("check", "--output", "json", "broken.mux", cwd=files)
    assert [d["code"] for d in diagnostics(result)] == ["unknown-role", "unknown-name"]


def test_github_annotations(muxc, files: Path) -> None:
    result = muxc("check", "--format", "github", "broken.mux", "warns.toml", cwd=files)
    assert result.stdout.splitlines() == [
        "::error file=broken.mux,line=7,col=16,endLine=7,endColumn=24,title=unknown-role::no role named "
        "`analyser`%0Adid you mean `analyzer`?",
        "::error file=broken.mux,line=10,col=8,endLine=10,endColumn=11,title=unknown-name::`dif` is not defined"
        "%0Adid you mean `diff`?",
        "::warning file=warns.toml,line=7,col=35,endLine=7,endColumn=39,title=implicit-arg::argument `file` is "
        "used but not declared%0Adeclare it ([args.file] or `arg file`) so `muxc build` can check it; until then "
        "the build requires it",
    ]


def test_full_is_code_frames_without_colour_when_not_a_terminal(muxc, files: Path) -> None:
    result = muxc("check", "--format", "full", "broken.mux", cwd=files)
    assert "\x1b[" not in result.stdout
    assert result.stdout.startswith(
        "error[unknown-role]: no role named `analyser`\n"
        " --> broken.mux:7:16\n"
        "  |\n"
        "7 | query analyze @analyser:\n"
        "  |                ^^^^^^^^ unknown role\n"
        "  = help: did you mean `analyzer`?\n")


def test_the_default_format_in_a_pipe_is_concise(muxc, files: Path) -> None:
    assert muxc("check", "broken.mux", cwd=files).stdout.startswith("broken.mux:7:16: error[unknown-role]")


# --- explain ---------------------------------------------------------------------------------


def test_explain_a_code_shows_its_explanation_example_and_fix(muxc) -> None:
    result = muxc("explain", "unknown-filter")
    assert result.exit_code == 0
    assert result.stdout.startswith("unknown-filter (error): A filter that does not exist\n\n")
    assert "Example:\n    {{ steps.x.output | shel_escape }}\n" in result.stdout
    assert result.stdout.endswith("Fix:\n    {{ steps.x.output | shell_escape }}\n")


def test_explain_an_unknown_code_is_a_usage_error_with_did_you_mean(muxc) -> None:
    result = muxc("explain", "unknwon-step")
    assert result.exit_code == 2
    assert "no diagnostic code 'unknwon-step'. Did you mean unknown-step" in result.stderr


def test_explain_list_shows_every_code_with_its_severity(muxc) -> None:
    lines = muxc("explain", "--list").stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(all_codes())
    assert "implicit-arg               warning  An argument used without a declaration" in lines


def test_explain_as_json(muxc) -> None:
    data = json.loads(muxc("--output", "json", "explain", "implicit-arg").stdout)
    assert (data["code"], data["severity"]) == ("implicit-arg", "warning")


def test_every_code_the_catalog_documents_has_an_example_and_a_fix(muxc) -> None:
    for code in all_codes().values():
        assert code.title and code.explanation and code.example and code.fix, code.name


# --- fmt ---------------------------------------------------------------------------------


def test_fmt_converts_both_ways(muxc, files: Path) -> None:
    as_toml = muxc("fmt", "clean.mux", "--to", "toml", cwd=files)
    assert as_toml.exit_code == 0
    assert as_toml.stdout.startswith('name = "review"\ndescription = "Review the last commit"\n\n[args.base]\n')
    (files / "clean.toml").write_text(as_toml.stdout)
    back = muxc("fmt", "clean.toml", "--to", "mux", cwd=files)
    assert back.stdout == CLEAN


def test_fmt_check_says_whether_a_file_is_formatted(muxc, files: Path) -> None:
    assert muxc("fmt", "--check", "clean.mux", cwd=files).exit_code == 0
    (files / "messy.mux").write_text(CLEAN.replace("shell diff:", "shell   diff  :"))
    result = muxc("fmt", "--check", "messy.mux", cwd=files)
    assert (result.exit_code, result.stdout) == (1, "")
    assert (files / "messy.mux").read_text() != CLEAN  # --check never writes


def test_fmt_write_replaces_the_file_atomically_keeping_its_mode(muxc, files: Path) -> None:
    path = files / "messy.mux"
    path.write_text(CLEAN.replace("shell diff:", "shell   diff  :"))
    path.chmod(0o640)
    before = path.stat().st_ino
    result = muxc("fmt", "-w", "messy.mux", cwd=files)
    assert (result.exit_code, result.stderr) == (0, "wrote messy.mux\n")
    assert path.read_text() == CLEAN
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != before  # a new file renamed over the old one, never a half-written file
    assert sorted(p.name for p in files.iterdir()) == ["broken.mux", "clean.mux", "messy.mux", "warns.toml"]


def test_fmt_write_to_the_other_format_writes_a_new_file(muxc, files: Path) -> None:
    result = muxc("fmt", "-w", "--to", "toml", "clean.mux", cwd=files)
    assert result.stderr == "wrote clean.toml\n"
    assert (files / "clean.mux").read_text() == CLEAN
    assert 'name = "analyze"' in (files / "clean.toml").read_text()


def test_fmt_write_through_a_symlink_formats_its_target(muxc, files: Path) -> None:
    (files / "real").mkdir()
    target = files / "real" / "w.mux"
    target.write_text(CLEAN.replace("shell diff:", "shell   diff  :"))
    os.symlink("real/w.mux", files / "link.mux")
    assert muxc("fmt", "-w", "link.mux", cwd=files).exit_code == 0
    assert (files / "link.mux").is_symlink()
    assert target.read_text() == CLEAN


def test_fmt_refuses_a_file_with_errors_and_leaves_it_alone(muxc, files: Path) -> None:
    path = files / "bad.mux"
    path.write_text('workflow w\n\nquery a @analyzer [timeout = "soon"]: hi\n')
    result = muxc("fmt", "-w", "--to", "toml", "bad.mux", cwd=files)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "bad.mux:3:30: error[invalid-duration]: invalid duration for `timeout`: 'soon' is not a duration: write a "
        "number with a unit, such as 30s, 5m, 2h or 250ms",
        "bad.mux:1:1: note[fmt-refused]: not formatting a file with errors: converting it would lose what they "
        "point at (help: fix the errors above and run muxc fmt again)",
    ]
    assert result.stdout == ""
    assert not (files / "bad.toml").exists()


def test_fmt_of_a_syntax_error_reports_it(muxc, files: Path) -> None:
    (files / "bad.toml").write_text('name = "x\n')
    result = muxc("fmt", "bad.toml", cwd=files)
    assert result.exit_code == 1
    assert result.stderr.startswith("bad.toml:1:8: error[toml-syntax]: unterminated string")


# --- list and show ---------------------------------------------------------------------------


def test_list_shows_every_stdlib_workflow_with_its_description(muxc) -> None:
    result = muxc("list")
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    stdlib = sorted(path.stem for path in (REPO / "stdlib").glob("*.*"))
    assert [row[0] for row in rows] == stdlib
    assert all(row[1] == "stdlib" and len(row) == 3 and row[2] for row in rows), rows


def test_list_puts_project_workflows_first_and_marks_shadowed_ones(muxc, project: Path) -> None:
    workflows = project / ".muxc" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "review.mux").write_text(CLEAN)
    lines = muxc("list", "--all").stdout.splitlines()
    assert re.fullmatch(r"review\s+project\s+Review the last commit", lines[0])
    assert [line for line in lines if line.startswith("review ") and "(shadowed)" in line]


def test_show_prints_a_workflow_by_name_and_converts_it(muxc) -> None:
    name = sorted((REPO / "stdlib").glob("*.mux"))[0]
    shown = muxc("show", name.stem)
    assert (shown.exit_code, shown.stdout) == (0, name.read_text())
    as_toml = muxc("show", name.stem, "--to", "toml")
    assert as_toml.exit_code == 0 and as_toml.stdout.startswith(f'name = "{name.stem}"\n')


def test_show_of_an_unknown_name_is_a_usage_error(muxc) -> None:
    result = muxc("show", "no-such-workflow")
    assert result.exit_code == 2
    assert "no workflow named 'no-such-workflow'; run `muxc list` to see them, or pass a path" in result.stderr
