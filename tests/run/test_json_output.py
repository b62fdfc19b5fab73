"""``--output json``: every command prints one JSON document on stdout, or refuses (exit 2) saying
why JSON means nothing there. A program reading stdout never gets text it cannot parse."""

from __future__ import annotations

import json

from tests.run.test_build_state_commands import CHAIN

# Every command, as a user would type it in the project the tests build (`w` is built once).
COMMANDS = [
    ["check", "w"], ["validate", "w"], ["fmt", ".muxc/workflows/w.mux"], ["explain", "unknown-step"],
    ["explain", "--list"], ["list"], ["show", "w"], ["build", "w"], ["run", "w"], ["plan", "w"],
    ["status", "w"], ["graph", "w"], ["forget", "w", "review"], ["clean", "--yes"], ["doctor"], ["backends"],
    ["roles"], ["teams"], ["logs"], ["memory", "facts"], ["memory", "search", "x"], ["memory", "entities"],
    ["memory", "export"], ["ecosystems"],
    ["push", "--remote", "memory://muxc-json-test"], ["pull", "--remote", "memory://muxc-json-test"],
    ["init"], ["schema", "config"], ["serve"],
]


def test_every_command_prints_json_or_refuses(project):
    from muxc.cli import COMMANDS as ALL

    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    project.build()
    for command in COMMANDS:
        result = project.cli(*command, "--output", "json")
        if result.exit_code == 2:
            assert result.stdout == "" and "Error: --output json: " in result.stderr, command
        else:
            assert result.exit_code in (0, 1), (command, result.stderr)
            json.loads(result.stdout)  # one valid document, nothing else
    covered = {command[0] for command in COMMANDS}
    assert set(ALL) <= covered | {"test"}  # `muxc test` has tests of its own


def test_fmt_refuses_json_and_says_where_json_is(project):
    project.workflow(CHAIN)
    result = project.cli("fmt", ".muxc/workflows/w.mux", "--output", "json")
    assert result.exit_code == 2
    assert "Error: --output json: fmt writes a workflow file, not data; `muxc show FILE --output json` gives it " \
           "as JSON" in result.stderr


def test_show_graph_forget_and_clean_as_json(project):
    project.workflow(CHAIN)
    project.write("src/a.txt", "alpha\n")
    project.build()
    shown = json.loads(project.cli("show", "w", "--output", "json").stdout)
    assert shown["name"] == "w" and shown["format"] == "mux" and shown["text"] == project.read(".muxc/workflows/w.mux")
    graph = json.loads(project.cli("graph", "w", "--output", "json").stdout)
    assert [step["name"] for step in graph["steps"]] == ["probe", "review", "summary", "tidy"]
    assert {"from": "probe", "to": "review", "reads": True} in graph["edges"]
    assert {"from": "summary", "to": "tidy", "reads": False} in graph["edges"]
    forgot = json.loads(project.cli("forget", "w", "review", "--output", "json").stdout)
    assert forgot == {"workflow": "w", "forgotten": {"review": 1}}
    cleaned = json.loads(project.cli("clean", "--yes", "--output", "json").stdout)
    assert cleaned == {"cleaned": str(project.root / ".muxc" / "state")}


def test_version_and_the_code_list_as_json(project):
    from importlib.metadata import version

    for args in (["--output", "json", "--version"], ["--version", "--output", "json"]):
        assert json.loads(project.cli(*args).stdout) == {"name": "muxc", "version": version("muxc")}
    assert project.cli("--version").stdout == f"muxc, version {version('muxc')}\n"
    codes = json.loads(project.cli("explain", "--list", "--output", "json").stdout)
    assert {"code", "severity", "title", "explanation", "example", "fix"} <= set(codes[0])
    assert "unknown-step" in {code["code"] for code in codes}


def test_a_fresh_project_has_empty_logs_and_memory_as_json(project):
    logs = project.cli("logs", "--output", "json")
    assert (logs.exit_code, json.loads(logs.stdout)) == (0, [])
    exported = project.cli("memory", "export", "--output", "json")
    assert exported.exit_code == 0
    assert json.loads(exported.stdout) == {"ecosystem": "project", "facts": [], "project_relationships": [],
                                           "entities": [], "entity_properties": [], "findings": [],
                                           "workflow_runs": []}
    facts = project.cli("memory", "facts", "--output", "json")
    assert (facts.exit_code, json.loads(facts.stdout)) == (0, [])
    assert "no memory for ecosystem 'project' yet" in facts.stderr
    assert project.cli("memory", "facts").exit_code == 0  # nothing stored yet is no failure


def test_no_command_is_a_usage_error(project):
    result = project.cli("--output", "json")
    assert result.exit_code == 2 and "Missing command" in result.stderr
