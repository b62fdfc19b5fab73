"""Every diagnostic kind, exactly as a user sees it: `muxc check --format full` and `--format json`.

Each case is a small file in ``cases/`` named ``<code>-<what it shows>``: the test checks it
through the real command line (isolated from the user's config) and snapshots both renderings,
and asserts that the code the name promises is among the diagnostics, so a snapshot can never be
accepted with the interesting diagnostic missing. Cases in ``cases/config/`` are project config
files (``.muxc/config.toml``), checked together with ``cases/config/review.mux``.

Update snapshots with ``pytest tests/frontend --snapshot-update`` and review the diff.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from muxc.diagnostics.codes import all_codes
from tests.frontend.support import CASES, HERE, codes, diagnostics

WORKFLOW_CASES = sorted(p for p in CASES.iterdir() if p.suffix in (".toml", ".mux"))
CONFIG_CASES = sorted((CASES / "config").glob("*.toml"))
CONFIG_WORKFLOW = CASES / "config" / "review.mux"


def promised_code(case: Path) -> str:
    """The diagnostic code a case's file name starts with (the longest registered match)."""
    matches = [code for code in all_codes() if case.stem == code or case.stem.startswith(code + "-")]
    assert matches, f"{case.name} must be named <code>-<what it shows>"
    return max(matches, key=len)


def run_both(muxc, *paths: str, cwd: Path | None = None) -> tuple[str, str, list[str], int]:
    full = muxc("check", "--format", "full", *paths, cwd=cwd)
    as_json = muxc("check", "--format", "json", *paths, cwd=cwd)
    assert full.exit_code == as_json.exit_code
    user_sees = full.stdout + full.stderr  # the diagnostics, then the summary line on stderr
    return user_sees, as_json.stdout, codes(as_json), as_json.exit_code


@pytest.mark.parametrize("case", WORKFLOW_CASES, ids=lambda p: p.name)
def test_workflow_case(case: Path, muxc, snapshot) -> None:
    full, as_json, found, exit_code = run_both(muxc, str(case.relative_to(HERE)))
    assert promised_code(case) in found
    assert full == snapshot(name="full")
    assert as_json == snapshot(name="json")
    assert exit_code == (1 if '"severity": "error"' in as_json else 0)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=lambda p: p.name)
def test_config_case(case: Path, muxc, project: Path, snapshot) -> None:
    (project / ".muxc").mkdir()
    shutil.copy(case, project / ".muxc" / "config.toml")
    shutil.copy(CONFIG_WORKFLOW, project / "review.mux")
    full, as_json, found, _ = run_both(muxc, "review.mux", cwd=project)
    assert promised_code(case) in found
    assert full == snapshot(name="full")
    assert as_json == snapshot(name="json")


def test_the_cases_cover_at_least_thirty_distinct_codes() -> None:
    promised = {promised_code(case) for case in [*WORKFLOW_CASES, *CONFIG_CASES]}
    assert len(promised) >= 30, sorted(promised)


def test_json_diagnostics_have_the_documented_fields(muxc) -> None:
    result = muxc("check", "--format", "json", "cases/dependency-cycle-three-steps.toml")
    [cycle] = diagnostics(result)
    assert {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "help",
            "labels"} <= set(cycle)
    assert [label["primary"] for label in cycle["labels"]] == [True, False, False]
    assert json.loads(result.stdout) == [cycle]
