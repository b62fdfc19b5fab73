"""Edits that must be refused before anything is written: escapes from the project root,
.git, binary files, and paths that cannot be files."""

from __future__ import annotations

import os

import pytest

from muxc.edits import Applied, ApplyFailure, Plan, apply, parse_edits, plan


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("../x", 'paths may not contain ".." components'),
        ("src/../../x", 'paths may not contain ".." components'),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("C:\\\\Windows\\\\x", "absolute paths are not allowed"),
        ("~/.bashrc", "home-relative paths are not allowed"),
        (".git/config", "files under .git/ are never written"),
        ("sub/.git/hooks/pre-commit", "files under .git/ are never written"),
        (".GIT/config", "files under .git/ are never written"),
        (".git./config", "files under .git/ are never written"),  # Windows drops trailing dots
        (".g\u200cit/config", "files under .git/ are never written"),  # HFS+ ignores U+200C
        (".muxc/config.toml", "files under .muxc/"),
        (".llm-mux/workflows/x.toml", "files under .llm-mux/"),
        (".envrc", ".envrc is tool metadata that can run code"),
        (".github/workflows/ci.yml", ".github/workflows/ is tool metadata that can run code"),
    ],
)
def test_paths_outside_the_project_or_in_git_are_refused(repo, path: str, rule: str) -> None:
    git_config = repo.read(".git/config")
    message = repo.refuse(f'[{{"path": "README.md", "content": "ok"}}, {{"path": "{path}", "content": "x"}}]')
    assert "edit 2 (" in message
    assert rule in message
    assert repo.read(".git/config") == git_config
    assert repo.read("README.md") == b"# project\n"  # the valid first edit was not applied


def test_symlinked_file_pointing_outside_is_refused(repo, tmp_path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret\n")
    os.symlink(outside, repo.root / "innocent.txt")
    message = repo.refuse('{"path": "innocent.txt", "content": "pwned"}')
    assert "'innocent.txt' is refused: a symlink in it leads outside the project root" in message
    assert outside.read_bytes() == b"secret\n"


def test_symlinked_directory_pointing_outside_is_refused(repo, tmp_path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", repo.root / "vendor")
    message = repo.refuse('{"path": "vendor/new.py", "content": "x"}')
    assert "a symlink in it leads outside the project root" in message
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_dangling_symlink_pointing_outside_is_refused(repo, tmp_path) -> None:
    os.symlink(tmp_path / "nowhere.txt", repo.root / "dangling.txt")
    assert "leads outside the project root" in repo.refuse('{"path": "dangling.txt", "content": "x"}')
    assert not (tmp_path / "nowhere.txt").exists()


def test_symlink_into_git_is_refused(repo) -> None:
    os.symlink(".git", repo.root / "meta")
    assert "leads into .git/" in repo.refuse('{"path": "meta/config", "content": "x"}')


def test_symlink_into_muxc_is_refused(repo) -> None:
    (repo.root / ".muxc").mkdir()
    os.symlink(".muxc", repo.root / "settings")
    message = repo.refuse('{"path": "settings/config.toml", "content": "x"}')
    assert "it leads into .muxc/config.toml through a symlink, and files under .muxc/" in message
    assert not (repo.root / ".muxc/config.toml").exists()


def test_tool_files_are_planned_only_when_the_step_allows_them(repo) -> None:
    edits = parse_edits('{"path": ".envrc", "content": "export A=1\\n"}')
    assert isinstance(plan(repo.root, edits), ApplyFailure)
    allowed = plan(repo.root, edits, allow_tool_files=True)
    assert isinstance(allowed, Plan) and allowed.paths == (".envrc",)
    assert isinstance(apply(allowed), Applied)
    assert repo.read(".envrc") == b"export A=1\n"


def test_binary_file_is_refused(repo) -> None:
    repo.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    message = repo.refuse('{"path": "logo.png", "content": "x"}')
    assert "logo.png is refused: it is a binary file (a NUL byte in its first 8 KB)" in message


def test_non_utf8_file_is_refused(repo) -> None:
    repo.write("latin1.txt", "café\n".encode("latin-1"))
    assert "it is not UTF-8 text" in repo.refuse('{"path": "latin1.txt", "old": "caf", "new": "x"}')


def test_a_directory_is_not_a_file(repo) -> None:
    assert "src cannot be edited: src is a directory" in repo.refuse('{"path": "src", "content": "x"}')


def test_a_file_in_the_way_of_a_new_directory(repo) -> None:
    message = repo.refuse('{"path": "README.md/inner.txt", "content": "x"}')
    assert "cannot create README.md/inner.txt: README.md is a file, not a directory" in message


def test_lone_surrogate_from_a_json_escape_is_refused(repo) -> None:
    assert "not valid Unicode" in repo.refuse('{"path": "u.txt", "content": "\\ud800"}')
