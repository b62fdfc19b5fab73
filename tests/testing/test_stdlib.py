"""The stdlib's own workflow tests (``stdlib/tests/``) pass offline, replaying committed cassettes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
STDLIB = REPO / "stdlib"
STDLIB_TESTS = STDLIB / "tests"


@pytest.mark.usefixtures("isolated_env")
def test_muxc_test_stdlib_passes_offline() -> None:
    from muxc.cli import main

    result = CliRunner().invoke(main, ["test", str(STDLIB_TESTS), "--output", "json"], catch_exceptions=False)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, [(t["id"], t["failures"], t["diagnostics"]) for t in doc["tests"]]
    assert doc["passed"] >= 9 and doc["failed"] == doc["errors"] == 0


def test_every_stdlib_workflow_has_tests_that_replay_a_committed_cassette() -> None:
    from muxc.app.api import Report
    from muxc.app.testing.runner import collect

    report = Report()
    cases = collect([STDLIB_TESTS], None, report).cases
    assert not report.errors
    tested = {Path(str(loaded.workflow)).stem for loaded, _ in cases}
    assert tested == {path.stem for path in STDLIB.glob("*.mux")}
    for loaded, index in cases:
        assert loaded.file.cases[index].answers == (), f"{loaded.file.path}: answers come from the cassette"
        assert Path(loaded.cassette).is_file()
    queried = {(entry.test, entry.step) for loaded, _ in cases for entry in loaded.recorded}
    assert len(queried) >= 15  # every query step of every test that reaches one


def test_re_recording_the_scripted_cassettes_changes_nothing(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """The recorder (`python -m tools.record_scripted`) reproduces the committed cassettes byte for byte."""
    copy = tmp_path / "stdlib"
    shutil.copytree(STDLIB, copy)
    done = subprocess.run([sys.executable, "-m", "tools.record_scripted", str(copy / "tests")], cwd=REPO,
                          env=isolated_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for cassette in STDLIB_TESTS.glob("*.cassette.toml"):
        assert (copy / "tests" / cassette.name).read_text() == cassette.read_text(), cassette.name
