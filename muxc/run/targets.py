"""Saved outputs: a step's ``save`` file, written from its result and kept in step with it.

A saved file is a build target: deleting it makes the next build write it again (from the cache
when the step is up to date, without asking the LLM again). A file edited by hand is never lost:
when the step is up to date it is left alone (with a note); when the step produced a new result,
the edited version is kept beside it as ``<file>.orig``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import msgspec

from muxc.compile.plan import StepPlan
from muxc.run.context import CACHED, Build, StepState
from muxc.run.files import write_atomically


def content_of(output: str) -> bytes:
    return (output if output.endswith("\n") or not output else output + "\n").encode()


def file_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def write_target(build: Build, plan: StepPlan, state: StepState) -> str | None:
    """Bring the step's saved file up to date; returns a note for the user, if any."""
    assert state.record is not None
    path = build.targets[plan.name]
    wanted = content_of(state.record.output)
    current = path.read_bytes() if path.is_file() else None
    if current == wanted:
        _remember(build, plan, path, wanted)
        return None
    latest = build.latest.get(plan.name)
    edited = current is not None and (latest is None or latest.target_digest != file_digest(current))
    note = None
    if edited and state.status == CACHED:
        return f"{_shown(build, path)} was edited since muxc wrote it; left as is (delete it to get muxc's back)"
    if edited:
        backup = path.with_name(path.name + ".orig")
        shutil.copy2(path, backup)
        note = f"{_shown(build, path)} had been edited; your version is kept as {_shown(build, backup)}"
    write_atomically(path, wanted)
    _remember(build, plan, path, wanted)
    return note


def target_note(build: Build, plan: StepPlan, state: StepState) -> str | None:
    """What a build would do to the step's saved file (for status and --dry-run, which write nothing)."""
    assert state.record is not None
    path = build.targets[plan.name]
    current = path.read_bytes() if path.is_file() else None
    if current == content_of(state.record.output):
        return None
    if current is None:
        return f"{_shown(build, path)} is missing: the next build writes it again from the cache"
    latest = build.latest.get(plan.name)
    if latest is not None and latest.target_digest == file_digest(current):
        return f"the next build rewrites {_shown(build, path)}"
    return f"{_shown(build, path)} was edited since muxc wrote it; a build leaves it as is"


def _remember(build: Build, plan: StepPlan, path: Path, data: bytes) -> None:
    latest = build.latest.get(plan.name)
    if latest is not None and latest.target_digest != file_digest(data):
        updated = msgspec.structs.replace(latest, target=str(path), target_digest=file_digest(data))
        build.store.set_latest(build.plan.workflow, plan.name, updated)
        build.latest[plan.name] = updated


def _shown(build: Build, path: Path) -> str:
    try:
        return str(path.relative_to(build.root))
    except ValueError:
        return str(path)
