"""The build cache: step results stored content-addressed by cache key, in ``.muxc/state/cache.db``.

Tables (sqlite-utils, migrations in ``_muxc_migrations``):
- ``results``: every successful result ever built, by key (kept until ``muxc clean``), so
  switching an input back and forth costs nothing the second time;
- ``memo``: pre-render fingerprint -> key, so a no-op rebuild need not render templates;
- ``latest``: per workflow and step, the last key built, with the key's components and the
  rendered texts, so ``muxc status`` can say what changed and show the difference;
- ``trees``: file listings (path -> digest) behind project and input fingerprints, for status.

Invariant: a result is committed the moment its step finishes (autocommit, WAL), so ``kill -9``
loses nothing that finished. doit's own database is only an index over this one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import msgspec
from sqlite_utils import Database

from muxc.store.sqlite import MuxcMigrations, connect, migrate

MIGRATIONS = MuxcMigrations("muxc.results")


@MIGRATIONS(name="0001_results")
def _create(db: Database) -> None:
    db["results"].create({"key": str, "step": str, "workflow": str, "record": str, "output_digest": str,
                          "created_at": float}, pk="key")
    db["memo"].create({"pre_key": str, "key": str}, pk="pre_key")
    db["latest"].create({"workflow": str, "step": str, "key": str, "output_digest": str, "components": str,
                         "rendered": str, "target": str, "target_digest": str, "created_at": float},
                        pk=("workflow", "step"))
    db["trees"].create({"digest": str, "files": str}, pk="digest")


class UsageRecord(msgspec.Struct, frozen=True):
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


class StepRecord(msgspec.Struct, frozen=True):
    """A step's result as templates see it (``steps.X.*``), plus bookkeeping."""

    key: str
    step: str
    output: str = ""
    outputs: dict[str, str] = {}
    failed: bool = False
    error: str | None = None
    skipped: bool = False
    backend: str | None = None
    backends: list[str] = []
    duration_ms: int = 0
    usage: UsageRecord = UsageRecord()
    items: list[str] = []  # for_each: the item keys, in order
    created_at: float = 0.0


class Latest(msgspec.Struct, frozen=True):
    key: str
    output_digest: str
    components: dict[str, Any]
    rendered: dict[str, str]
    target: str | None
    target_digest: str | None
    created_at: float


_ENCODER = msgspec.json.Encoder()
_RECORD = msgspec.json.Decoder(StepRecord)


class ResultStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._lock = threading.Lock()
        migrate(self._db, path, MIGRATIONS)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # results
    def lookup(self, key: str) -> tuple[str, float] | None:
        """(output digest, created_at) of a stored result, without loading it."""
        with self._lock:
            row = self._db.execute("select output_digest, created_at from results where key = ?", [key]).fetchone()
        return (row[0], row[1]) if row else None

    def get(self, key: str) -> StepRecord | None:
        with self._lock:
            row = self._db.execute("select record from results where key = ?", [key]).fetchone()
        return _RECORD.decode(row[0]) if row else None

    def put(self, record: StepRecord, workflow: str, output_digest: str) -> None:
        row = {"key": record.key, "step": record.step, "workflow": workflow, "output_digest": output_digest,
               "record": _ENCODER.encode(record).decode(), "created_at": record.created_at or time.time()}
        with self._lock:
            self._db["results"].upsert(row, pk="key")

    # memo
    def memo(self, pre_key: str) -> str | None:
        with self._lock:
            row = self._db.execute("select key from memo where pre_key = ?", [pre_key]).fetchone()
        return row[0] if row else None

    def remember(self, pre_key: str, key: str) -> None:
        with self._lock:
            self._db["memo"].upsert({"pre_key": pre_key, "key": key}, pk="pre_key")

    # latest
    def latest(self, workflow: str, step: str) -> Latest | None:
        with self._lock:
            row = self._db.execute("select key, output_digest, components, rendered, target, target_digest, "
                                   "created_at from latest where workflow = ? and step = ?",
                                   [workflow, step]).fetchone()
        if row is None:
            return None
        return Latest(row[0], row[1], msgspec.json.decode(row[2]), msgspec.json.decode(row[3]), row[4], row[5],
                      row[6])

    def set_latest(self, workflow: str, step: str, latest: Latest) -> None:
        row = {"workflow": workflow, "step": step, "key": latest.key, "output_digest": latest.output_digest,
               "components": _ENCODER.encode(latest.components).decode(),
               "rendered": _ENCODER.encode(latest.rendered).decode(), "target": latest.target,
               "target_digest": latest.target_digest, "created_at": latest.created_at}
        with self._lock:
            self._db["latest"].upsert(row, pk=("workflow", "step"))

    # trees
    def tree(self, digest: str) -> dict[str, str] | None:
        with self._lock:
            row = self._db.execute("select files from trees where digest = ?", [digest]).fetchone()
        return msgspec.json.decode(row[0]) if row else None

    def put_tree(self, digest: str, files: dict[str, str]) -> None:
        with self._lock:
            self._db["trees"].upsert({"digest": digest, "files": _ENCODER.encode(files).decode()}, pk="digest")

    # maintenance
    def forget(self, workflow: str, step: str) -> int:
        """Drop every result of a step (all keys) and its latest record; returns results dropped."""
        with self._lock:
            dropped = self._db.execute("delete from results where workflow = ? and step = ?",
                                       [workflow, step]).rowcount
            self._db.execute("delete from latest where workflow = ? and step = ?", [workflow, step])
            self._db.execute("delete from memo where key not in (select key from results)")
        return dropped

    def clean(self) -> int:
        with self._lock:
            count = self._db.execute("select count(*) from results").fetchone()[0]
            for table in ("results", "memo", "latest", "trees"):
                self._db.execute(f"delete from {table}")
            self._db.execute("vacuum")
        return count

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {t: self._db.execute(f"select count(*) from {t}").fetchone()[0]
                    for t in ("results", "memo", "latest", "trees")}
