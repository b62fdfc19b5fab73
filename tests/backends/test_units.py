"""The pure pieces of the backend layer: masking, Retry-After, backoff, SSE parsing, the pool."""

from __future__ import annotations

import itertools
import json

import pytest

from muxc.backends.credentials import Credential, CredentialPool
from muxc.backends.http.sse import BLANK, DONE, MALFORMED, TOO_DEEP, SseEvent, SseParser, decode
from muxc.backends.retry import RetryPolicy, parse_retry_after
from muxc.base.masking import Secrets, looks_secret, mask, mask_known, mask_value
from muxc.lang.durations import to_seconds as parse_duration

# -- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer abc.def-123456", "abc.def-123456"),
        ("Incorrect API key provided: sk-test-123SECRET.", "sk-test-123SECRET"),
        ("headers: {'x-api-key': 'ant-789-qwerty'}", "ant-789-qwerty"),
        ('{"api_key": "zz-top-secret-value"}', "zz-top-secret-value"),
        ("curl -H 'x-api-key: plainvalue99'", "plainvalue99"),
    ],
)
def test_mask_hides_credential_looking_tokens(text: str, leak: str) -> None:
    masked = mask(text)
    assert leak not in masked
    assert "***" in masked


def test_mask_hides_registered_values_anywhere_and_keeps_the_rest_readable() -> None:
    secrets = Secrets(["hunter2-long-password"])
    text = "could not connect to http://user:hunter2-long-password@host/v1 (refused)"
    assert mask(text, secrets) == "could not connect to http://user:***@host/v1 (refused)"
    assert mask_value({"a": ["hunter2-long-password", 3]}, secrets) == {"a": ["***", 3]}


def test_short_values_are_not_registered_so_ordinary_words_survive() -> None:
    assert mask("the key is abc", Secrets(["abc"])) == "the key is abc"


def test_answers_lose_credentials_only_and_keep_code_that_looks_like_one() -> None:
    secrets = Secrets(["sk-real-key-0123456"])
    secrets.register("/home/alice/projects", credential=False)  # a CLI's env entry, say
    answer = 'key sk-real-key-0123456 in /home/alice/projects; headers = {"Authorization": f"Bearer {token}"}'
    assert mask_known(answer, secrets) == 'key *** in /home/alice/projects; headers = {"Authorization": f"Bearer {token}"}'
    assert "/home/alice/projects" not in mask(answer, secrets)  # messages still hide both


@pytest.mark.parametrize(("name", "secret"), [("OPENAI_API_KEY", True), ("Authorization", True), ("x-auth-token", True),
                                              ("HOME", False), ("OpenAI-Organization", False)])
def test_names_that_say_a_value_is_a_credential(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


# -- Retry-After and backoff (scenario 6) -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), (" 7 ", 7.0), ("0", 0.0), ("abc", None), ("-1", None), ("", None), (None, None)],
)
def test_retry_after_seconds_and_garbage(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date_gives_the_time_until_that_instant() -> None:
    now = 1445412420.0  # Wed, 21 Oct 2015 07:27:00 GMT
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == pytest.approx(60.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now=now) == 0.0  # already past


def test_backoff_grows_from_retry_delay_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=0.5)
    waits = [policy.backoff(n) for n in range(1, 9)]
    assert 0.5 <= waits[0] <= 0.625
    assert all(later > earlier for earlier, later in itertools.pairwise(waits))
    assert max(waits) <= 60.0


def test_durations_accept_numbers_in_the_keys_unit_and_suffixed_strings() -> None:
    assert parse_duration(1000, "ms") == 1.0
    assert parse_duration("90s") == 90.0
    assert parse_duration("2m") == 120.0
    assert parse_duration("250ms", "s") == 0.25
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -float("inf"), 1e308, "25d", "9" * 400 + "s"])
def test_durations_are_finite_and_at_most_24_days_in_both_parsers(value: float | str) -> None:
    """A wait the operating system's timers cannot take is refused here, never an OverflowError later."""
    from muxc.lang.durations import DurationError, to_ms

    with pytest.raises(ValueError, match=r"finite|at most 24 days"):
        parse_duration(value)
    with pytest.raises(DurationError, match=r"finite|at most 24 days"):
        to_ms(value, "s")
    assert parse_duration("24d") == 24 * 86400


