"""The LLM log: real SQLite through sqlite-utils, shared by threads, masked, queryable."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest, Usage
from muxc.base.masking import Secrets
from muxc.store.llm_log import BackendAverage, KeyUsage, LlmLog
from tests.support.llm_server import Reply


@pytest.fixture
def log(tmp_path):
    with LlmLog(tmp_path / "data" / "muxc" / "llm-log.db") as opened:
        yield opened


def test_record_and_read_back_newest_first_with_filters(log) -> None:
    log.record(
        backend="a", prompt="p1", status="ok", step="s1", response="r1", input_tokens=10, output_tokens=2
    )
    log.record(backend="b", prompt="p2", status="timeout", step="s1", error="idle timeout")
    log.record(backend="a", prompt="p3", status="ok", step="s2", response="r3")
    assert [e.prompt for e in log.recent(10)] == ["p3", "p2", "p1"]
    assert [e.prompt for e in log.recent(10, backend="a")] == ["p3", "p1"]
    assert [e.prompt for e in log.recent(10, backend="a", step="s1")] == ["p1"]
    assert [e.prompt for e in log.recent(1)] == ["p3"]
    first = log.recent(10)[-1]
    assert (first.input_tokens, first.cached_input_tokens, first.output_tokens) == (10, None, 2)
    assert first.time.endswith("+00:00")


def test_per_key_totals_and_backend_averages(log) -> None:
    log.record(
        backend="a",
        prompt="p",
        status="ok",
        cache_key="k1",
        input_tokens=100,
        output_tokens=10,
        cost_usd=0.01,
        latency_ms=200,
    )
    log.record(
        backend="a",
        prompt="p",
        status="ok",
        cache_key="k1",
        input_tokens=300,
        output_tokens=30,
        cost_usd=0.03,
        latency_ms=400,
    )
    log.record(backend="a", prompt="p", status="server", cache_key="k1", latency_ms=900)
    assert log.usage_for_key("k1") == KeyUsage(
        calls=3, ok_calls=2, input_tokens=400, output_tokens=40, cost_usd=pytest.approx(0.04)
    )
    assert log.usage_for_key("unknown") == KeyUsage(calls=0)
    average = log.average_usage("a")
    assert average == BackendAverage(
        calls=2, input_tokens=200.0, output_tokens=20.0, cost_usd=pytest.approx(0.02), latency_ms=300.0
    )
    assert average.cached_input_tokens is None  # never reported: unknown, not zero


def test_text_is_masked_before_it_is_stored(tmp_path) -> None:
    path = tmp_path / "log.db"
    with LlmLog(path, secrets=Secrets(["literal-secret-xyz"])) as log:
        log.record(
            backend="a",
            prompt="use literal-secret-xyz",
            status="auth",
            error="401: Bearer abc123def",
            response="sk-live-4242424242",
        )
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert "literal-secret-xyz" not in dump and "abc123def" not in dump and "sk-live-4242424242" not in dump


def test_many_threads_share_one_log(log) -> None:
    def write(n: int) -> None:
        for i in range(25):
            log.record(backend=f"b{n}", prompt=f"{n}-{i}", status="ok", input_tokens=1)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.recent(1000)) == 200
    assert log.average_usage("b3").calls == 25


def test_backend_calls_are_logged_as_calls_records(log, llm_server, make_backend) -> None:
    llm_server.script(
        Reply(
            text="fine",
            usage={"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens": 3},
        ),
        Reply.error(400, "bad"),
    )
    backend = make_backend("srv", base_url=llm_server.openai_url, model="m", logger=log)
    request = CompletionRequest("the prompt", workflow="wf", step="ask", cache_key="key-1")
    backend.complete(request, Cancel())
    with pytest.raises(BackendError):
        backend.complete(request, Cancel())
    failed, ok = log.recent(2)
    assert (ok.status, ok.response, ok.model, ok.workflow, ok.step, ok.cache_key) == (
        "ok",
        "fine",
        "test-model",
        "wf",
        "ask",
        "key-1",
    )
    assert (ok.input_tokens, ok.cached_input_tokens, ok.output_tokens, ok.attempts) == (5, 4, 3, 1)
    assert failed.status == "config" and "400" in (failed.error or "") and failed.response is None
    assert failed.model == "m"
    assert log.usage_for_key("key-1").calls == 2


def test_usage_round_trips_as_none_when_unknown(log) -> None:
    log.record(backend="a", prompt="p", status="ok")
    entry = log.recent(1)[0]
    assert (
        Usage(entry.input_tokens, entry.cached_input_tokens, entry.output_tokens, entry.cache_write_tokens)
        == Usage()
    )
