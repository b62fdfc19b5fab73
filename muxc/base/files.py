"""Writing files so a crash or Ctrl-C never leaves one half-written: temp file, fsync, rename."""

from __future__ import annotations

import os
from pathlib import Path

# Temporary files start with this, so the project's fingerprint can tell them from the user's.
TEMP_PREFIX = ".muxc-tmp."


def is_temporary(name: str) -> bool:
    """True for a file ``write_atomically`` is writing (its base name), which is never project state."""
    return name.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)


def write_atomically(path: Path, data: bytes | str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    import tempfile  # here: reading muxc's files (the no-op fast path) never needs it

    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        elif path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
