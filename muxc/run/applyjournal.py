"""The journal of the apply step under way: a build killed mid-apply leaves no edited file behind.

An apply step keeps its files' pre-step bytes in memory (``edits.Snapshot``) to roll back, and
that memory dies with a ``kill -9``. So, before each attempt writes anything, the step saves its
snapshot and the digests of the bytes it is about to write to ``.muxc/state/apply-journal``; it
removes the journal when it ends, however it ends (applied, failed, rolled back, Ctrl-C).

A journal found when the next build starts means a build died mid-apply: those edits were never
verified (and a rerun of the step needs the files as they were). Every file still holding what
the apply wrote goes back to its pre-step bytes, created files and directories go away; a file
that changed since is left as it is, and its pre-step bytes are saved under
``.muxc/state/recovered/`` so nothing is lost either way.

Invariants: one apply runs at a time per project (the build lock, then the per-build apply lock),
so one journal file is enough; it is written atomically, so it is either the old or the new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from muxc.edits.files import atomic_write, read_state
from muxc.edits.snapshot import FileRecord, RestoreReport, Snapshot
from muxc.store.statedir import APPLY_JOURNAL, RECOVERED


class Journal(msgspec.Struct, frozen=True):
    workflow: str
    step: str
    snapshot: Snapshot
    # path -> the digests of what an attempt wrote there ("" for a file an attempt deleted)
    written: dict[str, list[str]] = {}


def digest(content: bytes | None) -> str:
    return "" if content is None else hashlib.sha256(content).hexdigest()


def save(state_dir: Path, journal: Journal) -> None:
    atomic_write(state_dir / APPLY_JOURNAL, msgspec.msgpack.encode(journal), 0o600)


def with_writes(journal: Journal, changes: Iterable[tuple[str, bytes | None]]) -> Journal:
    """The journal, also knowing the bytes an attempt is about to write."""
    written = {path: list(digests) for path, digests in journal.written.items()}
    for path, after in changes:
        digests = written.setdefault(path, [])
        if digest(after) not in digests:
            digests.append(digest(after))
    return msgspec.structs.replace(journal, written=written)


def clear(state_dir: Path) -> None:
    (state_dir / APPLY_JOURNAL).unlink(missing_ok=True)


def pending(state_dir: Path) -> Journal | None:
    """The journal a killed build left, or None. An unreadable one is dropped: it cannot be trusted."""
    path = state_dir / APPLY_JOURNAL
    try:
        return msgspec.msgpack.decode(path.read_bytes(), type=Journal)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError):
        path.unlink(missing_ok=True)
        return None


def recover(state_dir: Path, journal: Journal, root: Path) -> str:
    """Undo the journal's unverified edits in ``root`` (the project, even if it moved); returns
    what was done, for the user."""
    root = root.resolve()
    undo, kept = [], []
    for record in journal.snapshot.records:
        current = _current(root, record)
        if current == digest(record.content):
            continue
        (undo if current in journal.written.get(record.path, []) else kept).append(record)
    report = Snapshot(str(root), tuple(undo)).restore()
    saved = [_keep_pre(state_dir, journal, record) for record in kept]
    clear(state_dir)
    return _said(journal, report, saved)


def _current(root: Path, record: FileRecord) -> str | None:
    try:
        state = read_state(root / record.path)
    except OSError:
        return None  # neither pre nor post: left alone
    return digest(None if state is None else state.content)


def _keep_pre(state_dir: Path, journal: Journal, record: FileRecord) -> str:
    """Save a file's pre-step bytes where the user can find them; returns the note about it."""
    if record.content is None:
        return f"{record.path} (created by the apply, changed since)"
    target = state_dir / RECOVERED / journal.step / record.path
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, record.content, record.mode)
    return f"{record.path} (changed since; its pre-step bytes are in {target.relative_to(state_dir.parent.parent)})"


def _said(journal: Journal, report: RestoreReport, saved: list[str]) -> str:
    head = f"a build was killed while step `{journal.step}` of {journal.workflow} applied edits it never verified"
    parts = [f"{what} {', '.join(paths)}" for what, paths in (("restored", report.restored),
                                                              ("removed", report.removed)) if paths]
    parts += ["left " + "; ".join(saved)] if saved else []
    parts += [f"could not restore {problem}" for problem in report.problems]
    return head + ": " + ("; ".join(parts) if parts else "no file had been changed")
