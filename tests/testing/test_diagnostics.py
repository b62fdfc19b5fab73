"""A bad test file is a diagnostic at the exact spot, rendered as ``muxc check`` renders, never a traceback."""

from __future__ import annotations

import pytest

from tests.testing.conftest import Suite


def _diagnostics(suite: Suite, text: str) -> list[tuple[str, int, int, str]]:
    suite.write("review.test.toml", text)
    doc = suite.json(code=1)
    found = doc["diagnostics"] + [d for test in doc["tests"] for d in test["diagnostics"]]
    return [(d["code"], d["line"], d["column"], d["message"]) for d in found]


def test_a_step_the_workflow_lacks_is_named_where_it_is_written(suite: Suite) -> None:
    found = _diagnostics(suite, """
        workflow = "review.mux"

        [[test]]
        name = "typo"
        answers = { verdikt = "x" }

        [[test.expect]]
        step = "contents"
        contains = "x"

        [test.run]
        skipped = ["nope"]
    """)
    assert found == [("unknown-step", 5, 13, "the workflow has no step `verdikt`"),
                     ("unknown-step", 8, 8, "the workflow has no step `contents`"),
                     ("unknown-step", 12, 11, "the workflow has no step `nope`")]


def test_the_missing_step_diagnostic_suggests_the_close_name(suite: Suite) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "typo"
        answers = { verdikt = "x" }
    """)
    out = suite.test(code=1).stdout
    assert "error[unknown-step]: the workflow has no step `verdikt`" in out
    assert "--> review.test.toml:5:13" in out
    assert "did you mean `verdict`?" in out
    assert "1 error" in out.splitlines()[-1]


def test_a_missing_workflow_points_at_its_name(suite: Suite) -> None:
    found = _diagnostics(suite, """
        workflow = "reveiw.mux"

        [[test]]
        name = "x"
    """)
    assert found == [("unknown-workflow", 1, 12,
                      "no workflow 'reveiw.mux' beside this test or by that name")]


@pytest.mark.parametrize(("text", "expected"), [
    ('workflow = "review.mux"\n[[test]]\nname = "x"\n[[test.expect]]\nstep = "content"\ncontainz = "a"\n',
     ("missing-field", 4, 1, "this expectation on step `content` checks nothing")),
    ('workflow = "review.mux"\n[[test]]\nname = "x"\n[[test.expect]]\nstep = "content"\nregex = "a(b"\n',
     ("invalid-value", 6, 11, "this regex does not compile: missing ), unterminated subpattern")),
    ('workflow = "review.mux"\n[[test]]\nname = "x"\n[[test.expect]]\nstep = "content"\nlines = "3"\n',
     ("wrong-type", 6, 9, "`lines` must be a whole number ≥ 0")),
    ('workflow = "review.mux"\n[[test]]\nname = "x"\n[[test.expect]]\nstep = "content"\n',
     ("missing-field", 4, 1, "this expectation on step `content` checks nothing")),
    ('workflow = "review.mux"\n[[test]]\nname = "x"\n[[test.expect]]\nstep = "a"\nfile = "b"\nequals = "c"\n',
     ("invalid-value", 6, 1, "an expectation checks exactly one `step`, `file` or `diff`")),
    ('workflow = "review.mux"\n[[test]]\nname = "x\n',
     ("toml-syntax", 3, 8, "unterminated string: no closing \" on this line (use triple quotes for a multi-line string)")),
    ('[[test]]\nname = "x"\n',
     ("missing-field", 1, 1, "a test file must name its workflow")),
])
def test_a_malformed_test_file_is_diagnosed_at_the_spot(suite: Suite, text: str,
                                                        expected: tuple[str, int, int, str]) -> None:
    (suite.root / "review.test.toml").write_text(text)
    doc = suite.json(code=1)
    found = [(d["code"], d["line"], d["column"], d["message"]) for d in doc["diagnostics"]]
    assert found[0] == expected
    assert doc["tests"] == []  # nothing of a file with errors runs


def test_a_workflow_with_errors_is_an_error_showing_muxc_check_diagnostics(suite: Suite) -> None:
    suite.write("broken.mux", """
        workflow broken "x"

        shell a:
            echo {{ nope }}
    """)
    suite.write("broken.test.toml", """
        workflow = "broken.mux"

        [[test]]
        name = "x"
    """)
    doc = suite.json("broken.test.toml", code=1)
    assert doc["tests"][0]["outcome"] == "error"
    assert doc["tests"][0]["diagnostics"][0]["code"] == "unknown-name"
