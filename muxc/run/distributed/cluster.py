"""Connecting to the cluster, and refusing one that cannot build before a step is sent.

``connect(None)`` starts a ``LocalCluster`` sized to the machine (one worker process per core
group, as Dask chooses); ``connect("tcp://HOST:8786")`` joins a running scheduler. Either way the
result is a ``Cluster`` whose workers all run this muxc version, or a ``ClusterError`` whose
message names the address and what to do: an unreachable scheduler within ``CONNECT_TIMEOUT_S``,
a scheduler without workers within ``WORKERS_TIMEOUT_S``, a worker with another muxc (naming both
versions), distributed not installed (naming the extra to install).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import muxc

CONNECT_TIMEOUT_S = 4  # an unreachable scheduler is reported well within 10 s
WORKERS_TIMEOUT_S = 10
INSTALL = "pip install 'muxc[distributed]'"


class ClusterError(Exception):
    """The cluster cannot run this build; the message says why and what to do."""


@dataclass
class Cluster:
    client: Any  # distributed.Client
    local: Any = None  # the LocalCluster muxc started, closed with it
    address: str = ""

    @property
    def threads(self) -> int:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        return sum(int(info.get("nthreads", 1)) for info in workers.values())

    @property
    def dashboard(self) -> str | None:
        """The address of Dask's dashboard, when the scheduler serves one."""
        try:
            if "dashboard" not in self.client.scheduler_info().get("services", {}):
                return None
            return self.client.dashboard_link
        except Exception:  # a link is a nicety: never a reason to stop
            return None

    def close(self, quick: bool = False) -> None:
        """Leave the cluster (``quick``: the scheduler is gone, do not wait for it)."""
        with contextlib.suppress(Exception):
            self.client.close(timeout=0.5 if quick else 5)
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close(timeout=10)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--executor dask needs Dask's distributed scheduler, which is not installed: "
                           f"{INSTALL}") from None
    for name in ("distributed", "distributed.client", "distributed.worker", "distributed.scheduler",
                 "distributed.comm", "distributed.core", "distributed.nanny"):
        logging.getLogger(name).setLevel(logging.CRITICAL)  # muxc says what went wrong, once
    return distributed


def connect(scheduler: str | None) -> Cluster:
    distributed = _distributed()
    cluster = _local(distributed) if scheduler is None else _remote(distributed, scheduler)
    try:
        _check_workers(cluster)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _local(distributed: Any) -> Cluster:
    import importlib.util

    dashboard = ":0" if importlib.util.find_spec("bokeh") is not None else None
    try:
        local = distributed.LocalCluster(dashboard_address=dashboard, silence_logs=logging.CRITICAL)
        client = distributed.Client(local, set_as_default=False)
    except Exception as error:
        raise ClusterError(f"cannot start a local Dask cluster: {error}") from None
    return Cluster(client, local, local.scheduler_address)


def _remote(distributed: Any, address: str) -> Cluster:
    _reachable(address)
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (ValueError, TypeError) as error:
        raise ClusterError(f"--scheduler {address}: not a Dask scheduler address ({error}); "
                           "write tcp://HOST:8786") from None
    except Exception as error:  # a timeout, or something that is not a Dask scheduler answering
        raise ClusterError(f"cannot connect to the Dask scheduler at {address} ({type(error).__name__}: "
                           f"{str(error)[:200]})") from None
    return Cluster(client, None, address)


def _reachable(address: str) -> None:
    """A TCP address must accept a connection at once: Dask's own client retries until its
    timeout, and a refused port deserves an answer now."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or parts.hostname is None:
        return  # another transport (ucx, inproc): Dask's client says what is wrong
    try:
        port = parts.port or 8786
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except ValueError:
        raise ClusterError(f"--scheduler {address}: not a Dask scheduler address; write tcp://HOST:8786") from None
    except OSError as error:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {error.strerror or error}") from None


def _check_workers(cluster: Cluster) -> None:
    try:
        cluster.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, OSError):
        raise ClusterError(f"the Dask scheduler at {cluster.address} has no workers (waited "
                           f"{WORKERS_TIMEOUT_S} s); start some with `dask worker {cluster.address}`") from None
    from muxc.run.distributed.worker import muxc_version

    versions = cluster.client.run(muxc_version, on_error="return")
    for address, version in sorted(versions.items()):
        if isinstance(version, BaseException):
            raise ClusterError(f"worker {address} cannot run muxc ({type(version).__name__}: {version}); "
                               f"install muxc {muxc.__version__} there: {INSTALL}")
        if version != muxc.__version__:
            raise ClusterError(f"worker {address} runs muxc {version}, this coordinator muxc {muxc.__version__}: "
                               "install the same muxc on every worker")
