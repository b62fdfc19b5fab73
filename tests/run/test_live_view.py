"""How a build looks while it runs and when it is stopped: the live view's header and rows, the
lines on a pipe, and a clean Ctrl-C (no noise from the LLM log, in-flight steps interrupted)."""

from __future__ import annotations

import re
import signal
import threading
import time

from tests.run.procs import reap, wait_until
from tests.support.llm_server import Reply

TWO_QUERIES = """
    workflow w "a shell step and two slow queries"

    shell sources:
        echo code

    query first @analyzer:
        First look at {{ sources }}

    query second @analyzer:
        Second look at {{ sources }}
    """


def test_ctrl_c_during_queries_says_interrupted_and_leaves_no_database_noise(project):
    project.workflow(TWO_QUERIES)
    project.server.script(Reply(text="slow", stall_after=1, chunking=4), Reply(text="slow", stall_after=1))
    build = project.spawn("build", "w", "-j", "4")
    try:
        assert wait_until(lambda: project.calls >= 2, timeout=20), "the queries never started"
        build.send_signal(signal.SIGINT)
        _, err = build.communicate(timeout=10)
    finally:
        reap(build)
    assert build.returncode == 130, err
    assert "could not record" not in err and "closed database" not in err, err
    assert "✗ first: interrupted" in err and "✗ second: interrupted" in err, err
    assert "not reached" not in err, err
    import json

    logged = json.loads(project.cli("logs", "--output", "json").stdout)
    assert sorted((entry["step"], entry["status"]) for entry in logged) == [("first", "cancelled"),
                                                                             ("second", "cancelled")]


THREE_QUERIES = """
    workflow w "a shell step and three queries"

    shell sources:
        echo code

    query first @analyzer:
        First look at {{ sources }}

    query second @analyzer:
        Second look at {{ sources }}

    query third @synthesizer:
        Third look at {{ sources }}
    """


def _masked(text: str) -> str:
    return re.sub(r"\d+\.\ds", "N.Ns", text)


def test_the_live_view_shows_totals_the_backend_streamed_tokens_and_what_j_holds(project, snapshot):
    from muxc.app.api import Project
    from muxc.app.builds import BuildOptions, close, execute, prepare
    from muxc.ui.progress import frame_lines, frame_of

    project.workflow(THREE_QUERIES)
    # `first` streams 2 of its deltas (20 characters), then goes silent until the build is stopped
    project.server.script(Reply(deltas=["0123456789"] * 40, stall_after=3))
    build = prepare(Project.discover(project.root, environ=project.env), "w", {}, BuildOptions(jobs=1)).build
    worker = threading.Thread(target=execute, args=(build,))
    worker.start()
    try:
        assert wait_until(lambda: build.state("first").streamed >= 20, timeout=20), "nothing streamed"
        frame = frame_of(build, time.time())
    finally:
        build.cancel.set()
        worker.join(timeout=20)
        close(build)
    assert frame.count("queued") == 2
    assert _masked("\n".join(frame_lines(frame))) == snapshot


FIVE = """
    workflow w "five quick steps"

    shell a: echo a
    shell b: echo {{ a }}b
    shell c: echo {{ b }}c
    shell d: echo {{ c }}d
    shell e: echo {{ d }}e
    """


def test_a_cached_build_on_a_pipe_prints_its_summary_not_a_line_per_step(project, snapshot):
    project.workflow(FIVE)
    first = project.cli("build", "w")
    assert first.stderr.count(": ran (") == 5
    project.workflow(FIVE.replace("{{ d }}e", "{{ d }}E"))
    again = project.cli("build", "w")  # only `e` changed: the other four are served from the cache
    assert again.exit_code == 0 and again.stdout == "abcdE\n"
    assert _masked(again.stderr) == snapshot
    listed = project.cli("build", "w", "-v")
    assert listed.stderr.count(": cached") == 5, listed.stderr


