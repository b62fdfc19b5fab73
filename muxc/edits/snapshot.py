"""Record the files an apply may touch, and put them back exactly.

``Snapshot.take(root, paths)`` runs before the first attempt and records, for every path,
whether it exists, its exact bytes and its permission bits, and which of its parent
directories are missing. ``restore()`` writes every recorded file back byte for byte (and
mode), removes files that did not exist, and removes the directories that did not exist,
if they are empty now, deepest first.

Invariants: git is never used (no checkout, no stash), so the user's uncommitted changes in
the same files come back exactly as they were; files that already hold their recorded bytes
are not rewritten (their timestamps stay); ``extend`` adds paths for a retry without
changing what was recorded for paths already in the snapshot; a restore never raises, it
reports what it did and what it could not do.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from muxc.base.confine import resolve_inside
from muxc.edits.files import atomic_write, missing_parents, read_state, remove_empty_dirs


class FileRecord(msgspec.Struct, frozen=True):
    path: str  # relative to the snapshot's root, symlinks resolved
    content: bytes | None  # None: the file did not exist
    mode: int | None = None
    missing_dirs: tuple[str, ...] = ()  # its ancestors that did not exist

    @property
    def existed(self) -> bool:
        return self.content is not None


class RestoreReport(msgspec.Struct, frozen=True):
    restored: tuple[str, ...] = ()  # written back
    removed: tuple[str, ...] = ()  # created by the attempt, now deleted
    unchanged: tuple[str, ...] = ()  # already as recorded
    removed_dirs: tuple[str, ...] = ()
    kept_dirs: tuple[str, ...] = ()  # created by the attempt but not empty (someone else's files)
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def summary(self) -> str:
        counts = [
            (len(self.restored), "restored"),
            (len(self.removed), "removed"),
            (len(self.removed_dirs), "directories removed"),
            (len(self.problems), "problems"),
        ]
        said = [f"{count} {what}" for count, what in counts if count]
        return "rollback: " + (", ".join(said) if said else "nothing to undo")


class Snapshot(msgspec.Struct, frozen=True):
    root: str  # resolved
    records: tuple[FileRecord, ...] = ()
    refused: tuple[str, ...] = ()  # paths not recorded, with the rule they break

    @classmethod
    def take(cls, root: Path, paths: Iterable[str]) -> Snapshot:
        """Record ``paths`` (relative to ``root``) as they are now."""
        return cls(str(root.resolve())).extend(paths)

    def extend(self, paths: Iterable[str]) -> Snapshot:
        """A snapshot that also records ``paths``; paths already recorded keep their record."""
        records = {record.path: record for record in self.records}
        refused = list(self.refused)
        for raw in paths:
            record = _record(Path(self.root), raw)
            if isinstance(record, str):
                refused.append(record)
            else:
                records.setdefault(record.path, record)
        return Snapshot(self.root, tuple(records.values()), tuple(dict.fromkeys(refused)))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(record.path for record in self.records)

    def restore(self) -> RestoreReport:
        """Put every recorded file back as it was; remove what did not exist."""
        root = Path(self.root)
        outcomes: dict[str, list[str]] = {"restored": [], "removed": [], "unchanged": [], "problems": []}
        for record in self.records:
            outcome, detail = _restore_file(root, record)
            outcomes[outcome].append(detail)
        missing = [directory for record in self.records for directory in record.missing_dirs]
        removed_dirs, kept_dirs = remove_empty_dirs(root, missing)
        return RestoreReport(
            **{name: tuple(items) for name, items in outcomes.items()},
            removed_dirs=tuple(removed_dirs),
            kept_dirs=tuple(kept_dirs),
        )


def _record(root: Path, raw: str) -> FileRecord | str:
    # The plan decided which tool files the step may write; a snapshot records exactly those paths
    # (to put them back), so it asks only the rules no step can lift.
    resolved = resolve_inside(root, raw, allow_tool_files=True)
    if isinstance(resolved, str):
        return resolved
    try:
        state = read_state(resolved.absolute)
    except OSError as error:
        return f"{resolved.relative} cannot be recorded: {error.strerror or error}"
    if state is None:
        return FileRecord(resolved.relative, None, None, tuple(missing_parents(root, resolved.relative)))
    return FileRecord(resolved.relative, state.content, state.mode)


def _restore_file(root: Path, record: FileRecord) -> tuple[str, str]:
    """(outcome, path or problem) for putting one file back."""
    path = root / record.path
    try:
        current = read_state(path)
        if record.content is None:
            return _remove(path, record.path, current is not None)
        if current is not None and current == (record.content, record.mode):
            return "unchanged", record.path
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, record.content, record.mode)
        return "restored", record.path
    except OSError as error:
        return "problems", f"{record.path}: {error.strerror or error}"


def _remove(path: Path, name: str, exists: bool) -> tuple[str, str]:
    if not exists:
        return "unchanged", name
    path.unlink()
    return "removed", name
