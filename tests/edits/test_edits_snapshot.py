"""Rollback by snapshot: byte-identical, mode-identical, the user's uncommitted work kept,
created files and directories removed, and never a git command."""

from __future__ import annotations

import os
import stat

import msgspec

from muxc.edits import EditSet, Plan, Snapshot, parse_edits, plan


def attempt(repo, output: str) -> Snapshot:
    """Snapshot the files ``output`` touches, then apply it (as the runtime does)."""
    edit_set = parse_edits(output)
    assert isinstance(edit_set, EditSet)
    snapshot = Snapshot.take(repo.root, edit_set.paths)
    repo.apply(output)
    return snapshot


def test_rollback_is_byte_identical_and_keeps_the_users_uncommitted_line(repo, monkeypatch) -> None:
    repo.write("src/app.py", repo.read("src/app.py") + b"# the user's uncommitted line\n")
    repo.write("notes.txt", "untracked user file\n")
    tree, status = repo.tree(), repo.status()
    snapshot = attempt(repo, '{"path": "src/app.py", "old": "hello", "new": "bye"}')
    assert repo.status() == status  # the same files are dirty, but not the same bytes
    assert repo.tree() != tree
    with monkeypatch.context() as no_git:
        no_git.setenv("PATH", "")  # a rollback that shelled out to git would fail here
        report = snapshot.restore()
    assert report.ok and report.restored == ("src/app.py",)
    assert repo.tree() == tree and repo.status() == status
    assert repo.read("src/app.py").endswith(b"# the user's uncommitted line\n")


def test_rollback_removes_created_files_and_directories_but_not_preexisting_empty_ones(repo) -> None:
    (repo.root / "empty_before").mkdir()
    (repo.root / "src" / "empty_inside").mkdir()
    tree, dirs, status = repo.tree(), repo.dirs(), repo.status()
    output = (
        '[{"path": "brand/new/deep/file.txt", "content": "x"},'
        ' {"path": "empty_before/kept.txt", "content": "y"},'
        ' {"path": "src/empty_inside/z.txt", "content": "z"},'
        ' {"path": "README.md", "old": "project", "new": "thing"}]'
    )
    snapshot = attempt(repo, output)
    report = snapshot.restore()
    assert sorted(report.removed) == [
        "brand/new/deep/file.txt",
        "empty_before/kept.txt",
        "src/empty_inside/z.txt",
    ]
    assert report.removed_dirs == ("brand/new/deep", "brand/new", "brand")
    assert repo.tree() == tree and repo.dirs() == dirs and repo.status() == status


def test_a_created_directory_that_holds_someone_elses_file_is_kept(repo) -> None:
    snapshot = attempt(repo, '{"path": "gen/out.txt", "content": "x"}')
    repo.write("gen/user.txt", "mine\n")
    report = snapshot.restore()
    assert report.removed == ("gen/out.txt",) and report.kept_dirs == ("gen",)
    assert repo.read("gen/user.txt") == b"mine\n"


def test_rollback_restores_a_deleted_file_and_its_mode(repo) -> None:
    repo.write("run.sh", "#!/bin/sh\n", mode=0o750)
    snapshot = attempt(repo, "--- a/run.sh\n+++ /dev/null\n@@ -1 +0,0 @@\n-#!/bin/sh\n")
    assert not (repo.root / "run.sh").exists()
    snapshot.restore()
    assert repo.read("run.sh") == b"#!/bin/sh\n"
    assert stat.S_IMODE(os.stat(repo.root / "run.sh").st_mode) == 0o750


def test_rollback_restores_crlf_bom_and_no_final_newline_exactly(repo) -> None:
    original = "\ufeffa\r\nb\r\nlast".encode()
    repo.write("odd.txt", original)
    snapshot = attempt(repo, '{"path": "odd.txt", "old": "b", "new": "B\\nB2"}')
    snapshot.restore()
    assert repo.read("odd.txt") == original


def test_files_already_as_recorded_are_not_rewritten(repo) -> None:
    snapshot = Snapshot.take(repo.root, ["README.md", "src/app.py"])
    repo.apply('{"path": "src/app.py", "old": "hello", "new": "bye"}')
    mtime = os.stat(repo.root / "README.md").st_mtime_ns
    report = snapshot.restore()
    assert report.unchanged == ("README.md",) and report.restored == ("src/app.py",)
    assert os.stat(repo.root / "README.md").st_mtime_ns == mtime


def test_extend_between_attempts_keeps_the_original_record(repo) -> None:
    tree, status = repo.tree(), repo.status()
    snapshot = attempt(repo, '{"path": "README.md", "old": "project", "new": "first try"}')
    snapshot.restore()
    # The retry touches README.md again and another file: README.md was already recorded.
    snapshot = snapshot.extend(["README.md", "src/app.py", "new/file.txt"])
    repo.apply(
        '[{"path": "README.md", "old": "project", "new": "second"}, {"path": "new/file.txt", "content": "n"}]'
    )
    repo.write("README.md", "# modified again by the retry\n")
    assert snapshot.paths == ("README.md", "src/app.py", "new/file.txt")
    assert snapshot.restore().ok
    assert repo.tree() == tree and repo.status() == status and not (repo.root / "new").exists()


def test_extend_does_not_overwrite_a_record_taken_earlier(repo) -> None:
    snapshot = Snapshot.take(repo.root, ["README.md"])
    repo.write("README.md", "changed by an attempt\n")
    snapshot = snapshot.extend(["README.md"])
    snapshot.restore()
    assert repo.read("README.md") == b"# project\n"


def test_restore_is_idempotent(repo) -> None:
    snapshot = attempt(repo, '{"path": "x/y.txt", "content": "1"}')
    first, second = snapshot.restore(), snapshot.restore()
    assert first.removed == ("x/y.txt",) and first.removed_dirs == ("x",)
    assert second.removed == () and second.restored == () and second.unchanged == ("x/y.txt",)
    assert second.summary == "rollback: nothing to undo"


def test_snapshot_records_unsafe_paths_as_refused(repo) -> None:
    snapshot = Snapshot.take(repo.root, ["../x", ".git/config", "README.md"])
    assert snapshot.paths == ("README.md",)
    assert len(snapshot.refused) == 2


def test_snapshot_through_a_symlink_records_the_real_file(repo) -> None:
    os.symlink("README.md", repo.root / "alias.md")
    snapshot = Snapshot.take(repo.root, ["alias.md"])
    repo.apply('{"path": "alias.md", "content": "changed\\n"}')
    snapshot.restore()
    assert repo.read("README.md") == b"# project\n" and (repo.root / "alias.md").is_symlink()


def test_a_snapshot_is_plain_data(repo) -> None:
    planned = plan(repo.root, parse_edits('{"path": "README.md", "content": "x"}'))
    assert isinstance(planned, Plan)
    snapshot = Snapshot.take(repo.root, planned.paths)
    decoded = msgspec.json.decode(msgspec.json.encode(snapshot), type=Snapshot)
    assert decoded == snapshot
