"""A build killed with `kill -9` while an apply step verifies its edits: the next build, of any
workflow, puts the files back to their pre-step bytes (the edits were never verified), keeps a
file the user changed since and saves its pre-step bytes, and the apply then runs again from the
cached answer without asking the LLM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

from tests.support.llm_server import Reply

FIX = """
    workflow x "fix calc.py"

    query fix @coder:
        Fix add in calc.py.

    apply apply from fix [verify = "{verify}"]
    """

NOOP = """
    workflow noop "another workflow of the same project"

    shell hello [inputs = []]: echo hello
    """

EDITS = json.dumps({"edits": [
    {"path": "calc.py", "old": "return a - b", "new": "return a + b"},
    {"path": "gen/deep/made.py", "content": "x = 1\n"},
]})


def setup(proj, tmp_path):
    """calc.py committed, the user's uncommitted line on top; verify hangs until `ok` exists."""
    verify = (f"if [ -e {tmp_path}/ok ]; then grep -q 'return a + b' calc.py; "
              f"else echo $$ > {tmp_path}/verify.pid; sleep 60; fi")
    proj.write("calc.py", "def add(a, b):\n    return a - b\n")
    proj.workflow(FIX.format(verify=verify))
    proj.workflow(NOOP, name="noop")
    proj.commit()
    proj.write("calc.py", "# keep me: uncommitted\ndef add(a, b):\n    return a - b\n")
    proj.server.script(Reply(text=EDITS))


def kill_during_verify(proj, tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-m", "muxc", "build", "x"], cwd=proj.root, env=proj.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = tmp_path / "verify.pid"
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline and child.poll() is None, "the build never reached verify"
        time.sleep(0.05)
    child.kill()  # SIGKILL: no handler, no rollback
    child.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # nobody is left to stop the verifier
        os.killpg(int(pid_file.read_text()), signal.SIGKILL)


def test_the_next_build_of_any_workflow_puts_the_unverified_edits_back(proj, tmp_path):
    setup(proj, tmp_path)
    before, status = proj.tree(), proj.status()
    kill_during_verify(proj, tmp_path)
    assert "return a + b" in proj.read("calc.py") and (proj.root / "gen/deep/made.py").exists()

    done = proj.build(workflow="noop")
    assert proj.tree() == before and proj.status() == status
    assert not (proj.root / "gen").exists()
    assert ("note: a build was killed while step `apply` of x applied edits it never verified: "
            "restored calc.py; removed gen/deep/made.py") in done.stderr
    assert "never verified" not in proj.build(workflow="noop").stderr  # said once


def test_the_apply_then_runs_again_from_the_cached_answer(proj, tmp_path):
    setup(proj, tmp_path)
    kill_during_verify(proj, tmp_path)
    (tmp_path / "ok").touch()
    done = proj.build()
    assert "restored calc.py" in done.stderr
    assert proj.read("calc.py") == "# keep me: uncommitted\ndef add(a, b):\n    return a + b\n"
    assert proj.server.calls == 1  # the answer came from the cache
    assert not (proj.root / ".muxc/state/apply-journal").exists()  # an apply that ends leaves no journal


def test_a_file_changed_after_the_kill_is_kept_and_its_pre_step_bytes_are_saved(proj, tmp_path):
    setup(proj, tmp_path)
    pre = proj.bytes("calc.py")
    kill_during_verify(proj, tmp_path)
    proj.write("calc.py", "# the user's fix\ndef add(a, b):\n    return b + a\n")

    done = proj.build(workflow="noop")
    assert proj.read("calc.py") == "# the user's fix\ndef add(a, b):\n    return b + a\n"
    assert not (proj.root / "gen").exists()
    assert ("removed gen/deep/made.py; left calc.py (changed since; its pre-step bytes are in "
            ".muxc/state/recovered/apply/calc.py)") in done.stderr
    assert (proj.root / ".muxc/state/recovered/apply/calc.py").read_bytes() == pre


def test_a_dry_run_and_clean_leave_the_recovery_to_the_next_build(proj, tmp_path):
    setup(proj, tmp_path)
    before = proj.tree()
    kill_during_verify(proj, tmp_path)
    edited = proj.tree()

    dry = proj.build("--dry-run", workflow="noop")
    assert "the next build puts its files back before it starts" in dry.stderr
    assert proj.muxc("clean", "--yes").returncode == 0
    assert proj.tree() == edited

    proj.build(workflow="noop")
    assert proj.tree() == before
