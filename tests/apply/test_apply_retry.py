"""Apply steps that fail: the source step's role is asked again with what went wrong, and when
every attempt fails the files go back to their exact pre-step bytes (or stay, when asked to)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.support.llm_server import Reply

FIX = """
    workflow x "fix calc.py"

    query fix @coder:
        Fix add in calc.py.

    apply apply from fix [verify = "{verify}", verify_retries = {retries}{extra}]
    """

CHECK = "grep -q 'return a + b' calc.py || { echo 'FAIL: add(2, 2) returned the wrong value' >&2; exit 1; }\n"


def edit(path: str, old: str, new: str) -> str:
    return json.dumps({"path": path, "old": old, "new": new})


def setup_calc(proj, retries: int = 2, extra: str = "", verify: str = "sh check.sh") -> None:
    proj.write("calc.py", "def add(a, b):\n    return a - b\n")
    proj.write("check.sh", CHECK)
    proj.workflow(FIX.format(retries=retries, extra=extra, verify=verify))
    proj.commit()
    # the user's own uncommitted work in the very file the edits touch
    proj.write("calc.py", "# keep me: uncommitted\ndef add(a, b):\n    return a - b\n")


def test_a_failed_verify_re_asks_with_the_error_and_the_right_edit_lands(proj):
    setup_calc(proj)
    proj.server.script(Reply(text=edit("calc.py", "return a - b", "return a * b")),
                       Reply(text=edit("calc.py", "return a - b", "return a + b")))
    done = proj.build()
    assert proj.server.calls == 2
    retry = proj.server.requests[1].prompt
    assert retry.startswith("Fix add in calc.py.")  # the original request
    assert "FAIL: add(2, 2) returned the wrong value" in retry  # the verifier's error
    assert "return a * b" in retry  # the edits that failed
    assert proj.read("calc.py") == "# keep me: uncommitted\ndef add(a, b):\n    return a + b\n"
    assert "1 file changed" in done.stdout and "+    return a + b" in done.stdout


def test_every_attempt_wrong_restores_every_byte_and_removes_created_files_and_dirs(proj):
    setup_calc(proj, retries=1, extra=", rollback_on_failure = true")
    proj.write("untracked.txt", "mine\n")
    (proj.root / "calc.py").chmod(0o751)
    before, status = proj.tree(), proj.status()
    mode = (proj.root / "calc.py").stat().st_mode
    wrong = json.dumps({"edits": [
        {"path": "calc.py", "old": "return a - b", "new": "return a * b"},
        {"path": "gen/deep/made.py", "content": "x = 1\n"},
        {"path": "untracked.txt", "old": "mine", "new": "theirs"},
    ]})
    proj.server.script(Reply(text=wrong), Reply(text=wrong))
    done = proj.build(code=1)
    assert proj.server.calls == 2
    assert proj.tree() == before
    assert proj.status() == status
    assert (proj.root / "calc.py").stat().st_mode == mode
    assert not (proj.root / "gen").exists()
    err = done.stderr
    assert "step `apply` failed: all 2 attempts failed; every file the edits touched is back to its pre-step bytes" in err
    assert "attempt 1: verify `sh check.sh` exited with code 1: FAIL: add(2, 2) returned the wrong value" in err
    assert "attempt 2: verify" in err
    assert "(calc.py, untracked.txt), and the files they created are removed (gen/deep/made.py)" in err


def test_without_rollback_the_last_attempt_stays_and_the_message_says_so(proj):
    setup_calc(proj, retries=1)
    proj.server.script(Reply(text=edit("calc.py", "return a - b", "return a * b")),
                       Reply(text=edit("calc.py", "return a - b", "return a // b")))
    done = proj.build(code=1)
    assert proj.read("calc.py") == "# keep me: uncommitted\ndef add(a, b):\n    return a // b\n"
    assert "left in place" in done.stderr and "rollback_on_failure" in done.stderr


def test_without_rollback_a_last_attempt_that_wrote_nothing_leaves_the_files_as_they_were(proj):
    setup_calc(proj, retries=1)
    before = proj.tree()
    proj.server.script(Reply(text=edit("calc.py", "return a - b", "return a * b")),
                       Reply(text="Sorry, I cannot produce edits for that."))
    done = proj.build(code=1)
    assert proj.tree() == before  # attempt 1 was undone before asking again; attempt 2 wrote nothing
    assert "left in place" not in done.stderr
    assert "no file is changed" in done.stderr


def test_parse_failures_count_as_attempts_and_are_fed_back(proj):
    setup_calc(proj)
    proj.server.script(Reply(text="Here is the fix: change the minus to a plus."),
                       Reply(text=edit("calc.py", "return a - b", "return a + b")))
    proj.build()
    retry = proj.server.requests[1].prompt
    assert "no edits found in the output" in retry
    assert "Here is the fix: change the minus to a plus." in retry  # what it answered
    assert "failed verification" not in retry  # nothing was applied, let alone verified
    assert proj.read("calc.py").endswith("return a + b\n")


def test_old_not_found_and_ambiguous_old_count_as_attempts_and_are_fed_back(proj):
    proj.write("calc.py", "def add(a, b):\n    return a - b\n\ndef sub(a, b):\n    return a - b\n")
    proj.write("check.sh", "grep -q 'return a + b' calc.py\n")
    proj.workflow(FIX.format(retries=2, extra="", verify="sh check.sh"))
    proj.commit()
    proj.server.script(Reply(text=edit("calc.py", "return a-b", "return a + b")),
                       Reply(text=edit("calc.py", "    return a - b\n", "    return a + b\n")),
                       Reply(text=edit("calc.py", "def add(a, b):\n    return a - b\n",
                                       "def add(a, b):\n    return a + b\n")))
    proj.build()
    assert proj.server.calls == 3
    not_found, ambiguous = proj.server.requests[1].prompt, proj.server.requests[2].prompt
    assert "old text was not found in calc.py" in not_found
    assert "old text matches 2 places in calc.py" in ambiguous and "at lines 2, 5" in ambiguous
    assert proj.read("calc.py") == "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n"


def test_a_custom_verify_retry_prompt_gets_error_original_and_edits(proj):
    setup_calc(proj, retries=1, extra=', verify_retry_prompt = "ERR[{{ error }}] ORIG[{{ original }}] '
                                      'EDITS[{{ edits }}]"')
    first = edit("calc.py", "return a - b", "return a * b")
    proj.server.script(Reply(text=first), Reply(text=edit("calc.py", "return a - b", "return a + b")))
    proj.build()
    retry = proj.server.requests[1].prompt
    assert retry.startswith("ERR[verify `sh check.sh` exited with code 1:")
    assert "FAIL: add(2, 2)" in retry
    assert "ORIG[Fix add in calc.py.\n]" in retry
    assert f"EDITS[{first}]" in retry


def test_the_re_ask_keeps_the_source_steps_system_prompt_and_output_schema(proj):
    proj.write("calc.py", "def add(a, b):\n    return a - b\n")
    proj.write("check.sh", CHECK)
    proj.workflow("""
        workflow x "fix with a schema"

        query fix @coder [
            system = "You only answer JSON edits.",
            output_schema = {type = "object", required = ["edits"], properties = {edits = {type = "array"}}},
        ]:
            Fix add in calc.py.

        apply apply from fix [verify = "sh check.sh", verify_retries = 1]
        """)
    proj.commit()
    wrong = {"edits": [{"path": "calc.py", "old": "return a - b", "new": "return a * b"}]}
    right = {"edits": [{"path": "calc.py", "old": "return a - b", "new": "return a + b"}]}
    proj.server.script(Reply(text=json.dumps(wrong)), Reply(text="Use a plus."), Reply(text=json.dumps(right)))
    proj.build()
    first, retry, schema_retry = proj.server.requests
    system = {"role": "system", "content": "You only answer JSON edits."}
    assert first.body["messages"][0] == system
    assert retry.body["messages"][0] == system
    assert "FAIL: add(2, 2)" in retry.prompt
    assert "IMPORTANT: You MUST respond with valid JSON matching this schema" in retry.prompt
    # an answer to the re-ask that does not match the schema is asked again like any other
    assert "It did not contain any valid JSON." in schema_retry.prompt
    assert proj.read("calc.py").endswith("return a + b\n")


@pytest.mark.parametrize("jobs", ["1", "4"])  # -j 1 runs the step on the main thread, where Ctrl-C lands
def test_ctrl_c_during_verify_restores_the_files(proj, tmp_path, jobs):
    verifying = tmp_path / "verifying"
    setup_calc(proj, extra=", rollback_on_failure = true", verify=f"touch {verifying}; sleep 30")
    before, status = proj.tree(), proj.status()
    proj.server.script(Reply(text=edit("calc.py", "return a - b", "return a + b")))
    child = subprocess.Popen([sys.executable, "-m", "muxc", "build", "x", "-j", jobs], cwd=proj.root, env=proj.env,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not verifying.exists():
        assert time.monotonic() < deadline and child.poll() is None, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert proj.tree() == before and proj.status() == status
    assert proj.server.calls == 1  # not asked again after the interruption
    assert "exited with code" not in err
