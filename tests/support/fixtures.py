"""Pytest fixtures for backend and end-to-end tests.

Import them into a ``conftest.py``::

    from tests.support.fixtures import fake_cli, llm_server  # noqa: F401

- ``llm_server``: a started ``LLMServer`` (see ``llm_server.py``), stopped after the test.
- ``fake_cli``: a ``FakeCli`` whose ``command``/``args`` run ``fake_cli_llm.py`` with this Python,
  and whose ``wrapper(name)`` writes an executable called ``name`` (e.g. ``codex``) that runs it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.llm_server import LLMServer

FAKE_CLI_SCRIPT = Path(__file__).with_name("fake_cli_llm.py")


class FakeCli:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.script = str(FAKE_CLI_SCRIPT)
        self.command = sys.executable
        self.args = [self.script]

    def wrapper(self, name: str) -> str:
        """An executable named ``name`` that runs the fake CLI with its arguments; its path."""
        path = self.directory / name
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{self.script}" "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    def path_with_wrappers(self) -> str:
        """A PATH with the wrapper directory first (for commands given by bare name)."""
        return f"{self.directory}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture
def fake_cli(tmp_path: Path) -> FakeCli:
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    return FakeCli(directory)
