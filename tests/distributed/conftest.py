"""Fixtures for the tests beyond one machine: clones of one project, a real Dask cluster.

``clones``: two git clones of one project (the same commit, so shell steps that read the project
have the same keys in both), each configured like ``tests/run``'s ``project`` (roles answered by
the loopback LLM server), sharing one ``remote`` directory given as a ``file://`` URL.

``cluster``: a real ``dask scheduler`` and two ``dask worker`` processes started with
distributed's own command line on loopback, once per module (start-up costs seconds); their
process ids by worker address in ``cluster.pids`` (what proves a step ran in a worker).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.run.conftest import Project
from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import LLMServer

DASK = str(Path(sys.executable).parent / "dask")
READY_S = 60  # a slow CI machine starts Python processes slowly


@dataclass
class Clones:
    a: Project
    b: Project
    remote: Path

    @property
    def url(self) -> str:
        return self.remote.as_uri()


def make_clones(tmp_path: Path, server: LLMServer, workflow: str, config: str = "") -> Clones:
    counter = tmp_path / "counter"
    (tmp_path / "a").mkdir()
    a = Project(tmp_path / "a", dict(os.environ), server, counter)
    a.config(config)
    a.workflow(workflow)
    a.commit()
    subprocess.run(["git", "clone", "-q", str(a.root), str(tmp_path / "b")], check=True)
    b = Project(tmp_path / "b", dict(os.environ), server, counter)
    b.config(config)
    b.workflow(workflow)
    return Clones(a, b, tmp_path / "remote")


@dataclass
class Cluster:
    address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # worker address -> the worker process

    def refresh(self, workers: int) -> dict[str, int]:
        self.pids = worker_pids(self.address, workers)
        return self.pids


def worker_pids(address: str, workers: int) -> dict[str, int]:
    """Each worker's process id, asked of the cluster itself (waits for ``workers`` of them)."""
    script = ("import json, os, sys\nfrom distributed import Client\n"
              f"with Client({address!r}, timeout=30) as client:\n"
              f"    client.wait_for_workers({workers}, timeout={READY_S})\n"
              "    print(json.dumps(client.run(os.getpid)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=READY_S + 30)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def start_scheduler(directory: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / "scheduler.json"
    with open(directory / "scheduler.log", "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                    "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL, stderr=log,
                                   start_new_session=True)
    deadline = time.monotonic() + READY_S
    while not (file.exists() and file.stat().st_size):
        assert process.poll() is None and time.monotonic() < deadline, (directory / "scheduler.log").read_text()
        time.sleep(0.05)
    for _ in range(100):  # written, perhaps not yet whole
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(file.read_text())["address"], process
        time.sleep(0.05)
    raise AssertionError("the scheduler file stays unreadable")


def start_worker(address: str, directory: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"worker-{time.monotonic_ns()}.log", "wb") as log:
        return subprocess.Popen([DASK, "worker", address, "--nthreads", "2", "--no-dashboard", "--host",
                                 "127.0.0.1", "--local-directory", str(directory), *extra], env=env,
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Kill each process's group (a worker's nanny and the worker it started) at once: a
    graceful close of a cluster takes seconds the tests need not spend."""
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    for process in processes:
        process.wait(timeout=15)


def cluster_env(home: Path, **extra: str) -> dict[str, str]:
    """What the cluster's processes see: a PATH, a home of their own, nothing secret."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("cluster")
    env = cluster_env(directory / "home")
    address, scheduler = start_scheduler(directory, env)
    found = Cluster(address, [scheduler])
    try:
        found.processes += [start_worker(address, directory / "workers", env) for _ in range(2)]
        found.refresh(2)
        yield found
    finally:
        stop(found.processes)
