"""Fingerprints for skipping an apply: they change when the edits or the files do, and the
post-state fingerprint recognises an apply that is already in place."""

from __future__ import annotations

import os

from muxc.edits import EditSet, Plan, Replace, apply, fingerprint, plan, post_fingerprint, state_fingerprint

EDITS = EditSet((Replace("README.md", "project", "thing"),), "json")


def test_fingerprint_is_stable_while_nothing_changes(repo) -> None:
    assert fingerprint(repo.root, EDITS) == fingerprint(repo.root, EDITS)


def test_fingerprint_changes_with_the_edits(repo) -> None:
    other = EditSet((Replace("README.md", "project", "stuff"),), "json")
    assert fingerprint(repo.root, EDITS) != fingerprint(repo.root, other)


def test_fingerprint_changes_with_a_touched_files_bytes_mode_or_existence(repo) -> None:
    seen = {fingerprint(repo.root, EDITS)}
    repo.write("README.md", "# project\nmore\n")
    seen.add(fingerprint(repo.root, EDITS))
    os.chmod(repo.root / "README.md", 0o755)
    seen.add(fingerprint(repo.root, EDITS))
    os.unlink(repo.root / "README.md")
    seen.add(fingerprint(repo.root, EDITS))
    assert len(seen) == 4


def test_fingerprint_ignores_files_the_edits_do_not_touch(repo) -> None:
    before = fingerprint(repo.root, EDITS)
    repo.write("src/app.py", "unrelated change\n")
    assert fingerprint(repo.root, EDITS) == before


def test_post_fingerprint_recognises_an_apply_already_in_place(repo) -> None:
    edits = EditSet((*EDITS.edits, Replace("new/file.txt", "", "created\n")), "json")
    planned = plan(repo.root, edits)
    assert isinstance(planned, Plan)
    expected = post_fingerprint(planned)
    assert state_fingerprint(repo.root, planned.paths) != expected
    apply(planned)
    assert state_fingerprint(repo.root, planned.paths) == expected
    repo.write("README.md", "# thing\nuser edit\n")
    assert state_fingerprint(repo.root, planned.paths) != expected


def test_fingerprint_ignores_the_format_and_summary(repo) -> None:
    restated = EditSet(EDITS.edits, "SEARCH/REPLACE", summary="same change, other words")
    assert fingerprint(repo.root, restated) == fingerprint(repo.root, EDITS)
