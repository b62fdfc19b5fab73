"""Only the backends a workflow's roles reach matter: `muxc doctor` judges those and lists the
others as unused; a `${VAR}` with no value in a backend nothing uses never stops a build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REVIEW = """
    workflow w "one query"

    query review @analyzer:
        Review this.
    """

UNUSED = """
    [backends.other]
    base_url = "http://127.0.0.1:9/v1"
    api_key = "${MUXC_TEST_UNSET_KEY}"
    model = "x"
    """


def test_doctor_of_a_workflow_judges_only_its_backends(project):
    project.config(UNUSED)
    project.workflow(REVIEW)
    result = project.cli("doctor", "w")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ fake (http): ")
    assert "- local (local): no role in use reaches it; not checked" in lines
    assert "- other (http): no role in use reaches it; not checked" in lines
    doc = json.loads(project.cli("doctor", "w", "--output", "json").stdout)
    assert {b["backend"]: b["status"] for b in doc["backends"]} == {"fake": "ok", "local": "unused",
                                                                    "other": "unused"}


def test_doctor_judges_a_backend_a_role_uses(project):
    project.config(UNUSED + '\n[roles.reviewer]\nbackends = ["other"]\n')
    project.workflow(REVIEW)
    result = project.cli("doctor", "w", "--output", "json")
    assert result.exit_code == 0  # w does not ask `reviewer`
    everything = project.cli("doctor")  # the config declares `reviewer`: `other` is in use
    assert everything.exit_code == 1
    assert "✗ other (http): api_key refers to MUXC_TEST_UNSET_KEY, which is not set" in everything.stdout
    assert project.cli("doctor", "nope").exit_code == 2


def test_an_unset_variable_in_an_unused_backend_does_not_block_a_build(project):
    project.config(UNUSED)
    project.workflow(REVIEW)
    built = project.build()
    assert built.ran == {"review"}
    assert project.cli("check", "w").exit_code == 0


def test_an_unset_variable_in_a_backend_the_workflow_reaches_stops_it_once(project):
    project.config(UNUSED + '\n[roles.reviewer]\nbackends = ["other"]\n')
    project.workflow(REVIEW.replace("@analyzer", "@reviewer"))
    for _ in range(2):  # the second time from the cached plan
        result = project.cli("build", "w")
        assert result.exit_code == 1
        assert result.stderr.count("error[missing-env-var]: environment variable `MUXC_TEST_UNSET_KEY` is not "
                                   "set") == 1
    assert project.calls == 0
    check = project.cli("check", "w")
    assert check.exit_code == 1 and "missing-env-var" in check.stdout


AUDIT = """
    workflow w "three queries on a shell step"

    shell sources:
        echo sources >> "$COUNTER"
        echo code

    query safety @analyzer:
        Safety of {{ sources }}

    query speed @analyzer:
        Speed of {{ sources }}

    query summary @synthesizer:
        Sum up {{ safety }} {{ speed }}
    """

GONE = """
    [backends.gone]
    command = "no-such-llm-cli-here"

    [roles.reviewer]
    backends = ["fake"]
    """


def _route(project, analyzer: str, synthesizer: str, extra: str = "") -> None:
    project.write(".muxc/config.toml", project.read(".muxc/config.toml").replace(
        '[roles.analyzer]\nbackends = ["fake"]', f"[roles.analyzer]\nbackends = {analyzer}{extra}").replace(
        '[roles.synthesizer]\nbackends = ["fake"]', f"[roles.synthesizer]\nbackends = {synthesizer}"))


def test_a_build_whose_roles_reach_a_missing_cli_stops_once_before_anything_runs(project):
    project.config(GONE)
    _route(project, '["gone"]', '["gone"]')
    project.workflow(AUDIT)
    result = project.cli("build", "w")
    assert result.exit_code == 1
    assert result.stderr.count("error[backend-unavailable]") == 1
    assert "3 query steps cannot get an answer here: `safety`, `speed` (role `analyzer`); `summary` (role " \
           "`synthesizer`) ask `gone`, which cannot answer" in result.stderr
    assert "note: `gone`: 'no-such-llm-cli-here' is not on PATH" in result.stderr
    assert "help: install it, or set `command` to its full path; or run `muxc init` to route the roles to what " \
           "can answer here (a local server, an API key, a CLI), or route `analyzer`, `synthesizer` to a backend " \
           "of your own" in result.stderr
    assert project.ran() == [] and project.calls == 0
    as_json = json.loads(project.cli("build", "w", "--output", "json").stdout)
    assert [d["code"] for d in as_json["diagnostics"]] == ["backend-unavailable"]
    assert project.cli("build", "w", "--dry-run").exit_code == 0  # a dry run asks nobody
    assert project.cli("status", "w").exit_code == 0


def test_check_warns_about_what_a_build_would_stop_on(project):
    project.config(GONE)
    _route(project, '["gone"]', '["fake"]')
    project.workflow(AUDIT)
    result = project.cli("check", "w", "--format", "json")
    assert result.exit_code == 0  # a warning: the file is fine, this machine lacks the CLI
    [warning] = json.loads(result.stdout)
    assert (warning["code"], warning["severity"], warning["line"]) == ("backend-unavailable", "warning", 7)
    assert warning["message"] == "2 query steps cannot get an answer here: `safety`, `speed` (role `analyzer`) " \
                                 "ask `gone`, which cannot answer"
    assert project.cli("check", "w", "--strict").exit_code == 1
    assert project.cli("check", "w", "--no-backends", "--strict").exit_code == 0


def test_a_role_with_a_backend_that_can_answer_is_not_stopped(project):
    project.config(GONE)
    _route(project, '["gone", "fake"]', '["fake"]', '\nexecution = "fallback"')
    project.workflow(AUDIT)
    built = project.build()
    assert built.ran == {"sources", "safety", "speed", "summary"} and project.calls == 3


def test_the_built_in_model_without_its_extra_says_the_install_command_for_this_install(project):
    from muxc.backends.managed.local import missing_modules
    from muxc.base.install import install_command
    from muxc.config.schema import BackendConfig

    if not missing_modules(BackendConfig(name="local", type="local")):
        pytest.skip("the muxc[local] extra is installed here")
    project.workflow('workflow w "x"\n\nquery ask @coder:\n    Hello\n')  # a built-in role: the built-in `local`
    result = project.cli("build", "w")
    assert result.exit_code == 1 and result.stderr.count("error[backend-unavailable]") == 1
    assert "1 query step cannot get an answer here: `ask` (role `coder`) asks `local`" in result.stderr
    assert f"help: install it: {install_command('local')}; " in result.stderr


def test_the_install_command_of_an_editable_checkout_runs_pip_in_the_checkout():
    import sys
    from pathlib import Path

    from muxc.base.install import checkout, install_command

    root = Path(__file__).resolve().parents[2]
    if checkout() != root:
        pytest.skip("muxc is not installed from this checkout in editable mode")
    assert install_command("local") == f"cd {root} && {sys.executable} -m pip install -e '.[local]'"


def test_a_build_the_cache_answers_needs_no_backend_and_a_changed_step_is_stopped_alone(project, tmp_path):
    from tests.support.fixtures import FakeCli

    (tmp_path / "bin").mkdir()
    cli = FakeCli(tmp_path / "bin").wrapper("some-llm")
    project.config(f'[backends.cli]\ncommand = "{cli}"\n')
    _route(project, '["cli"]', '["cli"]')
    project.workflow(AUDIT)
    assert project.build().ran == {"sources", "safety", "speed", "summary"} and project.ran() == ["sources"]
    Path(cli).unlink()  # the CLI is gone (uninstalled, another machine): the cache still answers
    again = project.build()
    assert again.ran == set() and again.cached == {"sources", "safety", "speed", "summary"}
    project.workflow(AUDIT.replace("Speed of", "How fast is"))
    result = project.cli("build", "w")
    assert result.exit_code == 1 and result.stderr.count("error[backend-unavailable]") == 1
    # `safety` is still cached: only the steps that would run are named
    assert "2 query steps cannot get an answer here: `speed` (role `analyzer`); `summary` (role `synthesizer`) " \
           "ask `cli`, which cannot answer" in result.stderr
    assert project.ran() == []  # stopped before anything ran


def test_a_bare_doctor_does_not_fail_on_a_backend_only_the_stdlib_reaches(project):
    # the project's config routes `analyzer` and `synthesizer` to `fake`; the other built-in roles
    # (coder, planner, …) still route to the built-in `local`, which only stdlib workflows ask
    project.workflow(REVIEW)
    result = project.cli("doctor")
    assert result.exit_code == 0, result.stdout
    assert "- local (local): only stdlib workflows reach it; not checked (`muxc doctor WORKFLOW` checks one)" \
        in result.stdout.splitlines()
    named = json.loads(project.cli("doctor", "fix", "--output", "json").stdout)  # a stdlib workflow, named
    assert {b["backend"]: b["status"] for b in named["backends"]}["local"] != "unused"


def test_a_bare_check_warns_about_backends_for_your_workflows_not_the_stdlibs(project):
    from muxc.base.resources import stdlib_dir

    project.config('[backends.gone]\ncommand = "no-such-llm-cli-here"\n\n[roles.coder]\nbackends = ["gone"]\n')
    everything = project.cli("check", "--format", "json")
    assert everything.exit_code == 0
    assert "backend-unavailable" not in everything.stdout  # stdlib `fix` asks `coder`, but nobody builds it yet
    named = project.cli("check", str(stdlib_dir() / "fix.mux"), "--format", "json")
    assert [d["code"] for d in json.loads(named.stdout)] == ["backend-unavailable"]
    project.workflow('workflow w "x"\n\nquery ask @coder:\n    Hello\n')
    mine = json.loads(project.cli("check", "--format", "json").stdout)
    assert [(d["code"], Path(d["file"]).name) for d in mine] == [("backend-unavailable", "w.mux")]


def test_the_stop_before_the_first_call_as_the_user_sees_it(project, snapshot):
    project.config(GONE)
    _route(project, '["gone"]', '["gone"]')
    project.workflow(AUDIT)
    result = project.cli("build", "w")
    assert result.exit_code == 1
    assert result.stderr == snapshot