# -- SSE (scenario 10) --------------------------------------------------------------------------

STREAM = (
    b": keepalive\n\n"
    b'event: message_start\ndata: {"type": "message_start", "text": "h\xc3\xa9llo"}\n\n'
    b"data: {broken\n\n"
    b'data: {"type": "delta",\ndata: "text": "two lines"}\n\n'
    b"data: [DONE]\n\n"
)


def parse_in_chunks(data: bytes, cuts: list[int]) -> list[SseEvent]:
    parser, events, start = SseParser(), [], 0
    for cut in [*cuts, len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events + parser.close()


def whole() -> list[SseEvent]:
    return parse_in_chunks(STREAM, [])


def test_sse_events_comments_and_multiline_data() -> None:
    events = whole()
    assert [e.event for e in events] == ["message_start", None, None, None]
    assert decode(events[0]) == {"type": "message_start", "text": "héllo"}
    assert decode(events[1]) is MALFORMED  # callers fail the stream: an answer with a hole is no answer
    assert decode(events[2]) == {"type": "delta", "text": "two lines"}
    assert decode(events[3]) is DONE


def test_sse_blank_and_absurdly_deep_payloads_are_named_not_raised() -> None:
    assert decode(SseEvent("  ")) is BLANK
    assert decode(SseEvent("[" * 100_000 + "]" * 100_000)) is TOO_DEEP


@pytest.mark.parametrize("size", [1, 2, 3, 16])
def test_sse_fixed_size_chunks_give_identical_events(size: int) -> None:
    assert parse_in_chunks(STREAM, list(range(size, len(STREAM), size))) == whole()


def test_sse_split_inside_blank_lines_and_utf8_sequences() -> None:
    cuts = [i + 1 for i in range(len(STREAM) - 1) if STREAM[i : i + 2] == b"\n\n"]
    cuts.append(STREAM.index(b"\xc3") + 1)  # between the two bytes of "é"
    assert parse_in_chunks(STREAM, sorted(cuts)) == whole()


def test_sse_crlf_and_cr_line_ends_split_anywhere() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert parse_in_chunks(crlf, list(range(1, len(crlf)))) == whole()
    assert parse_in_chunks(STREAM.replace(b"\n", b"\r"), [7, 8, 9]) == whole()


def test_sse_unterminated_last_event_is_flushed_at_close() -> None:
    assert [json.loads(e.data) for e in parse_in_chunks(b'data: {"a": 1}', [3])] == [{"a": 1}]


# -- the credential pool (scenarios 4, 5) -------------------------------------------------------

A, B = Credential("KEY_A", "value-a-123"), Credential("KEY_B", "value-b-456")


def test_pool_is_sticky_and_moves_on_when_the_current_key_is_parked() -> None:
    pool = CredentialPool([A, B])
    assert pool.choose(now=0).credential == A
    pool.park(A, 60, explicit=True, now=0)
    assert pool.choose(now=1).credential == B
    assert pool.choose(now=100).credential == B  # A is free again, but B stays current


def test_heuristic_parks_never_lock_the_pool() -> None:
    pool = CredentialPool([A, B])
    pool.park(A, 8, explicit=False, now=0)
    pool.park(B, 9, explicit=False, now=0)
    choice = pool.choose(now=1)
    assert choice is not None and choice.credential == A and choice.degraded and choice.ready_at == 1


def test_degraded_mode_never_bypasses_an_explicit_park() -> None:
    pool = CredentialPool([A, B])
    pool.park(A, 1, explicit=False, now=0)
    pool.park(A, 60, explicit=True, now=0)
    pool.park(B, 8, explicit=False, now=0)
    choice = pool.choose(now=2)
    assert choice is not None and choice.credential == B and choice.degraded


def test_every_key_parked_offers_the_earliest_and_every_key_dead_offers_none() -> None:
    pool = CredentialPool([A, B])
    pool.park(A, 90, explicit=True, now=0)
    pool.park(B, 60, explicit=True, now=0)
    choice = pool.choose(now=1)
    assert choice is not None and choice.credential == B and choice.ready_at == 60
    pool.kill(A)
    pool.kill(B)
    assert pool.choose(now=1) is None


def test_prose_survives_masking() -> None:
    text = "The bearer of bad news said the api key rotation is done."
    assert mask(text) == text
