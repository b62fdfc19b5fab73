"""The no-op manifest: what one successful build read and what a rebuild of it would show.

One file per invocation (the workflow as named, the arguments, the team and routes asked for, the
directory) in ``.muxc/state/manifests/``, written atomically (``base.files.write_atomically``,
msgpack) when a ``muxc build`` succeeds, and read by ``muxc.app.fastpath`` before the engine is
imported. A manifest is only ever a hint: one that cannot be read (damaged, half-written by a
disk that filled up), that another muxc wrote, or that disagrees with the world in any way sends
the command down the full path, which writes a new one.

The cache database is read here with the standard library's ``sqlite3`` (not sqlite-utils, which
costs more to import than the whole decision): the digests of the ``latest`` rows of a workflow
and of the ``saved`` table, whether results are present, and a record by key for showing it.
Both the writer and the fast path compute those digests with the functions below.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import msgspec

from muxc.base.files import write_atomically
from muxc.store.records import StepRecord

MANIFEST_FORMAT = 1  # raise when a field changes meaning: older manifests are then ignored
DIRECTORY = "manifests"
KEEP = 64  # manifests kept per project (one per invocation); the oldest go
_CHUNK = 500  # keys per query: well under SQLite's limit on bound parameters


class StepEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    """One step as a rebuild with nothing changed shows it, and what its saved file must hold."""

    name: str
    kind: str
    status: str  # "cached" or "skipped"
    key: str = ""
    output_digest: str = ""
    reason: str = ""
    started: bool = False  # the executor decides it (an `if` or `for_each` step): it is seen to start
    record: StepRecord | None = None  # its result as the progress display sees it (executor-decided steps)
    target: str | None = None  # its saved file
    target_digest: str | None = None  # what that file holds (None: it must not exist)


class TreeEntry(msgspec.Struct, frozen=True):
    patterns: list[str] | None  # an `inputs` list as rendered; None: the project's state
    digest: str


class Manifest(msgspec.Struct, frozen=True):
    format: int
    version: str
    written_at: float  # time.time() when written: a clock now behind it is a reason to doubt
    workflow: str
    workflow_file: str  # the file the workflow argument resolved to
    final: str | None
    plan_key: str  # store.plancache's key: workflow text, config files, their env references, args
    env_names: list[str]  # the variables the steps' templates read (["*"]: every one)
    env_digest: str
    probes: dict[str, bool]  # path -> existed: the files team detection may look for
    exclude: list[str]  # the project-state exclusions (saved files) the build fingerprinted with
    exclude_files: list[str]
    trees: list[TreeEntry]
    latest_digest: str
    saved_digest: str
    steps: list[StepEntry]  # in the plan's order
    order: list[int]  # indexes into steps, in the order the engine meets them (progress events)


_DECODER = msgspec.msgpack.Decoder(Manifest)
_RECORD = msgspec.json.Decoder(StepRecord)


def manifest_path(state_dir: Path, identity: str) -> Path:
    return state_dir / DIRECTORY / f"{identity}.manifest"


def load(path: Path) -> Manifest | None:
    """The manifest at ``path``; None when missing, unreadable or of another format or muxc."""
    try:
        manifest = _DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    from muxc import __version__

    if manifest.format != MANIFEST_FORMAT or manifest.version != __version__:
        return None
    return manifest


def save(path: Path, manifest: Manifest) -> None:
    write_atomically(path, msgspec.msgpack.encode(manifest))
    _trim(path.parent)


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def _trim(directory: Path) -> None:
    entries = sorted(directory.glob("*.manifest"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)


def digest_of(value: object) -> str:
    return hashlib.blake2b(msgspec.msgpack.encode(value), digest_size=16).hexdigest()


# --- the cache database, read with the standard library ---------------------------------------


def connect(path: Path) -> sqlite3.Connection | None:
    """A read connection to ``cache.db``; None when there is none (a clean project)."""
    if not os.path.isfile(path):
        return None
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    conn.execute("pragma query_only = on")
    return conn


def latest_digest(conn: sqlite3.Connection, workflow: str) -> str:
    rows = conn.execute("select step, key, pre_key, output_digest from latest where workflow = ? order by step",
                        [workflow]).fetchall()
    return digest_of(rows)


def saved_digest(conn: sqlite3.Connection) -> str:
    return digest_of(conn.execute("select path, digest, key from saved order by path").fetchall())


def all_servable(conn: sqlite3.Connection, keys: Iterable[str]) -> bool:
    """Every key has a stored result that may be served (none removed, none distrusted)."""
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found = conn.execute(f"select count(*) from results where key in ({marks})", chunk).fetchone()[0]
        distrusted = conn.execute(f"select count(*) from distrusted where key in ({marks})", chunk).fetchone()[0]
        if found != len(chunk) or distrusted:
            return False
    return True


class RecordReader:
    """``get(key)``: a stored result, as ``ResultStore.get`` gives it (for showing cached steps)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> StepRecord | None:
        row = self._conn.execute("select record from results where key = ?", [key]).fetchone()
        return _RECORD.decode(row[0]) if row else None

    def close(self) -> None:
        self._conn.close()
