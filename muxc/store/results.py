"""The build cache: step results stored content-addressed by cache key, in ``.muxc/state/cache.db``.

Tables (sqlite-utils, migrations in ``_muxc_migrations``):
- ``results``: every successful result ever built, by key (kept until ``muxc clean``), with the
  key's components and the rendered texts (so ``muxc status`` can show what changed); switching
  an input back and forth costs nothing the second time;
- ``memo``: pre-key (everything rendering reads) -> key, so a rebuild need not render templates;
- ``latest``: per workflow and step, the last key and pre-key, and what muxc last wrote to the
  step's saved file. A build reads all of a workflow's rows at once: a step whose pre-key equals
  its latest one is up to date without a single further query;
- ``trees``: file listings (path -> digest) behind project and input fingerprints, for status;
- ``saved``: every file muxc has saved, by path relative to the project root, with the digest of
  the bytes it wrote and the key of the result they came from, whichever workflow wrote it: a file
  is muxc's own when it still holds those bytes (a renamed workflow, or an argument that moved
  the save path, never turns muxc's file into a "hand edit" or into project state);
- ``distrusted``: results an older muxc stored that must not be served (key -> why). Earlier muxc
  took a malformed LLM answer (a null content, a stream with an unreadable chunk) for an empty one
  and cached it as a success; migration 0004 lists every LLM answer cached empty, once, when a
  newer muxc first opens the cache. Such a result is a miss (``lookup``, ``distrusted``), ``status``
  says why, and the step's next successful run replaces it. Answers cached since are trusted, empty
  or not: an empty answer is legitimate when the model stopped on its own. Validating at the
  upgrade, not on every read, keeps the fast path free of reads; bumping the key format instead
  would have paid again for every cached LLM call.

Invariant: a result is committed the moment its step finishes (WAL), so ``kill -9`` loses nothing
that finished. A step's writes — its result, its latest row, and the memo entries and file
listings noted since the last commit — go in one transaction (``batch``): one commit per step
instead of one per statement. Memo entries and listings alone wait for the next commit (or
``close``): each only saves work, and a step's own are committed with its result.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from muxc.store.records import Latest, SavedFile, StepRecord, UsageRecord  # noqa: F401 (re-exported)
from muxc.store.sqlite import MuxcMigrations, connect_plain, immediate, migrate

if TYPE_CHECKING:
    from sqlite_utils import Database

# What the migrations below give a new file, created at once (tests/run/test_store_schema.py
# holds the two to the same schema: a new migration changes this too).
FRESH_SCHEMA = (
    'CREATE TABLE "results" (\n   "key" TEXT PRIMARY KEY,\n   "step" TEXT,\n   "workflow" TEXT,\n   "record" TEXT,\n'
    '   "output_digest" TEXT,\n   "created_at" REAL,\n   "components" TEXT,\n   "rendered" TEXT\n)',
    'CREATE TABLE "memo" (\n   "pre_key" TEXT PRIMARY KEY,\n   "key" TEXT\n)',
    'CREATE TABLE "latest" (\n   "workflow" TEXT,\n   "step" TEXT,\n   "key" TEXT,\n   "pre_key" TEXT,\n'
    '   "output_digest" TEXT,\n   "created_at" REAL,\n   "target" TEXT,\n   "target_digest" TEXT,\n'
    '   PRIMARY KEY ("workflow", "step")\n)',
    'CREATE TABLE "trees" (\n   "digest" TEXT PRIMARY KEY,\n   "files" TEXT\n)',
    'CREATE TABLE "saved" (\n   "path" TEXT PRIMARY KEY,\n   "digest" TEXT,\n   "key" TEXT,\n   "workflow" TEXT,\n'
    '   "step" TEXT\n)',
    'CREATE TABLE "distrusted" (\n   "key" TEXT PRIMARY KEY,\n   "reason" TEXT\n)',
)
MIGRATIONS = MuxcMigrations("muxc.results", fresh=FRESH_SCHEMA)


@MIGRATIONS(name="0001_results")
def _create(db: Database) -> None:
    db["results"].create({"key": str, "step": str, "workflow": str, "record": str, "output_digest": str,
                          "created_at": float, "components": str, "rendered": str}, pk="key")
    db["memo"].create({"pre_key": str, "key": str}, pk="pre_key")
    db["latest"].create({"workflow": str, "step": str, "key": str, "pre_key": str, "output_digest": str,
                         "created_at": float, "target": str, "target_digest": str}, pk=("workflow", "step"))
    db["trees"].create({"digest": str, "files": str}, pk="digest")


@MIGRATIONS(name="0002_rebuild_pre_0_1_state")
def _rebuild_old(db: Database) -> None:
    """A state dir from a development build of muxc lacks pre-keys: it is only a cache, start over."""
    if "pre_key" in db["latest"].columns_dict and "components" in db["results"].columns_dict:
        return
    for table in ("results", "memo", "latest", "trees"):
        db[table].drop(ignore=True)
    _create(db)


@MIGRATIONS(name="0003_saved_files")
def _saved(db: Database) -> None:
    db["saved"].create({"path": str, "digest": str, "key": str, "workflow": str, "step": str}, pk="path")


DISTRUSTED_EMPTY = ("its cached answer is empty, and an earlier muxc cached malformed answers as empty ones: "
                    "asking again")


@MIGRATIONS(name="0004_distrust_empty_answers")
def _distrust_empty_answers(db: Database) -> None:
    """List every LLM answer cached empty so far: the bug's victims cannot be told from answers
    that were really empty, and asking again costs less than serving a wrong output forever."""
    db["distrusted"].create({"key": str, "reason": str}, pk="key", if_not_exists=True)
    # the LIKE only narrows the rows worth decoding to those holding an empty string
    rows = db.execute("""select key, record from results where record like '%:""%'""")
    db["distrusted"].insert_all(({"key": key, "reason": DISTRUSTED_EMPTY} for key, record in rows.fetchall()
                                 if _empty_answer(_RECORD.decode(record))), replace=True)


def _empty_answer(record: StepRecord) -> bool:
    """An LLM's answer (only a query's result names a backend) with an empty text in it."""
    return record.backend is not None and (record.output == "" or "" in record.outputs.values())


_ENCODER = msgspec.json.Encoder()
_RECORD = msgspec.json.Decoder(StepRecord)


def open_store(path: Path) -> tuple[ResultStore, str | None]:
    """The store at ``path``, and a note when a damaged file had to be set aside.

    The store is a cache: a file SQLite cannot read (a disk that filled up, a bad copy) is moved
    to ``cache.db.damaged`` and the build starts afresh instead of failing with a traceback."""
    try:
        return ResultStore(path), None
    except sqlite3.DatabaseError as error:
        aside = path.with_name(path.name + ".damaged")
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return ResultStore(path), (f"the build cache {path.name} could not be read ({error}); it was moved to "
                                   f"{aside.name} and every step builds again")


class ResultStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect_plain(path)  # plain sqlite3: sqlite-utils only for migrations
        migrate(self._conn, path, MIGRATIONS)
        self._lock = threading.Lock()
        # Reads get their own connection: in WAL mode they never wait for a writer, so the thread
        # deciding what is up to date is not held up by workers storing results.
        self._reader = connect_plain(path)
        self._read_lock = threading.Lock()
        # small (what the upgrade found), so kept in memory: the fast path pays nothing for it
        self._distrusted: dict[str, str] = dict(self._reader.execute("select key, reason from distrusted"))
        self._local = threading.local()  # .batch: the writes of this thread's open ``batch``
        # memo entries and file listings not committed yet (they ride on the next commit); the
        # listings also by digest, so ``tree`` finds one before it is committed
        self._deferred: list[tuple[str, list[Any]]] = []
        self._deferred_trees: dict[str, str] = {}

    def close(self) -> None:
        with self._lock, self._read_lock:
            with contextlib.suppress(sqlite3.Error):  # deferred writes only save work later
                self._commit([])
            self._reader.close()
            self._conn.close()

    # writes
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes inside the block commit together when it ends, with
        the deferred ones: one transaction instead of one per statement (a step's result and
        its latest row). Nested blocks join the outer one."""
        if getattr(self._local, "batch", None) is not None:
            yield
            return
        self._local.batch = writes = []
        try:
            yield
        finally:  # even after an error: what was written stands, as it would have unbatched
            self._local.batch = None
            with self._lock:
                self._commit(writes)

    def _write(self, sql: str, params: list[Any]) -> None:
        """One write: with the thread's batch when one is open, else committed at once."""
        writes = getattr(self._local, "batch", None)
        if writes is not None:
            writes.append((sql, params))
            return
        with self._lock:
            self._commit([(sql, params)])

    def _defer(self, sql: str, params: list[Any]) -> None:
        """A write that only saves work later: committed with the next commit, whoever makes it."""
        with self._lock:
            self._deferred.append((sql, params))

    def _commit(self, writes: list[tuple[str, list[Any]]]) -> None:
        """Run the deferred writes and ``writes`` in one transaction (the caller holds the lock)."""
        writes = [*self._deferred, *writes]
        self._deferred, self._deferred_trees = [], {}
        if not writes:
            return
        if len(writes) == 1:  # autocommit: no BEGIN/COMMIT round trips
            self._conn.execute(*writes[0])
            return
        with immediate(self._conn):
            for sql, params in writes:
                self._conn.execute(sql, params)

    def _one(self, sql: str, params: list[Any]) -> Any:
        with self._read_lock:
            return self._reader.execute(sql, params).fetchone()

    # results
    def lookup(self, key: str) -> tuple[str, float] | None:
        """(output digest, created_at) of a stored result that may be served, without loading it."""
        if key in self._distrusted:
            return None
        row = self._one("select output_digest, created_at from results where key = ?", [key])
        return (row[0], row[1]) if row else None

    def distrusted(self, key: str) -> str | None:
        """Why the result stored under ``key`` must not be served, if it must not (see the top)."""
        return self._distrusted.get(key)

    def get(self, key: str) -> StepRecord | None:
        row = self._one("select record from results where key = ?", [key])
        return _RECORD.decode(row[0]) if row else None

    def details(self, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        """(components, rendered texts) a result was built from; empty when unknown."""
        row = self._one("select components, rendered from results where key = ?", [key])
        if not row or not row[0]:
            return {}, {}
        return msgspec.json.decode(row[0]), msgspec.json.decode(row[1] or "{}")

    def put(self, record: StepRecord, workflow: str, output_digest: str, components: dict[str, Any],
            rendered: dict[str, str]) -> None:
        values = [record.key, record.step, workflow, _ENCODER.encode(record).decode(), output_digest,
                  record.created_at or time.time(), _ENCODER.encode(components).decode(),
                  _ENCODER.encode(rendered).decode()]
        self._write("insert or replace into results (key, step, workflow, record, output_digest, created_at, "
                    "components, rendered) values (?, ?, ?, ?, ?, ?, ?, ?)", values)
        if self._distrusted.pop(record.key, None) is not None:  # built again: the new result is good
            self._write("delete from distrusted where key = ?", [record.key])

    # memo
    def memo(self, pre_key: str) -> str | None:
        row = self._one("select key from memo where pre_key = ?", [pre_key])
        return row[0] if row else None

    def remember(self, pre_key: str, key: str) -> None:
        """Deferred (see the top): the step's result, if it gets one, is committed with it."""
        self._defer("insert or replace into memo (pre_key, key) values (?, ?)", [pre_key, key])

    # latest
    def latest(self, workflow: str, step: str) -> Latest | None:
        row = self._one("select key, pre_key, output_digest, created_at, target, target_digest from latest "
                        "where workflow = ? and step = ?", [workflow, step])
        return Latest(*row) if row else None

    def latest_all(self, workflow: str) -> dict[str, Latest]:
        """Every step's latest row for a workflow, in one query (the rebuild fast path)."""
        with self._read_lock:
            rows = self._reader.execute("select step, key, pre_key, output_digest, created_at, target, target_digest "
                                      "from latest where workflow = ?", [workflow]).fetchall()
        return {row[0]: Latest(*row[1:]) for row in rows}

    def set_latest(self, workflow: str, step: str, latest: Latest) -> None:
        self._write("insert or replace into latest (workflow, step, key, pre_key, output_digest, created_at, target, "
                    "target_digest) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [workflow, step, latest.key, latest.pre_key, latest.output_digest, latest.created_at,
                     latest.target, latest.target_digest])

    # saved files
    def saved_all(self) -> dict[str, SavedFile]:
        """Every file muxc has saved, in one query (the rebuild fast path checks them)."""
        with self._read_lock:
            rows = self._reader.execute("select path, digest, key, workflow, step from saved").fetchall()
        return {row[0]: SavedFile(*row[1:]) for row in rows}

    def set_saved(self, path: str, saved: SavedFile) -> None:
        self._write("insert or replace into saved (path, digest, key, workflow, step) values (?, ?, ?, ?, ?)",
                    [path, saved.digest, saved.key, saved.workflow, saved.step])

    # trees
    def tree(self, digest: str) -> dict[str, str] | None:
        with self._lock:
            pending = self._deferred_trees.get(digest)
        row = [pending] if pending is not None else self._one("select files from trees where digest = ?", [digest])
        return msgspec.json.decode(row[0]) if row else None

    def put_tree(self, digest: str, files: dict[str, str]) -> None:
        """Deferred (see the top): a listing only explains changes later. One already stored is
        kept (the digest names its content), so callers need not look it up first."""
        text = _ENCODER.encode(files).decode()
        with self._lock:
            self._deferred.append(("insert or ignore into trees (digest, files) values (?, ?)", [digest, text]))
            self._deferred_trees[digest] = text

    # maintenance
    def forget(self, workflow: str, step: str) -> int:
        """Drop every result of a step (all keys, all items) and its latest rows; returns results dropped.

        A result is stored once per key, under the workflow and step that last wrote it; the same
        key may serve a renamed step or an identical step of another workflow. So the results the
        step's latest rows point at go too, whoever wrote them."""
        with self._lock:
            self._commit([])  # deferred memo entries first, so none outlives the results it points at
            dropped = self._conn.execute(
                "delete from results where (workflow = ? and step = ?) or key in "
                "(select key from latest where workflow = ? and (step = ? or step like ?))",
                [workflow, step, workflow, step, f"{step}[%"]).rowcount
            self._conn.execute("delete from latest where workflow = ? and (step = ? or step like ?)",
                               [workflow, step, f"{step}[%"])
            self._conn.execute("delete from memo where key not in (select key from results)")
        return dropped

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._commit([])
            return {t: self._conn.execute(f"select count(*) from {t}").fetchone()[0]
                    for t in ("results", "memo", "latest", "trees")}

    # the remote cache (muxc.store.remote.transfer)
    def keys(self) -> list[str]:
        """Every stored result's key."""
        with self._read_lock:
            return [row[0] for row in self._reader.execute("select key from results").fetchall()]

    def workflow_of(self, key: str) -> str | None:
        row = self._one("select workflow from results where key = ?", [key])
        return row[0] if row else None
