"""Opening muxc's SQLite files the same way everywhere: WAL, a busy timeout, shared-thread use,
and migrations recorded in ``_muxc_migrations`` (sqlite-utils' migrations table).

Callers serialise use of one connection with their own lock (``check_same_thread=False``); several
processes may use the same file (WAL, busy timeout). ``migrate`` holds an advisory lock beside the file,
so two processes creating the same file at once do not both run the first migration.

sqlite-utils costs about 20 ms to import, so a build does without it: ``connect_plain`` gives a
plain ``sqlite3`` connection, and ``migrate`` reads what is pending with plain SQL and imports
sqlite-utils only to apply a migration to an older file. A brand-new file of a set that states
its final schema (``MuxcMigrations(name, fresh=...)``) is created from that schema at once, every
migration recorded as applied (a test holds the schema to what the migrations give). ``connect``
wraps the connection in sqlite-utils' ``Database`` for the stores that query through it; ``Database``, ``ForeignKey`` and
``Table`` are importable from here, loaded on first use.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database

BUSY_TIMEOUT_S = 30.0
MIGRATIONS_TABLE = "_muxc_migrations"
# the table (and index) sqlite-utils' Migrations creates, as it creates them
MIGRATIONS_SCHEMA = (
    f'CREATE TABLE "{MIGRATIONS_TABLE}" (\n   "id" INTEGER PRIMARY KEY,\n   "migration_set" TEXT,\n   "name" TEXT,\n'
    '   "applied_at" TEXT\n)',
    f'CREATE UNIQUE INDEX "idx_{MIGRATIONS_TABLE}_migration_set_name"\n    ON "{MIGRATIONS_TABLE}" ("migration_set", "name")',
)


def _import_sqlite_utils() -> Any:
    """sqlite-utils without numpy: it imports numpy when installed (the ``local`` extra brings it)
    only to recognise numpy values, which muxc never stores — and that import costs about 130 ms."""
    if "numpy" in sys.modules or "sqlite_utils" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` now raises ImportError
    try:
        import sqlite_utils
    finally:
        del sys.modules["numpy"]
    return sqlite_utils


def __getattr__(name: str) -> Any:
    """``Database``, ``ForeignKey``, ``Table``: sqlite-utils' own, imported on first use."""
    if name == "Database":
        return _import_sqlite_utils().Database
    if name in ("ForeignKey", "Table"):
        _import_sqlite_utils()
        from sqlite_utils import db

        return getattr(db, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class MuxcMigrations:
    """A named set of migrations (``@MIGRATIONS(name=...)`` on a function of a ``Database``),
    recorded as sqlite-utils' ``Migrations`` records them, in ``_muxc_migrations``."""

    def __init__(self, name: str, fresh: tuple[str, ...] = ()) -> None:
        """``fresh``: the statements that create what all the migrations give, for a new file."""
        self.name = name
        self.fresh = fresh
        self._steps: list[tuple[str, Callable[[Database], None]]] = []

    def __call__(self, *, name: str | None = None) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
        def register(function: Callable[[Database], None]) -> Callable[[Database], None]:
            step = name or function.__name__
            if any(known == step for known, _ in self._steps):
                raise ValueError(f"migration {step!r} is already in set {self.name!r}")
            self._steps.append((step, function))
            return function

        return register

    def pending(self, db: Database | sqlite3.Connection) -> list[str]:
        """The names not applied yet, read with plain SQL (an unreadable file raises)."""
        conn = _plain(db)
        known = conn.execute("select 1 from sqlite_master where type = 'table' and name = ?",
                             [MIGRATIONS_TABLE]).fetchone()
        applied = {row[0] for row in conn.execute(f"select name from {MIGRATIONS_TABLE} where migration_set = ?",
                                                  [self.name])} if known else set()
        return [step for step, _ in self._steps if step not in applied]

    def apply(self, db: Database | sqlite3.Connection) -> None:
        """Apply what is pending, each in its own transaction with its record (sqlite-utils)."""
        _import_sqlite_utils()
        from sqlite_utils import Database
        from sqlite_utils.migrations import Migrations

        class Recorded(Migrations):
            migrations_table = MIGRATIONS_TABLE

        recorded = Recorded(self.name)
        for step, function in self._steps:
            recorded(name=step)(function)
        recorded.apply(Database(db, execute_plugins=False) if isinstance(db, sqlite3.Connection) else db)

    def create_fresh(self, conn: sqlite3.Connection) -> bool:
        """A file with no table at all gets the final schema and every migration recorded, in
        one transaction; False (nothing done) when the file holds anything."""
        with immediate(conn):
            if not self.fresh or conn.execute("select count(*) from sqlite_master").fetchone()[0]:
                return False
            applied_at = str(datetime.datetime.now(datetime.UTC))  # as sqlite-utils writes it
            for statement in (*MIGRATIONS_SCHEMA, *self.fresh):
                conn.execute(statement)
            conn.executemany(f"insert into {MIGRATIONS_TABLE} (migration_set, name, applied_at) values (?, ?, ?)",
                             [(self.name, step, applied_at) for step, _ in self._steps])
        return True


@contextlib.contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction begun IMMEDIATE (the write lock is taken before anything is read):
    committed when the block ends, rolled back when it raises."""
    conn.execute("begin immediate")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


def _plain(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db if isinstance(db, sqlite3.Connection) else db.conn


def connect_plain(path: Path, *, foreign_keys: bool = False, autocommit: bool = True) -> sqlite3.Connection:
    """``autocommit``: every statement commits at once (the result store: a finished step is never
    lost); without it, callers group writes in their own transactions (``BEGIN IMMEDIATE``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                           isolation_level=None if autocommit else "DEFERRED")
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        with conn:
            conn.execute("PRAGMA journal_mode = wal")
    # In WAL mode NORMAL never corrupts the file, and a commit survives the process being killed
    # (kill -9): only a power loss can undo the last commits. FULL would fsync every commit.
    conn.execute("PRAGMA synchronous = NORMAL")
    if foreign_keys:
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def connect(path: Path, *, foreign_keys: bool = False, autocommit: bool = True) -> Database:
    """``connect_plain`` in sqlite-utils' ``Database``."""
    return _import_sqlite_utils().Database(connect_plain(path, foreign_keys=foreign_keys, autocommit=autocommit),
                                           execute_plugins=False)


def migrate(db: Database | sqlite3.Connection, path: Path, migrations: MuxcMigrations) -> None:
    """Apply pending migrations, one process at a time (an advisory lock beside the file)."""
    if not migrations.pending(db):
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if isinstance(db, sqlite3.Connection) and db.isolation_level is None and migrations.create_fresh(db):
                return
            migrations.apply(db)  # re-reads what is pending, so a second process applies nothing
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
