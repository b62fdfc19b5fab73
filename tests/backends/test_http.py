"""HTTP backends against a real loopback server: both protocols, streaming, usage, bad answers,
timeouts, cancellation and the concurrency limit (llmux-proxies.md §4 scenarios 8–12)."""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest, Usage
from muxc.config.schema import Price
from tests.support.llm_server import LLMServer, Reply, free_port

PROTOCOLS = ["openai", "anthropic"]


def base(server: LLMServer, protocol: str) -> str:
    return server.openai_url if protocol == "openai" else server.url


def ask(backend, prompt: str = "hello there", **request) -> object:
    return backend.complete(CompletionRequest(prompt, **request), Cancel())


def failure(backend, prompt: str = "hello there", **request) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ask(backend, prompt, **request)
    return caught.value


# -- requests and answers -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False])
def test_answers_in_both_protocols_streamed_or_not(llm_server, make_backend, protocol, stream) -> None:
    backend = make_backend(
        base_url=base(llm_server, protocol), protocol=protocol, stream=stream, api_key="sk-live-abcdef"
    )
    completion = ask(backend, "what is the answer")
    assert completion.text == "echo: what is the answer"
    assert completion.backend == "b" and completion.attempts == 1
    sent = llm_server.completions[0]
    assert sent.stream is stream
    assert sent.api_key == "sk-live-abcdef"


