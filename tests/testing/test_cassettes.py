"""Recorded answers: ``--record`` asks the real (loopback) backend once and stores the answers by
cache key beside the test; later runs replay them with no backend; a changed prompt misses."""

from __future__ import annotations

from tests.support.fixtures import llm_server  # noqa: F401
from tests.support.llm_server import LLMServer, Reply
from tests.testing.conftest import Suite

TEST = """
    workflow = "review.mux"

    [[test]]
    name = "recorded"
    files = { "a.txt" = "hello\\n" }

    [[test.expect]]
    step = "verdict"
    contains = "answer to: Review this:"

    [test.run]
    calls = 1
"""


def _configure(suite: Suite, server: LLMServer) -> None:
    """The suite's real project config: the backend recording asks."""
    server.responder = lambda request: Reply(text="answer to: " + request.prompt)
    suite.write(".muxc/config.toml", f"""
        [backends.fake]
        command = "{server.openai_url}"
        model = "m"

        [roles.analyzer]
        backends = ["fake"]
    """)


def test_record_then_replay_offline(suite: Suite, llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    suite.write("review.test.toml", TEST)
    result = suite.test("--record", code=0)
    assert "recorded: " in result.stderr and llm_server.calls == 1
    cassette = (suite.root / "review.cassette.toml").read_text()
    assert 'test = "recorded"' in cassette and 'step = "verdict"' in cassette and "hello" in cassette
    llm_server.responder = lambda request: Reply.error(500, "the backend must not be asked")
    suite.test(code=0)
    assert llm_server.calls == 1


def test_a_changed_prompt_fails_naming_the_step_the_diff_and_record(suite: Suite,
                                                                    llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    suite.write("review.test.toml", TEST)
    suite.test("--record", code=0)
    workflow = suite.root / "review.mux"
    workflow.write_text(workflow.read_text().replace("Review this:", "Review this carefully:"))
    doc = suite.json(code=1)
    [failure] = doc["tests"][0]["failures"]  # the miss alone: not also "the build failed"
    assert failure["code"] == "cassette-miss"
    assert failure["message"] == "step `verdict` of workflow `review` changed since its answer was recorded"
    assert "`muxc test --record` refreshes the cassette" in failure["help"]
    [diff] = failure["notes"]
    assert "-Review this:" in diff and "+Review this carefully:" in diff
    shown = suite.test(code=1).stdout  # as the user sees it: a failure of its own, with the diff
    assert "error[cassette-miss]: step `verdict` of workflow `review` changed since its answer was recorded" in shown
    assert "+Review this carefully:" in shown and "--record" in shown
    assert llm_server.calls == 1
    suite.test("--record-missing", code=1)  # the expectation still wants the old prompt
    assert llm_server.calls == 2
    assert "Review this carefully" in (suite.root / "review.cassette.toml").read_text()
    assert "Review this:\n" not in (suite.root / "review.cassette.toml").read_text()  # stale answers go


def test_record_missing_keeps_what_is_recorded(suite: Suite, llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    suite.write("review.test.toml", TEST)
    suite.test("--record", code=0)
    suite.test("--record-missing", code=0)
    assert llm_server.calls == 1
    suite.test("--record", code=0)
    assert llm_server.calls == 2


def test_scripted_answers_win_over_the_cassette_and_are_not_recorded(suite: Suite,
                                                                     llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    suite.write("review.test.toml", TEST.replace('contains = "answer to: Review this:"', 'equals = "scripted"')
                .replace('files = {', 'answers = { verdict = "scripted" }\n    files = {'))
    suite.test("--record", code=0)
    assert llm_server.calls == 0
    assert not (suite.root / "review.cassette.toml").exists()


def test_a_damaged_cassette_is_a_diagnostic_at_the_spot(suite: Suite) -> None:
    suite.write("review.test.toml", TEST)
    suite.write("review.cassette.toml", """
        [[answer]]
        test = "recorded"
        step = "verdict"
        key = 42
    """)
    doc = suite.json(code=1)
    found = [(d["file"], d["code"], d["line"], d["column"], d["message"]) for d in doc["diagnostics"]]
    assert found == [("review.cassette.toml", "missing-field", 1, 1, "this recorded answer has no `answer`"),
                     ("review.cassette.toml", "missing-field", 1, 1, "this recorded answer has no `prompt`"),
                     ("review.cassette.toml", "wrong-type", 4, 7, "`key` must be a string, not integer")]
    assert doc["tests"] == []




def test_recording_in_worker_processes_saves_every_answer(suite: Suite, llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    second = TEST.replace('name = "recorded"', 'name = "again"').replace('"hello\\n"', '"bye\\n"')
    suite.write("review.test.toml", TEST + second.split('workflow = "review.mux"', 1)[1])
    suite.test("--record", "-j", "2", code=0)
    assert llm_server.calls == 2
    cassette = (suite.root / "review.cassette.toml").read_text()
    assert cassette.count("[[answer]]") == 2 and 'test = "again"' in cassette
    suite.test("-j", "2", code=0)
    assert llm_server.calls == 2


def test_a_new_key_for_the_same_prompt_replays_and_recording_rekeys_it(suite: Suite,
                                                                        llm_server: LLMServer) -> None:  # noqa: F811
    """The key also names the backends' config (a muxc upgrade may change a backend's defaults):
    an answer recorded for exactly the same step and prompt still replays, offline."""
    import re

    _configure(suite, llm_server)
    suite.write("review.test.toml", TEST)
    suite.test("--record", code=0)
    cassette = suite.root / "review.cassette.toml"
    recorded = cassette.read_text()
    [key] = re.findall(r'^key = "([0-9a-f]+)"$', recorded, re.MULTILINE)
    cassette.write_text(recorded.replace(key, "0" * len(key)))
    llm_server.responder = lambda request: Reply.error(500, "the backend must not be asked")
    suite.test(code=0)
    suite.test("--record-missing", code=0)  # nothing is missing: the answer is kept, under the key it has now
    assert llm_server.calls == 1
    assert cassette.read_text() == recorded


def test_a_system_prompt_is_recorded_and_must_match_too(suite: Suite, llm_server: LLMServer) -> None:  # noqa: F811
    _configure(suite, llm_server)
    workflow = suite.root / "review.mux"
    workflow.write_text(workflow.read_text().replace('> "out/verdict.md":', '> "out/verdict.md" [system = "Be brief."]:'))
    suite.write("review.test.toml", TEST)
    suite.test("--record", code=0)
    cassette = suite.root / "review.cassette.toml"
    assert 'system = "Be brief."' in cassette.read_text()
    suite.test(code=0)
    workflow.write_text(workflow.read_text().replace("Be brief.", "Be thorough."))
    [failure] = suite.json(code=1)["tests"][0]["failures"]
    assert failure["code"] == "cassette-miss"
    [diff] = failure["notes"]
    assert "--- recorded system prompt" in diff and "-Be brief." in diff and "+Be thorough." in diff
