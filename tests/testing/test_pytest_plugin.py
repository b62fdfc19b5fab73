"""pytest collects ``*.test.toml`` through the plugin and runs each test as muxc test does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.testing.conftest import REVIEW, Suite

PASSING = """
workflow = "review.mux"

[[test]]
name = "approves"
files = { "a.txt" = "hello\\n" }
answers = { verdict = "fine" }

[[test.expect]]
step = "verdict"
equals = "fine"

[[test]]
name = "wrong"
files = { "a.txt" = "hello\\n" }
answers = { verdict = "fine" }

[[test.expect]]
step = "verdict"
equals = "great"
"""


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest as a user runs it: the plugin comes from muxc's `pytest11` entry point, as installed."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN", *args], cwd=root,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)


def test_pytest_collects_and_runs_workflow_tests(suite: Suite) -> None:
    (suite.root / "review.mux").write_text(REVIEW)
    (suite.root / "review.test.toml").write_text(PASSING)
    done = _pytest(suite.root, "review.test.toml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "error[test-failed]: step `verdict` is not the expected text" in done.stdout
    assert "expected: great" in done.stdout and "got: fine" in done.stdout
    done = _pytest(suite.root, "review.test.toml", "-k", "approves")
    assert done.returncode == 0 and "1 passed" in done.stdout


def test_a_bad_test_file_is_one_failing_item_with_its_diagnostics(suite: Suite) -> None:
    (suite.root / "review.test.toml").write_text('workflow = "review.mux"\n[[test]]\nname = "x"\nanswer = {}\n')
    done = _pytest(suite.root, "review.test.toml")
    assert done.returncode == 1
    assert "error[unknown-field]: a [[test]] has no field `answer`" in done.stdout
    assert "--> review.test.toml:4:1" in done.stdout
