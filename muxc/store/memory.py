"""The memory database: what store steps learn about an ecosystem, kept in SQLite.

One file per ecosystem, ``<base_dir>/memory/<ecosystem>.db``, with llm-mux's tables and columns
(reference §1.9): ``facts``, ``project_relationships``, ``entities``, ``entity_properties``
(history through ``valid_from``/``valid_to``), ``findings`` and ``workflow_runs``, plus FTS5
indexes over facts and findings. Every table is created and written through sqlite-utils; the
schema is a list of migrations recorded in ``_muxc_migrations`` and applied on open.

What differs from llm-mux, on purpose:

- no item is dropped silently: every skipped item is a warning naming its array, its index and
  the missing keys; relationships also accept ``from_entity``/``to_entity``/``relationship_type``
  (and ``from_project``/``to_project``), entities ``name``/``type``;
- relationship ``metadata`` is real JSON, built with ``json.dumps``;
- ``findings`` are written (deduplicated on project, category, description and location);
- ``workflow_runs`` rows are written by :meth:`MemoryDB.record_run`;
- a fact with no ``project`` takes the caller's ``project_default`` (the detected project);
- an unchanged fact or relationship is not rewritten, so ``updated_at`` means "last changed".

Invariants: timestamps are RFC 3339 UTC with microseconds, from the injected ``now`` clock; each
store is one ``BEGIN IMMEDIATE`` transaction, and the file is in WAL mode with a busy timeout, so
concurrent writers (threads or processes) serialise instead of failing or corrupting it; one
MemoryDB may also be shared between threads. User-data problems are returned in the
:class:`StoreReport`, never raised.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from muxc.base.text import plural
from muxc.store.sqlite import (  # sqlite-utils' own names, imported the light way (without numpy)
    Database,
    ForeignKey,
    MuxcMigrations,
    Table,
    connect,
    immediate,
)

Clock = Callable[[], datetime]
KINDS = ("facts", "relationships", "entities", "findings")
BUSY_TIMEOUT_S = 30.0
_SAFE_NAME = re.compile(r"[^/\\\x00]+\Z")


# ---------------------------------------------------------------------------------------------
# Results


class KindCounts(msgspec.Struct, frozen=True):
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


class StoreReport(msgspec.Struct, frozen=True):
    """What one store did. ``error`` set means nothing was written."""

    path: str
    facts: KindCounts = KindCounts()
    relationships: KindCounts = KindCounts()
    entities: KindCounts = KindCounts()
    findings: KindCounts = KindCounts()
    properties_added: int = 0  # entity properties seen for the first time
    properties_changed: int = 0  # current values closed and replaced by a new one
    skipped: int = 0  # items not stored; each has a warning
    warnings: list[str] = []
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        """One line for the step output, e.g. 'Stored 3 facts, 1 relationship, ... in <path>'."""
        if self.error is not None:
            return f"Nothing stored in {self.path}: {self.error}"
        entities = plural(self.entities.total, "entity", "entities")
        if self.properties_changed:
            entities += f" ({plural(self.properties_changed, 'property', 'properties')} changed)"
        parts = [
            plural(self.facts.total, "fact"),
            plural(self.relationships.total, "relationship"),
            entities,
            plural(self.findings.total, "finding"),
        ]
        return f"Stored {', '.join(parts)} in {self.path}{self._tail()}"

    def _tail(self) -> str:
        tail = ""
        if self.skipped:
            tail += f"; {plural(self.skipped, 'item')} skipped"
        others = len(self.warnings) - self.skipped
        if others:
            tail += f"; {plural(others, 'warning')}"
        return tail


class _Tally:
    """The mutable counts of one store, frozen into a StoreReport at the end."""

    def __init__(self) -> None:
        self.counts = {kind: {"inserted": 0, "updated": 0, "unchanged": 0} for kind in KINDS}
        self.properties_added = self.properties_changed = self.skipped = 0
        self.warnings: list[str] = []

    def count(self, kind: str, outcome: str) -> None:
        self.counts[kind][outcome] += 1

    def skip(self, message: str) -> None:
        self.skipped += 1
        self.warnings.append(message)

    def report(self, path: str) -> StoreReport:
        counts = {kind: KindCounts(**self.counts[kind]) for kind in KINDS}
        return StoreReport(
            path,
            **counts,
            properties_added=self.properties_added,
            properties_changed=self.properties_changed,
            skipped=self.skipped,
            warnings=self.warnings,
        )


# ---------------------------------------------------------------------------------------------
# Schema


MIGRATIONS = MuxcMigrations("muxc.memory")


@MIGRATIONS(name="0001_llm_mux_tables")
def _create_tables(db: Database) -> None:
    """llm-mux's six tables, constraints and indexes (reference §1.9)."""
    _create_facts(db)
    _create_relationships(db)
    _create_workflow_runs(db)
    _create_findings(db)
    _create_entities(db)
    _create_entity_properties(db)


