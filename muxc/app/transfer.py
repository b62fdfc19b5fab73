"""``muxc push`` and ``muxc pull`` for the faces: open the local cache and the remote, move entries.

``pull_workflow`` pulls exactly what a build of a workflow would take from the remote now: a dry
run (as ``muxc status``) looks every step up, local then remote, and the entries it found are
then downloaded, verified, into the local cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muxc.app.remote import NotAttached, Warn, connect
from muxc.run.context import BuildOptions


@dataclasses.dataclass
class Transfer:
    url: str
    moved: int
    present: int
    skipped: int
    remote_ok: bool


def _open(root: Path, url: str | None, config: Any, warn: Warn) -> tuple[Any, Any, str]:
    from muxc.store.remote.fsstore import RemoteError
    from muxc.store.results import open_store
    from muxc.store.statedir import state_dir

    url = url or config.cache.remote
    if not url:
        raise NotAttached("no remote cache: give --remote URL, or set `remote` in the config's [cache] table",
                          usage=True)
    try:
        remote = connect(url, warn)
    except RemoteError as error:
        raise NotAttached(str(error)) from None
    store, damaged = open_store(state_dir(root) / "cache.db")
    if damaged:
        warn(damaged)
    return store, remote, url


def push(root: Path, url: str | None, config: Any, warn: Warn, workflow: str | None = None) -> Transfer:
    """Upload the local results (of ``workflow``'s latest build, when given) the remote lacks."""
    from muxc.store.remote import transfer

    store, remote, url = _open(root, url, config, warn)
    try:
        keys = _latest_keys(store, workflow) if workflow else None
        moved = transfer.push(store, remote, keys)
    finally:
        store.close()
    return Transfer(url, moved.moved, moved.present, moved.skipped, moved.remote_ok)


def _latest_keys(store: Any, workflow: str) -> list[str]:
    """The keys of a workflow's last build, each for_each item's too."""
    return [latest.key for latest in store.latest_all(workflow).values()]


def pull(root: Path, url: str | None, config: Any, warn: Warn, keys: list[str] | None = None) -> Transfer:
    """Download what the remote holds (``keys`` only, when given) and the local cache lacks."""
    from muxc.store.remote import transfer
    from muxc.store.statedir import BuildLock, state_dir

    with BuildLock(state_dir(root)):
        store, remote, url = _open(root, url, config, warn)
        try:
            moved = transfer.pull(store, remote, keys)
        finally:
            store.close()
    return Transfer(url, moved.moved, moved.present, moved.skipped, moved.remote_ok)


def pull_workflow(project: Any, workflow: str, args: Mapping[str, str], url: str | None, warn: Warn) -> Any:
    """Pull exactly what a build of ``workflow`` would take from the remote now: a dry run that
    looks every step up (local, then remote), then those entries, verified, into the local
    cache. Returns the prepared report when the workflow cannot be built (its diagnostics)."""
    from muxc.app.builds import close as close_build
    from muxc.app.builds import execute, prepare

    options = BuildOptions(dry_run=True, remote=url)
    prepared = prepare(project, workflow, args, options)
    if prepared.build is None:
        return prepared
    build = prepared.build
    execute(build, lock=False)
    for message in prepared.remote_warnings:
        warn(message)
    store = build.store
    fetched = sorted(getattr(store, "fetched_keys", lambda: [])())
    url = url or build.config.cache.remote
    close_build(build)
    if not fetched:
        return Transfer(url or "", 0, 0, 0, getattr(getattr(store, "remote", None), "available", True))
    return pull(project.root, url, build.config, warn, fetched)
