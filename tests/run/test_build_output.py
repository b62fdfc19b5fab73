"""What a build prints: pure JSON on stdout with --output json; the final output once on stdout
and progress on stderr in console mode; only the output with --quiet. Run as real processes, so
stdout and stderr are exactly what a pipe receives."""

from __future__ import annotations

import json

import pytest

from tests.support.llm_server import Reply

WORKFLOW = """
    workflow w "a probe and a question"

    shell probe [inputs = ["src/*.txt"]]:
        cat src/*.txt

    query ask @analyzer:
        Summarize {{ probe }}
    """

ANSWER = "The project says hello.\nSecond line of the answer."


@pytest.fixture
def proj(project):
    project.workflow(WORKFLOW)
    project.write("src/a.txt", "hello world\n")
    project.server.script(Reply(text=ANSWER, usage={"prompt_tokens": 7, "completion_tokens": 9,
                                                    "total_tokens": 16}))
    return project


def test_json_output_is_one_json_document_on_stdout(proj):
    done = proj.run("build", "w", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    doc = json.loads(done.stdout)  # the whole of stdout, nothing before or after
    assert doc["workflow"] == "w" and doc["success"] is True and doc["exit_code"] == 0
    probe, ask = doc["steps"]
    assert probe == {"name": "probe", "kind": "shell", "status": "ran", "cached": False,
                     "duration_ms": probe["duration_ms"], "backend": None,
                     "tokens": {"input": None, "cached_input": None, "output": None}, "cost_usd": None,
                     "reason": "never built", "error": None, "saved": None, "where": "local"}
    assert ask["status"] == "ran" and ask["cached"] is False and ask["backend"] == "fake"
    assert ask["tokens"] == {"input": 7, "cached_input": None, "output": 9}
    assert ask["duration_ms"] > 0
    assert doc["totals"]["ran"] == 2 and doc["totals"]["input_tokens"] == 7 and doc["totals"]["output_tokens"] == 9
    assert doc["output"] == ANSWER
    assert done.stdout.count("The project says hello.") == 1


def test_json_output_of_a_cached_build(proj):
    proj.run("build", "w")
    done = proj.run("build", "w", "--output", "json")
    doc = json.loads(done.stdout)
    assert [(s["name"], s["status"], s["cached"]) for s in doc["steps"]] == [("probe", "cached", True),
                                                                            ("ask", "cached", True)]
    assert doc["totals"]["ran"] == 0 and doc["totals"]["cached"] == 2 and doc["totals"]["input_tokens"] == 0
    assert doc["output"] == ANSWER
    assert proj.calls == 1


def test_json_output_of_a_failed_build(proj):
    proj.server.reset()
    proj.server.script(Reply.error(400, "bad request: model m does not exist"))
    done = proj.run("build", "w", "--output", "json")
    assert done.returncode == 1
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["success"] is False and doc["exit_code"] == 1 and doc["output"] is None
    ask = doc["steps"][1]
    assert ask["status"] == "failed" and "model m does not exist" in ask["error"]


def test_console_prints_the_output_once_on_stdout_and_progress_on_stderr(proj):
    done = proj.run("build", "w")
    assert done.returncode == 0
    assert done.stdout == ANSWER + "\n"
    assert "The project says hello." not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "building w (2 steps)"
    assert "  ✓ probe: ran" in done.stderr and "  ✓ ask: ran" in done.stderr
    assert lines[-1].startswith("w: 2 steps — 2 ran, 0 cached in ")
    assert lines[-1].endswith("; 7 tokens in, 9 out")

    again = proj.run("build", "w")
    assert again.stdout == ANSWER + "\n"
    assert again.stderr.splitlines()[-1].startswith("w: 2 steps — 0 ran, 2 cached in ")


def test_quiet_prints_only_the_output(proj):
    done = proj.run("build", "w", "--quiet")
    assert done.returncode == 0
    assert done.stdout == ANSWER + "\n"
    assert done.stderr == ""


def test_the_final_output_is_the_last_step_nothing_depends_on(project):
    project.workflow("""
        workflow w "two leaves"

        shell first: echo first leaf
        shell second: echo second leaf
        """)
    done = project.run("build", "w")
    assert done.stdout == "second leaf\n"


def test_an_unknown_workflow_is_a_usage_error(project):
    done = project.run("build", "nope")
    assert done.returncode == 2
    assert "no workflow named 'nope'" in done.stderr
    assert done.stdout == ""


def test_a_one_step_workflow_is_one_step(project):
    project.workflow("""
        workflow w "one"

        shell only: echo only
        """)
    result = project.cli("build", "w")
    assert result.stderr.startswith("building w (1 step)\n")
    assert result.stderr.splitlines()[-1].startswith("w: 1 step — 1 ran, 0 cached in ")


def test_json_output_when_the_workflow_has_errors(project):
    project.workflow("""
        workflow w "a typo"

        shell first:
            echo first >> "$COUNTER"

        query ask @analyzer:
            Explain {{ frist }}
        """)
    done = project.run("build", "w", "--output", "json")
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["success"] is False and doc["exit_code"] == 1 and doc["steps"] == [] and doc["output"] is None
    [diagnostic] = doc["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["message"]) == \
        ("unknown-name", 7, "`frist` is not defined")
    assert project.ran() == []
    missing = project.run("build", "nope", "--output", "json")
    assert missing.returncode == 2
    assert json.loads(missing.stdout)["error"] == "no workflow named 'nope'; run `muxc list` to see them, or pass a path"


def test_building_from_another_directory_with_dash_c_shares_the_cache(proj, tmp_path):
    import subprocess
    import sys

    assert proj.run("build", "w").returncode == 0
    elsewhere = subprocess.run([sys.executable, "-m", "muxc", "-C", str(proj.root), "build", "w", "--output",
                                "json"], cwd=tmp_path, env=proj.env, text=True, capture_output=True, timeout=60)
    doc = json.loads(elsewhere.stdout)
    assert [step["status"] for step in doc["steps"]] == ["cached", "cached"]
    assert doc["output"] == ANSWER
    assert proj.calls == 1
