"""The managed-backend lifecycle through ``BackendPool``: real hooks, a real loopback server.

What a user would notice: how often their start and stop hooks run, what stays running, how
long a stuck hook can hold up the build, and what the error says when a start fails.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.managed.costs import moving_average
from muxc.backends.registry import BackendPool
from muxc.config.schema import Config, Resources
from tests.managed.conftest import Hooks
from tests.run.procs import alive, wait_for_pids, wait_until
from tests.support.llm_server import Reply


def pool_of(tmp_path: Path, *backends, slots: int = 1) -> BackendPool:
    config = Config(backends={b.name: b for b in backends}, resources=Resources(slots=slots))
    return BackendPool(config, tmp_path, environ={"PATH": "/usr/bin:/bin"}, state_dir=tmp_path / "state")


def ask(pool: BackendPool, name: str, prompt: str = "hello", cancel: Cancel | None = None) -> str:
    return pool.get(name).complete(CompletionRequest(prompt), cancel or Cancel()).text


def test_ten_concurrent_calls_run_the_start_hook_once(tmp_path: Path, hooks: Hooks) -> None:
    pool = pool_of(tmp_path, hooks.managed("a", start=hooks.start("sleep 0.3; ")))
    with ThreadPoolExecutor(10) as workers:
        answers = list(workers.map(lambda i: ask(pool, "a", f"question {i}"), range(10)))
    assert all(answer.startswith("a says:") for answer in answers)
    assert hooks.events() == [("start", "a")]
    assert len(hooks.server.completions) == 10
    pool.close()
    assert hooks.events() == [("start", "a"), ("stop", "a")]


def test_hooks_see_the_backend_port_url_model_and_run_id_in_the_project_root(tmp_path: Path, hooks: Hooks) -> None:
    seen = tmp_path / "env.txt"
    start = hooks.start(f'env | grep ^MUXC_ | sort > "{seen}"; pwd >> "{seen}"; ')
    pool = pool_of(tmp_path, hooks.managed("a", start=start))
    ask(pool, "a")
    pool.close()
    lines = seen.read_text().splitlines()
    port = hooks.server.openai_url.split(":")[2].split("/")[0]
    assert "MUXC_BACKEND=a" in lines and "MUXC_MODEL=a" in lines and f"MUXC_PORT={port}" in lines
    assert f"MUXC_BASE_URL={hooks.server.openai_url}" in lines
    assert f"MUXC_RUN_ID={pool.run_id}" in lines and pool.run_id
    assert lines[-1] == str(tmp_path)


def test_a_backend_that_is_already_healthy_is_adopted_never_started_and_never_stopped(
        tmp_path: Path, hooks: Hooks) -> None:
    hooks.bring_up("a")
    pool = pool_of(tmp_path, hooks.managed("a"))
    assert ask(pool, "a").startswith("a says:")
    notes = pool.stop_managed()
    pool.close()
    assert hooks.events() == []
    assert (hooks.up / "a").exists()
    assert notes == ["backend a: already running and healthy, so used as it is and left running"]


def test_adopt_running_false_runs_start_anyway_and_stops_it_at_the_end(tmp_path: Path, hooks: Hooks) -> None:
    hooks.bring_up("a")
    pool = pool_of(tmp_path, hooks.managed("a", adopt_running=False))
    ask(pool, "a")
    pool.close()
    assert hooks.events() == [("start", "a"), ("stop", "a")]


def test_keep_running_leaves_a_started_backend_up(tmp_path: Path, hooks: Hooks) -> None:
    pool = pool_of(tmp_path, hooks.managed("a", keep_running=True))
    ask(pool, "a")
    notes = pool.stop_managed()
    pool.close()
    assert hooks.events() == [("start", "a")]
    assert "left running (keep_running)" in notes[0]


def test_what_a_start_hook_leaves_in_the_background_is_the_server_and_survives_it(
        tmp_path: Path, hooks: Hooks) -> None:
    # not even setsid: killing the hook's group once it exits would race a `setsid server &`
    # child that has not left the group yet, so a start hook's background is never killed
    pid = tmp_path / "server.pid"
    start = hooks.start(f'sleep 60 > /dev/null 2>&1 < /dev/null & echo $! > "{pid}"; ')
    stop = hooks.stop(f'kill $(cat "{pid}"); ')
    pool = pool_of(tmp_path, hooks.managed("a", start=start, stop=stop))
    ask(pool, "a")
    assert alive(int(pid.read_text()))
    pool.stop_managed()
    pool.close()
    assert wait_until(lambda: not alive(int(pid.read_text())))


def test_a_start_hook_that_hangs_is_killed_with_its_whole_process_group(tmp_path: Path, hooks: Hooks) -> None:
    pids = tmp_path / "pids"
    start = f'echo $$ >> "{pids}"; sleep 60 & echo $! >> "{pids}"; wait'
    pool = pool_of(tmp_path, hooks.managed("a", start=start, start_timeout=1))
    began = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(pool, "a")
    assert time.monotonic() - began < 6
    error = caught.value
    assert error.kind == "unavailable"
    assert "backend 'a' did not start: the start hook `echo $$" in error.message
    assert "timed out after 1s (start_timeout) and its process group was killed" in error.message
    assert not any(alive(pid) for pid in wait_for_pids(pids, 2))
    pool.close()


def test_a_health_check_that_hangs_is_killed_and_the_start_fails_within_start_timeout(
        tmp_path: Path, hooks: Hooks) -> None:
    pids = tmp_path / "pids"
    health = f'echo $$ >> "{pids}"; sleep 60 & echo $! >> "{pids}"; wait'
    pool = pool_of(tmp_path, hooks.managed("a", health=health, health_timeout=0.3, start_timeout=1.5,
                                           adopt_running=False))
    began = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(pool, "a")
    assert time.monotonic() - began < 7
    assert "did not pass within 1.5s of starting (start_timeout)" in caught.value.message
    assert "timed out after 0.3s (health_timeout)" in caught.value.message
    pids_seen = [int(line) for line in pids.read_text().split()]
    assert pids_seen and not any(alive(pid) for pid in pids_seen)
    # the failed start was cleaned up with the stop hook
    assert hooks.events() == [("start", "a"), ("stop", "a")]
    pool.close()


def test_a_stop_hook_that_hangs_is_killed_and_the_note_says_so(tmp_path: Path, hooks: Hooks) -> None:
    pids = tmp_path / "pids"
    stop = f'echo $$ >> "{pids}"; sleep 60 & echo $! >> "{pids}"; wait'
    pool = pool_of(tmp_path, hooks.managed("a", stop=stop, stop_timeout=1))
    ask(pool, "a")
    began = time.monotonic()
    notes = pool.stop_managed()
    pool.close()
    assert time.monotonic() - began < 6
    assert "stop hook: timed out after 1s (stop_timeout)" in notes[0]
    assert not any(alive(pid) for pid in wait_for_pids(pids, 2))


def test_a_failed_start_runs_stop_names_hook_code_and_stderr_and_is_remembered(
        tmp_path: Path, hooks: Hooks) -> None:
    start = hooks.start('echo "loading weights" >&2; echo "CUDA out of memory" >&2; exit 3; ')
    pool = pool_of(tmp_path, hooks.managed("a", start=start))
    for _ in range(2):
        with pytest.raises(BackendError) as caught:
            ask(pool, "a")
        error = caught.value
        assert error.kind == "unavailable" and error.exit_code == 3
        assert "backend 'a' did not start: the start hook" in error.message
        assert "exited with code 3" in error.message
        assert "stderr ends:\n  loading weights\n  CUDA out of memory" in error.message
        assert "muxc ran the stop hook `echo \"stop $MUXC_BACKEND" in error.message
    assert hooks.events() == [("start", "a"), ("stop", "a")]  # the second call did not retry
    assert pool.stop_managed() == ["backend a: failed to start (see the failed steps)"]
    pool.close()
    assert hooks.events() == [("start", "a"), ("stop", "a")]


def test_with_one_slot_the_resident_backend_drains_before_the_switch(tmp_path: Path, hooks: Hooks) -> None:
    hooks.server.script(Reply(text="slow answer", delay=0.5))
    pool = pool_of(tmp_path, hooks.managed("a"), hooks.managed("b"))
    finished: dict[str, float] = {}

    def call(name: str) -> None:
        ask(pool, name)
        finished[name] = time.time()

    first = threading.Thread(target=call, args=("a",))
    first.start()
    while ("start", "a") not in hooks.events():
        time.sleep(0.01)
    call("b")
    first.join()
    pool.close()
    timed = hooks.timed()
    assert [(event, name) for event, name, _ in timed] == [("start", "a"), ("stop", "a"), ("start", "b"),
                                                           ("stop", "b")]
    stop_a = timed[1][2]
    assert stop_a >= finished["a"] - 0.05  # a's answer was fully read before its stop ran
    assert timed[2][2] >= stop_a  # and b started only after a stopped


def test_two_slots_keep_two_backends_resident(tmp_path: Path, hooks: Hooks) -> None:
    pool = pool_of(tmp_path, hooks.managed("a"), hooks.managed("b"), slots=2)
    for name in "abab":
        ask(pool, name)
    assert hooks.events() == [("start", "a"), ("start", "b")]
    pool.close()
    assert sorted(hooks.events()[2:]) == [("stop", "a"), ("stop", "b")]


def test_a_backend_needing_more_slots_than_the_machine_has_is_a_config_error(tmp_path: Path, hooks: Hooks) -> None:
    pool = pool_of(tmp_path, hooks.managed("big", slots=2), slots=1)
    with pytest.raises(BackendError) as caught:
        ask(pool, "big")
    assert caught.value.kind == "config"
    assert "needs 2 slots but at most 1 may be resident; raise [resources] slots" in caught.value.message
    assert hooks.events() == []


def test_a_call_waiting_for_a_start_is_released_by_cancel(tmp_path: Path, hooks: Hooks) -> None:
    pool = pool_of(tmp_path, hooks.managed("a", start=hooks.start("sleep 30; ")))
    cancel = Cancel()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(BackendError) as caught:
        ask(pool, "a", cancel=cancel)
    assert caught.value.kind == "cancelled" and time.monotonic() - began < 3
    pool.close()  # the interrupted start is muxc's to clean up
    assert hooks.events() == [("start", "a"), ("stop", "a")]


def test_start_cost_is_a_moving_average_whose_first_observation_is_exact() -> None:
    assert moving_average(None, 10.0) == 10.0
    assert moving_average(10.0, 20.0) == pytest.approx(13.0)
    assert moving_average(10.0, 20.0, alpha=0.5) == 15.0


def test_start_costs_are_written_atomically_and_accumulate(tmp_path: Path, hooks: Hooks) -> None:
    for _ in range(2):
        pool = pool_of(tmp_path, hooks.managed("a", start=hooks.start("sleep 0.2; ")))
        ask(pool, "a")
        pool.close()
    costs = pool.supervisor.costs
    cost = costs.get("a")
    assert cost is not None and cost.starts == 2 and 0.2 <= cost.average_s < 2
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["backends", "backends.json",
                                                                       "backends.json.lock"]
