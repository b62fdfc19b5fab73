"""A `.muxc/state` entry of the wrong kind: `build`, `status` and `clean` name the path and the fix
(exit status 3, never a traceback), or put it right when nothing can be lost.

Put right: an empty directory where muxc keeps a file; a stray file where the plan cache goes.
Refused: a directory with something in it (it is never deleted), a file named `.muxc` or
`.muxc/state`.
"""

from __future__ import annotations

import json
import shutil

import pytest

WORKFLOW = """
    workflow w "one shell step"

    shell probe:
        echo probe >> "$COUNTER"
        echo hello
    """


@pytest.fixture
def built(project):
    project.workflow(WORKFLOW)
    project.build()
    assert project.ran() == ["probe"]
    return project


def in_the_way(path, kind: str) -> None:
    """Replace ``path`` by a directory holding someone's notes, an empty directory, or a file."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if kind == "file":
        path.write_text("not muxc's\n")
        return
    path.mkdir()
    if kind == "directory":
        (path / "notes.txt").write_text("someone's notes\n")


def refused(result, path, kind: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.stderr)
    assert f"Error: {path} is a {kind}" in result.stderr
    assert ("rm -r " if kind == "directory" else "rm ") + str(path) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("entry", ["stat-cache", "lock", "apply-journal"])
def test_a_directory_where_muxc_keeps_a_state_file_is_named_with_the_fix_and_kept(built, entry):
    path = built.root / ".muxc" / "state" / entry
    in_the_way(path, "directory")
    refused(built.cli("build", "w"), path, "directory")
    refused(built.cli("status", "w"), path, "directory")
    assert (path / "notes.txt").read_text() == "someone's notes\n"
    cleaned = built.cli("clean", "--yes")
    if entry == "lock":  # clean works under the lock, so it cannot go on either
        refused(cleaned, path, "directory")
    else:  # clean deletes the cache (the fingerprints with it) and keeps an apply's journal, as always
        assert cleaned.exit_code == 0, cleaned.stderr
    assert path.exists() == (entry != "stat-cache")
    shutil.rmtree(path, ignore_errors=True)  # the fix the message gives
    again = built.build()
    assert again.code == 0 and built.ran() == ([] if entry == "lock" else ["probe"])  # clean ran or not


@pytest.mark.parametrize("entry", ["stat-cache", "lock", "apply-journal"])
def test_an_empty_directory_where_muxc_keeps_a_state_file_is_replaced(built, entry):
    path = built.root / ".muxc" / "state" / entry
    in_the_way(path, "empty")
    assert built.cli("status", "w").exit_code == 0
    in_the_way(path, "empty")
    assert built.build().cached == {"probe"}
    assert not path.is_dir()


def test_a_file_in_place_of_the_plan_cache_is_replaced(built):
    plans = built.root / ".muxc" / "state" / "plans"
    in_the_way(plans, "file")
    status = built.cli("status", "w")
    assert status.exit_code == 0 and status.stdout == "probe: up to date\n"
    assert plans.is_dir() and list(plans.glob("*.plan"))
    in_the_way(plans, "file")
    assert built.build().cached == {"probe"}
    assert built.cli("clean", "--yes").exit_code == 0


def test_a_file_named_muxc_state_is_named_with_the_fix_and_kept(built):
    state = built.root / ".muxc" / "state"
    in_the_way(state, "file")
    for command in (("build", "w"), ("status", "w"), ("clean", "--yes"), ("forget", "w", "probe")):
        refused(built.cli(*command), state, "file")
    assert state.read_text() == "not muxc's\n"


def test_a_file_named_muxc_is_named_with_the_fix_and_kept(project):
    """In a real process: what a user sees on stderr, and a JSON document for a program."""
    project.write("w.mux", "workflow w\n\nshell probe: echo hello\n")
    shutil.rmtree(project.root / ".muxc")
    dot_muxc = project.write(".muxc", "not muxc's\n")
    for command in (("build", "w.mux"), ("status", "w.mux")):
        done = project.run(*command)
        assert done.returncode == 3, done.stderr
        assert f"Error: {dot_muxc} is a file, but muxc keeps its config, workflows and build state in a " \
               "directory" in done.stderr
        assert "Traceback" not in done.stderr
    as_json = project.run("build", "w.mux", "--output", "json")
    assert as_json.returncode == 3
    doc = json.loads(as_json.stdout)
    assert doc["success"] is False and doc["exit_code"] == 3 and str(dot_muxc) in doc["error"]
    cleaned = project.run("clean", "--yes")
    assert cleaned.returncode == 0 and "nothing to clean" in cleaned.stderr
    assert dot_muxc.read_text() == "not muxc's\n"
