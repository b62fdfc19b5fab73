"""Fingerprints that let the runtime skip an apply that would change nothing.

- ``fingerprint(root, edit_set)``: the edits plus the pre-state of every file they touch.
  Equal to a recorded one means the same edits would meet the same files again.
- ``post_fingerprint(plan)``: the state the plan leaves its files in.
- ``state_fingerprint(root, paths)``: the files' current state, in the same terms, so
  ``state_fingerprint(root, plan.paths) == post_fingerprint(plan)`` right after ``apply``
  and for as long as nobody touches those files ("already applied").

A file's state is: exists or not, its SHA-256, and whether it is executable. Only the
executable bit of the mode counts, because a created file's other bits come from the
umask at write time, which a plan cannot know. Unsafe paths hash as their refusal, so
they never collide with a real state. All hashes are hex SHA-256.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable
from pathlib import Path

import msgspec

from muxc.base.confine import resolve_inside
from muxc.edits.apply import Plan
from muxc.edits.files import read_state
from muxc.edits.model import EditSet

_VERSION = b"muxc-edits-fingerprint-1\0"


def fingerprint(root: Path, edit_set: EditSet) -> str:
    """A hash of the edit set and the current state of every file it touches."""
    # Only the edits: the same edits written in another format or with another summary
    # have the same effect.
    edits = msgspec.json.encode(edit_set.edits)
    return _hash(_VERSION + edits + b"\0" + _states(root, edit_set.paths))


def state_fingerprint(root: Path, paths: Iterable[str]) -> str:
    """A hash of the current state of ``paths`` (compare with ``post_fingerprint``)."""
    return _hash(_VERSION + _states(root, paths))


def post_fingerprint(plan: Plan) -> str:
    """A hash of the state the plan's files are in once it is applied."""
    states = [
        _state(change.path, change.after, change.mode is not None and _executable(change.mode))
        for change in plan.changes
    ]
    return _hash(_VERSION + msgspec.json.encode(sorted(states)))


def _states(root: Path, paths: Iterable[str]) -> bytes:
    states = []
    for raw in dict.fromkeys(paths):
        # Reading is harmless: a tool file a step may not write still hashes as its content, so the
        # key is the same whether or not the step allows it (``plan`` refuses it, not the key).
        resolved = resolve_inside(root, raw, allow_tool_files=True)
        if isinstance(resolved, str):
            states.append(["refused", raw, resolved, False])
            continue
        try:
            current = read_state(resolved.absolute)
        except OSError as error:
            states.append(["unreadable", resolved.relative, str(error), False])
            continue
        content = None if current is None else current.content
        states.append(_state(resolved.relative, content, current is not None and _executable(current.mode)))
    return msgspec.json.encode(sorted(states))


def _state(path: str, content: bytes | None, executable: bool) -> list:
    digest = None if content is None else hashlib.sha256(content).hexdigest()
    return ["file" if content is not None else "absent", path, digest or "", executable]


def _executable(mode: int) -> bool:
    return bool(mode & stat.S_IXUSR)


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
