"""Tests written in the .mux language: a workflow's own `test` statements, or a NAME.test.mux file.

They mirror NAME.test.toml (same fields, same runner); these tests check that both forms give the
same results, that bad test statements are diagnostics at the exact spot, and that fmt keeps them.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.testing.conftest import REVIEW, Suite
from tests.testing.test_pytest_plugin import _pytest

OWN_TESTS = """
test "approves a small file"
file "a.txt": hello
answer verdict:
    Looks good.
expect step verdict [contains = "good"]
expect file "out/verdict.md" [exists = true, regex = "^Looks"]
expect run [ran = ["content", "verdict"], calls = 1]

test "counts the lines" [args = { file = "b.txt" }]
file "b.txt":
    one
    two
answer verdict: fine
answer verdict: never asked twice
expect step content [lines = 3]
"""

TOML_MIRROR = '''
workflow = "review.mux"

[[test]]
name = "counts the lines"
args = { file = "b.txt" }
files = { "b.txt" = "one\\ntwo\\n" }
answers = { verdict = ["fine", "never asked twice"] }

[[test.expect]]
step = "content"
lines = 3
'''


def test_a_workflow_carries_its_own_tests_and_muxc_test_finds_them(suite: Suite) -> None:
    suite.write("review.mux", REVIEW + OWN_TESTS)
    doc = suite.json(code=1)
    outcomes = {test["id"]: (test["outcome"], [f["message"] for f in test["failures"]]) for test in doc["tests"]}
    assert outcomes == {
        "review.mux::approves a small file": ("passed", []),
        # `cat` of a two-line file is two lines: the expectation says 3, and the failure says so
        "review.mux::counts the lines": ("failed", ["step `content` has 2 lines, not 3"]),
    }
    [failure] = doc["tests"][1]["failures"]
    assert (failure["expected"], failure["got"]) == ("3", "2")


def test_a_test_mux_file_gives_what_the_same_test_in_toml_gives(suite: Suite) -> None:
    suite.write("review.test.mux", 'tests "review.mux"\n' + OWN_TESTS.split('test "counts', 1)[0].rstrip() + "\n")
    suite.write("other/review.mux", REVIEW)
    suite.write("other/review.test.toml", TOML_MIRROR)
    suite.write("other/review.test.mux", 'tests "review.mux"\n\ntest "counts the lines"'
                + OWN_TESTS.split('test "counts the lines"', 1)[1])
    mux_doc, toml_doc = suite.json("other/review.test.mux", code=1), suite.json("other/review.test.toml", code=1)
    assert mux_doc["tests"][0]["failures"] == toml_doc["tests"][0]["failures"]
    assert suite.json("review.test.mux", code=0)["passed"] == 1


def test_bad_test_statements_are_diagnostics_at_the_spot(suite: Suite, snapshot) -> None:
    suite.write("review.test.mux", """
        tests "review.mux"

        answer verdict: too early
        test "one" [fixtrue = "x"]
        expect stpe verdict [contains = "x"]
        expect step [contains = "x"]
        expect run verdict [calls = 1]
        expect step verdict [contians = "x", regex = "(unclosed"]
        shell nope: echo
    """)
    result = suite.test(code=1)
    assert re.sub(r" in \d+\.\d\ds ", " in 0.00s ", result.stdout) == snapshot


def test_a_step_a_mux_test_names_must_exist(suite: Suite) -> None:
    suite.write("review.mux", REVIEW + '\ntest "typo"\nfile "a.txt": x\nanswer verdikt: fine\n')
    shown = suite.test(code=1).stdout
    assert "error[unknown-step]: the workflow has no step `verdikt`" in shown
    assert "--> review.mux:14:8" in shown and "did you mean `verdict`?" in shown


def test_fmt_keeps_the_tests_as_written_and_refuses_toml(suite: Suite) -> None:
    path = suite.write("review.mux", REVIEW + OWN_TESTS)
    from click.testing import CliRunner

    from muxc.cli import main

    formatted = CliRunner().invoke(main, ["fmt", str(path)])
    assert formatted.exit_code == 0 and formatted.stdout == path.read_text()
    refused = CliRunner().invoke(main, ["fmt", str(path), "--to", "toml"])
    assert refused.exit_code == 1 and "carries `test` statements" in refused.stderr


def test_muxc_check_reads_a_workflows_tests_as_muxc_test_does(suite: Suite) -> None:
    path = suite.write("review.mux", REVIEW + OWN_TESTS)
    command = [sys.executable, "-m", "muxc", "check", "--no-backends", "--format", "concise", str(path)]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "no problems" in checked.stderr
    path.write_text(path.read_text() + 'expect stpe verdict [contains = "x"]\n')
    checked = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 1
    assert checked.stdout.endswith(":27:8: error[mux-syntax]: `expect stpe`: expect what? (help: did you mean `step`?)\n")


def test_pytest_collects_a_workflows_own_tests(suite: Suite) -> None:
    suite.write("review.mux", REVIEW + OWN_TESTS)
    done = _pytest(suite.root, "review.mux")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "step `content` has 2 lines, not 3" in done.stdout
