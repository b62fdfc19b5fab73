"""The LLM log: every request and response a build sent, in SQLite (plain ``sqlite3``; the
table is created by a sqlite-utils migration).

One table, ``calls``: time (RFC 3339 UTC), workflow, step, backend, model, system, prompt,
response, status (``ok`` or the failure kind), error, input/cached/output/cache-write tokens,
latency_ms, cost_usd, cache_key, attempts. The caller chooses the file (the runtime passes
``<user data dir>/muxc/llm-log.db``).

Invariants:
- nothing reaches the table unmasked: every text field passes through ``masking.mask`` here,
  even when the caller already masked it;
- one ``LlmLog`` may be shared by all the build's threads (one connection behind one lock), and
  several processes may write the same file (WAL, busy timeout);
- unknown token counts are stored as NULL and stay None when read back; totals over rows that
  all lack a count are None, not 0.

``log_call`` (also ``__call__``) accepts a ``CallRecord``, so an ``LlmLog`` is a ``CallLogger``.
``usage_for_key`` and ``average_usage`` feed ``--dry-run`` estimates.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from muxc.backends.base import Usage
from muxc.backends.calls import CallRecord
from muxc.base.masking import SECRETS, Secrets, mask
from muxc.store.sqlite import MuxcMigrations, connect_plain, migrate

if TYPE_CHECKING:
    from sqlite_utils import Database

BUSY_TIMEOUT_S = 30.0
TEXT_FIELDS = ("workflow", "step", "backend", "model", "system", "prompt", "response", "error", "cache_key")


class LogEntry(msgspec.Struct, frozen=True):
    id: int
    time: str
    backend: str
    status: str
    prompt: str
    workflow: str = ""
    step: str = ""
    model: str | None = None
    system: str | None = None
    response: str | None = None
    error: str | None = None
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    cache_write_tokens: int | None = None
    latency_ms: int = 0
    cost_usd: float | None = None
    cache_key: str = ""
    attempts: int = 1


class KeyUsage(msgspec.Struct, frozen=True):
    """Totals over every call recorded for one cache key."""

    calls: int = 0
    ok_calls: int = 0
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


class BackendAverage(msgspec.Struct, frozen=True):
    """Averages over a backend's successful calls (None where no call reported the figure)."""

    calls: int = 0
    input_tokens: float | None = None
    cached_input_tokens: float | None = None
    output_tokens: float | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None


MIGRATIONS = MuxcMigrations("muxc.llm_log")


@MIGRATIONS(name="0001_calls")
def _create_calls(db: Database) -> None:
    db["calls"].create(
        {
            "id": int,
            "time": str,
            "workflow": str,
            "step": str,
            "backend": str,
            "model": str,
            "system": str,
            "prompt": str,
            "response": str,
            "status": str,
            "error": str,
            "input_tokens": int,
            "cached_input_tokens": int,
            "output_tokens": int,
            "cache_write_tokens": int,
            "latency_ms": int,
            "cost_usd": float,
            "cache_key": str,
            "attempts": int,
        },
        pk="id",
        not_null={"time", "backend", "status", "prompt"},
    )
    for column in ("cache_key", "backend", "step", "time"):
        db["calls"].create_index([column], index_name=f"calls_{column}")


class LlmLog:
    def __init__(self, path: str | Path, *, secrets: Secrets = SECRETS) -> None:
        self.path = Path(path)
        self._secrets = secrets
        self._lock = threading.Lock()  # one sqlite3 connection must not run two statements at once
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect_plain(self.path, autocommit=False)  # one lock serialises the build's threads
        with self._lock:
            migrate(self._conn, self.path, MIGRATIONS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> LlmLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def record(self, *, time: float | None = None, input_tokens: int | None = None,
               cached_input_tokens: int | None = None, output_tokens: int | None = None,
               cache_write_tokens: int | None = None, **fields: Any) -> int:
        """Store one call given as keywords: a ``CallRecord``'s fields, its usage flattened."""
        usage = Usage(input_tokens, cached_input_tokens, output_tokens, cache_write_tokens)
        moment = datetime.now(UTC).timestamp() if time is None else time
        return self.log_call(CallRecord(time=moment, usage=usage, **fields))

    def log_call(self, record: CallRecord) -> int:
        """The ``CallLogger`` interface: store a backend's ``CallRecord``, masked; returns its row id.

        A row is the record's fields, its usage flattened into columns of the same names."""
        row: dict[str, Any] = msgspec.structs.asdict(record)
        row.update(msgspec.structs.asdict(row.pop("usage")))
        row["time"] = _timestamp(record.time)
        for field in TEXT_FIELDS:
            if isinstance(row[field], str):
                row[field] = mask(row[field], self._secrets)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock, self._conn:
            cursor = self._conn.execute(f"insert into calls ({columns}) values ({marks})", list(row.values()))
            return int(cursor.lastrowid or 0)

    __call__ = log_call

    # -- reading -------------------------------------------------------------------------------

    def recent(
        self, limit: int = 20, *, backend: str | None = None, step: str | None = None
    ) -> list[LogEntry]:
        """The latest calls, newest first, optionally for one backend and/or step."""
        where, params = _filters(backend=backend, step=step)
        sql = f"select * from calls {'where ' + where if where else ''} order by id desc limit ?"
        with self._lock:
            cursor = self._conn.execute(sql, [*params, int(limit)])
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return [msgspec.convert(row, LogEntry) for row in rows]

    def usage_for_key(self, cache_key: str) -> KeyUsage:
        sql = """select count(*) as calls, sum(status = 'ok') as ok_calls, sum(input_tokens) as input_tokens,
                 sum(cached_input_tokens) as cached_input_tokens, sum(output_tokens) as output_tokens,
                 sum(cost_usd) as cost_usd from calls where cache_key = ?"""
        return msgspec.convert(self._one(sql, [cache_key]), KeyUsage)

    def average_usage(self, backend: str) -> BackendAverage:
        sql = """select count(*) as calls, avg(input_tokens) as input_tokens,
                 avg(cached_input_tokens) as cached_input_tokens, avg(output_tokens) as output_tokens,
                 avg(cost_usd) as cost_usd, avg(latency_ms) as latency_ms
                 from calls where backend = ? and status = 'ok'"""
        return msgspec.convert(self._one(sql, [backend]), BackendAverage)

    def cost_since(self, day: str, workflow: str) -> float:
        """USD spent by ``workflow``'s calls from the start of ``day`` (``YYYY-MM-DD``, UTC) on; the
        gateway's ``max_cost_per_day`` survives a restart through this."""
        sql = "select sum(cost_usd) as cost_usd from calls where workflow = ? and time >= ?"
        return float(self._one(sql, [workflow, day]).get("cost_usd") or 0.0)

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [column[0] for column in cursor.description]
            row = cursor.fetchone()
        return {name: value for name, value in zip(names, row, strict=True) if value is not None}


def _filters(**equal: str | None) -> tuple[str | None, list[str]]:
    given = {column: value for column, value in equal.items() if value is not None}
    where = " and ".join(f"[{column}] = ?" for column in given) or None
    return where, list(given.values())


def _timestamp(epoch: float | None) -> str:
    moment = datetime.now(UTC) if epoch is None else datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="microseconds")
