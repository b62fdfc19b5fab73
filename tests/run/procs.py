"""Process helpers for the interruption and timeout tests (Linux /proc)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a killed orphan may wait to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for_pids(path: Path, count: int, timeout: float = 5.0) -> list[int]:
    """The pids written to ``path``, one a line, once ``count`` are there."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [int(line) for line in path.read_text().split()] if path.exists() else []
        if len(pids) >= count or time.monotonic() > deadline:
            assert len(pids) >= count, pids
            return pids
        time.sleep(0.02)


def wait_until(condition, timeout: float = 5.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def reap(process: subprocess.Popen[str]) -> None:
    """Kill a build the test did not end itself, and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.communicate()