def test_openai_request_body_and_headers(llm_server, make_backend) -> None:
    backend = make_backend(
        base_url=llm_server.openai_url,
        model="m1",
        params={"temperature": 0.2, "max_tokens": 9},
        headers={"X-Team": "t1"},
    )
    ask(backend, "prompt text", system="be brief", params={"max_tokens": 50})
    sent = llm_server.completions[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {
        "temperature": 0.2,
        "max_tokens": 50,  # the request's params win over the backend's
        "model": "m1",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "prompt text"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert sent.headers["x-team"] == "t1"
    assert "authorization" not in sent.headers  # no key configured: none sent (local servers)


def test_anthropic_request_body_and_headers(llm_server, make_backend) -> None:
    backend = make_backend(
        type="claude-api",
        base_url=llm_server.url,
        environ={"ANTHROPIC_API_KEY": "sk-ant-test-000111"},
        stream=False,
    )
    ask(backend, "prompt text", system="be brief")
    sent = llm_server.completions[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test-000111"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body == {
        "max_tokens": 4096,
        "model": "claude-sonnet-4-20250514",
        "messages": [{"role": "user", "content": "prompt text"}],
        "system": "be brief",
    }


def test_api_key_reference_is_expanded_from_the_environment(llm_server, make_backend) -> None:
    backend = make_backend(
        base_url=llm_server.openai_url, api_key="${MY_KEY}", environ={"MY_KEY": "sk-from-env-42"}
    )
    ask(backend)
    assert llm_server.completions[0].api_key == "sk-from-env-42"


def test_missing_key_variable_is_a_config_error_naming_it(llm_server, make_backend) -> None:
    backend = make_backend(base_url=llm_server.openai_url, api_key="${MY_KEY}")
    error = failure(backend)
    assert error.kind == "config" and "MY_KEY" in error.message
    assert llm_server.calls == 0


def test_identity_has_what_determines_answers_and_no_secrets(make_backend) -> None:
    backend = make_backend(
        base_url="http://user:pw-secret-1@127.0.0.1:9/v1?api_key=zzz&v=2",
        model="m",
        params={"temperature": 0},
        api_key="sk-identity-999",
    )
    identity = backend.identity()
    assert identity == {
        "kind": "http",
        "protocol": "openai",
        "model": "m",
        "params": {"temperature": 0},
        "base_url": "http://127.0.0.1:9/v1?v=2",
    }
    assert "sk-identity-999" not in repr(identity) and "pw-secret-1" not in repr(identity)
    assert backend.reads_project is False


# -- streaming (scenarios 10, 11) ---------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("chunking", [1, 16, "blank-line"])
def test_fragmented_streams_give_the_same_answer(llm_server, make_backend, protocol, chunking) -> None:
    usage = (
        {"prompt_tokens": 11, "completion_tokens": 4}
        if protocol == "openai"
        else {"input_tokens": 11, "output_tokens": 4}
    )
    llm_server.script(Reply(text="naïve café answer ✓", usage=usage, chunking=chunking))
    completion = ask(make_backend(base_url=base(llm_server, protocol), protocol=protocol))
    assert completion.text == "naïve café answer ✓"
    assert completion.usage == Usage(11, None, 4, None)


def test_a_malformed_event_fails_the_attempt_instead_of_leaving_a_hole(llm_server, make_backend, caplog) -> None:
    events = [
        'data: {"choices": [{"delta": {"content": "one "}}]}',
        "data: {this is not json",
        'data: {"choices": [{"delta": {"content": "two"}, "finish_reason": "stop"}]}',
        "data: [DONE]",
    ]
    llm_server.script(Reply(events=events, chunking=7))
    with caplog.at_level(logging.DEBUG, logger="muxc.backends"):
        completion = ask(make_backend(base_url=llm_server.openai_url))
    assert completion.text == "echo: hello there" and completion.attempts == 2  # asked again
    assert "an event is not JSON: '{this is not json'" in caplog.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_stream_is_an_error_not_a_short_answer(llm_server, make_backend, protocol) -> None:
    llm_server.script(*[Reply.no_terminal_event()] * 2)
    error = failure(make_backend(base_url=base(llm_server, protocol), protocol=protocol, max_retries=1))
    assert error.kind == "bad_response"
    assert "stream ended before completion" in error.message and "after 2 attempts" in error.message
    assert llm_server.calls == 2  # retried like a 5xx


def test_connection_dropped_mid_stream_is_retried(llm_server, make_backend) -> None:
    llm_server.script(Reply(text="partial", truncate=True, drop=True), Reply(text="whole answer"))
    completion = ask(make_backend(base_url=llm_server.openai_url))
    assert completion.text == "whole answer" and completion.attempts == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_json_document_when_a_stream_was_asked_for_is_used(llm_server, make_backend, protocol) -> None:
    llm_server.script(Reply(text="plain json", stream=False, headers={"content-type": "text/event-stream"}))
    assert ask(make_backend(base_url=base(llm_server, protocol), protocol=protocol)).text == "plain json"


def test_an_overloaded_error_inside_a_stream_is_retried(llm_server, make_backend) -> None:
    overloaded = 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    llm_server.script(
        Reply(events=['event: ping\ndata: {"type": "ping"}', overloaded]), Reply(text="second try")
    )
    completion = ask(make_backend(protocol="anthropic", base_url=llm_server.url))
    assert completion.text == "second try" and completion.attempts == 2


def test_a_rate_limited_keyless_local_server_is_waited_for(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="1"), Reply.rate_limited(retry_after="1"))
    with pytest.raises(BackendError) as caught:
        ask(make_backend(base_url=llm_server.openai_url, max_rate_limit_wait=0))
    assert "rate limited on every credential of backend 'b' ((no key): retry in 1s" in caught.value.message


def test_openai_stream_without_done_but_with_finish_reason_is_complete(llm_server, make_backend) -> None:
    llm_server.script(
        Reply(events=['data: {"choices": [{"delta": {"content": "ok"}, "finish_reason": "stop"}]}'])
    )
    assert ask(make_backend(base_url=llm_server.openai_url)).text == "ok"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_connection_serves_successive_streamed_calls(llm_server, make_backend, protocol) -> None:
    backend = make_backend(base_url=base(llm_server, protocol), protocol=protocol)
    for prompt in ("one", "two", "three"):
        ask(backend, prompt)
    assert len({request.client for request in llm_server.completions}) == 1


def test_progress_reports_characters_received(llm_server, make_backend) -> None:
    seen: list[int] = []
    llm_server.script(Reply(text="a b c d"))
    backend = make_backend(base_url=llm_server.openai_url)
    backend.complete(CompletionRequest("x"), Cancel(), seen.append)
    assert seen and seen[-1] == len("a b c d")


# -- usage and cost (scenario 12) ---------------------------------------------------------------

SONNET = Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)


@pytest.mark.parametrize("stream", [True, False])
def test_openai_cached_tokens_are_not_counted_as_fresh(llm_server, make_backend, stream) -> None:
    usage = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 800}, "output_tokens": 50}
    llm_server.script(Reply(text="x", usage=usage))
    completion = ask(make_backend(base_url=llm_server.openai_url, stream=stream, price=SONNET))
    assert completion.usage == Usage(
        input_tokens=200, cached_input_tokens=800, output_tokens=50, cache_write_tokens=None
    )
    assert completion.cost_usd == pytest.approx((200 * 3.0 + 800 * 0.3 + 50 * 15.0) / 1e6)


