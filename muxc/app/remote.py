"""Beyond one machine, for the faces: attach the shared cache and the cluster to a build, and
``muxc push`` / ``muxc pull``.

``attach`` runs when a build is prepared: ``--remote``/``[cache] remote`` wraps the build's store
in a ``LayeredStore`` (local, then remote), ``--executor dask``/``[executor] type = "dask"``
connects to the cluster and puts a ``DaskExecutor`` behind the executor seam. A remote that
cannot be reached costs one warning and the build goes on local-only; a cluster that cannot be
used stops the build before any step runs, with a message naming the address and the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from muxc.run.context import Build, BuildOptions

Warn = Callable[[str], None]


class NotAttached(Exception):
    """The build cannot use what was asked for; ``usage`` when the command line (or config) is wrong."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def remote_url(options: BuildOptions, config: Any) -> str | None:
    return options.remote or config.cache.remote


def attach(build: Build, warn: Warn, jobs_given: bool = True) -> Build:
    """The build with its remote cache and executor (raises ``NotAttached``); without -j
    (``jobs_given``), a cluster build keeps as many steps in flight as the cluster has threads."""
    options, config = build.options, build.config
    url = remote_url(options, config)
    if url:
        push = options.push if options.push is not None else config.cache.push
        build.store = layered(build.store, url, warn, push=push, dry_run=options.dry_run)
        if hasattr(build.store, "use_index"):
            build.store.use_index(invocation(build))
    kind = options.executor or config.executor.type
    if kind == "dask" and not options.dry_run:
        build.executor = _dask(build, options.scheduler or config.executor.scheduler, config.executor.env,
                               jobs_given)
    elif kind not in ("local", "dask"):
        raise NotAttached(f"--executor {kind}: muxc knows the executors local and dask", usage=True)
    return build


def connect(url: str, warn: Warn) -> Any:
    """The remote cache at ``url``; a URL that would carry a secret is a usage error. Raises the
    store's ``RemoteError`` when the remote cannot be used (each caller decides what that costs)."""
    from muxc.store.remote.fsstore import RemoteCache, url_problem

    problem = url_problem(url)
    if problem is not None:
        raise NotAttached(problem, usage=True)
    return RemoteCache(url, warn)


def layered(local: Any, url: str, warn: Warn, push: bool = True, dry_run: bool = False) -> Any:
    from muxc.store.remote.fsstore import RemoteError
    from muxc.store.remote.layered import LayeredStore

    try:
        remote = connect(url, warn)
    except RemoteError as error:
        warn(f"{error}; this command goes on with the local cache only")
        return local
    return LayeredStore(local, remote, push=push, dry_run=dry_run)


def _dask(build: Build, scheduler: str | None, env: list[str], jobs_given: bool) -> Any:
    from muxc.run.distributed.cluster import ClusterError, connect
    from muxc.run.distributed.executor import DaskExecutor

    try:
        cluster = connect(scheduler)
    except ClusterError as error:
        raise NotAttached(str(error), usage="not installed" in str(error)) from None
    if cluster.dashboard:
        build.reporter.note(f"Dask's dashboard for this build: {cluster.dashboard}")
    if not jobs_given and not build.config.defaults.jobs:  # as many steps in flight as the cluster has threads
        build.options = dataclasses.replace(build.options, jobs=max(build.options.jobs, cluster.threads))
    return DaskExecutor(cluster, list(env))


def served_remotely(build: Build, key: str) -> bool:
    """Whether the build took ``key``'s result from the remote (a no-op fast path's build has no store)."""
    check = getattr(getattr(build, "store", None), "served_remotely", None)
    return bool(key) and check is not None and check(key)


def where(build: Build, name: str) -> str | None:
    """Where a step ran: a worker's address, ``local``, or ``cache`` / ``remote cache``."""
    state = build.state(name)
    if state.status == "cached":
        return "remote cache" if served_remotely(build, state.key) else "cache"
    if state.status not in ("ran", "failed"):
        return None
    executor = getattr(build, "executor", None)
    found = executor.where_of(name) if executor is not None else None
    return found or ("local" if state.status == "ran" or state.started else None)


def invocation(build: Build) -> str:
    """What names a build's index in the remote: the workflow, its arguments and the salt."""
    from muxc.compile.keys import digest_value

    return digest_value({"workflow": build.plan.workflow, "args": build.plan.args, "salt": build.plan.salt})


def close(build: Build) -> None:
    """Publish the build's index, leave the cluster (what ``app.builds.close`` adds; the store's
    own ``close`` then waits for the uploads)."""
    if build.executor is not None:
        build.executor.close()
        build.executor = None
    store = build.store
    if hasattr(store, "publish_index"):
        memo = {latest.pre_key: latest.key for latest in build.latest.values()
                if latest.pre_key and store.local.lookup(latest.key) is not None}
        store.publish_index(memo)
