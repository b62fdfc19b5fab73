"""Start costs of managed backends: seconds from ``start`` to the first passing ``health``, kept
per backend in ``.muxc/state/backends.json`` as an exponential moving average (α = 0.3, the first
observation taken as it is), with the process that started a server still running it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALPHA = 0.3  # weight of the newest start-cost observation
COSTS_FILE = "backends.json"


def moving_average(previous: float | None, sample: float, alpha: float = ALPHA) -> float:
    """The first observation is taken as it is; later ones move the average by ``alpha``."""
    return sample if previous is None else alpha * sample + (1 - alpha) * previous


@dataclass(frozen=True)
class StartCost:
    average_s: float
    starts: int
    last_s: float


class CostBook:
    """Start costs per backend, persisted in ``backends.json`` (written atomically: a temporary
    file in the same directory, fsynced, then renamed; updates hold a lock file, so two muxc
    processes never lose each other's entries). ``path`` None keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> StartCost | None:
        entry = self._read().get(name)
        if not isinstance(entry, dict) or "start_s" not in entry:
            return None
        return StartCost(float(entry["start_s"]), int(entry.get("starts", 1)), float(entry.get("last_start_s", 0)))

    def all(self) -> dict[str, StartCost]:
        return {name: cost for name in self._read() if (cost := self.get(name)) is not None}

    def record(self, name: str, seconds: float) -> StartCost:
        entry = self._update(name, lambda entry: {
            **entry, "start_s": round(moving_average(entry.get("start_s"), seconds), 4),
            "starts": int(entry.get("starts", 0)) + 1, "last_start_s": round(seconds, 4),
            "updated": round(time.time(), 3)})
        return StartCost(entry["start_s"], entry["starts"], entry["last_start_s"])

    def mark_running(self, name: str, running: bool) -> None:
        """Record that this process started ``name`` (or no longer has it running)."""
        self._update(name, lambda entry: {**entry, "started_by_pid": os.getpid()} if running else
                     {key: value for key, value in entry.items() if key != "started_by_pid"})

    def _update(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Rewrite one backend's entry under both locks (written only when it changed)."""
        with self._lock, self._file_lock():
            data = self._read()
            entry = data.get(name) if isinstance(data.get(name), dict) else {}
            changed = change(entry)
            if changed != entry:
                data[name] = changed
                self._write(data)
        return changed

    def orphaned(self, name: str) -> bool:
        """True when a muxc process that has died started ``name`` and never stopped it."""
        entry = self._read().get(name)
        pid = entry.get("started_by_pid") if isinstance(entry, dict) else None
        if not isinstance(pid, int) or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, another user's
            return False
        return False

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        backends = data.get("backends") if isinstance(data, dict) else None
        return dict(backends) if isinstance(backends, dict) else {}

    def _write(self, backends: dict[str, Any]) -> None:
        if self.path is None:
            self._memory = backends
            return
        with contextlib.suppress(OSError):  # a lost average costs a less accurate note, nothing more
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".backends.", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w") as out:
                    json.dump({"version": 1, "backends": backends}, out, indent=1, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)


# -- the supervisor -----------------------------------------------------------------------------
