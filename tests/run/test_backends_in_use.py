"""Only the backends a workflow's roles reach matter: `muxc doctor` judges those and lists the
others as unused; a `${VAR}` with no value in a backend nothing uses never stops a build."""

from __future__ import annotations

import json

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
