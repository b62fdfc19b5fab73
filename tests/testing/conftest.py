"""Workflow tests as a user writes them: a workflow and its ``*.test.toml`` in a temporary
directory, run through the real ``muxc test`` command (in this process; real shell steps, a
real temporary project per case, scripted answers instead of a backend)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

REVIEW = """\
workflow review "Review a file"

arg file = "a.txt" "the file"

shell content:
    cat {{ file }}

query verdict @analyzer > "out/verdict.md":
    Review this:
    {{ content }}
"""


class Suite:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
        return target

    def test(self, *args: str, code: int | None = None) -> Result:
        from muxc.cli import main

        result = CliRunner().invoke(main, ["test", *args], catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        return result

    def json(self, *args: str, code: int | None = None) -> dict:
        return json.loads(self.test(*args, "--output", "json", code=code).stdout)


@pytest.fixture
def suite(tmp_path: Path, isolated_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Suite]:
    root = tmp_path / "suite"
    root.mkdir()
    monkeypatch.chdir(root)
    made = Suite(root)
    made.write("review.mux", REVIEW)
    yield made
