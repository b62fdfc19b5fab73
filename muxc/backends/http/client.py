"""HTTP backends: OpenAI chat completions and Anthropic messages over one shared ``httpx.Client``.

One ``HttpBackend`` serves every thread of a build: one client (connection reuse), one
``max_concurrent`` semaphore (a slot is held per attempt, never during a retry wait), one
credential pool. A call is a loop of attempts:

- 200: the answer is read as an event stream or a JSON document, decided by sniffing the body
  rather than trusting ``content-type``. A malformed answer is ``bad_response``, retried like a 5xx
  and never returned as an empty success: a body that is not JSON (or nested too deeply to read),
  a document without a usable message (``protocol.checked``), an event that is not JSON or not of
  the promised shape, a stream that ends without its terminal event. Only an answer emptied by the
  token limit is not retried (the same request meets the same limit).
- 401/403: the key is dead for the build; fail over (never retried on the same key).
- 429: ``Retry-After`` ≤ ``Tuning.short_wait_max`` waits on the same key; longer parks the key and
  fails over; none parks it heuristically (never locks the pool). When every key is parked, wait for
  the earliest within ``max_rate_limit_wait``, else fail naming each key's variable and retry time.
- 408/5xx/connection errors and malformed answers: retried with backoff (``Retry-After`` honoured)
  up to ``max_retries``; timeouts only when ``retry_timeout``; other 4xx and unexpected statuses
  (a redirect: check base_url) fail at once.

Timeouts: ``connect_timeout`` to connect, ``idle_timeout`` of silence while reading, ``timeout`` per
attempt; ``request.timeout`` (the step's) bounds the whole call including waits. Ctrl-C interrupts
reads and waits within a fraction of a second (``netio``). Every message is masked, and so is the
answer itself: a credential the server echoes back never reaches the cache, the log or the console.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from muxc.backends.base import BackendError, Cancel, Completion, CompletionRequest, ProgressCallback
from muxc.backends.credentials import NO_KEY, Credential, CredentialError, CredentialPool, resolve
from muxc.backends.http import netio
from muxc.backends.http.anthropic import AnthropicAdapter
from muxc.backends.http.openai import OpenAIAdapter
from muxc.backends.http.protocol import (
    Adapter,
    Answer,
    BadResponse,
    StreamError,
    TooDeep,
    cost_usd,
    error_text,
    merged_params,
    parse_json,
)
from muxc.backends.http.responses import ResponsesAdapter
from muxc.backends.http.sse import BLANK, Malformed, SseParser, decode
from muxc.backends.identity import ConfigIdentity, public_url
from muxc.backends.managed.slots import Slots, limit_for
from muxc.backends.retry import RetryPolicy, Tuning, parse_retry_after, wait_or_cancel
from muxc.base.masking import SECRETS, Secrets, looks_secret, mask, mask_known
from muxc.config.env import expand, references
from muxc.config.schema import BackendConfig, Defaults
from muxc.lang.durations import to_seconds as parse_duration

log = logging.getLogger(__name__)

BODY_START_CHARS = 200
MAX_ERROR_BODY = 64 * 1024  # enough of an error page to explain it
DRAIN_SECONDS = 0.5  # after the terminal event, how long the rest of the body may take
SSE_FIRST_BYTES = (b"d", b"e", b":", b"i", b"r")  # data:, event:, comment, id:, retry:


class _Failure(Exception):
    """One failed attempt, before the retry policy decides what it means for the call."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        body_start: str | None = None,
        final: bool = False,
        finish_reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.body_start = body_start
        self.final = final  # another attempt cannot help, whatever the kind
        self.finish_reason = finish_reason  # of a well-formed answer rejected as empty


@dataclass
class _Call:
    """The state of one ``complete`` call across its attempts."""

    request: CompletionRequest
    cancel: Cancel
    on_progress: ProgressCallback | None
    started: float  # time.monotonic()
    deadline: float  # time.monotonic(); from the step's timeout, else infinity
    attempts: int = 0
    retries: int = 0
    same_key_waits: int = 0
    rate_waited: float = 0.0
    last: _Failure | None = None  # the latest failed attempt, for the final message
    limits: netio.CallLimits | None = None  # the bounds of the attempt in progress


STATUS_MESSAGES = {
    "auth": "{status} from {url}: {detail}",
    "rate_limit": "429 from {url}: {detail}",
    "server": "server error {status} from {url}: {detail}",
    "config": "request rejected with {status} by {url}: {detail}; check the model ({model!r}), params and base_url",
    "bad_response": "unexpected status {status} from {url}: {detail}",
}


