"""Input steps: answered by ``--input NAME=VALUE``, asked on a terminal, or a clear failure; the
answer is part of the key, so the same answer reuses everything downstream."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.apply.conftest import statuses

ASK = """
    workflow x "ask first"

    input approve [options = ["yes", "no"]]: Apply the fix to {{ target }}?

    shell target: echo calc.py

    shell after: echo after >> "$COUNTER"; echo "approved={{ approve }}"

    query note @analyzer:
        The user said {{ approve }}.
    """


def asking(proj, tmp_path: Path) -> Path:
    counter = tmp_path / "counter"
    proj.env["COUNTER"] = str(counter)
    proj.workflow(ASK)
    proj.commit()
    return counter


def test_input_answers_a_non_interactive_build_and_the_same_answer_reuses_the_cache(proj, tmp_path):
    counter = asking(proj, tmp_path)
    first = proj.build_json("--input", "approve=yes")
    assert statuses(first) == {"target": "ran", "approve": "ran", "after": "ran", "note": "ran"}
    assert proj.prompts == ["The user said yes.\n"]
    again = proj.build_json("--input", "approve=yes")
    assert statuses(again) == {"target": "cached", "approve": "cached", "after": "cached", "note": "cached"}
    assert counter.read_text() == "after\n" and proj.server.calls == 1
    other = proj.build_json("--input", "approve=no")
    assert statuses(other)["after"] == "ran" and statuses(other)["note"] == "ran"
    assert proj.prompts[-1] == "The user said no.\n"


def test_no_answer_in_a_non_interactive_build_fails_naming_the_option(proj, tmp_path):
    counter = asking(proj, tmp_path)
    done = proj.build(code=1)  # stdin is not a terminal
    assert "step `approve` failed: needs an answer and this build is not interactive (one of: yes, no)" in done.stderr
    assert "help: pass --input approve=VALUE" in done.stderr
    assert not counter.exists() and proj.server.calls == 0


def test_an_answer_outside_the_options_is_refused(proj, tmp_path):
    counter = asking(proj, tmp_path)
    done = proj.build("--input", "approve=maybe", code=1)
    assert "step `approve` failed: 'maybe' is not one of the options: yes, no" in done.stderr
    assert not counter.exists() and proj.server.calls == 0


def test_an_unknown_input_name_is_not_silently_ignored(proj, tmp_path):
    asking(proj, tmp_path)
    done = proj.build("--input", "aprove=yes", code=1)
    assert "error[unknown-arg]: `x` has no input step `aprove` (given as --input aprove=...)" in done.stderr
    assert proj.server.calls == 0


def read_until(fd: int, wanted: bytes, timeout: float = 20) -> bytes:
    """Read ``fd`` until ``wanted`` appears (or it closes); fail after ``timeout`` seconds."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {wanted!r}; got {seen.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def converse(proj, *, all_on_terminal: bool) -> tuple[int, bytes]:
    """Build with stdin on a pseudo-terminal; answer 'perhaps' (refused), then 'no'.

    The prompt is read where muxc writes it: stderr (a pipe, or the terminal too)."""
    master, slave = pty.openpty()
    output = slave if all_on_terminal else subprocess.PIPE
    child = subprocess.Popen([sys.executable, "-m", "muxc", "build", "x"], cwd=proj.root,
                             env={**proj.env, "TERM": "dumb", "COLUMNS": "100"},
                             stdin=slave, stdout=output, stderr=output, start_new_session=True)
    os.close(slave)
    prompts = master if all_on_terminal else child.stderr.fileno()
    try:
        seen = read_until(prompts, b"Apply the fix to calc.py?")
        os.write(master, b"perhaps\n")
        seen += read_until(prompts, b"is not one of")  # click asks again until the answer is an option
        os.write(master, b"no\n")
        seen += read_until(prompts, b"x: 4 steps")
        return child.wait(timeout=30), seen
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        os.close(master)


def test_an_interactive_build_asks_on_the_terminal(proj, tmp_path):
    counter = asking(proj, tmp_path)
    code, seen = converse(proj, all_on_terminal=False)
    assert code == 0, seen.decode(errors="replace")
    assert b"Apply the fix to calc.py? (yes, no): " in seen
    assert counter.read_text() == "after\n"
    assert proj.prompts == ["The user said no.\n"]
    # the answer given at the terminal is cached like --input's
    assert statuses(proj.build_json("--input", "approve=no"))["note"] == "cached"


def test_an_interactive_build_asks_with_the_live_display_on_the_terminal(proj, tmp_path):
    asking(proj, tmp_path)
    code, seen = converse(proj, all_on_terminal=True)
    assert code == 0, seen.decode(errors="replace")


def test_an_empty_answer_is_an_answer(proj):
    proj.workflow("""
        workflow x "free text"

        input note: Anything to add?

        shell show: echo "[{{ note }}]"
        """)
    proj.commit()
    assert proj.build("--input", "note=").stdout == "[]\n"
