"""What else enters a step's key, and what must not: the workflow's format, unrelated config,
environment variables a template reads, input answers."""

from __future__ import annotations

import pytest

WORKFLOW = """
    workflow w "a probe and a question"

    shell probe [inputs = ["src/*.txt"]]:
        echo probe >> "$COUNTER"
        cat src/*.txt

    query ask @analyzer:
        Summarize {{ probe }} for {{ env.READER | default("anyone") }}
    """


@pytest.fixture
def built(project, monkeypatch):
    monkeypatch.delenv("READER", raising=False)
    project.workflow(WORKFLOW)
    project.write("src/a.txt", "alpha\n")
    assert project.build().ran == {"probe", "ask"}
    project.ran()
    project.server.reset()
    return project


def test_the_same_workflow_in_toml_reuses_every_result(built):
    converted = built.cli("fmt", ".muxc/workflows/w.mux", "--to", "toml")
    assert converted.exit_code == 0, converted.stderr
    assert "[[steps]]" in converted.stdout
    (built.root / ".muxc/workflows/w.mux").unlink()
    built.write(".muxc/workflows/w.toml", converted.stdout)
    again = built.build()
    assert again.cached == {"probe", "ask"}
    assert built.calls == 0 and built.ran() == []


def test_a_toml_workflow_builds_and_rebuilds_like_llm_mux_wrote_it(project):
    project.workflow("""
        name = "w"
        description = "llm-mux style"

        [[steps]]
        name = "probe"
        type = "shell"
        run = "echo probe >> \\"$COUNTER\\"; cat src/*.txt"
        inputs = ["src/*.txt"]

        [[steps]]
        name = "ask"
        type = "query"
        role = "analyzer"
        prompt = "Summarize {{ steps.probe.output }}"
        """, suffix="toml")
    project.write("src/a.txt", "alpha\n")
    assert project.build().output == "answer to: Summarize alpha"
    assert project.build().cached == {"probe", "ask"}
    project.write("src/a.txt", "beta\n")
    assert project.build().ran == {"probe", "ask"}
    assert project.ran() == ["probe", "probe"] and project.calls == 2


def test_unrelated_config_changes_rerun_nothing(built):
    built.config("""
        [backends.other]
        command = "http://127.0.0.1:9/v1"
        model = "other-model"

        [roles.writer]
        backends = ["other"]
        """)
    assert built.build().ran == set()
    assert built.calls == 0


def test_an_environment_variable_a_template_reads_reruns_what_reads_it(built, monkeypatch):
    monkeypatch.setenv("READER", "a manager")
    again = built.build()
    assert again.ran == {"ask"} and again.cached == {"probe"}
    assert built.prompts() == ["Summarize alpha for a manager\n"]
    monkeypatch.setenv("UNRELATED", "x")
    assert built.build().ran == set()
    monkeypatch.delenv("READER")
    assert built.build().cached == {"probe", "ask"}  # back to the first answer, from the cache
    assert built.calls == 1


def test_an_input_step_reuses_results_for_the_same_answer(project):
    project.workflow("""
        workflow w "asks the user"

        input depth [options = ["quick", "deep"]]:
            How deep?

        query review @analyzer:
            Review, {{ depth }}.
        """)
    missing = project.build(code=1)
    assert missing.step("depth")["error"] == "needs an answer and this build is not interactive (one of: quick, deep)"
    assert project.calls == 0
    assert project.build("--input", "depth=quick").ran == {"depth", "review"}
    assert project.build("--input", "depth=deep").ran == {"depth", "review"}
    assert project.build("--input", "depth=quick").cached == {"depth", "review"}
    assert project.calls == 2
    wrong = project.build("--input", "depth=medium", code=1)
    assert wrong.step("depth")["error"] == "'medium' is not one of the options: quick, deep"


def test_a_project_outside_git_is_fingerprinted_by_walking_it(project):
    import shutil

    shutil.rmtree(project.root / ".git")
    project.workflow("""
        workflow w "no git here"

        shell probe:
            echo probe >> "$COUNTER"
            ls
        """)
    project.write("main.py", "print()\n")
    project.build()
    project.write("node_modules/dep/index.js", "x")
    project.write(".cache/blob", "x")
    assert project.build().ran == set()
    project.write("main.py", "print(1)\n")
    assert project.build().ran == {"probe"}
    assert project.ran() == ["probe", "probe"]