def status_kind(status: int) -> str:
    """What a non-200 status means: 401/403 auth, 429 rate limit, 408/5xx transient, other 4xx config."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 408 or status >= 500:
        return "server"
    return "config" if 400 <= status < 500 else "bad_response"


ADAPTERS: dict[str, Adapter] = {"openai": OpenAIAdapter(), "anthropic": AnthropicAdapter(),
                               "responses": ResponsesAdapter()}


class HttpBackend(ConfigIdentity):
    """A ``Backend`` speaking one HTTP protocol; thread-safe, one instance per backend per build."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        protocol: str,
        base_url: str,
        defaults: Defaults | None = None,
        secrets: Secrets = SECRETS,
        environ: Mapping[str, str] | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self._adapter = ADAPTERS[protocol]
        self._base = base_url.rstrip("/")
        self._url = self._adapter.url(self._base)
        self._shown_url = public_url(self._url)
        self._model = config.model or self._adapter.default_model
        self._policy = RetryPolicy.from_config(config, tuning)
        self._secrets = secrets
        self._connect = parse_duration(config.connect_timeout)
        self._idle = parse_duration(config.idle_timeout)
        self._total = parse_duration(config.timeout)
        self._max_rate_wait = parse_duration(config.max_rate_limit_wait)
        limit = limit_for(config.max_concurrent, defaults.max_concurrent if defaults else None)
        self._slots = Slots(limit)
        self._client = netio.new_client(limit, tls=self._url.startswith("https:"),
                                        proxy=netio.environment_proxy(self._url))
        self._rng = random.Random()
        environ = environ if environ is not None else os.environ
        self._headers = self._extra_headers(environ)
        self._pool, self._setup_error = self._credentials(protocol, environ)
        if self._setup_error is None:
            self._setup_error = self._check_url()

    # -- the Backend protocol ------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def complete(
        self, request: CompletionRequest, cancel: Cancel, on_progress: ProgressCallback | None = None
    ) -> Completion:
        if self._setup_error is not None:
            raise self._setup_error
        started = time.monotonic()
        deadline = started + request.timeout if request.timeout else float("inf")
        call = _Call(request, cancel, on_progress, started, deadline)
        while True:
            credential = self._pick(call)
            try:
                answer = self._attempt(call, credential)
            except _Failure as failure:
                self._after_failure(call, credential, failure)
                continue
            return self._completion(call, answer)

    # -- setup ---------------------------------------------------------------------------------

    def _credentials(
        self, protocol: str, environ: Mapping[str, str]
    ) -> tuple[CredentialPool | None, BackendError | None]:
        try:
            return CredentialPool(resolve(self.config, protocol, environ, self._secrets)), None
        except CredentialError as exc:
            message = f"{exc}; export it before the build (values are read from the environment only)"
            return None, BackendError("config", self.name, self._mask(message))

    def _check_url(self) -> BackendError | None:
        try:
            httpx.URL(self._url)
        except httpx.InvalidURL as exc:
            return BackendError(
                "config", self.name, self._mask(f"invalid base URL {self._shown_url!r}: {exc}")
            )
        return None

    def _extra_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        headers = {}
        for key, value in self.config.headers.items():
            expanded = expand(value, environ)
            if references(value):
                # a header fed from the environment is a secret; its name says whether it surely is
                self._secrets.register(expanded, credential=looks_secret(key))
            headers[key.lower()] = expanded
        return headers

    # -- choosing a credential -----------------------------------------------------------------

    def _pick(self, call: _Call) -> Credential:
        assert self._pool is not None
        choice = self._pool.choose()
        if choice is None:
            raise self._auth_exhausted(call)
        if choice.degraded:
            if not self._policy.retry_rate_limit or call.retries >= self._policy.max_retries:
                raise self._rate_limited(call, "retries")
            call.retries += 1
            self._wait(call, self._policy.backoff(call.retries, self._rng))
        elif (wait := choice.ready_at - time.time()) > 0:
            if not self._policy.retry_rate_limit or call.rate_waited + wait > self._max_rate_wait:
                raise self._rate_limited(call, "wait")
            call.rate_waited += wait
            self._wait(call, wait)
        return choice.credential

    # -- one attempt ---------------------------------------------------------------------------

    def _attempt(self, call: _Call, credential: Credential) -> Answer:
        if call.cancel.is_set:
            raise self._error("cancelled", "interrupted before sending", call)
        call.attempts += 1
        stream = self.config.stream
        params = merged_params(self.config.params, call.request)
        body = msgspec.json.encode(self._adapter.body(self._model, call.request, params, stream))
        headers = {**self._adapter.headers(credential.value, stream), **self._headers}
        with self._slots.hold(
            call.cancel, lambda: self._error("cancelled", "interrupted while waiting for a free slot", call)
        ):
            deadline = min(time.monotonic() + self._total, call.deadline)
            with netio.watch(call.cancel, deadline) as call.limits:
                try:
                    return self._send(call, headers, body)
                except httpx.RequestError as exc:
                    raise self._request_failure(call, exc) from None

    def _request_failure(self, call: _Call, exc: httpx.RequestError) -> BackendError | _Failure:
        if isinstance(exc, httpx.TimeoutException):
            return self._timeout(call, call.limits.reason if call.limits else None, exc)
        if isinstance(exc, httpx.UnsupportedProtocol):
            return _Failure("config", f"unsupported URL scheme in {self._shown_url}; use http:// or https://")
        if isinstance(exc, httpx.TransportError):
            return _Failure("connection", self._connection_message(exc))
        # e.g. a body that fails to decompress
        return _Failure("bad_response", f"unreadable answer from {self._shown_url}: {self._mask(str(exc))}")

    def _send(self, call: _Call, headers: dict[str, str], body: bytes) -> Answer:
        timeout = httpx.Timeout(connect=self._connect, read=self._idle, write=self._idle, pool=None)
        with self._client.stream(
            "POST", self._url, content=body, headers=headers, timeout=timeout
        ) as response:
            if response.status_code != 200:
                raise self._status_failure(response)
            return self._read_answer(call, response)

    def _read_answer(self, call: _Call, response: httpx.Response) -> Answer:
        chunks = response.iter_bytes()
        first = next((chunk for chunk in chunks if chunk.strip()), b"")
        body = itertools.chain([first], chunks)
        lead = first.lstrip()[:1]
        if lead in (b"{", b"["):
            return self._parse_document(b"".join(body))
        if lead in SSE_FIRST_BYTES:
            return self._read_stream(call, body)
        start = self._body_start(b"".join(itertools.islice(body, 4)))
        what = "an empty body" if not first else "neither JSON nor an event stream"
        raise _Failure(
            "bad_response", f"{self._shown_url} answered 200 with {what}: {start!r}", body_start=start
        )

    def _parse_document(self, raw: bytes) -> Answer:
        try:
            data = parse_json(raw)
        except ValueError as exc:
            start = self._body_start(raw)
            what = f"{exc} from {self._shown_url}" if isinstance(exc, TooDeep) else f"invalid JSON from {self._shown_url}"
            raise _Failure("bad_response", f"{what}: {start!r}", body_start=start) from None
        try:
            return self._adapter.parse(data)
        except BadResponse as exc:
            start = self._body_start(raw)
            raise _Failure(
                "bad_response",
                f"unusable answer from {self._shown_url}: {exc}; body starts {start!r}",
                body_start=start,
                final=not exc.retryable,
                finish_reason=exc.finish_reason,
            ) from None

    def _read_stream(self, call: _Call, body: Iterator[bytes]) -> Answer:
        parser, stream = SseParser(), self._adapter.accumulator()
        for chunk in body:
            terminal = self._feed(stream, parser.feed(chunk))
            if call.on_progress is not None:
                call.on_progress(stream.text_length)
            if terminal:
                self._drain(call, body)
                return self._streamed_answer(stream)
        self._feed(stream, parser.close())
        if stream.finished:
            return self._streamed_answer(stream)
        raise _Failure(
            "bad_response",
            f"stream ended before completion: {self._shown_url} closed the stream without {stream.terminal_name} "
            f"after {stream.text_length} characters; the partial answer was discarded",
        )

    def _streamed_answer(self, stream: Any) -> Answer:
        try:
            return stream.answer()
        except BadResponse as exc:
            message = f"unusable answer streamed by {self._shown_url}: {self._mask(str(exc))}"
            raise _Failure("bad_response", message, final=not exc.retryable, finish_reason=exc.finish_reason) from None

    def _drain(self, call: _Call, body: Iterator[bytes]) -> None:
        """Read what follows the terminal event (normally just the end of the chunked body), so
        the connection returns to the pool instead of being closed; bounded in time and size."""
        if call.limits is not None:
            call.limits.deadline = min(call.limits.deadline, time.monotonic() + DRAIN_SECONDS)
        drained = 0
        with contextlib.suppress(httpx.HTTPError):
            for chunk in body:
                drained += len(chunk)
                if drained > MAX_ERROR_BODY:
                    break

    def _feed(self, stream: Any, events: list[Any]) -> bool:
        """Feed decoded events; True once the terminal event arrived. An event that cannot be
        read fails the attempt: skipping it would return an answer with a hole in it."""
        for event in events:
            payload = decode(event)
            if payload is BLANK:
                continue
            if isinstance(payload, Malformed):
                start = self._mask(event.data[:BODY_START_CHARS])
                raise _Failure("bad_response", f"malformed stream from {self._shown_url}: an event is "
                                               f"{payload.why}: {start!r}", body_start=start)
            try:
                stream.feed(payload)
            except StreamError as exc:
                kind = "server" if exc.retryable else "bad_response"
                raise _Failure(
                    kind, f"{self._shown_url} reported an error mid-stream: {self._mask(str(exc))}"
                ) from None
            except BadResponse as exc:
                start = self._mask(event.data[:BODY_START_CHARS])
                raise _Failure("bad_response", f"malformed stream from {self._shown_url}: {self._mask(str(exc))}: "
                                               f"{start!r}", body_start=start) from None
            if stream.terminal:
                return True
        return False

    # -- classifying failures ------------------------------------------------------------------

    def _status_failure(self, response: httpx.Response) -> _Failure:
        raw = _read_some(response)
        start = self._body_start(raw)
        status = response.status_code
        kind = status_kind(status)
        detail = self._mask(_detail(raw) or start or "(empty body)")
        message = STATUS_MESSAGES[kind].format(
            status=status, url=self._shown_url, detail=detail, model=self._model
        )
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if kind == "rate_limit" and retry_after is None:
            retry_after = _body_retry_after(raw)
        # an unexpected status (a redirect, 204) is a wrong URL, not a garbled answer: asking again won't help
        return _Failure(kind, message, status=status, retry_after=retry_after, body_start=start,
                        final=kind == "bad_response")

    def _timeout(self, call: _Call, reason: str | None, exc: Exception) -> BackendError | _Failure:
        if reason == "cancelled":
            return self._error("cancelled", "interrupted while waiting for the answer", call)
        if reason == "total":
            limit = min(self._total, call.deadline - call.started)
            return _Failure(
                "timeout", f"no complete answer from {self._shown_url} within {limit:g}s (timeout)"
            )
        if isinstance(exc, httpx.ConnectTimeout):
            return _Failure(
                "timeout",
                f"could not connect to {self._shown_url} within {self._connect:g}s (connect_timeout)",
            )
        return _Failure(
            "timeout", f"idle timeout: no data from {self._shown_url} for {self._idle:g}s (idle_timeout)"
        )

    def _connection_message(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect to {self._shown_url} ({self._mask(str(exc))}); is the server running? Check base_url"
        return f"connection to {self._shown_url} failed mid-request ({type(exc).__name__}: {self._mask(str(exc))})"

    # -- deciding what a failure means for the call --------------------------------------------

    def _after_failure(self, call: _Call, credential: Credential, failure: _Failure) -> None:
        assert self._pool is not None
        log.debug("%s: attempt %d failed: %s", self.name, call.attempts, self._mask(failure.message))
        call.last = failure
        if failure.kind == "auth":
            self._pool.kill(credential)
        elif failure.kind == "rate_limit":
            self._on_rate_limit(call, credential, failure)
        elif (self._policy.retries_transient(failure.kind) and not failure.final
              and call.retries < self._policy.max_retries):
            call.retries += 1
            self._wait(call, self._policy.delay(call.retries, failure.retry_after), failure)
        else:
            raise self._final(call, failure)

    def _on_rate_limit(self, call: _Call, credential: Credential, failure: _Failure) -> None:
        assert self._pool is not None
        wait, tuning = failure.retry_after, self._policy.tuning
        short = (
            wait is not None
            and wait <= tuning.short_wait_max
            and call.same_key_waits < tuning.max_same_key_waits
        )
        if short and self._policy.retry_rate_limit and call.retries < self._policy.max_retries:
            call.same_key_waits += 1
            call.retries += 1
            self._wait(call, wait or 0.0, failure)
        elif wait is not None:
            self._pool.park(credential, wait, explicit=True)
        else:
            hits = self._pool.heuristic_hits(credential)
            park = min(tuning.max_delay, tuning.heuristic_park * 2**hits) * (
                1 + self._rng.uniform(0, tuning.jitter)
            )
            self._pool.park(credential, park, explicit=False)

    def _wait(self, call: _Call, seconds: float, failure: _Failure | None = None) -> None:
        if time.monotonic() + seconds > call.deadline:
            reason = failure or call.last
            note = f"; the step's timeout leaves no time for a retry in {seconds:.1f}s"
            if reason is None:
                raise self._error(
                    "timeout", f"the step's timeout leaves no time to wait {seconds:.1f}s", call
                )
            raise self._final(call, reason, note)
        log.debug("%s: waiting %.2fs before attempt %d", self.name, seconds, call.attempts + 1)
        wait_or_cancel(call.cancel, seconds, self.name, call.attempts)

    # -- final errors --------------------------------------------------------------------------

    def _final(self, call: _Call, failure: _Failure, note: str = "") -> BackendError:
        tries = f" (after {call.attempts} attempts)" if call.attempts > 1 else ""
        return self._error(failure.kind, failure.message + tries + note, call, body_start=failure.body_start,
                           finish_reason=failure.finish_reason)

    def _auth_exhausted(self, call: _Call) -> BackendError:
        assert self._pool is not None
        last = call.last
        detail = f" Last answer: {last.message}." if last is not None else ""
        names = self._pool.names
        if names == [NO_KEY]:
            what = "no API key is configured; set api_key, credentials or api_key_env"
        else:
            what = f"keys: {', '.join(names)}; every one was rejected with 401/403, check their values"
        return self._error("auth", f"authentication failed for backend {self.name!r} ({what}).{detail}", call)

    def _rate_limited(self, call: _Call, why: str) -> BackendError:
        assert self._pool is not None
        now = time.time()
        parked = self._pool.parked_until()
        keys = ", ".join(f"{name}: retry {_when(until, now)}" for name, until in parked.items())
        earliest = min((until for until in parked.values() if until > now), default=None)
        soonest = f"; earliest retry {_when(earliest, now)}" if earliest else ""
        if not self._policy.retry_rate_limit:
            advice = "Not waiting: retry_rate_limit = false"
        elif why == "retries":
            advice = f"Gave up after {call.attempts} attempts; raise max_retries or add credentials"
        else:
            advice = f"Raise max_rate_limit_wait (now {self._max_rate_wait:g}s) to wait, or add credentials"
        message = f"rate limited on every credential of backend {self.name!r} ({keys}){soonest}. {advice}"
        return self._error("rate_limit", message, call, retry_at=earliest)

    def _error(self, kind: Any, message: str, call: _Call, **extra: Any) -> BackendError:
        return BackendError(kind, self.name, self._mask(message), attempts=max(1, call.attempts), **extra)

    def _completion(self, call: _Call, answer: Answer) -> Completion:
        # A server may echo the request's credential inside a successful answer (a debugging
        # proxy, a model repeating its input): the known values go before anything stores it.
        return Completion(
            text=mask_known(answer.text, self._secrets),
            backend=self.name,
            model=mask_known(answer.model, self._secrets) if answer.model else self._model,
            usage=answer.usage,
            latency_ms=int((time.monotonic() - call.started) * 1000),
            attempts=call.attempts,
            cost_usd=cost_usd(answer.usage, self.config.price),
            finish_reason=answer.finish_reason,
        )

    def _mask(self, text: str) -> str:
        return mask(text, self._secrets)

    def _body_start(self, raw: bytes) -> str:
        return self._mask(raw[: BODY_START_CHARS * 4].decode("utf-8", "replace")[:BODY_START_CHARS])


def _read_some(response: httpx.Response) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of an error body (an HTML error page can be large)."""
    raw = b""
    for chunk in response.iter_bytes():
        raw += chunk
        if len(raw) >= MAX_ERROR_BODY:
            break
    return raw[:MAX_ERROR_BODY]


def _detail(raw: bytes) -> str | None:
    try:
        return error_text(parse_json(raw))
    except ValueError:
        return None


def _body_retry_after(raw: bytes) -> float | None:
    # Some servers put the wait in the JSON body (llm-mux read only this).
    try:
        data = parse_json(raw)
    except ValueError:
        return None
    value = data.get("retry_after") if isinstance(data, dict) else None
    return parse_retry_after(str(value)) if value is not None else None


def _when(until: float | None, now: float) -> str:
    if not until or until <= now:
        return "now"
    return f"in {until - now:.0f}s (at {time.strftime('%H:%M:%S', time.localtime(until))})"
