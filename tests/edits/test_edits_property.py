"""Property: whatever valid replace edits are made to whatever text, plan + apply followed
by restore gives back the identical bytes, modes and directories."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from muxc.edits import Applied, EditSet, Plan, Replace, Snapshot, Write, apply, parse_edits, plan

# Text with the characters that make edits hard: both line endings, trailing whitespace,
# blank lines, non-ASCII, a BOM-like character; no NUL (that is a binary file).
_PIECES = ["a", "b", "x", " ", "\t", "\n", "\r\n", "\r", "é", "€", "{", '"', "\ufeff"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@st.composite
def replace_cases(draw) -> tuple[bytes, str, str, int]:
    content = draw(_TEXT)
    start = draw(st.integers(0, len(content)))
    end = draw(st.integers(start, len(content)))
    old = content[start:end]
    assume(old and content.find(old) == start and content.find(old, start + 1) == -1)
    # A leading U+FEFF *is* a BOM when the file is read, so it cannot be an edit's old text.
    bom = draw(st.booleans())
    assume(not (start == 0 and old.startswith("\ufeff")))
    data = ("\ufeff" if bom else "") + content
    return data.encode(), old, draw(_TEXT), draw(st.sampled_from([0o644, 0o755, 0o600]))


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory) -> Path:
    """One real repository for all examples (a fresh one per example would be slow)."""
    root = tmp_path_factory.mktemp("property") / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=replace_cases(), new_file=_TEXT, subdir=st.sampled_from(["", "made/", "made/deeper/"]))
def test_plan_apply_restore_gives_back_identical_bytes(
    shared_repo: Path, case, new_file: str, subdir: str
) -> None:
    data, old, new, mode = case
    target = shared_repo / "target.txt"
    target.write_bytes(data)
    os.chmod(target, mode)
    before = _state(shared_repo)
    edits = EditSet((Replace("target.txt", old, new), Replace(f"{subdir}created.txt", "", new_file)), "json")
    snapshot = Snapshot.take(shared_repo, edits.paths)
    planned = plan(shared_repo, edits)
    assert isinstance(planned, Plan), planned.message
    assert isinstance(apply(planned), Applied)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    assert snapshot.restore().ok
    assert _state(shared_repo) == before


@settings(max_examples=100, deadline=None)
@given(content=_TEXT, old_start=st.integers(0, 80), old_len=st.integers(1, 20), new=_TEXT)
def test_parsing_a_json_replace_round_trips_any_text(
    content: str, old_start: int, old_len: int, new: str
) -> None:
    old = content[old_start : old_start + old_len]
    assume(old)
    output = "Here:\n```json\n" + json.dumps({"path": "f.txt", "old": old, "new": new}) + "\n```\n"
    assert parse_edits(output) == EditSet((Replace("f.txt", old, new),), "json")


def _state(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file and directory outside .git, with bytes and mode for files."""
    found: dict[str, tuple[bytes, int] | None] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git":
            continue
        found[relative.as_posix()] = (
            (path.read_bytes(), stat.S_IMODE(path.stat().st_mode)) if path.is_file() else None
        )
    return found


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=_TEXT, after=_TEXT)
def test_the_reported_diff_parses_back_and_reproduces_the_change(
    shared_repo: Path, before: str, after: str
) -> None:
    """The diff ``apply`` reports is itself a valid edit: applied to the old file it gives the new."""
    assume(not before.startswith("\ufeff") and not after.startswith("\ufeff"))
    target = shared_repo / "roundtrip.txt"
    target.write_bytes(before.encode())
    planned = plan(shared_repo, EditSet((Write("roundtrip.txt", after),), "json"))
    assert isinstance(planned, Plan)
    (change,) = planned.changes
    assume(change.changed and b"\r" not in (change.before or b"") + (change.after or b""))
    applied = apply(planned)
    assert isinstance(applied, Applied)
    target.write_bytes(before.encode())
    replayed = parse_edits(applied.diff)
    assert isinstance(replayed, EditSet), replayed.message
    again = plan(shared_repo, replayed)
    assert isinstance(again, Plan), again.message
    assert again.changes[0].after == change.after
