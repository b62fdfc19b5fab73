"""`muxc status`, `plan`, `graph`, `forget` and `clean`: what a user sees and what they change."""

from __future__ import annotations

import json

import pytest

CHAIN = """
    workflow w "a probe, a query on it, a summary"

    shell probe [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    query review @analyzer:
        Review {{ probe }}

    query summary @synthesizer > "out/summary.md":
        Summarize {{ review }}

    shell tidy [depends_on = ["summary"], inputs = ["tidy.cfg"]]:
        echo tidy >> "$COUNTER"
    """


@pytest.fixture
def built(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    project.build()
    project.ran()
    project.server.reset()
    return project


def status(project, *args):
    """``muxc status w --exit-code``: 0 up to date, 1 something would run."""
    result = project.cli("status", "w", "--exit-code", *args)
    return result.exit_code, result.stdout


def test_status_of_a_project_never_built(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    code, out = status(project)
    assert code == 1
    assert out.splitlines() == [
        "probe: would run — never built",
        "review: would run — never built",
        "summary: would run — never built",
        "tidy: would run — never built",
    ]
    assert project.ran() == [] and project.calls == 0


def test_status_exits_0_unless_asked_for_an_exit_code(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    plain = project.cli("status", "w")
    assert plain.exit_code == 0 and plain.stdout.startswith("probe: would run — never built\n")
    assert project.cli("status", "w", "--exit-code").exit_code == 1


def test_status_when_up_to_date(built):
    code, out = status(built)
    assert code == 0
    assert out.splitlines() == ["probe: up to date", "review: up to date", "summary: up to date",
                                "tidy: up to date"]
    assert built.ran() == [] and built.calls == 0


def test_status_names_the_changed_file(built):
    built.write("src/a.txt", "beta\n")
    code, out = status(built)
    assert code == 1
    assert out.splitlines()[0] == "probe: would run — src/a.txt changed"
    assert built.ran() == []


def test_status_shows_a_diff_of_a_changed_command(built):
    built.workflow(CHAIN.replace("cat src/*.txt", "cat src/*.txt | sort"))
    code, out = status(built)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "probe: would run — command changed"
    assert "    -cat src/*.txt" in lines and "    +cat src/*.txt | sort" in lines
    assert lines[-3:] == ["review: would run — after steps.probe runs (unless its output is the same)",
                          "summary: would run — after steps.review runs (unless its output is the same)",
                          "tidy: up to date"]


def test_status_diff_of_a_long_command_shows_the_changed_line_with_its_number(project):
    """Thousands of repeated lines (difflib's slow case): the diff shows the one changed line,
    numbered in the whole command, with a line of context on each side."""
    body = [f"echo part {i % 7}" for i in range(3000)]
    project.workflow("workflow w\n\nshell big:\n" + "".join(f"    {line}\n" for line in body))
    project.build()
    body[2500] = "echo changed"
    project.workflow("workflow w\n\nshell big:\n" + "".join(f"    {line}\n" for line in body))
    code, out = status(project)
    assert code == 1
    assert out.splitlines() == ["big: would run — command changed", "    @@ -2500,3 +2500,3 @@",
                                "     echo part 0", "    -echo part 1", "    +echo changed", "     echo part 2"]


def test_status_says_which_upstream_step_changed(built):
    built.write("src/a.txt", "beta\n")
    built.build("--max-calls", "1", code=1)  # review reruns; summary is not asked
    code, out = status(built)
    assert code == 1
    assert "summary: would run — prompt changed because steps.review changed" in out.splitlines()
    assert "    -Summarize answer to: Review alpha" in out.splitlines()


def test_status_says_the_model_changed(built):
    built.config(model="m2")
    code, out = status(built)
    assert code == 1
    lines = out.splitlines()
    assert "review: would run — the model changed: m -> m2" in lines
    assert "summary: would run — the model changed: m -> m2" in lines
    assert "probe: up to date" in lines


def test_status_as_json(built):
    built.write("src/a.txt", "beta\n")
    result = built.cli("status", "w", "--output", "json")
    assert result.exit_code == 0  # without --exit-code, showing the status is success
    rows = json.loads(result.stdout)
    assert rows[0] == {"step": "probe", "status": "would run", "reason": "src/a.txt changed", "details": []}
    assert [row["status"] for row in rows] == ["would run", "would run", "would run", "up to date"]


def test_status_leaves_nothing_behind_that_a_build_would_trust(built):
    built.write("src/a.txt", "beta\n")
    status(built)
    assert built.build().ran == {"probe", "review", "summary"}


def test_plan_lists_steps_in_build_order_with_their_keys(built):
    result = built.cli("plan", "w")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "probe (shell)  key: rendered run, inputs, type",
        "review (query @analyzer)  after probe  key: rendered prompt, type",
        "summary (query @synthesizer)  after review  saves out/summary.md  key: rendered prompt, type",
        "tidy (shell)  after summary  key: rendered run, inputs, type",
    ]


def test_plan_as_json(built):
    result = built.cli("plan", "w", "--output", "json")
    doc = json.loads(result.stdout)
    assert doc["workflow"] == "w" and doc["final"] == "tidy"
    assert [(s["name"], s["deps"], s["consumes"]) for s in doc["steps"]] == [
        ("probe", [], []), ("review", ["probe"], ["probe"]), ("summary", ["review"], ["review"]),
        ("tidy", ["summary"], [])]
    assert doc["steps"][2]["save"] == str(built.root / "out/summary.md")


def test_graph_mermaid(built):
    result = built.cli("graph", "w")
    assert result.exit_code == 0
    assert result.stdout == (
        "flowchart TD\n"
        '    s0["probe<br/>shell"]\n'
        '    s1["review<br/>query @analyzer"]\n'
        '    s2["summary<br/>query @synthesizer"]\n'
        '    s3["tidy<br/>shell"]\n'
        "    s2 -.-> s3\n"
        "    s0 --> s1\n"
        "    s1 --> s2\n"
    )


def test_graph_dot(built):
    result = built.cli("graph", "w", "--format", "dot")
    assert result.exit_code == 0
    assert result.stdout == (
        'digraph "w" {\n'
        "    rankdir=TB;\n"
        "    node [shape=box];\n"
        '    "probe" [label="probe\\nshell"];\n'
        '    "review" [label="review\\nquery @analyzer"];\n'
        '    "summary" [label="summary\\nquery @synthesizer"];\n'
        '    "tidy" [label="tidy\\nshell"];\n'
        '    "summary" -> "tidy" [style=dashed];\n'
        '    "probe" -> "review";\n'
        '    "review" -> "summary";\n'
        "}\n"
    )


def test_forget_reruns_just_that_step(built):
    result = built.cli("forget", "w", "review")
    assert result.exit_code == 0
    assert "review: forgot 1 cached result" in result.stderr
    again = built.build()
    assert again.ran == {"review"} and again.cached == {"probe", "summary", "tidy"}
    assert built.calls == 1 and built.ran() == []


def test_forget_an_unknown_workflow_is_a_usage_error(built):
    result = built.cli("forget", "nope", "review")
    assert result.exit_code == 2
    assert "no workflow named 'nope'" in result.stderr


def test_forget_an_unknown_step_is_a_usage_error_with_the_close_name(built):
    typo = built.cli("forget", "w", "reveiw")
    assert typo.exit_code == 2
    assert "Error: `w` has no step `reveiw`; did you mean `review`?" in typo.stderr
    other = built.cli("forget", "w", "nosuchstep")
    assert other.exit_code == 2
    assert "Error: `w` has no step `nosuchstep`; its steps are: probe, review, summary, tidy" in other.stderr
    assert built.build().ran == set()  # nothing was forgotten


def test_an_unknown_workflow_is_a_usage_error_with_the_close_name_and_no_code_frame(built):
    for command in (["build"], ["status"], ["plan"], ["graph"], ["show"], ["check"], ["forget", "--", "x"]):
        args = [command[0], "ww", *command[1:]] if command[0] != "forget" else ["forget", "ww", "review"]
        result = built.cli(*args)
        assert result.exit_code == 2, args
        assert "Error: no workflow named 'ww'; did you mean `w`?" in result.stderr, args
        assert "-->" not in result.stderr and result.stdout == ""
    far = built.cli("build", "zzzzzz")
    assert "no workflow named 'zzzzzz'; run `muxc list` to see them, or pass a path" in far.stderr
    missing = built.cli("build")
    assert missing.exit_code == 2 and "Missing argument 'WORKFLOW'" in missing.stderr
    team = built.cli("build", "w", "--team", "nosuch")
    assert team.exit_code == 2 and "nosuch" in team.stderr


def test_clean_empties_the_state(built):
    result = built.cli("clean", "--yes")
    assert result.exit_code == 0
    state = built.root / ".muxc" / "state"
    assert sorted(p.name for p in state.iterdir()) == [".gitignore", "lock"]
    assert "cleaned" in result.stderr
    again = built.build()
    assert again.ran == {"probe", "review", "summary", "tidy"}
    assert built.ran() == ["probe", "tidy"] and built.calls == 2


def test_clean_asks_first(built):
    result = built.cli("clean")  # no terminal input: the answer is no
    assert result.exit_code == 1
    assert built.build().ran == set()


def test_renaming_a_step_reruns_nothing_and_forget_still_finds_it(built):
    built.workflow(CHAIN.replace("query review", "query critique").replace("{{ review }}", "{{ critique }}"))
    assert built.build().ran == set()
    result = built.cli("forget", "w", "critique")
    assert "critique: forgot 1 cached result" in result.stderr
    assert built.build().ran == {"critique"}
    assert built.calls == 1


def test_forget_in_one_workflow_also_drops_a_result_an_identical_step_elsewhere_wrote(built):
    built.workflow(CHAIN.replace('workflow w "', 'workflow other "'), name="other")
    assert built.build(workflow="other").ran == set()  # the same keys as w's steps
    built.cli("forget", "w", "review")
    assert built.build().ran == {"review"}


def test_status_on_a_terminal_asks_no_question(project):
    import os
    import pty
    import subprocess
    import sys

    project.workflow("""
        workflow w "asks the user"

        input depth [options = ["quick", "deep"]]:
            How deep?

        query review @analyzer:
            Review, {{ depth }}.
        """)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "muxc", "status", "w", "--exit-code"], cwd=project.root,
                              env=project.env,
                              stdin=terminal, capture_output=True, text=True, timeout=20)
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == ("depth: cannot tell — needs an answer and the build will ask for it "
                                           "(one of: quick, deep)")