def test_openai_prompt_tokens_details(llm_server, make_backend) -> None:
    usage = {"prompt_tokens": 500, "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens": 7}
    llm_server.script(Reply(text="x", usage=usage))
    assert ask(make_backend(base_url=llm_server.openai_url)).usage == Usage(400, 100, 7, None)


@pytest.mark.parametrize("stream", [True, False])
def test_anthropic_input_excludes_cache_and_missing_cache_fields_stay_none(
    llm_server, make_backend, stream
) -> None:
    backend = make_backend(
        protocol="anthropic",
        base_url=llm_server.url,
        stream=stream,
        price=SONNET,
        environ={"ANTHROPIC_API_KEY": "sk-ant-xxxxxx"},
    )
    llm_server.script(
        Reply(
            text="x",
            usage={
                "input_tokens": 20,
                "cache_read_input_tokens": 900,
                "cache_creation_input_tokens": 100,
                "output_tokens": 30,
            },
        )
    )
    completion = ask(backend)
    assert completion.usage == Usage(20, 900, 30, 100)
    assert completion.cost_usd == pytest.approx((20 * 3.0 + 900 * 0.3 + 30 * 15.0 + 100 * 3.75) / 1e6)
    llm_server.script(Reply(text="x", usage={"input_tokens": 20, "output_tokens": 30}))
    assert ask(backend).usage == Usage(20, None, 30, None)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_usage_means_unknown_not_zero(llm_server, make_backend, protocol) -> None:
    llm_server.script(Reply(text="x", include_usage=False))
    completion = ask(make_backend(base_url=base(llm_server, protocol), protocol=protocol, price=SONNET))
    assert completion.usage == Usage() and completion.cost_usd is None


# -- garbage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply.html(), "<html><head><title>502 Bad Gateway"),
        (
            Reply(body='{"choices": [{"message": ', headers={"content-type": "application/json"}),
            "invalid JSON",
        ),
        (Reply(json={"id": "x", "choices": []}), "no choices"),
        (Reply(body=""), "empty body"),
    ],
)
def test_garbage_answers_are_clear_bad_response_errors(llm_server, make_backend, reply, needle) -> None:
    llm_server.responder = lambda request: reply
    error = failure(make_backend(base_url=llm_server.openai_url, max_retries=1))
    assert error.kind == "bad_response" and error.backend == "b"
    assert needle in error.message
    assert re.search(r"127\.0\.0\.1:\d+/v1/chat/completions", error.message)
    assert error.body_start is not None and len(error.body_start) <= 200
    assert llm_server.calls == 2  # retried like a 5xx


def test_an_unexpected_status_is_not_retried(llm_server, make_backend) -> None:
    llm_server.script(Reply(status=302, headers={"location": "https://elsewhere.invalid/v1"}, body=""))
    error = failure(make_backend(base_url=llm_server.openai_url))
    assert error.kind == "bad_response" and "unexpected status 302" in error.message
    assert llm_server.calls == 1  # a redirect is a wrong base_url: asking again cannot help


def test_other_4xx_is_a_config_error_not_retried(llm_server, make_backend) -> None:
    llm_server.script(Reply.error(404, "model 'nope' not found"))
    error = failure(make_backend(base_url=llm_server.openai_url, model="nope"))
    assert error.kind == "config" and "404" in error.message and "model 'nope' not found" in error.message
    assert llm_server.calls == 1


# -- transient failures (scenario 8) ------------------------------------------------------------


def test_connection_refused_is_retried_with_growing_waits_then_names_the_url(make_backend, caplog) -> None:
    port = free_port()
    backend = make_backend(base_url=f"http://127.0.0.1:{port}/v1", max_retries=3, retry_delay=40)
    with caplog.at_level(logging.DEBUG, logger="muxc.backends"):
        error = failure(backend)
    assert error.kind == "connection" and error.attempts == 4
    assert (
        f"127.0.0.1:{port}/v1/chat/completions" in error.message and "is the server running" in error.message
    )
    waits = [float(w) for w in re.findall(r"waiting (\d+\.\d+)s", caplog.text)]
    assert len(waits) == 3 and waits == sorted(waits) and waits[0] >= 0.04


