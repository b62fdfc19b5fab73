"""The result store's file: a new one is created from the schema its migrations end with (no
sqlite-utils, no replay), and that schema is exactly what the migrations give an older file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from muxc.store.results import MIGRATIONS, open_store
from muxc.store.sqlite import connect_plain


def schema(path: Path) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
    """(every table and index with its SQL, every migration recorded) of a file."""
    with sqlite3.connect(path) as conn:
        objects = conn.execute("select type, name, sql from sqlite_master order by name").fetchall()
        applied = conn.execute("select migration_set, name from _muxc_migrations order by id").fetchall()
    return objects, applied


def test_a_new_store_has_the_schema_the_migrations_give(tmp_path):
    store, _ = open_store(tmp_path / "new.db")
    store.close()
    replayed = connect_plain(tmp_path / "replayed.db")
    MIGRATIONS.apply(replayed)  # every migration, through sqlite-utils, as an older file gets them
    replayed.close()
    assert schema(tmp_path / "new.db") == schema(tmp_path / "replayed.db")
    assert [name for _, name in schema(tmp_path / "new.db")[1]] == MIGRATIONS.pending(sqlite3.connect(":memory:"))


def test_a_store_an_older_muxc_left_gets_the_migrations_it_lacks(tmp_path):
    path = tmp_path / "cache.db"
    store, _ = open_store(path)
    store.close()
    with sqlite3.connect(path) as conn:  # as muxc left it before the saved-files table existed
        conn.execute("drop table saved")
        conn.execute("delete from _muxc_migrations where name in ('0003_saved_files', '0004_distrust_empty_answers')")
    store, _ = open_store(path)
    store.close()
    assert schema(path) == schema_of_new(tmp_path)


def schema_of_new(tmp_path: Path) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
    store, _ = open_store(tmp_path / "reference.db")
    store.close()
    return schema(tmp_path / "reference.db")


def test_opening_a_store_new_or_not_does_not_load_sqlite_utils(tmp_path):
    probe = ("import sys; from pathlib import Path; from muxc.store.results import open_store; "
             f"[open_store(Path({str(tmp_path / 'cache.db')!r}))[0].close() for _ in range(2)]; "
             "print('sqlite_utils' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"
