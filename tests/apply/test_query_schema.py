"""Queries with an output_schema: an answer that does not match is asked again with the
validation errors, then fails clearly; ``steps.X.json.field`` renders the typed field."""

from __future__ import annotations

import json

from tests.apply.conftest import statuses
from tests.support.llm_server import Reply

TRIAGE = """
    workflow x "triage"

    query triage @analyzer [
        output_schema = {
            type = "object",
            required = ["severity", "summary"],
            properties = {
                severity = {type = "string", enum = ["low", "high"]},
                summary = {type = "string"},
                count = {type = "integer"},
            },
        },
    ]:
        Triage the crash.

    query report @analyzer:
        Severity {{ steps.triage.json.severity }}; count {{ triage.json.count }}: {{ steps.triage.json.summary }}
    """


def test_an_invalid_answer_is_asked_again_with_the_validation_error(proj):
    proj.workflow(TRIAGE)
    proj.commit()
    proj.server.script(
        Reply(text='Sure! ```json\n{"severity": "urgent", "count": "two"}\n```'),
        Reply(text='Here it is:\n```json\n{"severity": "high", "summary": "null deref in parse()", "count": 2}\n```'),
        Reply(text="ok"),
    )
    doc = proj.build_json()
    assert statuses(doc) == {"triage": "ran", "report": "ran"}
    first, retry, report = proj.prompts
    assert first.startswith("Triage the crash.\n") and "IMPORTANT: You MUST respond with valid JSON" in first
    assert retry.startswith(first)
    assert '"severity": "urgent"' in retry  # the answer it gave
    assert "It did not match the required JSON schema:" in retry
    assert ('It did not match the required JSON schema:\n- $: missing required property "summary"\n'
            '- $.severity: expected one of "low", "high", got "urgent"\n'
            '- $.count: expected integer, got string "two"\n') in retry
    assert report == "Severity high; count 2: null deref in parse()\n"


def test_an_answer_that_stays_invalid_fails_clearly_after_schema_retries(proj):
    proj.workflow(TRIAGE)
    proj.commit()
    bad = json.dumps({"severity": "urgent"})
    proj.server.script(Reply(text=bad), Reply(text="I think it is urgent."))
    done = proj.build(code=1)
    assert proj.server.calls == 2  # schema_retries defaults to 1
    assert "It did not match the required JSON schema" in proj.prompts[1]
    assert ("step `triage` failed: the answer does not match output_schema (asked again 1 time with the errors): "
            "the answer holds no JSON") in done.stderr
    assert "muxc logs" in done.stderr
    assert "report" not in proj.prompts[-1]


def test_schema_retries_zero_fails_on_the_first_invalid_answer(proj):
    proj.workflow(TRIAGE.replace('    ]:\n        Triage', '        schema_retries = 0,\n    ]:\n        Triage'))
    proj.commit()
    proj.server.script(Reply(text=json.dumps({"severity": "urgent", "summary": "x"})))
    done = proj.build(code=1)
    assert proj.server.calls == 1
    assert ('the answer does not match output_schema: $.severity: expected one of "low", "high", got "urgent"'
            in done.stderr)
