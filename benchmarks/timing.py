"""What the benchmark scripts share: timing a command as a user runs it, start-up included."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path


def median_process_seconds(argv: list[str], repeat: int, *, cwd: Path | None = None,
                           env: Mapping[str, str] | None = None, check: bool = False) -> float:
    """The median wall-clock time of ``repeat`` runs of ``argv``; ``check`` makes a failed run an
    error (a figure from a run that failed would mean nothing)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=check, capture_output=True, cwd=cwd, env=env)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)
