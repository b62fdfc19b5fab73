"""The few file operations the edit engine and its rollback share.

Invariants: a file is replaced atomically (a temporary file in the same directory, then
``os.replace``), so a crash leaves either the old or the new bytes, never half; a replaced
file keeps the permission bits it is given; a new file gets the user's umask. Directories
are removed only when empty.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import NamedTuple


class FileState(NamedTuple):
    content: bytes
    mode: int  # permission bits only (stat.S_IMODE)


def read_state(path: Path) -> FileState | None:
    """The file's bytes and permission bits, or None if nothing is there.

    Raises OSError for what the caller must report (a directory, unreadable file).
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # a file where a directory should be
        return None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path.name} is a directory")
    if not stat.S_ISREG(info.st_mode):
        # Reading a FIFO would block forever; devices and sockets are no business of ours.
        raise OSError(f"{path.name} is not a regular file")
    return FileState(path.read_bytes(), stat.S_IMODE(info.st_mode))


def atomic_write(path: Path, content: bytes, mode: int | None) -> None:
    """Replace ``path`` with ``content``; ``mode`` None means a new file (umask applies)."""
    temporary = path.with_name(f".{path.name}.muxc-{secrets.token_hex(4)}.tmp")
    descriptor = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666
    )
    try:
        _write_all(descriptor, content, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_all(descriptor: int, content: bytes, mode: int | None) -> None:
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view) :]
        if mode is not None:
            os.fchmod(descriptor, mode)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def missing_parents(root: Path, relative: str) -> list[str]:
    """The ancestors of ``relative`` (inside ``root``) that do not exist, shallowest first."""
    parts = relative.split("/")[:-1]
    missing = []
    for depth in range(1, len(parts) + 1):
        directory = "/".join(parts[:depth])
        if missing or not (root / directory).exists():
            missing.append(directory)
    return missing


def make_parents(root: Path, relative: str, created: list[str]) -> None:
    """Create the missing ancestors of ``relative``, adding each to ``created`` as it is made
    (so a failure half-way still leaves a complete record to undo)."""
    for directory in missing_parents(root, relative):
        (root / directory).mkdir()
        created.append(directory)


def remove_empty_dirs(root: Path, directories: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Remove those of ``directories`` that are empty, deepest first: (removed, kept)."""
    removed, kept = [], []
    for directory in sorted(set(directories), key=lambda name: (-name.count("/"), name)):
        path = root / directory
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            path.rmdir()
            removed.append(directory)
        except OSError:
            kept.append(directory)
    return removed, kept