def test_on_a_terminal_the_live_view_has_its_header_and_ctrl_c_leaves_interrupted_rows(project):
    import os
    import pty
    import subprocess
    import sys

    project.workflow(THREE_QUERIES)
    project.server.script(Reply(deltas=["0123456789"] * 40, stall_after=3))
    leader, follower = pty.openpty()
    env = {**project.env, "COLUMNS": "120", "LINES": "40", "TERM": "xterm"}
    build = subprocess.Popen([sys.executable, "-m", "muxc", "build", "w", "-j", "1"], cwd=project.root, env=env,
                             stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = bytearray()

    def drawn(text: str) -> bool:
        while True:
            try:
                chunk = os.read(leader, 65536) if _readable(leader) else b""
            except OSError:
                chunk = b""
            if not chunk:
                return text in seen.decode(errors="replace")
            seen.extend(chunk)

    try:
        assert wait_until(lambda: drawn("2 queued (-j 1)"), timeout=20), seen.decode(errors="replace")
        build.send_signal(signal.SIGINT)
        build.wait(timeout=10)
        drawn("")
    finally:
        reap(build)
        os.close(leader)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # no colours, no cursor moves
    assert build.returncode == 130
    assert "w — 1/4 done · 1 running · 2 queued (-j 1) · 0 cached · 0 failed · " in screen
    assert re.search(r"first +running +query +\d+\.\ds, fake", screen), screen
    assert "1 interrupted" in screen and re.search(r"first +interrupted", screen), screen
    assert "closed database" not in screen


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0)[0])


def _row(number: int, status: str, finished: float = 0.0):
    from muxc.ui.progress import Row

    return Row(f"s{number}", status, "shell", "", finished)


def test_a_view_taller_than_the_terminal_keeps_what_matters_and_counts_the_rest():
    from muxc.ui.progress import visible_rows

    rows = [_row(number, "cached", finished=float(number)) for number in range(1000)]
    rows[500] = _row(500, "running")
    rows[10] = _row(10, "failed", finished=1.0)
    rows[700] = _row(700, "queued")
    rows[800:] = [_row(number, "pending") for number in range(800, 1000)]
    shown, more = visible_rows(tuple(rows), height=20)
    names = [row.step for row in shown]
    assert len(shown) == 17  # the header, the "more" line and the cursor's line take the rest of the 20
    assert {"s500", "s10", "s700"} <= set(names)
    assert {"s799", "s798"} <= set(names) and "s0" not in names  # the most recently finished
    assert names == sorted(names, key=lambda name: int(name[1:]))  # in plan order
    assert more == "… 783 more done · 200 more to do"  # 798 finished, 15 of them shown
    small = tuple(rows[:17])
    assert visible_rows(small, height=20) == (list(small), "")  # rows that fit: all of them, as before


def test_on_a_small_terminal_a_big_build_draws_its_failure_and_a_count_not_every_row(project):
    import os
    import pty
    import subprocess
    import sys

    steps = [f"shell s{number}: echo {number}" for number in range(120)]
    project.workflow("workflow w\n" + "\n".join(steps) + "\n")
    assert project.cli("build", "w").exit_code == 0
    project.workflow("workflow w\n" + "\n".join(steps) + "\nshell broken: exit 3\n")
    leader, follower = pty.openpty()
    env = {**project.env, "COLUMNS": "100", "LINES": "15", "TERM": "xterm"}
    build = subprocess.Popen([sys.executable, "-m", "muxc", "build", "w"], cwd=project.root, env=env,
                             stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    seen = bytearray()
    try:
        while build.poll() is None or _readable(leader):
            try:
                chunk = os.read(leader, 65536) if _readable(leader) else b""
            except OSError:
                break
            seen.extend(chunk)
    finally:
        reap(build)
        os.close(leader)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert build.returncode == 1, screen
    assert re.search(r"broken +failed +shell", screen), screen
    assert re.search(r"… \d+ more done", screen), screen
    assert not re.search(r"\bs0 +cached", screen), screen  # the oldest cached rows are counted, not drawn
