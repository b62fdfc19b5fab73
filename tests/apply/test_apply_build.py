"""Apply steps inside a build: the team's verify, verify timeouts, the output later steps read,
rebuilds that must not apply twice, and --dry-run's diff."""

from __future__ import annotations

import json
import time

from tests.apply.conftest import statuses
from tests.support.llm_server import Reply

EDIT = json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a + b"})


def calc_project(proj, workflow: str) -> None:
    proj.write("calc.py", "def add(a, b):\n    return a - b\n")
    proj.workflow(workflow)
    proj.commit()


def test_verify_defaults_to_the_active_teams_verify(proj):
    proj.config("""
        [teams.py]
        detect = ["marker.toml"]
        verify = "echo TEAM-VERIFY-RAN >&2; grep -q 'a + b' calc.py"
        """)
    proj.write("marker.toml", "")
    calc_project(proj, """
        workflow x "fix"

        query fix @coder:
            Fix add.

        apply apply from fix [verify_retries = 1]
        """)
    proj.server.script(Reply(text=json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a * b"})),
                       Reply(text=EDIT))
    proj.build()
    assert proj.server.calls == 2
    assert "TEAM-VERIFY-RAN" in proj.server.requests[1].prompt
    assert "grep -q 'a + b' calc.py" in proj.server.requests[1].prompt
    assert proj.read("calc.py").endswith("return a + b\n")


def test_a_verify_that_hangs_is_stopped_at_verify_timeout_and_the_files_restored(proj):
    calc_project(proj, """
        workflow x "fix"

        query fix @coder:
            Fix add.

        apply apply from fix [verify = "echo checking; sleep 30", verify_timeout = "500ms", rollback_on_failure = true]
        """)
    proj.server.script(Reply(text=EDIT))
    started = time.monotonic()
    done = proj.build(code=1)
    assert time.monotonic() - started < 15
    assert "verify `echo checking; sleep 30` timed out" in done.stderr
    assert proj.read("calc.py") == "def add(a, b):\n    return a - b\n"
    assert proj.status() == ""


COMMIT = """
    workflow x "fix and describe"

    query fix @coder:
        Fix add.

    apply apply from fix [verify = "grep -q 'a + b' calc.py"]

    query message @analyzer:
        Write a commit message for this change:
        {{ steps.apply.output }}
    """


def test_the_apply_output_is_the_diff_a_later_step_reads_and_a_rebuild_neither_applies_nor_asks(proj):
    calc_project(proj, COMMIT)
    dry = proj.build("--dry-run")  # before anything ran: the edits are not known yet
    assert "fix (query) would run: never built" in dry.stdout and "apply (apply) would run" in dry.stdout
    assert "diff:\n    (not known until steps.fix runs and answers with the edits)" in dry.stdout
    assert proj.server.calls == 0 and proj.status() == ""

    proj.server.script(Reply(text=EDIT), Reply(text="Fix add: it subtracted"))
    done = proj.build()
    assert proj.server.requests[1].prompt == (
        "Write a commit message for this change:\n"
        "1 file changed: calc.py (+1 −1)\n\n"
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
        "-    return a - b\n+    return a + b\n\n")
    assert done.stdout == "Fix add: it subtracted\n"

    after, mtime = proj.bytes("calc.py"), (proj.root / "calc.py").stat().st_mtime_ns
    again = proj.build_json()
    assert statuses(again) == {"fix": "cached", "apply": "cached", "message": "cached"}
    assert proj.server.calls == 2
    assert proj.bytes("calc.py") == after and (proj.root / "calc.py").stat().st_mtime_ns == mtime
    assert again["output"] == "Fix add: it subtracted"


def test_a_retried_apply_is_not_applied_again_on_rebuild(proj):
    """The source's cached output holds the first (wrong) edits; the files hold the retried ones."""
    calc_project(proj, COMMIT.replace("verify = ", "verify_retries = 1, verify = "))
    proj.server.script(Reply(text=json.dumps({"path": "calc.py", "old": "return a - b", "new": "return a * b"})),
                       Reply(text=EDIT), Reply(text="Fix add"))
    proj.build()
    assert proj.server.calls == 3
    again = proj.build_json()
    assert statuses(again) == {"fix": "cached", "apply": "cached", "message": "cached"}
    assert proj.server.calls == 3
    assert proj.read("calc.py").endswith("return a + b\n")


def test_undone_by_hand_dry_run_shows_the_diff_and_the_build_applies_it_again_from_the_cache(proj):
    """A cached apply must describe the files: once they lose its edits, the build puts them back."""
    calc_project(proj, COMMIT)
    proj.server.script(Reply(text=EDIT), Reply(text="Fix add"))
    proj.build()
    proj.git("checkout", "--", "calc.py")
    dry = proj.build("--dry-run")
    assert "apply (apply) would run: the files the edits touch changed" in dry.stdout
    assert "diff:\n    --- a/calc.py\n    +++ b/calc.py" in dry.stdout
    assert "    -    return a - b\n    +    return a + b" in dry.stdout
    assert proj.read("calc.py") == "def add(a, b):\n    return a - b\n" and proj.status() == ""
    for undo in range(2):  # twice: the second undo must not find the first re-apply in the cache
        if undo:
            proj.git("checkout", "--", "calc.py")
        again = proj.build_json()
        assert statuses(again) == {"fix": "cached", "apply": "ran", "message": "cached"}
        assert proj.read("calc.py").endswith("return a + b\n")
        if not undo:
            assert statuses(proj.build_json()) == {"fix": "cached", "apply": "cached", "message": "cached"}
    assert proj.server.calls == 2


def test_a_rollback_never_undoes_another_apply_running_at_the_same_time(proj):
    proj.write("both.txt", "one\ntwo\nthree\n")
    proj.workflow("""
        workflow x "two applies on one file, in parallel"

        query a @coder: Edit line one.

        query b @coder: Edit line three.

        apply apply_a from a [verify = "sleep 0.6"]

        apply apply_b from b [verify = "sleep 0.2; false", rollback_on_failure = true]
        """)
    proj.commit()
    answers = {"Edit line one.": json.dumps({"path": "both.txt", "old": "one", "new": "ONE"}),
               "Edit line three.": json.dumps({"path": "both.txt", "old": "three", "new": "THREE"})}
    proj.server.responder = lambda request: Reply(text=answers[request.prompt])
    doc = proj.build_json("-j", "4", "--keep-going", code=1)
    assert statuses(doc) == {"a": "ran", "b": "ran", "apply_a": "ran", "apply_b": "failed"}
    assert proj.read("both.txt") == "ONE\ntwo\nthree\n"  # apply_b's rollback kept apply_a's edit