def test_503_is_retried_with_backoff_up_to_max_retries_and_the_key_stays_good(
    llm_server, make_backend
) -> None:
    llm_server.script(*[Reply.error(503, "overloaded")] * 3)
    backend = make_backend(
        base_url=llm_server.openai_url, max_retries=2, retry_delay=60, api_key="sk-keep-me-123"
    )
    error = failure(backend)
    assert error.kind == "server" and "503" in error.message and "after 3 attempts" in error.message
    times = [r.time for r in llm_server.completions]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 3 and gaps[0] >= 0.06 and gaps[1] > gaps[0]
    assert ask(backend).text.startswith("echo:")  # the key was not marked bad
    assert llm_server.completions[-1].api_key == "sk-keep-me-123"


def test_retry_after_on_503_is_honoured(llm_server, make_backend) -> None:
    llm_server.script(Reply.error(503, headers={"retry-after": "1"}))
    started = time.monotonic()
    assert ask(make_backend(base_url=llm_server.openai_url)).attempts == 2
    assert time.monotonic() - started >= 1.0


# -- timeouts, cancellation (scenario 9) --------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_stalled_stream_hits_the_idle_timeout_and_releases_the_slot(
    llm_server, make_backend, protocol
) -> None:
    llm_server.script(Reply(text="never finished", stall_after=1))
    backend = make_backend(
        base_url=base(llm_server, protocol),
        protocol=protocol,
        idle_timeout="500ms",
        timeout=600,
        max_concurrent=1,
    )
    started = time.monotonic()
    error = failure(backend)
    assert 0.5 <= time.monotonic() - started < 2.0
    assert error.kind == "timeout" and "idle timeout" in error.message
    assert backend.in_flight == 0
    assert ask(backend).text.startswith("echo:")  # the single slot is free again


def test_timeouts_are_retried_only_with_retry_timeout(llm_server, make_backend) -> None:
    llm_server.script(Reply(text="late", delay=1.0), Reply(text="on time"))
    backend = make_backend(base_url=llm_server.openai_url, idle_timeout=0.3, retry_timeout=True)
    assert ask(backend).text == "on time"


def test_total_timeout_bounds_a_silent_server(llm_server, make_backend) -> None:
    llm_server.script(Reply(text="late", delay=5.0))
    backend = make_backend(base_url=llm_server.openai_url, timeout="600ms", idle_timeout=60)
    started = time.monotonic()
    error = failure(backend)
    assert time.monotonic() - started < 1.5
    assert error.kind == "timeout" and "within 0.6s (timeout)" in error.message


def test_step_timeout_caps_the_backend_timeout(llm_server, make_backend) -> None:
    llm_server.script(Reply(text="late", delay=5.0))
    started = time.monotonic()
    error = failure(make_backend(base_url=llm_server.openai_url), timeout=0.5)
    assert error.kind == "timeout" and time.monotonic() - started < 1.5


def test_cancel_interrupts_a_waiting_request_promptly(llm_server, make_backend) -> None:
    llm_server.script(Reply(text="late", delay=10.0))
    backend = make_backend(base_url=llm_server.openai_url)
    cancel = Cancel()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        backend.complete(CompletionRequest("x"), cancel)
    assert caught.value.kind == "cancelled"
    assert time.monotonic() - started < 1.0


def test_cancel_interrupts_a_retry_wait(llm_server, make_backend) -> None:
    llm_server.script(Reply.error(503, headers={"retry-after": "30"}))
    backend = make_backend(base_url=llm_server.openai_url)  # waits min(30 s, max_delay) before retrying
    cancel = Cancel()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        backend.complete(CompletionRequest("x"), cancel)
    assert caught.value.kind == "cancelled" and time.monotonic() - started < 1.0


# -- concurrency --------------------------------------------------------------------------------


def test_max_concurrent_is_never_exceeded_across_threads(make_backend) -> None:
    with LLMServer(latency=0.15) as server:
        backend = make_backend(base_url=server.openai_url, max_concurrent=3)
        results: list[str] = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(ask(backend, f"p{i}").text)) for i in range(12)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == sorted(f"echo: p{i}" for i in range(12))
        assert server.max_in_flight == 3
        assert time.monotonic() - started >= 0.15 * 4
        assert backend.in_flight == 0
