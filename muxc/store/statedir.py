"""``.muxc/state/``: where a project's build state lives, git-ignored, one build at a time.

The directory gets a ``.gitignore`` of ``*`` the first time it is made, so state never reaches a
repository. ``BuildLock`` is an advisory lock (flock) on ``.muxc/state/lock``: a second build in the
same project stops with a message naming the first one's pid; the kernel releases the lock when
its process dies, even by ``kill -9``.

Every entry muxc keeps there has a kind (file or directory). One of the wrong kind — a directory
``cache.db``, a file ``.muxc/state`` — is put right when nothing is lost (an empty directory where a
file goes; a stray file where a cache directory goes), else it is a ``StateError`` naming the
path and the fix, which the command line prints without a traceback (exit status 3). A directory
that is not empty is never deleted: what is inside may be someone's work.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from pathlib import Path

APPLY_JOURNAL = "apply-journal"  # what an apply step under way must undo if the build dies (run.applyjournal)
RECOVERED = "recovered"  # pre-step bytes of files a killed apply could not put back
PLANS = "plans"  # compiled plans (run.plancache)


class StateError(RuntimeError):
    """A path muxc keeps its state in is of the wrong kind; the message names it and says what to do."""


class _Entry:
    def __init__(self, what: str, directory: bool = False, cache: bool = False) -> None:
        self.what = what  # "the build lock": what muxc keeps there
        self.directory = directory
        self.cache = cache  # muxc rebuilds it from nothing: a stray file in its place can go


_ENTRIES = {
    "lock": _Entry("the build lock"),
    "cache.db": _Entry("the build cache"),
    **{f"cache.db{suffix}": _Entry("part of the build cache") for suffix in (".lock", "-wal", "-shm")},
    APPLY_JOURNAL: _Entry("the journal of an apply step under way"),
    "stat-cache": _Entry("the file fingerprints"),
    "backends.json": _Entry("the start costs of managed backends"),
    PLANS: _Entry("compiled plans", directory=True, cache=True),
    RECOVERED: _Entry("what a killed apply step could not put back", directory=True),
    "backends": _Entry("the hook logs of managed backends", directory=True),
}


def state_dir(root: Path) -> Path:
    """``ROOT/.muxc/state``, made if missing, every entry of the right kind; raises ``StateError``."""
    path = root / ".muxc" / "state"
    need_directory(root / ".muxc", "its config, workflows and build state")
    need_directory(path, "the build state")
    path.mkdir(parents=True, exist_ok=True)
    for name, entry in _ENTRIES.items():
        _settle(path / name, entry)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# muxc's build state: never commit it\n*\n")
    return path


def need_directory(path: Path, what: str) -> None:
    """Raise ``StateError`` if ``path`` exists and is not a directory (a missing one can be made)."""
    if os.path.lexists(path) and not path.is_dir():
        raise StateError(f"{path} is a file, but muxc keeps {what} in a directory of that name: "
                         f"move the file away or remove it ({_command('rm', path)}), then run muxc again")


def _settle(path: Path, entry: _Entry) -> None:
    if not os.path.lexists(path) or path.is_dir() == entry.directory:
        return
    if not entry.directory and _remove_empty_directory(path):
        return  # an empty directory where a file goes: nothing is lost
    if entry.directory and entry.cache:
        path.unlink()  # a stray file where a cache goes, as `muxc clean` would
        return
    kind, wanted = ("a directory", "a file") if path.is_dir() else ("a file", "a directory")
    rm = _command("rm -r" if path.is_dir() else "rm", path)
    raise StateError(f"{path} is {kind}, but muxc keeps {entry.what} there in {wanted}: "
                     f"remove it ({rm}), then run muxc again")


def _remove_empty_directory(path: Path) -> bool:
    try:
        path.rmdir()
    except OSError:  # not empty, or not ours to remove
        return False
    return True


def _command(verb: str, path: Path) -> str:
    return f"{verb} {shlex.quote(str(path))}"


class LockHeld(RuntimeError):
    pass


class BuildLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "lock"
        self._handle: int | None = None

    def acquire(self) -> None:
        need_directory(self.path.parent, "the build state")
        _settle(self.path, _ENTRIES["lock"])
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


def lock_holder(directory: Path) -> str | None:
    """The pid of the build holding the lock, without taking it ("unknown" if it did not say), or
    None when no build runs. A reader that only looks (``muxc status``) asks this instead of waiting."""
    path = directory / "lock"
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(handle, 64).decode(errors="replace").strip() or "unknown"
    else:
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None
    finally:
        os.close(handle)
