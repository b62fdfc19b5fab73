"""``.muxc/state/``: where a project's build state lives, git-ignored, one build at a time.

The directory gets a ``.gitignore`` of ``*`` the first time it is made, so state never reaches a
repository. ``BuildLock`` is an advisory lock (flock) on ``.muxc/state/lock``: a second build in the
same project stops with a message naming the first one's pid; the kernel releases the lock when
its process dies, even by ``kill -9``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

APPLY_JOURNAL = "apply-journal"  # what an apply step under way must undo if the build dies (run.applyjournal)
RECOVERED = "recovered"  # pre-step bytes of files a killed apply could not put back


def state_dir(root: Path) -> Path:
    path = root / ".muxc" / "state"
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# muxc's build state: never commit it\n*\n")
    return path


class LockHeld(RuntimeError):
    pass


class BuildLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "lock"
        self._handle: int | None = None

    def acquire(self) -> None:
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 64).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            raise LockHeld(f"another muxc build is running in this project (pid {holder}); wait for it to "
                           "finish or stop it") from None
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            os.ftruncate(self._handle, 0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> BuildLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
