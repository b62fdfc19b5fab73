"""A build as a process among others: Ctrl-C, kill -9, and a second build in the same project."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.run.procs import alive, reap, wait_for_pids, wait_until

# How soon an interrupted build must be gone: muxc waits at most 1 s for its workers, the rest is
# slack for a loaded machine.
STOP_S = 2.5

# `slow` hangs (with a child of its own) until $FLAGS/fast exists; the others are quick.
STAGES = """
    workflow w "quick steps, then a slow one"

    shell one [inputs = []]:
        echo one >> "$COUNTER"
        echo 1

    shell two:
        echo two >> "$COUNTER"
        echo {{ one }}2

    shell slow:
        echo slow >> "$COUNTER"
        if test -e "$FLAGS/fast"; then echo {{ two }}3; else
            sleep 30 &
            echo $! >> "$PIDS"
            echo $$ >> "$PIDS"
            wait
        fi

    shell last:
        echo last >> "$COUNTER"
        echo {{ slow }}4
    """


@pytest.fixture
def stages(project, tmp_path, monkeypatch):
    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv("FLAGS", str(flags))
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    project.env.update(FLAGS=str(flags), PIDS=str(tmp_path / "pids"))
    project.flags = flags
    project.pids = tmp_path / "pids"
    project.workflow(STAGES)
    return project


def interrupt(project, args: tuple[str, ...], running, sig: int = signal.SIGINT) -> tuple[int, str, str]:
    """Start ``muxc ARGS``, send ``sig`` once ``running()`` gives something true, and wait for the
    build to be gone (within STOP_S); returns (exit code, stdout, stderr)."""
    build = project.spawn(*args)
    try:
        assert wait_until(running, timeout=20), "the build never got that far"
        interrupted = time.monotonic()
        build.send_signal(sig)
        out, err = build.communicate(timeout=5)
        assert time.monotonic() - interrupted < STOP_S
    finally:
        reap(build)
    return build.returncode, out, err


def _pids_of(stages) -> list[int]:
    return [int(line) for line in stages.pids.read_text().split()] if stages.pids.exists() else []


def _stop_leftovers(pids):
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_promptly_kills_the_step_and_keeps_what_finished(stages, sig):
    code, out, err = interrupt(stages, ("build", "w", "-j", "1"), lambda: len(_pids_of(stages)) >= 2, sig)
    pids = _pids_of(stages)
    assert code == 130, err
    assert "interrupted: finished steps are kept; build again to resume" in err
    assert out == ""
    assert wait_until(lambda: not [pid for pid in pids if alive(pid)], timeout=2), "a child survived Ctrl-C"
    assert stages.ran() == ["one", "two", "slow"]

    (stages.flags / "fast").touch()
    again = stages.build("-j", "1")
    assert again.status == {"one": "cached", "two": "cached", "slow": "ran", "last": "ran"}
    assert stages.ran() == ["slow", "last"]
    assert again.output == "1234"


@pytest.mark.slow
def test_ctrl_c_with_parallel_workers(stages):
    code, _, err = interrupt(stages, ("build", "w", "-j", "4"), lambda: len(_pids_of(stages)) >= 2)
    pids = _pids_of(stages)
    assert code == 130, err
    assert wait_until(lambda: not [pid for pid in pids if alive(pid)], timeout=2), "a child survived Ctrl-C"


@pytest.mark.slow
def test_kill_9_loses_nothing_that_finished(stages):
    build = stages.spawn("build", "w", "-j", "1")
    try:
        pids = wait_for_pids(stages.pids, 2, timeout=20)
        build.kill()  # SIGKILL: no handler runs, no cleanup
        build.communicate(timeout=5)
    finally:
        reap(build)
    _stop_leftovers(pids)  # nobody can kill them for a process that was killed with -9
    assert stages.ran() == ["one", "two", "slow"]

    (stages.flags / "fast").touch()
    result = stages.run("status", "w", "--exit-code")
    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == ["one: up to date", "two: up to date"]
    again = stages.build("-j", "1")
    assert again.status == {"one": "cached", "two": "cached", "slow": "ran", "last": "ran"}
    assert stages.ran() == ["slow", "last"]
    assert stages.build().ran == set()


@pytest.mark.slow
def test_a_second_build_in_the_same_project_fails_fast(stages):
    first = stages.spawn("build", "w", "-j", "1")
    try:
        wait_for_pids(stages.pids, 2, timeout=20)
        started = time.monotonic()
        second = stages.cli("build", "w")
        assert time.monotonic() - started < 5  # it does not wait for the lock
        assert second.exit_code == 1
        assert second.stderr == f"Error: another muxc build is running in this project (pid {first.pid}); " \
                                "wait for it to finish or stop it\n"
        status = stages.cli("status", "w")  # it looks without the lock, and says a build runs
        assert status.exit_code == 0
        assert status.stderr == f"note: a build is running in this project (pid {first.pid}); this is the " \
                                "state so far\n"
        assert status.stdout.splitlines() == ["one: up to date", "two: up to date", "slow: would run — never built",
                                              "last: would run — never built"]
        assert stages.cli("status", "w", "--exit-code").exit_code == 1
        for command in (["clean", "--yes"], ["forget", "w", "one"]):
            refused = stages.cli(*command)
            assert refused.exit_code == 1
            assert f"another muxc build is running in this project (pid {first.pid})" in refused.stderr
        (stages.flags / "fast").touch()
        first.send_signal(signal.SIGINT)  # end it without waiting 30 s; what it finished is kept
        first.communicate(timeout=5)
    finally:
        reap(first)
    assert stages.ran() == ["one", "two", "slow"]  # the second build ran nothing
    assert stages.build().status == {"one": "cached", "two": "cached", "slow": "ran", "last": "ran"}


def test_the_first_build_is_unaffected_by_a_second_one(project, tmp_path):
    gate = tmp_path / "gate"
    project.workflow(f"""
        workflow w "waits for a gate"

        shell wait:
            while ! test -e {gate}; do sleep 0.05; done
            echo waited

        shell after:
            echo {{{{ wait }}}} and done
        """)
    first = project.spawn("build", "w")
    try:
        assert wait_until(lambda: (project.root / ".muxc/state/lock").is_file()
                          and (project.root / ".muxc/state/lock").read_text().strip() == str(first.pid),
                          timeout=20)
        assert project.cli("build", "w").exit_code == 1
        gate.touch()
        out, err = first.communicate(timeout=20)
    finally:
        reap(first)
    assert first.returncode == 0, err
    assert out == "waited and done\n"


def test_the_lock_is_released_when_a_build_ends(project):
    project.workflow("""
        workflow w "trivial"

        shell hello: echo hello
        """)
    assert project.run("build", "w").returncode == 0
    assert (project.root / ".muxc/state/lock").read_text() == ""
    assert project.build().cached == {"hello"}


def test_a_stale_lock_file_from_a_killed_build_does_not_block(project):
    project.workflow("""
        workflow w "trivial"

        shell hello: echo hello
        """)
    state = project.root / ".muxc" / "state"
    state.mkdir(parents=True)
    (state / "lock").write_text("999999")  # written by a build that died: nobody holds the flock
    assert project.build().ran == {"hello"}


def test_ps_shows_no_leftover_after_a_normal_build(project, tmp_path):
    pids = tmp_path / "pids"
    project.workflow(f"""
        workflow w "a command that leaves a child behind"

        shell leaky:
            sleep 30 > /dev/null 2>&1 &
            echo $! >> {pids}
            echo started
        """)
    assert project.build().output == "started"
    [pid] = wait_for_pids(pids, 1)
    assert wait_until(lambda: not alive(pid), timeout=2), subprocess.run(["ps", "-o", "pid,pgid,cmd", "-p",
                                                                          str(pid)], capture_output=True,
                                                                         text=True).stdout


@pytest.mark.slow
def test_ctrl_c_while_waiting_for_the_llm_stops_promptly(project):
    from tests.support.llm_server import Reply

    project.server.script(Reply(text="too late", delay=30))
    project.workflow("""
        workflow w "a slow model"

        shell first:
            echo first >> "$COUNTER"

        query ask @analyzer:
            Take your time. {{ first }}
        """)
    code, _, err = interrupt(project, ("build", "w"), lambda: project.calls == 1)
    assert code == 130, err
    assert "interrupted: finished steps are kept" in err
    assert project.ran() == ["first"]
    assert project.build().status == {"first": "cached", "ask": "ran"}


@pytest.mark.slow
def test_kill_9_during_for_each_keeps_the_finished_items(project, tmp_path, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv("GATE", str(gate))
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    project.env.update(GATE=str(gate), PIDS=str(tmp_path / "pids"))
    project.workflow("""
        workflow w "items, the last one slow"

        shell each [for_each = "['a', 'b', 'c', 'slow']"]:
            echo {{ item }} >> "$COUNTER"
            if [ {{ item }} = slow ] && ! [ -e "$GATE" ]; then sleep 30 & echo $! >> "$PIDS"; wait; fi
            echo done {{ item }}
        """)
    build = project.spawn("build", "w", "-j", "4")
    try:
        assert wait_until(lambda: project.counter.exists() and len(project.counter.read_text().split()) == 4,
                          timeout=20)
        time.sleep(0.3)  # let the quick items be stored
        build.kill()
        build.communicate(timeout=5)
    finally:
        reap(build)
    _stop_leftovers(wait_for_pids(tmp_path / "pids", 1))
    assert sorted(project.ran()) == ["a", "b", "c", "slow"]
    gate.touch()
    again = project.build()
    assert again.step("each")["reason"] == "1 of 4 items ran"
    assert project.ran() == ["slow"]
    assert again.output == "done a\ndone b\ndone c\ndone slow"


def _built_once(project):
    project.workflow("""
        workflow w "two steps"

        shell one:
            echo one >> "$COUNTER"

        query ask @analyzer:
            Hello {{ one }}
        """)
    project.build()
    assert project.ran() == ["one"]
    return project.root / ".muxc" / "state"


def test_a_doit_index_an_earlier_muxc_left_is_ignored_and_nothing_reruns(project):
    state = _built_once(project)
    (state / "doit.db").write_bytes(b"not a database at all")  # doit's index is kept in memory now
    built = project.build()
    assert built.cached == {"one", "ask"}
    assert project.ran() == [] and project.calls == 1
    assert project.cli("clean", "--yes").exit_code == 0 and not (state / "doit.db").exists()


def test_a_damaged_result_store_is_set_aside_and_the_build_starts_afresh(project):
    state = _built_once(project)
    (state / "cache.db").write_bytes(b"not a database at all")
    result = project.cli("build", "w")
    assert result.exit_code == 0, result.stderr
    assert "note: the build cache cache.db could not be read (file is not a database); it was moved to " \
           "cache.db.damaged and every step builds again" in result.stderr
    assert (state / "cache.db.damaged").read_bytes() == b"not a database at all"
    assert project.ran() == ["one"] and project.calls == 2
    assert project.build().cached == {"one", "ask"}


def test_damaged_stat_and_plan_caches_only_cost_time(project):
    state = _built_once(project)
    (state / "stat-cache").write_bytes(b"\x00garbage")
    for plan in (state / "plans").iterdir():
        plan.write_bytes(b"forged or damaged")
    assert project.build().cached == {"one", "ask"}
    assert project.ran() == []
