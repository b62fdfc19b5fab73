"""The build's store with a remote behind it: local first, then the remote; results go up as made.

``LayeredStore`` is a ``ResultStore`` to the runtime (it forwards every method) with two changes:
- ``lookup`` (is the key's result here?) asks the remote when the local cache misses. A verified
  remote entry is copied into the local cache (read-through) — or, in a dry run (``muxc status``),
  only held in memory, since a dry run writes nothing a build reads. ``served_remotely`` says
  which keys came from the remote, for "cached (remote)".
- ``put`` stores locally at once (the step's result is safe when ``put`` returns), then uploads
  in the background (write-through, unless ``push`` is off). ``close`` waits for the uploads.
- ``memo`` (pre-key -> key, what lets a rebuild skip rendering) falls back to the remote's
  *index* of the invocation (``use_index``): one object per workflow, arguments and salt, written
  at the end of a build (``publish_index``), naming every step's pre-key and key. A fresh clone
  reads it once, fetches the results it names in parallel, and renders nothing. An index is only
  a hint: a key it names is served only if its entry is there and verifies.
A result taken from the remote is never uploaded again. Nothing but ``put``'s arguments is ever
sent: no LLM log, no credential.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from muxc.store.remote.entries import Entry
from muxc.store.remote.fsstore import RemoteCache
from muxc.store.results import ResultStore, StepRecord

UPLOADERS = 4  # uploads in flight at once: object stores answer slowly, not seldom
PREFETCHERS = 16  # downloads in flight when an index names what a build will need


class LayeredStore:
    def __init__(self, local: ResultStore, remote: RemoteCache, push: bool = True, dry_run: bool = False) -> None:
        self.local = local
        self.remote = remote
        self.push = push
        self.dry_run = dry_run
        self._fetched: dict[str, Entry] = {}  # keys served from the remote in this command
        self._absent: set[str] = set()  # keys the remote did not have: a step asks several times
        self._lock = threading.Lock()
        self._uploads: ThreadPoolExecutor | None = None
        self._pending: list[Future[bool]] = []
        self.uploaded = 0
        self._invocation = ""
        self._index: dict[str, str] = {}  # pre-key -> key, read from the remote (use_index)

    def __getattr__(self, name: str) -> Any:  # everything else is the local store's
        return getattr(self.local, name)

    # read-through
    def lookup(self, key: str) -> tuple[str, float] | None:
        found = self.local.lookup(key)
        if found is not None:
            return found
        with self._lock:
            entry = self._fetched.get(key)
            if entry is None and key in self._absent:
                return None
        if entry is None:
            entry = self.remote.get(key)
            if entry is None:
                with self._lock:
                    self._absent.add(key)
                return None
            self._take(entry)
        return entry.output_digest, entry.record.created_at

    def _take(self, entry: Entry) -> None:
        with self._lock:
            self._fetched[entry.record.key] = entry
        if not self.dry_run:
            self.local.put(entry.record, entry.workflow, entry.output_digest, entry.components, entry.rendered)

    def get(self, key: str) -> StepRecord | None:
        record = self.local.get(key)
        if record is not None:
            return record
        with self._lock:
            entry = self._fetched.get(key)
        return entry.record if entry is not None else None

    def details(self, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        found = self.local.details(key)
        if found != ({}, {}):
            return found
        with self._lock:
            entry = self._fetched.get(key)
        return (entry.components, entry.rendered) if entry is not None else found

    # the shared memo (the remote's index of an invocation)
    def use_index(self, invocation: str) -> int:
        """Read the invocation's index and fetch, in parallel, the results it names that the local
        cache lacks; the number fetched. A build then decides those steps from their pre-keys,
        rendering nothing, and each lookup is served from what was fetched."""
        self._invocation = invocation
        self._index = self.remote.get_index(invocation)
        wanted = sorted({key for key in self._index.values() if self.local.lookup(key) is None})
        if not wanted:
            return 0
        with ThreadPoolExecutor(PREFETCHERS, thread_name_prefix="muxc-prefetch") as pool:
            found = list(pool.map(self.remote.get, wanted))
        for key, entry in zip(wanted, found):
            if entry is None:
                self._absent.add(key)
            else:
                self._take(entry)
        return sum(entry is not None for entry in found)

    def memo(self, pre_key: str) -> str | None:
        return self.local.memo(pre_key) or self._index.get(pre_key)

    def publish_index(self, memo: dict[str, str]) -> bool:
        """Upload the invocation's index when this build's memo differs from the one read."""
        if not (self.push and not self.dry_run and self._invocation and memo and memo != self._index):
            return False
        return self.remote.put_index(self._invocation, memo)

    def served_remotely(self, key: str) -> bool:
        with self._lock:
            return key in self._fetched

    # write-through
    def put(self, record: StepRecord, workflow: str, output_digest: str, components: dict[str, Any],
            rendered: dict[str, str]) -> None:
        self.local.put(record, workflow, output_digest, components, rendered)
        if not self.push or self.dry_run or self.served_remotely(record.key):
            return
        entry = Entry(record, workflow, output_digest, components, rendered)
        with self._lock:
            if self._uploads is None:
                self._uploads = ThreadPoolExecutor(UPLOADERS, thread_name_prefix="muxc-upload")
            self._pending.append(self._uploads.submit(self.remote.put, entry))

    def flush(self) -> int:
        """Wait for every upload; the number that reached the remote."""
        with self._lock:
            pending, self._pending = self._pending, []
        self.uploaded += sum(1 for future in pending if future.result())
        return self.uploaded

    def close(self) -> None:
        self.flush()
        if self._uploads is not None:
            self._uploads.shutdown()
        self.local.close()

    def fetched_keys(self) -> list[str]:
        """The keys served from the remote in this command (``muxc pull WORKFLOW`` takes them)."""
        with self._lock:
            return list(self._fetched)