@MIGRATIONS(name="0002_full_text_search")
def _create_search(db: Database) -> None:
    # Triggers keep the indexes in step with every insert, update and delete.
    db["facts"].enable_fts(["fact", "category"], create_triggers=True, tokenize="porter")
    db["findings"].enable_fts(
        ["description", "category", "location"], create_triggers=True, tokenize="porter"
    )


def _create_facts(db: Database) -> None:
    facts = db["facts"].create(
        {
            "id": int,
            "ecosystem": str,
            "fact": str,
            "source": str,
            "source_type": str,
            "category": str,
            "confidence": float,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null=["ecosystem", "fact", "source", "confidence", "created_at", "updated_at"],
        defaults={"confidence": 1.0},
    )
    facts.create_index(["ecosystem", "fact", "source"], unique=True)
    _indexes(facts, "ecosystem", "source", "category", "source_type")


def _create_relationships(db: Database) -> None:
    table = db["project_relationships"].create(
        {
            "id": int,
            "ecosystem": str,
            "from_project": str,
            "to_project": str,
            "relationship_type": str,
            "metadata": str,
            "created_at": str,
        },
        pk="id",
        not_null=["ecosystem", "from_project", "to_project", "relationship_type", "created_at"],
    )
    table.create_index(["ecosystem", "from_project", "to_project", "relationship_type"], unique=True)
    _indexes(table, "ecosystem", "from_project", "to_project")


def _create_workflow_runs(db: Database) -> None:
    table = db["workflow_runs"].create(
        {
            "id": int,
            "ecosystem": str,
            "project": str,
            "workflow_name": str,
            "success": int,
            "duration_ms": int,
            "failed_step": str,
            "error_message": str,
            "output_dir": str,
            "created_at": str,
        },
        pk="id",
        not_null=["ecosystem", "workflow_name", "success", "created_at"],
    )
    _indexes(table, "ecosystem", "workflow_name", "created_at")


def _create_findings(db: Database) -> None:
    table = db["findings"].create(
        {
            "id": int,
            "ecosystem": str,
            "project": str,
            "category": str,
            "severity": str,
            "description": str,
            "location": str,
            "workflow_run_id": int,
            "status": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null=["ecosystem", "category", "description", "status", "created_at", "updated_at"],
        defaults={"status": "open"},
        foreign_keys=[("workflow_run_id", "workflow_runs", "id")],
    )
    _indexes(table, "ecosystem", "project", "status", "category")


def _create_entities(db: Database) -> None:
    table = db["entities"].create(
        {
            "id": int,
            "ecosystem": str,
            "project": str,
            "entity_type": str,
            "entity_name": str,
            "created_at": str,
        },
        pk="id",
        not_null=["ecosystem", "project", "entity_type", "entity_name", "created_at"],
    )
    table.create_index(["ecosystem", "project", "entity_type", "entity_name"], unique=True)
    _indexes(table, "ecosystem", "project", "entity_type", "entity_name")


def _create_entity_properties(db: Database) -> None:
    table = db["entity_properties"].create(
        {
            "id": int,
            "entity_id": int,
            "property_name": str,
            "property_value": str,
            "source": str,
            "source_type": str,
            "confidence": float,
            "valid_from": str,
            "valid_to": str,
            "created_at": str,
        },
        pk="id",
        not_null=["entity_id", "property_name", "valid_from", "created_at"],
        defaults={"confidence": 1.0},
        foreign_keys=[ForeignKey("entity_properties", "entity_id", "entities", "id", on_delete="CASCADE")],
    )
    table.create_index(["entity_id", "property_name", "valid_from"], unique=True)
    _indexes(table, "entity_id", "property_name", "valid_from", "valid_to")


def _indexes(table: Table, *columns: str) -> None:
    for column in columns:
        table.create_index([column])


# ---------------------------------------------------------------------------------------------
# Reading one store item


class _Item:
    """One store item: reads fields by canonical name or alias and collects what is wrong."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.missing: list[str] = []
        self.invalid: list[str] = []

    def text(self, name: str, *aliases: str, default: str | None = None, required: bool = True) -> str | None:
        """A non-empty text field; numbers and booleans are written as JSON text."""
        value = self._first(name, *aliases)
        if value is None:
            if default is None and required:
                self.missing.append(name)
            return default
        if isinstance(value, dict | list):
            self.invalid.append(f"'{name}' must be text, got {_json_kind(value)}")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def number(self, name: str, *, default: float | None = None) -> float | None:
        """A number field; numeric strings such as "0.9" are accepted, LLMs write them often."""
        value = self._first(name)
        if value is None:
            if default is None:
                self.missing.append(name)
            return default
        number = _as_number(value)
        if number is None:
            self.invalid.append(f"'{name}' must be a number, got {_json_kind(value)} {json.dumps(value)}")
        return number

    def problem(self) -> str | None:
        """Why this item cannot be stored, or None."""
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(f"'{name}'" for name in self.missing))
        return "; ".join(parts + self.invalid) or None

    def _first(self, *names: str) -> Any:
        # Blank strings count as absent: an LLM's "" is not a value worth storing.
        for name in names:
            value = self.data.get(name)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value
        return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return kinds.get(type(value), "number")


def _property_text(value: Any) -> str:
    """How a property value is stored: strings as they are, anything else as JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _payloads(data: Any) -> tuple[list[tuple[str, dict[str, Any]]], list[str], str | None]:
    """(labelled payload objects, warnings, error) for a store's top-level value."""
    if isinstance(data, dict):
        if any(kind in data for kind in KINDS):
            return [("", data)], [], None
        found = ", ".join(sorted(map(str, data))) or "none"
        return [], [], f"the JSON object has none of the arrays {', '.join(KINDS)} (keys found: {found})"
    if isinstance(data, list):
        return _list_payloads(data)
    return [], [], f"expected a JSON object with {', '.join(KINDS)} arrays, got {_json_kind(data)}"


def _list_payloads(data: list[Any]) -> tuple[list[tuple[str, dict[str, Any]]], list[str], str | None]:
    """A list of store objects, as several parallel or for_each answers give."""
    payloads, warnings = [], []
    for index, element in enumerate(data):
        if isinstance(element, dict) and any(kind in element for kind in KINDS):
            payloads.append((f"[{index}].", element))
        else:
            warnings.append(f"[{index}]: not an object with {', '.join(KINDS)} arrays; skipped")
    if not payloads:
        return [], [], f"expected a JSON object with {', '.join(KINDS)} arrays, got a list without any"
    return payloads, warnings, None


# ---------------------------------------------------------------------------------------------
# The database


class MemoryDB:
    """One ecosystem's memory database. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, db: Database, path: Path, ecosystem: str, now: Clock) -> None:
        self._db = db
        self.path = path
        self.ecosystem = ecosystem
        self._now = now
        self._lock = threading.RLock()  # one sqlite3 connection must not run two statements at once

    @classmethod
    def open(cls, base_dir: str | Path, ecosystem: str, *, now: Clock | None = None) -> MemoryDB:
        """Open (creating and migrating) ``<base_dir>/memory/<ecosystem>.db``.

        Raises ValueError for an ecosystem name that is not a plain file name.
        """
        if not _SAFE_NAME.match(ecosystem) or ecosystem.startswith("."):
            raise ValueError(f"ecosystem name {ecosystem!r} cannot name a database file")
        path = Path(base_dir) / "memory" / f"{ecosystem}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        memory = cls(_connect(path), path, ecosystem, now or _utc_now)
        try:
            memory._migrate()
        except BaseException:
            memory.close()
            raise
        return memory

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> MemoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        if not MIGRATIONS.pending(self._db):
            return
        # IMMEDIATE takes the write lock before reading what is applied, so two processes opening
        # a new file at once cannot both run the same migration.
        with self._writing():
            MIGRATIONS.apply(self._db)

    @contextmanager
    def _writing(self) -> Iterator[Database]:
        with self._lock, immediate(self._db.conn):
            yield self._db

    def _stamp(self) -> str:
        moment = self._now()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _rows(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._db.query(sql, params))

    def _one(self, table: str, where: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self._db[table].rows_where(where, params, limit=1)), None)

    # --- writing ---------------------------------------------------------------------------

    def store(self, data: Any, *, project_default: str | None, run_id: int | None = None) -> StoreReport:
        """Write a store step's JSON; see the module docstring for the mapping."""
        payloads, warnings, error = _payloads(data)
        if error is not None:
            return StoreReport(str(self.path), error=error)
        tally = _Tally()
        tally.warnings.extend(warnings)
        try:
            with self._writing():
                # One timestamp for the whole store: everything it writes happened at once.
                ctx = _Context(project_default, self._checked_run_id(run_id, tally), self._stamp())
                for prefix, payload in payloads:
                    self._store_payload(payload, prefix, ctx, tally)
        except sqlite3.Error as exc:
            return StoreReport(str(self.path), error=f"database error: {exc}")
        return tally.report(str(self.path))

    def _checked_run_id(self, run_id: int | None, tally: _Tally) -> int | None:
        if run_id is None or self._one("workflow_runs", "id = ?", [run_id]) is not None:
            return run_id
        tally.warnings.append(f"workflow run {run_id} does not exist; findings are stored without it")
        return None

    def _store_payload(self, payload: dict[str, Any], prefix: str, ctx: _Context, tally: _Tally) -> None:
        for key in sorted(set(payload) - set(KINDS)):
            tally.warnings.append(f"{prefix}{key}: unknown key ignored (expected {', '.join(KINDS)})")
        writers = {
            "facts": self._store_fact,
            "relationships": self._store_relationship,
            "entities": self._store_entity,
            "findings": self._store_finding,
        }
        for kind, writer in writers.items():
            for label, item in _items(payload, kind, prefix, tally):
                reader = _Item(item)
                outcome = writer(reader, ctx, tally)
                if outcome is None:
                    tally.skip(f"{label}: {reader.problem()}")
                else:
                    tally.count(kind, outcome)

    def _store_fact(self, item: _Item, ctx: _Context, tally: _Tally) -> str | None:
        project = item.text("project", default=ctx.project)
        fact, source = item.text("fact"), item.text("source")
        confidence = item.number("confidence")
        values = {
            "source_type": item.text("source_type", required=False),
            "category": item.text("category", required=False),
            "confidence": confidence,
        }
        if item.problem():
            return None
        key = {"ecosystem": self.ecosystem, "fact": f"{project}: {fact}", "source": source}
        return self._upsert("facts", key, values, ctx.now)

    def _upsert(
        self, table: str, key: dict[str, Any], values: dict[str, Any], now: str, **on_insert: Any
    ) -> str:
        """Insert, update (only if a value differs) or leave the row identified by ``key``."""
        where = " and ".join(f"[{column}] is ?" for column in key)  # IS: key parts may be NULL
        row = self._one(table, where, list(key.values()))
        if row is None:
            self._db[table].insert({**key, **values, **on_insert, "created_at": now, "updated_at": now})
            return "inserted"
        if all(row[column] == value for column, value in values.items()):
            return "unchanged"
        self._db[table].update(row["id"], {**values, "updated_at": now})
        return "updated"

    def _store_relationship(self, item: _Item, ctx: _Context, tally: _Tally) -> str | None:
        source = item.text("from", "from_entity", "from_project")
        target = item.text("to", "to_entity", "to_project")
        kind = item.text("type", "relationship_type")
        evidence = item.data.get("evidence")
        if item.problem():
            return None
        key = [self.ecosystem, source, target, kind]
        where = "ecosystem = ? and from_project = ? and to_project = ? and relationship_type = ?"
        row = self._one("project_relationships", where, key)
        metadata = None if evidence is None else json.dumps({"evidence": evidence}, ensure_ascii=False)
        if row is None:
            columns = ("ecosystem", "from_project", "to_project", "relationship_type")
            record = {**dict(zip(columns, key, strict=True)), "metadata": metadata, "created_at": ctx.now}
            self._db["project_relationships"].insert(record)
            return "inserted"
        if metadata is None or metadata == row["metadata"]:
            return "unchanged"
        self._db["project_relationships"].update(row["id"], {"metadata": metadata})  # newest evidence
        return "updated"

    def _store_entity(self, item: _Item, ctx: _Context, tally: _Tally) -> str | None:
        entity_type = item.text("entity_type", "type")
        entity_name = item.text("entity_name", "name")
        origin = {
            "source": item.text("source"),
            "source_type": item.text("source_type", required=False),
            "confidence": item.number("confidence", default=1.0),
        }
        project = item.text("project", default=ctx.project or "default")
        properties = item.data.get("properties") or {}
        if not isinstance(properties, dict):
            item.invalid.append(f"'properties' must be an object, got {_json_kind(properties)}")
        if item.problem():
            return None
        entity_id, created = self._entity_id(project, entity_type, entity_name, ctx.now)
        changed = self._store_properties(entity_id, properties, origin, ctx.now, tally)
        return "inserted" if created else "updated" if changed else "unchanged"

    def _entity_id(
        self, project: str | None, entity_type: str | None, name: str | None, now: str
    ) -> tuple[int, bool]:
        key = {
            "ecosystem": self.ecosystem,
            "project": project,
            "entity_type": entity_type,
            "entity_name": name,
        }
        row = self._one("entities", " and ".join(f"{column} = ?" for column in key), list(key.values()))
        if row is not None:
            return row["id"], False
        table = self._db["entities"].insert({**key, "created_at": now})
        return table.last_pk, True

    def _store_properties(
        self, entity_id: int, properties: dict[str, Any], origin: dict[str, Any], now: str, tally: _Tally
    ) -> bool:
        """Write each property's value with history; True if any value was added or changed."""
        changed = False
        for name in sorted(properties):
            outcome = self._store_property(entity_id, name, _property_text(properties[name]), origin, now)
            tally.properties_added += outcome == "added"
            tally.properties_changed += outcome == "changed"
            changed = changed or outcome != "unchanged"
        return changed

    def _store_property(self, entity_id: int, name: str, value: str, origin: dict[str, Any], now: str) -> str:
        table = self._db["entity_properties"]
        current = self._one(
            "entity_properties", "entity_id = ? and property_name = ? and valid_to is null", [entity_id, name]
        )
        if current is not None and current["property_value"] == value:
            return "unchanged"
        if current is not None and current["valid_from"] == now:
            # Changed twice within one instant: the later value supersedes, no zero-length history.
            table.update(current["id"], {"property_value": value, **origin})
            return "changed"
        if current is not None:
            table.update(current["id"], {"valid_to": now})
        row = {"entity_id": entity_id, "property_name": name, "property_value": value, **origin}
        table.insert({**row, "valid_from": now, "valid_to": None, "created_at": now})
        return "added" if current is None else "changed"

    def _store_finding(self, item: _Item, ctx: _Context, tally: _Tally) -> str | None:
        key = {
            "ecosystem": self.ecosystem,
            "project": item.text("project", default=ctx.project, required=False),
            "category": item.text("category"),
            "description": item.text("description"),
            "location": item.text("location", required=False),
        }
        values = {
            "severity": item.text("severity", required=False),
            "status": item.text("status", default="open"),
        }
        if item.problem():
            return None
        # The run that first reported a finding stays its run; a later store only updates it.
        return self._upsert("findings", key, values, ctx.now, workflow_run_id=ctx.run_id)

    def record_run(
        self,
        workflow_name: str,
        project: str | None,
        success: bool,
        duration_ms: int | None,
        failed_step: str | None,
        error_message: str | None,
        output_dir: str | None,
    ) -> int:
        """Record one build in ``workflow_runs``; returns the row id."""
        row = {
            "ecosystem": self.ecosystem,
            "project": project,
            "workflow_name": workflow_name,
            "success": int(success),
            "duration_ms": duration_ms,
            "failed_step": failed_step,
            "error_message": error_message,
            "output_dir": output_dir,
        }
        with self._writing() as db:
            return db["workflow_runs"].insert({**row, "created_at": self._stamp()}).last_pk

    # --- reading ---------------------------------------------------------------------------

    def facts(
        self, project: str | None = None, category: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Facts, most recently changed first. ``project`` matches the stored ``"<project>: "`` prefix."""
        where, params = ["ecosystem = ?"], [self.ecosystem]
        if project is not None:
            prefix = f"{project}: "
            where.append("substr(fact, 1, ?) = ?")
            params += [len(prefix), prefix]
        if category is not None:
            where.append("category = ?")
            params.append(category)
        sql = f"select * from facts where {' and '.join(where)} order by updated_at desc, id desc"
        return self._rows(sql + _limit(limit), params)

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Full-text search over facts and findings, best match first.

        Each result is the row plus ``kind`` ("fact" or "finding"), ``text`` and ``rank``
        (bm25, lower is better). Query words are quoted, so FTS syntax in them is harmless.
        """
        if not query.strip():
            return []
        with self._lock:
            hits = [
                *self._hits("facts", "fact", "fact", query),
                *self._hits("findings", "finding", "description", query),
            ]
        hits.sort(key=lambda hit: (hit["rank"], hit["kind"], hit["id"]))
        return hits[:limit]

    def _hits(self, table: str, kind: str, text_column: str, query: str) -> list[dict[str, Any]]:
        rows = self._db[table].search(
            query, quote=True, include_rank=True, where="ecosystem = :eco", where_args={"eco": self.ecosystem}
        )
        # rowid duplicates id; drop it so every reader returns the table's own columns.
        return [{**_without(row, "rowid"), "kind": kind, "text": row[text_column]} for row in rows]

    def entities(self, entity_type: str | None = None, project: str | None = None) -> list[dict[str, Any]]:
        """Entities with their current properties as ``properties: {name: value}``."""
        where, params = ["ecosystem = ?"], [self.ecosystem]
        for column, value in (("entity_type", entity_type), ("project", project)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"select * from entities where {' and '.join(where)} order by project, entity_type, entity_name, id"
        return [{**row, "properties": self._current_properties(row["id"])} for row in self._rows(sql, params)]

    def _current_properties(self, entity_id: int) -> dict[str, Any]:
        sql = "select property_name, property_value from entity_properties where entity_id = ? and valid_to is null"
        rows = self._rows(sql + " order by property_name", [entity_id])
        return {row["property_name"]: row["property_value"] for row in rows}

    def entity_history(self, entity_id: int) -> list[dict[str, Any]]:
        """Every value each property of the entity has had, oldest first per property."""
        sql = "select * from entity_properties where entity_id = ? order by property_name, valid_from, id"
        return self._rows(sql, [entity_id])

    def relationships(self, project: str | None = None) -> list[dict[str, Any]]:
        """Relationships from or to ``project`` (all without it); ``metadata`` decoded from JSON."""
        where, params = "ecosystem = ?", [self.ecosystem]
        if project is not None:
            where += " and (from_project = ? or to_project = ?)"
            params += [project, project]
        sql = f"select * from project_relationships where {where} order by from_project, to_project, relationship_type"
        return [{**row, "metadata": _decoded(row["metadata"])} for row in self._rows(sql, params)]

    def findings(self, status: str | None = None) -> list[dict[str, Any]]:
        where, params = "ecosystem = ?", [self.ecosystem]
        if status is not None:
            where += " and status = ?"
            params.append(status)
        return self._rows(f"select * from findings where {where} order by id", params)

    def runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """Recorded builds, newest first."""
        sql = "select * from workflow_runs where ecosystem = ? order by created_at desc, id desc"
        return [
            {**row, "success": bool(row["success"])}
            for row in self._rows(sql + _limit(limit), [self.ecosystem])
        ]

    def export(self) -> dict[str, Any]:
        """Every table's rows by id, as plain JSON-serialisable values."""
        return {
            "ecosystem": self.ecosystem,
            **{table: self._rows(f"select * from [{table}] order by id") for table in EXPORT_TABLES},
        }


# What ``export`` holds, one list of rows each (``empty_export`` for an ecosystem never written).
EXPORT_TABLES = ("facts", "project_relationships", "entities", "entity_properties", "findings", "workflow_runs")


def empty_export(ecosystem: str) -> dict[str, Any]:
    """The export of an ecosystem store steps never wrote: the same document, with no rows."""
    return {"ecosystem": ecosystem, **{table: [] for table in EXPORT_TABLES}}


class _Context(msgspec.Struct, frozen=True):
    """What every item of one store shares."""

    project: str | None
    run_id: int | None
    now: str


def _items(
    payload: dict[str, Any], kind: str, prefix: str, tally: _Tally
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, item) for each object in ``payload[kind]``; anything else is a warning."""
    items = payload.get(kind)
    if items is None:
        return
    if not isinstance(items, list):
        tally.warnings.append(f"{prefix}{kind}: expected an array, got {_json_kind(items)}; ignored")
        return
    for index, item in enumerate(items):
        label = f"{prefix}{kind}[{index}]"
        if isinstance(item, dict):
            yield label, item
        else:
            tally.skip(f"{label}: expected an object, got {_json_kind(item)}")


def _connect(path: Path) -> Database:
    # MemoryDB serialises use of the connection with its own lock and its own transactions.
    return connect(path, foreign_keys=True, autocommit=False)


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != key}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _limit(limit: int | None) -> str:
    return f" limit {int(limit)}" if limit is not None else ""


def _decoded(metadata: str | None) -> Any:
    if metadata is None:
        return None
    try:
        return json.loads(metadata)
    except ValueError:
        return metadata  # written by llm-mux without escaping: keep the text
