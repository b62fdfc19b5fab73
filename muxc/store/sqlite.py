"""Opening muxc's SQLite files the same way everywhere: WAL, a busy timeout, shared-thread use,
and sqlite-utils migrations recorded in ``_muxc_migrations``.

Callers serialise use of one connection with their own lock (``check_same_thread=False``); several
processes may use the same file (WAL, busy timeout). ``migrate`` holds an advisory lock beside the file,
so two processes creating the same file at once do not both run the first migration.
"""

from __future__ import annotations

import fcntl
import sqlite3
import sys
from pathlib import Path


def _import_sqlite_utils() -> None:
    """Import sqlite-utils without numpy: it imports numpy when installed (the ``local`` extra
    brings it) only to recognise numpy values, which muxc never stores — and that import costs
    about 130 ms on every start."""
    if "numpy" in sys.modules or "sqlite_utils" in sys.modules:
        import sqlite_utils
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` now raises ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]


_import_sqlite_utils()

from sqlite_utils import Database  # noqa: E402
from sqlite_utils.migrations import Migrations  # noqa: E402

BUSY_TIMEOUT_S = 30.0


class MuxcMigrations(Migrations):
    migrations_table = "_muxc_migrations"


def connect(path: Path, *, foreign_keys: bool = False, autocommit: bool = True) -> Database:
    """``autocommit``: every statement commits at once (the result store: a finished step is never
    lost); without it, callers group writes in their own transactions (``BEGIN IMMEDIATE``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                           isolation_level=None if autocommit else "DEFERRED")
    db = Database(conn, execute_plugins=False)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    db.enable_wal()
    # In WAL mode NORMAL never corrupts the file, and a commit survives the process being killed
    # (kill -9): only a power loss can undo the last commits. FULL would fsync every commit.
    db.execute("PRAGMA synchronous = NORMAL")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys = ON")
    return db


def migrate(db: Database, path: Path, migrations: Migrations) -> None:
    """Apply pending migrations, one process at a time (an advisory lock beside the file)."""
    if not migrations.pending(db):
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            migrations.apply(db)  # re-reads what is pending, so a second process applies nothing
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
