"""``muxc push`` and ``muxc pull``: move entries between the local cache and the remote explicitly.

Push uploads what the local cache holds and the remote lacks (results an older muxc stored and
muxc distrusts stay home); pull downloads what the remote holds and the local cache lacks, each
entry verified before it is stored. Both are idempotent: a second run moves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import msgspec

from muxc.store.remote.entries import Entry
from muxc.store.remote.fsstore import RemoteCache
from muxc.store.results import ResultStore

PARALLEL = 8  # requests in flight: each is a round trip to the store


class Moved(msgspec.Struct, frozen=True):
    moved: int  # entries copied
    present: int  # already on the other side
    skipped: int = 0  # not moved: distrusted locally, or damaged in the remote
    remote_ok: bool = True  # False: the remote could not be used (the warning says why)


def push(local: ResultStore, remote: RemoteCache, keys: Iterable[str] | None = None) -> Moved:
    wanted = sorted(set(keys) if keys is not None else local.keys())
    there = set(remote.keys())
    todo = [key for key in wanted if key not in there and local.distrusted(key) is None]
    skipped = sum(1 for key in wanted if key not in there and local.distrusted(key) is not None)
    entries = [entry for entry in map(lambda key: _local_entry(local, key), todo) if entry is not None]
    with ThreadPoolExecutor(PARALLEL) as pool:
        done = sum(pool.map(remote.put, entries))
    return Moved(done, len(wanted) - len(todo) - skipped, skipped, remote.available)


def _local_entry(local: ResultStore, key: str) -> Entry | None:
    record = local.get(key)
    found = local.lookup(key)
    if record is None or found is None:
        return None
    components, rendered = local.details(key)
    workflow = local.workflow_of(key) or ""
    return Entry(record, workflow, found[0], components, rendered)


def pull(local: ResultStore, remote: RemoteCache, keys: Iterable[str] | None = None) -> Moved:
    wanted = sorted(set(keys) if keys is not None else remote.keys())
    todo = [key for key in wanted if local.lookup(key) is None]
    with ThreadPoolExecutor(PARALLEL) as pool:
        fetched = list(pool.map(remote.get, todo))
    for entry in fetched:
        if entry is not None:
            local.put(entry.record, entry.workflow, entry.output_digest, entry.components, entry.rendered)
    moved = sum(1 for entry in fetched if entry is not None)
    return Moved(moved, len(wanted) - len(todo), len(todo) - moved, remote.available)
