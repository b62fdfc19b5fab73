"""What ``muxc test`` prints, as the user sees it (snapshots; the run's duration masked).

Update with ``pytest tests/testing --snapshot-update`` and review the diff."""

from __future__ import annotations

import re

from tests.testing.conftest import Suite


def test_the_console_report_of_a_failure_and_a_bad_test_file(suite: Suite, snapshot) -> None:
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "approves"
        files = { "a.txt" = "hello\\n" }
        answers = { verdict = "Looks good." }

        [[test.expect]]
        step = "verdict"
        contains = "LGTM"

        [[test]]
        name = "counts"
        files = { "a.txt" = "hello\\n" }
        answers = { verdict = "Looks good." }

        [test.run]
        calls = 1
    """)
    suite.write("broken.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "typo"
        answers = { verdikt = "x" }
    """)
    out = suite.test(code=1).stdout
    assert re.sub(r" in \d+\.\d\ds ", " in 0.00s ", out) == snapshot


def test_the_console_report_of_a_cassette_miss(suite: Suite, snapshot) -> None:
    """A prompt edited since the recording: the test's failure names the workflow, the step, the
    prompt diff and `--record`, and nothing else (no "the build failed" around it)."""
    suite.write("review.test.toml", """
        workflow = "review.mux"

        [[test]]
        name = "recorded"
        files = { "a.txt" = "hello\\n" }
    """)
    suite.write("review.cassette.toml", """
        [[answer]]
        test = "recorded"
        step = "verdict"
        key = "00000000000000000000000000000000"
        prompt = "Review this, briefly:\\nhello\\n"
        answer = "Looks good."
    """)
    out = suite.test(code=1).stdout
    assert re.sub(r" in \d+\.\d\ds ", " in 0.00s ", out) == snapshot
