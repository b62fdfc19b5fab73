"""Several API keys per backend against a real server: 429 and 401 handling, parking, failover
(llmux-proxies.md §4 scenarios 1–4 and 7)."""

from __future__ import annotations

import threading
import time

import pytest

from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.retry import Tuning
from tests.support.llm_server import Reply

KEYS = {"KEY_A": "sk-test-aaaa1111", "KEY_B": "sk-test-bbbb2222"}
A, B = KEYS["KEY_A"], KEYS["KEY_B"]


def pooled(make_backend, llm_server, **fields):
    fields.setdefault("credentials", ["env:KEY_A", "KEY_B"])
    return make_backend(base_url=llm_server.openai_url, environ=KEYS, **fields)


def ask(backend, prompt: str = "q"):
    return backend.complete(CompletionRequest(prompt), Cancel())


def keys_used(llm_server) -> list[str | None]:
    return [request.api_key for request in llm_server.completions]


def test_short_429_waits_on_the_same_key(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="1"))
    backend = pooled(make_backend, llm_server, tuning=Tuning())  # default: waits ≤ 5 s stay on the key
    started = time.monotonic()
    completion = ask(backend)
    assert time.monotonic() - started >= 1.0
    assert completion.attempts == 2
    assert keys_used(llm_server) == [A, A]


def test_long_429_parks_the_key_and_later_calls_stay_on_the_next_one(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="60"))
    backend = pooled(make_backend, llm_server)
    started = time.monotonic()
    assert ask(backend, "first").text == "echo: first"
    assert ask(backend, "second").text == "echo: second"
    assert time.monotonic() - started < 1.0  # a switch, not a wait
    assert keys_used(llm_server) == [A, B, B]


def test_parking_is_shared_by_every_thread_of_the_build(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="60"))
    backend = pooled(make_backend, llm_server)
    ask(backend)
    threads = [threading.Thread(target=ask, args=(backend,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert keys_used(llm_server)[2:] == [B] * 6


def test_every_key_rate_limited_without_allowance_names_backend_keys_and_earliest_retry(
    llm_server, make_backend
) -> None:
    llm_server.script(Reply.rate_limited(retry_after="60"), Reply.rate_limited(retry_after="90"))
    backend = pooled(make_backend, llm_server, name="sonnet", max_rate_limit_wait=0)
    with pytest.raises(BackendError) as caught:
        ask(backend)
    error = caught.value
    assert keys_used(llm_server) == [A, B]  # each key tried exactly once
    assert error.kind == "rate_limit" and error.backend == "sonnet"
    assert "'sonnet'" in error.message and "KEY_A" in error.message and "KEY_B" in error.message
    assert "earliest retry in 60s" in error.message or "earliest retry in 59s" in error.message
    assert error.retry_at is not None and 55 <= error.retry_at - time.time() <= 60
    assert A not in error.message and B not in error.message


def test_every_key_parked_waits_for_the_earliest_within_the_allowance(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="1"), Reply.rate_limited(retry_after="2"))
    backend = pooled(make_backend, llm_server, max_rate_limit_wait=5)
    started = time.monotonic()
    completion = ask(backend)
    elapsed = time.monotonic() - started
    assert completion.text == "echo: q"
    assert 0.9 <= elapsed < 1.8  # waited for A (1 s), not for B (2 s)
    assert keys_used(llm_server) == [A, B, A]


def test_429_without_retry_after_never_locks_the_pool(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(), Reply.rate_limited())
    backend = pooled(make_backend, llm_server, tuning=Tuning(heuristic_park=8.0))
    started = time.monotonic()
    completion = ask(backend)
    assert completion.text == "echo: q" and completion.attempts == 3
    assert time.monotonic() - started < 1.0  # degraded mode: a backoff, not the 8 s park
    assert len(keys_used(llm_server)) == 3


def test_rate_limits_are_not_waited_for_when_retry_rate_limit_is_off(llm_server, make_backend) -> None:
    llm_server.script(Reply.rate_limited(retry_after="1"), Reply.rate_limited(retry_after="1"))
    backend = pooled(make_backend, llm_server, retry_rate_limit=False)
    with pytest.raises(BackendError) as caught:
        ask(backend)
    assert caught.value.kind == "rate_limit" and "retry_rate_limit = false" in caught.value.message
    assert keys_used(llm_server) == [A, B]  # failover still happens, waiting does not


def test_401_fails_over_once_and_the_dead_key_is_never_reused(llm_server, make_backend) -> None:
    llm_server.script(Reply.error(401, "invalid x-api-key"))
    backend = pooled(make_backend, llm_server)
    assert ask(backend).attempts == 2
    ask(backend)
    assert keys_used(llm_server) == [A, B, B]


def test_every_key_rejected_names_the_variables_never_the_values(llm_server, make_backend) -> None:
    llm_server.script(
        Reply.error(401, f"Incorrect API key provided: {A}"), Reply.error(403, f"key {B} is disabled")
    )
    backend = pooled(make_backend, llm_server, name="sonnet")
    with pytest.raises(BackendError) as caught:
        ask(backend)
    error = caught.value
    assert error.kind == "auth"
    assert "authentication failed for backend 'sonnet' (keys: KEY_A, KEY_B" in error.message
    assert A not in str(error) and B not in str(error)
    assert keys_used(llm_server) == [A, B]


def test_unset_credential_variables_are_skipped_and_all_unset_is_a_config_error(
    llm_server, make_backend
) -> None:
    backend = make_backend(
        base_url=llm_server.openai_url, credentials=["env:KEY_GONE", "KEY_B"], environ=KEYS
    )
    ask(backend)
    assert keys_used(llm_server) == [B]
    lonely = make_backend(base_url=llm_server.openai_url, credentials=["KEY_GONE"], environ=KEYS)
    with pytest.raises(BackendError) as caught:
        ask(lonely)
    assert caught.value.kind == "config" and "KEY_GONE" in caught.value.message
