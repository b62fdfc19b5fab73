"""``memory`` in templates: read what store steps saved about this ecosystem."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MemoryView:
    """Opens the ecosystem's memory database on first use; every reader returns plain data."""

    def __init__(self, data_dir: Path, ecosystem: str) -> None:
        self._data_dir = data_dir
        self._ecosystem = ecosystem

    def _db(self) -> Any:
        from muxc.store.memory import MemoryDB

        return MemoryDB.open(self._data_dir, self._ecosystem)

    def _read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        db = self._db()
        try:
            return getattr(db, method)(*args, **kwargs)
        finally:
            db.close()

    def facts(self, project: str | None = None, category: str | None = None, limit: int | None = None) -> Any:
        return self._read("facts", project=project, category=category, limit=limit)

    def search(self, query: str, limit: int = 20) -> Any:
        return self._read("search", query, limit=limit)

    def entities(self, entity_type: str | None = None, project: str | None = None) -> Any:
        return self._read("entities", entity_type=entity_type, project=project)

    def relationships(self, project: str | None = None) -> Any:
        return self._read("relationships", project=project)

    def findings(self, status: str | None = None) -> Any:
        return self._read("findings", status=status)