def test_a_changed_team_field_reruns_the_steps_that_read_it(project):
    team = """
        [teams.rust]
        description = "{description}"
        detect = ["Cargo.toml"]
        """
    project.config(team.format(description="Rust crates"))
    project.write("Cargo.toml", "[package]\n")
    project.workflow("""
        workflow w "reads the team"

        query ask @analyzer:
            You review {{ team.description }} for team {{ team }}.
        """)
    assert project.build().ran == {"ask"}
    assert project.build().cached == {"ask"}
    project.config(team.format(description="Rust crates and workspaces"))
    assert project.build().ran == {"ask"}
    assert project.prompts()[-1] == "You review Rust crates and workspaces for team rust.\n"


def test_detect_names_and_project_paths_too_long_for_the_file_system_match_nothing(project):
    """ENAMETOOLONG (a name over NAME_MAX, a path over PATH_MAX) is no match, never a traceback."""
    project.config(f"""
        [teams.huge]
        detect = ["{'a' * 300}", "{'b/' * 3000}"]

        [teams.rust]
        detect = ["Cargo.toml"]

        [ecosystems.shop.projects.api]
        path = "{'c' * 300}"
        """)
    project.write("Cargo.toml", "[package]\n")
    project.workflow("""
        workflow w "reads the team"

        shell who:
            echo {{ team }}
        """)
    built = project.build()
    assert built.output == "rust" and "Traceback" not in built.stderr
    teams = project.cli("teams")
    assert teams.exit_code == 0 and "huge" in teams.stdout
    shown = project.cli("ecosystems")
    assert shown.exit_code == 0 and "path does not exist" in shown.stdout


def test_a_changed_ecosystem_field_reruns_the_steps_that_read_it(project):
    ecosystem = """
        [ecosystems.shop]
        description = "{description}"

        [ecosystems.shop.projects.api]
        path = "{root}"
        type = "python"
        """
    project.config(ecosystem.format(description="the web shop", root=project.root))
    project.workflow("""
        workflow w "reads the ecosystem"

        query ask @analyzer:
            This is part of {{ ecosystem.description }}.
        """)
    assert project.build().ran == {"ask"}
    assert project.build().cached == {"ask"}
    project.config(ecosystem.format(description="the web shop and its warehouse", root=project.root))
    assert project.build().ran == {"ask"}
    assert project.prompts()[-1] == "This is part of the web shop and its warehouse.\n"


def test_a_query_to_an_agentic_cli_depends_on_the_project(project, tmp_path):
    import sys

    from tests.support.fixtures import FAKE_CLI_SCRIPT

    calls = tmp_path / "cli-calls"
    wrapper = tmp_path / "agent"
    wrapper.write_text(f'#!/bin/sh\necho call >> "{calls}"\nexec "{sys.executable}" "{FAKE_CLI_SCRIPT}" "$@"\n')
    wrapper.chmod(0o755)
    project.config(f"""
        [backends.agent]
        command = "{wrapper}"

        [roles.coder]
        backends = ["agent"]
        """)
    project.workflow("""
        workflow w "an agent that reads the tree itself"

        query look @coder:
            Look at the code.
        """)
    project.write("src/main.py", "print()\n")
    project.commit()

    def asked() -> int:
        return len(calls.read_text().split()) if calls.exists() else 0

    assert project.build().output == "echo: Look at the code."
    assert asked() == 1
    project.write("ignored/scratch.txt", "x")
    assert project.build().ran == set() and asked() == 1
    project.write("src/main.py", "print(1)\n")
    built = project.build()
    assert built.ran == {"look"} and asked() == 2
    assert built.step("look")["reason"] == "src/main.py changed"


def test_the_command_wrapper_is_part_of_a_shell_steps_key(project):
    project.workflow("""
        workflow w "a wrapped command"

        shell probe [inputs = []]:
            echo probe >> "$COUNTER"
            echo "in $WRAPPED"
        """)
    assert project.build().output == "in"
    project.config("""
        [defaults]
        command_wrapper = "WRAPPED=nix sh -c '{cmd}'"
        """)
    built = project.build()
    assert built.output == "in nix"
    assert built.step("probe")["reason"] == "the command wrapper changed"
    assert project.build().ran == set()
    project.config()
    assert project.build().step("probe")["status"] == "cached"  # back to the unwrapped result
    assert project.ran() == ["probe", "probe"]
