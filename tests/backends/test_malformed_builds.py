"""Malformed answers end to end: a real build whose query step asks the scripted loopback server.

A malformed answer is retried and the good one used; one that stays malformed fails the step and
nothing is cached, so the next build asks again; an empty answer an earlier muxc cached is not
served after the upgrade (``status`` says why); JSON nested 100,000 deep in the model's text fails
the steps that parse it in words; a key the server echoes never reaches the output, the cache or
the LLM log.
"""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from muxc.run.keys import output_digest
from muxc.store.results import ResultStore
from tests.run.conftest import Project
from tests.support.llm_server import LLMServer, Reply, echo_key

KEY = "sk-build-echo-5e2c8a1f7d"

ASK = """
    workflow w "one question"

    query ask @analyzer: What is 2 + 2?
    """


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str], llm_server: LLMServer,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    monkeypatch.setenv("MUXC_TEST_KEY", KEY)
    monkeypatch.chdir(root)
    project = Project(root, dict(os.environ), llm_server, tmp_path / "counter")
    project.write(".muxc/config.toml", textwrap.dedent(f"""\
        [backends.fake]
        command = "{llm_server.openai_url}"
        model = "m"
        api_key = "${{MUXC_TEST_KEY}}"
        max_retries = 1
        retry_delay = "10ms"

        [roles.analyzer]
        backends = ["fake"]
        """))
    project.workflow(ASK)
    yield project


def logged(project: Project) -> list[dict]:
    return json.loads(project.cli("logs", "--output", "json").stdout)


MALFORMED = {
    "unparseable-chunk": Reply.unparseable_chunk(),
    "null-content": Reply.null_content(),
    "no-terminal-event": Reply.no_terminal_event(),
    "deep-json-body": Reply.deep_json("body"),
    "deep-json-event": Reply.deep_json("event"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_first_answer_is_retried_and_the_good_one_used(project, case) -> None:
    project.server.script(MALFORMED[case], Reply(text="4"))
    built = project.build()
    assert built.ran == {"ask"} and built.output == "4"
    assert project.calls == 2
    assert project.build().cached == {"ask"} and project.calls == 2  # the good answer was cached


@pytest.mark.parametrize("case", MALFORMED)
def test_an_always_malformed_answer_fails_the_step_and_nothing_is_cached(project, case) -> None:
    project.server.responder = lambda request: MALFORMED[case]
    failed = project.build(code=1)
    assert failed.status == {"ask": "failed"} and project.calls == 2  # max_retries = 1
    error = failed.error("ask")
    assert "fake:" in error and "after 2 attempts" in error and "Recursion" not in error
    assert [entry["status"] for entry in logged(project)] == ["bad_response"]
    project.server.responder = lambda request: Reply(text="4")
    again = project.build()
    assert again.ran == {"ask"} and again.output == "4" and project.calls == 3  # asked again


def test_an_empty_answer_the_model_chose_is_cached_like_any_other(project) -> None:
    project.server.script(Reply(text=""))
    assert project.build().ran == {"ask"}
    assert project.build().cached == {"ask"} and project.calls == 1


def as_an_earlier_muxc_left_it(db_path: Path, output: str) -> None:
    """The cache as muxc 0.1.0 left it: the step's result holding ``output`` (for a malformed
    answer it stored an empty one), written through the store's own API, and the migration with
    which a newer muxc vets such results not applied yet."""
    store = ResultStore(db_path)
    latest = store.latest("w", "ask")
    assert latest is not None
    record, (components, rendered) = store.get(latest.key), store.details(latest.key)
    assert record is not None
    digest = output_digest(output, {})
    store.put(msgspec.structs.replace(record, output=output), "w", digest, components, rendered)
    store.set_latest("w", "ask", msgspec.structs.replace(latest, output_digest=digest))
    store.close()
    with sqlite3.connect(db_path) as db:
        db.execute("drop table distrusted")
        db.execute("delete from _muxc_migrations where name = '0004_distrust_empty_answers'")


def test_an_empty_answer_an_earlier_muxc_cached_is_asked_again(project) -> None:
    project.server.script(Reply(text="4"))
    project.build()
    as_an_earlier_muxc_left_it(project.root / ".muxc/state/cache.db", "")
    status = project.cli("status", "w")
    assert status.stdout == "ask: would run — its cached answer is empty, and an earlier muxc cached malformed " \
                            "answers as empty ones: asking again\n"
    project.server.script(Reply(text="four"))
    again = project.build()
    assert again.ran == {"ask"} and again.output == "four" and project.calls == 2
    assert project.build().cached == {"ask"} and project.calls == 2  # the new answer is trusted


def test_a_non_empty_answer_an_earlier_muxc_cached_is_still_served(project) -> None:
    project.server.script(Reply(text="4"))
    project.build()
    as_an_earlier_muxc_left_it(project.root / ".muxc/state/cache.db", "four, from the old cache")
    built = project.build()
    assert built.cached == {"ask"} and built.output == "four, from the old cache" and project.calls == 1


# -- JSON nested 100,000 deep as the model's text -----------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_json_against_an_output_schema_fails_in_words(project) -> None:
    project.workflow("""
        workflow w "typed"

        query ask @analyzer [output_schema = {type = "array"}, schema_retries = 0]: List them.
        """)
    project.server.script(Reply(text=DEEP))
    error = project.build(code=1).error("ask")
    assert "the answer holds JSON nested more than 100 levels deep, deeper than muxc reads" in error
    assert "internal" not in error and "Recursion" not in error


def test_deep_json_read_through_steps_x_json_fails_in_words(project) -> None:
    project.workflow("""
        workflow w "reads json"

        query ask @analyzer: List them.

        query next @analyzer: The first is {{ steps.ask.json[0] }}
        """)
    project.server.script(Reply(text=DEEP))
    failed = project.build(code=1)
    assert failed.status == {"ask": "ran", "next": "failed"}
    assert failed.error("next").endswith("the output of this step holds no JSON")


def test_deep_json_as_edits_fails_the_apply_step_in_words(project) -> None:
    project.workflow("""
        workflow w "edits"

        query fix @analyzer: Edit the project.

        apply apply from fix [verify_retries = 0]
        """)
    project.server.script(Reply(text='{"edits": ' + DEEP + "}"))
    failed = project.build(code=1)
    assert failed.status["apply"] == "failed"
    error = failed.error("apply")
    assert "internal" not in error and "Recursion" not in error, error


# -- a key echoed in a successful answer --------------------------------------------------------


def test_a_key_echoed_in_the_answer_reaches_neither_output_cache_nor_log(project, tmp_path) -> None:
    project.write(".muxc/workflows/w.mux", 'workflow w "echo"\n\nquery ask @analyzer > "out/answer.md": Who am I?\n')
    project.server.responder = echo_key
    built = project.build()
    assert project.server.completions[0].api_key == KEY
    assert built.output == "I was called with the key *** (Bearer ***)."
    assert project.read("out/answer.md").startswith("I was called with the key ***")
    assert "***" in json.dumps(logged(project))
    leaks = [str(path) for path in tmp_path.rglob("*") if path.is_file() and KEY.encode() in path.read_bytes()]
    assert leaks == []
    for db in (project.root / ".muxc/state").glob("*.db"):
        assert KEY not in "\n".join(sqlite3.connect(db).iterdump())
