"""Remember compiled plans, so a rebuild of an unchanged workflow skips parsing and checking.

The cache key hashes everything the plan is derived from: muxc's version, the workflow file's
text, every config file's path and text, the arguments, the team asked for, and the values of
the environment variables the config files reference. Entries live in ``.muxc/state/plans/``
and are signed with a per-user secret (``<data dir>/plan-cache.key``, mode 0600): a plan file
that muxc did not write itself — say, one committed to a repository — is ignored, never loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from muxc import __version__
from muxc.base.files import write_atomically
from muxc.compile.keys import digest_value
from muxc.config.env import references

KEEP = 32  # plans kept per project; the oldest are removed
# Raise when what a plan holds changes meaning, so plans cached by an older muxc are not used.
PLAN_FORMAT = 2


def cache_key(workflow: Path, config_files: Iterable[Path], args: Mapping[str, str], team: str | None,
              environ: Mapping[str, str]) -> str | None:
    """None when a file cannot be read (then there is nothing safe to cache)."""
    try:
        configs = [(str(p), p.read_text(encoding="utf-8")) for p in config_files if p.is_file()]
        text = workflow.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    variables = sorted({name for _, body in configs for name, _, _, _ in references(body)})
    return digest_value({"version": __version__, "format": PLAN_FORMAT, "workflow": [str(workflow.resolve()), text], "configs": configs,
                         "args": dict(args), "team": team, "env": {v: environ.get(v) for v in variables},
                         "cwd": str(Path.cwd())})


def _secret(data_dir: Path) -> bytes:
    path = data_dir / "plan-cache.key"
    try:
        return path.read_bytes()
    except OSError:
        key = secrets.token_bytes(32)
        write_atomically(path, key, mode=0o600)
        return key


def load(directory: Path, key: str, data_dir: Path) -> Any | None:
    path = directory / f"{key}.plan"
    try:
        blob = path.read_bytes()
        secret = _secret(data_dir)
    except OSError:  # no entry, or no key to trust one with: a miss
        return None
    signature, payload = blob[:32], blob[32:]
    expected = hmac.new(secret, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        import pickle  # here: the no-op fast path computes keys without loading pickle

        return pickle.loads(payload)  # signed by this user's muxc: trusted
    except Exception:  # an old or damaged entry is just a miss
        return None


def save(directory: Path, key: str, data_dir: Path, value: Any) -> None:
    """Best effort: a plan that cannot be written only makes the next build check the workflow again."""
    import pickle

    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        signature = hmac.new(_secret(data_dir), payload, hashlib.sha256).digest()
        _make_directory(directory)
        write_atomically(directory / f"{key}.plan", signature + payload)
        _trim(directory)
    except OSError:
        return


def _make_directory(directory: Path) -> None:
    """The plans directory; a file in its place (never muxc's) is a stray in muxc's cache and goes."""
    if os.path.lexists(directory) and not directory.is_dir():
        directory.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def _trim(directory: Path) -> None:
    entries = sorted(directory.glob("*.plan"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
    os.utime(directory)
