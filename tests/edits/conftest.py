"""Real temporary git repositories for the edit engine's tests.

Every repository has a first commit, so ``git status --porcelain`` shows exactly what an
apply or a rollback did on top of the user's own uncommitted changes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from muxc.edits import Applied, ApplyFailure, EditSet, Plan, apply, parse_edits, plan

_GIT_CONFIG = (
    "-c", "user.name=muxc tests", "-c", "user.email=tests@muxc.invalid",
    "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false",
)  # fmt: skip


class Repo:
    """A git work tree in a temporary directory, with helpers that speak bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *_GIT_CONFIG, *args], cwd=self.root, capture_output=True, text=True, check=True
        )
        return result.stdout

    def write(self, path: str, content: bytes | str, mode: int | None = None) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        if mode is not None:
            os.chmod(target, mode)
        return target

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()

    def commit(self, message: str = "commit") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def status(self) -> str:
        return self.git("status", "--porcelain", "--untracked-files=all")

    def tree(self) -> dict[str, bytes]:
        """Every file outside .git, with its bytes: what a byte-identical rollback must restore."""
        return {
            path.relative_to(self.root).as_posix(): path.read_bytes()
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(self.root).parts
        }

    def dirs(self) -> set[str]:
        return {
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_dir() and ".git" not in path.relative_to(self.root).parts
        }

    def plan(self, output: str) -> Plan | ApplyFailure:
        edit_set = parse_edits(output)
        assert isinstance(edit_set, EditSet), getattr(edit_set, "message", edit_set)
        return plan(self.root, edit_set)

    def apply(self, output: str) -> Applied:
        planned = self.plan(output)
        assert isinstance(planned, Plan), planned.message
        applied = apply(planned)
        assert isinstance(applied, Applied), applied.message
        return applied

    def refuse(self, output: str) -> str:
        """Plan ``output``, expecting a refusal, and check nothing was written."""
        before = self.tree()
        planned = self.plan(output)
        assert isinstance(planned, ApplyFailure), f"expected a refusal, got {planned}"
        assert self.tree() == before
        return planned.message


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "project"
    root.mkdir()
    created = Repo(root)
    created.git("init", "-q", "-b", "main")
    created.write("README.md", "# project\n")
    created.write(
        "src/app.py", "def main():\n    print('hello')\n\n\nif __name__ == '__main__':\n    main()\n"
    )
    created.commit("initial")
    return created
