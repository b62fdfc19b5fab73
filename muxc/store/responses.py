"""Responses stored by ``muxc serve`` (OpenAI Responses API ``store: true``): one SQLite file in the
project's state directory (``.muxc/state/serve-responses.db``), so ``GET /v1/responses/{id}`` and
``previous_response_id`` work across restarts of the server.

Each row is a response object and the full input that led to it (earlier turns included), as
JSON with every known credential masked. Bounded twice: a row expires ``ttl`` seconds after it was
written, and beyond ``limit`` rows the oldest go first (both enforced on each write). Reads never
see an expired row. Writes happen on a thread of their own (no commit on the path of the request
that stored them); a read first waits for the queued writes, so it sees every ``put`` before it and
the bounds they enforced.
One connection, serialised by a lock; several servers may share the file (WAL).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

from muxc.base.masking import SECRETS, Secrets, mask_known
from muxc.store.sqlite import Database, MuxcMigrations, connect, migrate

MIGRATIONS = MuxcMigrations("muxc.serve_responses")


@MIGRATIONS(name="0001_responses")
def _create(db: Database) -> None:
    db["responses"].create({"id": str, "written": float, "expires": float, "response": str, "items": str},
                           pk="id", not_null={"written", "expires", "response", "items"})
    db["responses"].create_index(["written"], index_name="responses_written")


class ResponseDb:
    def __init__(self, path: Path, *, limit: int, ttl: float, secrets: Secrets = SECRETS) -> None:
        self.path, self.limit, self.ttl, self._secrets = path, limit, ttl, secrets
        self._lock = threading.Lock()
        self._db = connect(path)
        with self._lock:
            migrate(self._db, path, MIGRATIONS)
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="muxc-serve-responses", daemon=True)
        self._thread.start()

    def put(self, response: dict[str, Any], items: list[Any]) -> None:
        self._queue.put(("put", (response, items)))

    def _write(self) -> None:
        while (job := self._queue.get()) is not None:
            kind, value = job
            try:
                if kind == "put":
                    self._insert(*value)
                else:
                    with self._lock:
                        self._db.conn.execute("DELETE FROM responses WHERE id = ?", (value,))
            except Exception:  # bookkeeping: a failed write loses one stored response, never the server
                pass
            finally:
                self._queue.task_done()

    def _insert(self, response: dict[str, Any], items: list[Any]) -> None:
        now = time.time()
        row = (str(response["id"]), now, now + self.ttl, self._json(response), self._json(items))
        with self._lock:
            conn = self._db.conn
            conn.execute("INSERT OR REPLACE INTO responses (id, written, expires, response, items) "
                         "VALUES (?, ?, ?, ?, ?)", row)
            conn.execute("DELETE FROM responses WHERE expires <= ?", (now,))
            conn.execute("DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY written DESC "
                         "LIMIT -1 OFFSET ?)", (self.limit,))

    def get(self, response_id: str) -> tuple[dict[str, Any], list[Any]] | None:
        self._queue.join()
        with self._lock:
            row = self._db.conn.execute("SELECT response, items FROM responses WHERE id = ? AND expires > ?",
                                        (response_id, time.time())).fetchone()
        return None if row is None else (json.loads(row[0]), json.loads(row[1]))

    def delete(self, response_id: str) -> bool:
        found = self.get(response_id) is not None
        self._queue.put(("delete", response_id))
        return found

    def close(self) -> None:
        """Write what is queued, then close."""
        self._queue.put(None)
        self._thread.join(timeout=10)
        with self._lock:
            self._db.conn.close()

    def _json(self, value: Any) -> str:
        return mask_known(json.dumps(value, ensure_ascii=False), self._secrets)
