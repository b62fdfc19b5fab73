"""Saved outputs: a step's ``save`` file, written from its result and kept in step with it.

A saved file is a build target: deleting it makes the next build write it again (from the cache
when the step is up to date, without asking the LLM again). Which files are muxc's own is kept in
the store's ``saved`` table (path, digest of the bytes muxc wrote, key of the result): a file
holding other bytes was edited by hand, and a hand edit is never lost — when the step is up to
date it is left alone (with a note); when the step produced another result, or produced none
this time, the edited version is kept beside it as ``<file>.orig`` (``.orig.1``, ``.orig.2``, …
when that is taken).

A saved file always shows the result the build served: switching back to a state built before
writes that state's result again. A step that produced nothing in this build (its ``if`` was
false, it failed, it was not reached) has no saved file, exactly as after a clean build.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from muxc.base.files import write_atomically
from muxc.run.context import CACHED, Build, StepState
from muxc.store.records import SavedFile

if TYPE_CHECKING:
    from muxc.compile.plan import StepPlan


def content_of(output: str) -> bytes:
    return (output if output.endswith("\n") or not output else output + "\n").encode()


def file_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def relative_path(build: Build, path: Path) -> str:
    """How the ``saved`` table names a file: relative to the project root, with ``/``."""
    try:
        return path.relative_to(build.root).as_posix()
    except ValueError:
        return str(path)


def write_target(build: Build, plan: StepPlan, state: StepState) -> str | None:
    """Bring the step's saved file up to date; returns a note for the user, if any."""
    assert state.record is not None
    path = build.targets[plan.name]
    wanted = content_of(state.record.output)
    current = _read(path)
    if current == wanted:
        _remember(build, plan, path, wanted, state.record.key)
        return None
    edited = current is not None and not muxc_wrote(build, plan, path, current)
    if edited and state.status == CACHED:
        return f"{_shown(build, path)} was edited since muxc wrote it; left as is (delete it to get muxc's back)"
    note = None
    if edited:
        note = f"{_shown(build, path)} had been edited; your version is kept as {_shown(build, _keep_edit(path))}"
    write_atomically(path, wanted)
    _remember(build, plan, path, wanted, state.record.key)
    return note


def retract(build: Build, plan: StepPlan, why: str) -> str | None:
    """The step produced no result this build (``why``): its saved file goes, as a clean build
    would have none; a hand-edited one is kept as ``.orig``. Returns a note for the user."""
    path = build.targets[plan.name]
    current = _read(path)
    if current is not None and muxc_wrote(build, plan, path, current):
        path.unlink()
        note = f"{_shown(build, path)} was removed: {why}"
    elif current is not None:
        note = f"{_shown(build, path)} had been edited; {why}, so it is kept as {_shown(build, _keep_edit(path))}"
        path.unlink()
    else:
        note = None
    return note  # the `saved` row stays: the path (and its .orig copies) remains muxc's, never project state


def target_ok(build: Build, plan: StepPlan, key: str) -> bool:
    """The saved file holds what muxc wrote for the result ``key`` (the fast path's test)."""
    path = build.targets.get(plan.name)
    if path is None:
        return plan.name not in build.refused_saves  # a refused path fails the step the slow way
    saved = build.saved.get(relative_path(build, path))
    if saved is None or saved.key != key:
        return False
    current = _read(path)
    return current is not None and file_digest(current) == saved.digest


def target_note(build: Build, plan: StepPlan, state: StepState) -> str | None:
    """What a build would do to the step's saved file (for status and --dry-run, which write nothing)."""
    assert state.record is not None
    path = build.targets[plan.name]
    current = _read(path)
    if current == content_of(state.record.output):
        return None
    if current is None:
        return f"{_shown(build, path)} is missing: the next build writes it again from the cache"
    if muxc_wrote(build, plan, path, current):
        return f"the next build rewrites {_shown(build, path)}"
    return f"{_shown(build, path)} was edited since muxc wrote it; a build leaves it as is"


def muxc_wrote(build: Build, plan: StepPlan, path: Path, data: bytes) -> bool:
    """``data`` is what muxc last saved at ``path`` (from any workflow)."""
    digest = file_digest(data)
    saved = build.saved.get(relative_path(build, path))
    if saved is not None:
        return saved.digest == digest
    latest = build.latest.get(plan.name)  # a state directory from before the saved table
    return latest is not None and latest.target_digest == digest


def _remember(build: Build, plan: StepPlan, path: Path, data: bytes, key: str) -> None:
    relative = relative_path(build, path)
    saved = SavedFile(file_digest(data), key, build.plan.workflow, plan.name)
    if build.saved.get(relative) != saved:
        build.store.set_saved(relative, saved)
        build.saved[relative] = saved


def _keep_edit(path: Path) -> Path:
    """Copy a hand-edited file to the first free ``.orig`` name; earlier copies are never replaced."""
    import shutil

    backup = path.with_name(path.name + ".orig")
    number = 0
    while backup.exists() or backup.is_symlink():
        number += 1
        backup = path.with_name(f"{path.name}.orig.{number}")
    shutil.copy2(path, backup)
    return backup


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _shown(build: Build, path: Path) -> str:
    try:
        return str(path.relative_to(build.root))
    except ValueError:
        return str(path)
