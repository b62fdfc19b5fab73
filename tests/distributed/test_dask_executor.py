"""Builds on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on
loopback, started with distributed's own command line (``conftest.cluster``, once per module).

Builds run as child processes (``muxc build --executor dask --scheduler ADDRESS``), as a user
would run them. A shell step proves where it ran by printing its parent's process id, which is
the worker process the cluster reports for the address the build's JSON gives as ``where``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.distributed.conftest import (
    Cluster,
    cluster_env,
    make_clones,
    start_scheduler,
    start_worker,
    stop,
    worker_pids,
)
from tests.run.conftest import Project
from tests.support.built import Built
from tests.support.llm_server import LLMServer

pytestmark = pytest.mark.slow

WORKFLOW = """\
    workflow w "shell and query steps on the cluster"

    shell where:
        echo "$PPID"

    shell items [for_each = "[1, 2, 3]"]:
        echo "item {{ item }} in $PPID"

    query summary @analyzer:
        Summarise: {{ where }}

    input confirm:
        Go on?
    """


def dask_build(project: Project, cluster: Cluster | str, *args: str, code: int = 0, timeout: float = 90) -> Built:
    address = cluster if isinstance(cluster, str) else cluster.address
    done = project.run("build", "w", "--executor", "dask", "--scheduler", address, "--output", "json", *args,
                       timeout=timeout)
    assert done.stdout.strip(), done.stderr
    built = Built(done.returncode, json.loads(done.stdout), done.stderr)
    assert done.returncode == code, ([(s["name"], s["status"], s["error"]) for s in built.doc["steps"]], done.stderr)
    return built


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer,
            monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    found = Project(root, dict(os.environ), llm_server, tmp_path / "counter")
    found.workflow(WORKFLOW)
    return found


def test_shell_and_query_steps_run_in_worker_processes(project: Project, cluster: Cluster) -> None:
    built = dask_build(project, cluster, "--input", "confirm=yes")
    where = {step["name"]: step["where"] for step in built.doc["steps"]}
    assert where["where"] in cluster.pids and where["summary"] in cluster.pids
    assert int(built.step("where")["reason"] == "never built") and built.ran == {"where", "items", "summary",
                                                                                  "confirm"}
    summary = project.server.completions[0].prompt
    assert str(cluster.pids[where["where"]]) in summary  # the shell step's parent: that worker process
    assert where["confirm"] == "local"  # input steps stay with the coordinator
    assert project.calls == 1
    items = {address.strip() for address in where["items"].split(",")}
    assert items <= set(cluster.pids)

    logged = json.loads(project.run("logs", "--output", "json").stdout)  # the coordinator logged the worker's call
    assert [(call["step"], call["status"]) for call in logged] == [("summary", "ok")]

    again = dask_build(project, cluster, "--input", "confirm=yes")  # cached steps never reach the cluster
    assert again.cached == {"where", "items", "summary", "confirm"} and project.calls == 1
    assert {step["where"] for step in again.doc["steps"]} == {"cache"}


def test_early_cutoff_is_decided_by_the_coordinator_as_locally(project: Project, cluster: Cluster) -> None:
    """The upstream shell step reruns on a worker with the same output: its dependent stays cached."""
    text = 'workflow w "cutoff"\n\nshell a:\n    echo same # {version}\n\nquery b @analyzer:\n    About {{{{ a }}}}\n'
    project.workflow(text.format(version="v1"))
    dask_build(project, cluster)
    project.workflow(text.format(version="v2"))
    built = dask_build(project, cluster)
    assert built.ran == {"a"} and built.step("a")["where"] in cluster.pids
    assert built.cached == {"b"} and built.step("b")["where"] == "cache" and project.calls == 1


def test_budgets_hold_on_the_cluster_as_locally(project: Project, cluster: Cluster) -> None:
    project.workflow('workflow w "two queries"\n\nquery one @analyzer:\n    First\n\n'
                     'query two @analyzer:\n    Second: {{ one }}\n')
    built = dask_build(project, cluster, "--max-calls", "1", code=1)
    assert built.step("one")["where"] in cluster.pids and built.step("one")["status"] == "ran"
    assert built.step("two")["status"] == "failed" and "limit of 1 LLM calls" in built.error("two")
    assert project.calls == 1


def test_workers_get_only_the_variables_named_in_executor_env(project: Project, cluster: Cluster,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project.config('[executor]\nenv = ["SHARED_SETTING"]\n')
    project.workflow('workflow w "env"\n\nshell show:\n    echo "${SHARED_SETTING:-unset} ${PRIVATE_TOKEN:-unset}"\n')
    project.env |= {"SHARED_SETTING": "shared", "PRIVATE_TOKEN": "secret-on-the-coordinator"}
    built = dask_build(project, cluster)
    assert built.step("show")["where"] in cluster.pids
    assert built.output == "shared unset"


def test_a_worker_killed_mid_step_the_step_runs_elsewhere(project: Project, cluster: Cluster,
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "killed-once"
    project.config('[executor]\nenv = ["MARKER"]\n')
    project.env["MARKER"] = str(marker)
    project.workflow('workflow w "a step that kills its worker the first time"\n\n'
                     'shell survivor:\n'
                     '    if [ -e "$MARKER" ]; then echo "survived in $PPID"; '
                     'else echo "$PPID" > "$MARKER"; kill -9 "$PPID"; sleep 5; fi\n')
    built = dask_build(project, cluster)
    killed = int(marker.read_text())
    assert killed in cluster.pids.values()
    output = built.output or ""
    assert output.startswith("survived in ") and int(output.split()[-1]) != killed
    assert built.ran == {"survivor"}
    cluster.refresh(2)  # the nanny started a new worker: the cluster is whole for the next tests


def test_ctrl_c_cancels_the_futures_and_the_workers_kill_the_command(project: Project, cluster: Cluster,
                                                                    tmp_path: Path) -> None:
    started = tmp_path / "started"
    project.config('[executor]\nenv = ["STARTED"]\n')
    project.env["STARTED"] = str(started)
    project.workflow('workflow w "a long step"\n\nshell long:\n    echo $$ > "$STARTED"; sleep 60; echo done\n')
    child = project.spawn("build", "w", "--executor", "dask", "--scheduler", cluster.address)
    deadline = time.monotonic() + 60
    while not (started.exists() and started.read_text().strip()):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    shell = int(started.read_text())
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    deadline = time.monotonic() + 20
    while _alive(shell):  # the worker killed its command's process group when told
        assert time.monotonic() < deadline, "the step's command still runs on the worker"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_an_unreachable_scheduler_is_a_clear_error_naming_it(project: Project, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    done = project.run("build", "w", "--executor", "dask", "--scheduler", address, timeout=10)
    assert done.returncode == 1
    assert f"cannot reach the Dask scheduler at {address}" in done.stderr
    assert "Traceback" not in done.stderr and project.calls == 0


def test_without_the_extra_it_says_what_to_install(project: Project, tmp_path: Path) -> None:
    shadow = tmp_path / "no-distributed"
    shadow.mkdir()
    (shadow / "distributed.py").write_text("raise ImportError('No module named distributed')\n")
    project.env["PYTHONPATH"] = str(shadow)
    done = project.run("build", "w", "--executor", "dask")
    assert done.returncode == 2
    assert "pip install 'muxc[distributed]'" in done.stderr and "Traceback" not in done.stderr


# --- workers that must be refused: a cluster of their own each --------------------------


@pytest.fixture
def lone_scheduler(tmp_path: Path) -> tuple[str, Path, list[subprocess.Popen[bytes]]]:
    directory = tmp_path / "lone"
    address, scheduler = start_scheduler(directory, cluster_env(directory / "home"))
    processes = [scheduler]
    yield address, directory, processes
    stop(processes)


def test_a_worker_with_another_muxc_version_is_refused_naming_both(
        project: Project, lone_scheduler: tuple[str, Path, list[subprocess.Popen[bytes]]]) -> None:
    address, directory, processes = lone_scheduler
    preload = directory / "other_version.py"
    preload.write_text("import muxc\nmuxc.__version__ = '0.0.1-elsewhere'\n")
    processes.append(start_worker(address, directory / "workers", cluster_env(directory / "home"),
                                  "--preload", str(preload)))
    worker_pids(address, 1)
    built = dask_build(project, address, "--input", "confirm=yes", code=1)
    assert built.doc["steps"] == [] and project.calls == 0
    import muxc

    assert "runs muxc 0.0.1-elsewhere" in built.stderr and f"coordinator muxc {muxc.__version__}" in built.stderr


def test_a_worker_whose_tree_differs_is_refused(
        project: Project, lone_scheduler: tuple[str, Path, list[subprocess.Popen[bytes]]]) -> None:
    """The worker's git ignores a file the coordinator's does not: it sees another project tree."""
    address, directory, processes = lone_scheduler
    home = directory / "odd-home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("notes.txt\n")
    project.write("notes.txt", "the coordinator sees this file; the worker does not\n")
    project.workflow('workflow w "reads the project"\n\nshell count:\n    ls | wc -l\n')
    processes.append(start_worker(address, directory / "workers", cluster_env(home)))
    worker_pids(address, 1)
    built = dask_build(project, address, code=1)
    error = built.error("count")
    assert "refused by worker" in error and "differs from the coordinator's" in error
    assert project.ran() == []


def test_a_cluster_build_fills_the_remote_a_clone_then_builds_locally_for_free(
        tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer, cluster: Cluster,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    clones = make_clones(tmp_path, llm_server, 'workflow w "q"\n\nshell a:\n    echo one\n\n'
                         'query b @analyzer:\n    About {{ a }}\n')
    done = clones.a.run("build", "w", "--executor", "dask", "--scheduler", cluster.address, "--remote", clones.url,
                        "--output", "json", timeout=90)
    assert done.returncode == 0, done.stderr
    assert {step["where"] for step in json.loads(done.stdout)["steps"]} <= set(cluster.pids)
    monkeypatch.chdir(clones.b.root)
    again = clones.b.build("--remote", clones.url)
    assert again.cached == {"a", "b"} and llm_server.calls == 1


def test_python_is_the_same_on_both_sides() -> None:
    assert Path(sys.executable).parent.joinpath("dask").exists()


def test_a_scheduler_lost_mid_build_fails_the_build_saying_so(
        project: Project, lone_scheduler: tuple[str, Path, list[subprocess.Popen[bytes]]], tmp_path: Path) -> None:
    address, directory, processes = lone_scheduler
    processes.append(start_worker(address, directory / "workers", cluster_env(directory / "home")))
    worker_pids(address, 1)
    started = tmp_path / "started"
    project.config('[executor]\nenv = ["STARTED"]\n')
    project.env["STARTED"] = str(started)
    project.workflow('workflow w "the scheduler goes away"\n\nshell first:\n    touch "$STARTED"; sleep 30\n\n'
                     'shell second:\n    echo "{{ first }}"\n')
    child = project.spawn("build", "w", "--executor", "dask", "--scheduler", address, "--output", "json")
    deadline = time.monotonic() + 60
    while not started.exists():
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    os.killpg(processes[0].pid, signal.SIGKILL)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 1, stderr
    first = next(step for step in json.loads(stdout)["steps"] if step["name"] == "first")
    assert first["status"] == "failed" and f"the Dask scheduler at {address} was lost" in first["error"]
