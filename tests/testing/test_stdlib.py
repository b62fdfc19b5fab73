"""The stdlib's own workflow tests (``stdlib/tests/``) pass offline, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

STDLIB_TESTS = Path(__file__).resolve().parents[2] / "stdlib" / "tests"


@pytest.mark.usefixtures("isolated_env")
def test_muxc_test_stdlib_passes_offline() -> None:
    from muxc.cli import main

    result = CliRunner().invoke(main, ["test", str(STDLIB_TESTS), "--output", "json"], catch_exceptions=False)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, [(t["id"], t["failures"], t["diagnostics"]) for t in doc["tests"]]
    assert doc["passed"] >= 9 and doc["failed"] == doc["errors"] == 0
