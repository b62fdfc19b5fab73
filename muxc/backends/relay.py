"""Raw pass-through calls for the gateway (``muxc serve``): one JSON body in the backend's own
protocol, the upstream's answer back as it arrives.

A ``Relay`` is the async sibling of ``HttpBackend`` for one HTTP backend, and reuses its parts
rather than copying them: the protocol adapter's URL and auth headers, the ``CredentialPool``
(sticky keys, parking on 429, failover on 401/403), the ``RetryPolicy`` (backoff with jitter,
``Retry-After``), the backend's ``headers``, ``params``, timeouts and ``max_concurrent`` (a call
queues for a slot rather than being rejected; the slot is held until the body is fully read).

Retries happen only before the first byte reaches the client: a non-200 status, a refused
connection, a 200 whose body is neither JSON nor an event stream (an HTML error page). Once an
``Opened`` answer is handed over, its bytes are the client's. Every error message is masked;
a credential's value never leaves this module except in the header sent upstream.

The transport is aiohttp, not httpx like the rest of muxc: measured on the gateway's workload (32
concurrent requests to a trivial upstream, ``benchmarks/bench_serve.py``), httpx's async client
spends ~0.54 ms of CPU per request even with its pool split in eight (1.0 ms with one pool: httpcore
scans every pooled connection per request), aiohttp ~0.09 ms; that difference decides whether the
gateway reaches 1,000 requests/s on two cores. The bounds are the backend's: ``connect_timeout`` to
connect, ``idle_timeout`` of silence while reading (no total deadline: a long stream is fine).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from muxc.backends.credentials import NO_KEY, Credential, CredentialError, CredentialPool, resolve
from muxc.backends.http.protocol import error_text, parse_json
from muxc.backends.identity import public_url
from muxc.backends.retry import RetryPolicy, Tuning, parse_retry_after
from muxc.base.masking import SECRETS, Secrets, looks_secret, mask
from muxc.config.env import expand, references
from muxc.config.schema import BackendConfig
from muxc.lang.durations import to_seconds as parse_duration

if TYPE_CHECKING:
    import aiohttp

MAX_ERROR_BODY = 64 * 1024
SSE_LEADS = (b"d", b"e", b":", b"i", b"r")  # data:, event:, comment, id:, retry:
# Request headers a client may send that upstreams of the same protocol understand.
FORWARDED_HEADERS = ("anthropic-beta", "anthropic-version")


class RelayError(Exception):
    """A call that could not be answered. ``kind`` is a ``FailureKind``; ``status`` the upstream's
    own status when it gave one (a 400 is the client's problem and keeps its status)."""

    def __init__(self, kind: str, backend: str, message: str, *, status: int | None = None,
                 retry_after: float | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.kind = kind
        self.backend = backend
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts


@dataclass
class Opened:
    """A 200 answer whose body is being read: ``first`` is its first non-blank chunk."""

    backend: str
    response: aiohttp.ClientResponse
    first: bytes
    stream: bool  # an event stream (else one JSON document)
    attempts: int
    rest: AsyncIterator[bytes] | None = None  # the body after ``first``
    release: Any = None  # called once when the body is done (frees the concurrency slot)
    _closed: bool = field(default=False, repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Every chunk of the body, the first included, as it arrives."""
        yield self.first
        if self.rest is not None:
            async for chunk in self.rest:
                yield chunk

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.response.content.at_eof():
                self.response.release()  # read to the end: the connection goes back to the pool
            else:
                self.response.close()  # abandoned mid-body (a vanished client): the upstream sees it end
        finally:
            if self.release is not None:
                self.release()


class _Retry(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None, retry_after: float | None = None,
                 final: bool = False) -> None:
        super().__init__(message)
        self.kind, self.message, self.status, self.retry_after, self.final = kind, message, status, retry_after, final


class Relay:
    """One HTTP backend, for the gateway: async, shared by every request of the server."""

    def __init__(self, config: BackendConfig, *, protocol: str, base_url: str, secrets: Secrets = SECRETS,
                 environ: Mapping[str, str], tuning: Tuning | None = None,
                 max_concurrent: int | None = None) -> None:
        import aiohttp  # here, not at import: the server answers /health before anyone needs it

        from muxc.backends.http import netio
        from muxc.backends.http.client import ADAPTERS

        self.name = config.name
        self.config = config
        self.protocol = protocol
        self._adapter = ADAPTERS[protocol]
        self.model = config.model or self._adapter.default_model
        self.url = self._adapter.url(base_url.rstrip("/"))
        self._shown = public_url(self.url)
        self._policy = RetryPolicy.from_config(config, tuning)
        self._secrets = secrets
        self._connect = parse_duration(config.connect_timeout)
        self._idle = parse_duration(config.idle_timeout)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect or None,
                                              sock_read=self._idle or None)
        # a client waits for its answer: a longer rate limit is the client's 429 with Retry-After
        self._max_rate_wait = min(parse_duration(config.max_rate_limit_wait), self._policy.tuning.short_wait_max)
        # the proxy the environment names, as builds use it (loopback always direct)
        self._proxy = netio.environment_proxy(self.url)
        self._ssl: Any = netio._ssl_context() if self.url.startswith("https:") else False
        self._session: aiohttp.ClientSession | None = None  # made in the server's event loop
        limit = config.max_concurrent or max_concurrent
        self._slots = asyncio.Semaphore(limit) if limit else None
        self.in_flight = 0
        self._rng = random.Random()
        self._headers = {key.lower(): expand(value, environ) for key, value in config.headers.items()}
        for key, value in config.headers.items():
            if references(value):
                secrets.register(self._headers[key.lower()], credential=looks_secret(key))
        try:
            self._pool: CredentialPool | None = CredentialPool(resolve(config, protocol, environ, secrets))
            self._setup: RelayError | None = None
        except CredentialError as exc:
            self._pool = None
            self._setup = RelayError("config", self.name, self._mask(f"backend {self.name!r}: {exc}"))

    @property
    def price(self) -> Any:
        return self.config.price

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, ssl=self._ssl, enable_cleanup_closed=False)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout,
                                                  auto_decompress=True, trust_env=False)
        return self._session

    def parked(self) -> int:
        """How many of the backend's credentials are parked now (for the metrics)."""
        if self._pool is None:
            return 0
        now = time.time()
        return sum(1 for until in self._pool.parked_until().values() if until > now)

    async def open(self, body: dict[str, Any], *, stream: bool, headers: Mapping[str, str] | None = None
                   ) -> Opened:
        """Send ``body`` (its model replaced by the backend's, its params under the client's) and
        return the first 200 answer; raise ``RelayError`` once retries and credentials run out."""
        if self._setup is not None:
            raise self._setup
        payload = {**self.config.params, **body, "model": self.model}
        raw = _encode(payload)
        extra = {k: v for k, v in (headers or {}).items() if k in FORWARDED_HEADERS} \
            if self.protocol == "anthropic" else {}
        if self._slots is not None:
            await self._slots.acquire()
        self.in_flight += 1
        try:
            opened = await self._attempts(raw, stream, extra)
        except BaseException:
            self._release()
            raise
        opened.release = self._release
        return opened

    def _release(self) -> None:
        self.in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    async def _attempts(self, raw: bytes, stream: bool, extra: dict[str, str]) -> Opened:
        attempts = retries = same_key_waits = 0
        waited = 0.0
        last: _Retry | None = None
        while True:
            credential, wait = self._choose(last, attempts)
            if wait > 0:
                if waited + wait > self._max_rate_wait or not self._policy.retry_rate_limit:
                    raise self._rate_limited(last, attempts)
                waited += wait
                await asyncio.sleep(wait)
            attempts += 1
            try:
                return await self._send(raw, stream, credential, extra, attempts)
            except _Retry as failure:
                last = failure
            assert self._pool is not None
            if last.kind == "auth":
                self._pool.kill(credential)
                continue
            if last.kind == "rate_limit":
                short = last.retry_after is not None and last.retry_after <= self._policy.tuning.short_wait_max
                if short and same_key_waits < self._policy.tuning.max_same_key_waits and \
                        retries < self._policy.max_retries and self._policy.retry_rate_limit:
                    same_key_waits += 1
                    retries += 1
                    await asyncio.sleep(last.retry_after or 0.0)
                    continue
                self._pool.park(credential, last.retry_after if last.retry_after is not None
                                else self._policy.tuning.heuristic_park, explicit=last.retry_after is not None)
                retries += 1
                if retries > self._policy.max_retries + len(self._pool.names):
                    raise self._rate_limited(last, attempts)
                continue
            if last.final or not self._policy.retries_transient(last.kind) or retries >= self._policy.max_retries:
                raise self._final(last, attempts)
            retries += 1
            await asyncio.sleep(self._policy.delay(retries, last.retry_after))

    def _choose(self, last: _Retry | None, attempts: int) -> tuple[Credential, float]:
        assert self._pool is not None
        choice = self._pool.choose()
        if choice is None:
            names = ", ".join(self._pool.names)
            detail = f" (last answer: {last.message})" if last else ""
            what = "no API key is configured" if self._pool.names == [NO_KEY] else f"keys {names} were rejected"
            raise RelayError("auth", self.name, self._mask(
                f"backend {self.name!r}: authentication failed upstream; {what}{detail}"), attempts=attempts)
        return choice.credential, max(0.0, choice.ready_at - time.time())

    async def _send(self, raw: bytes, stream: bool, credential: Credential, extra: dict[str, str],
                    attempts: int) -> Opened:
        import aiohttp

        headers = {**self._adapter.headers(credential.value, stream), **self._headers, **extra}
        try:
            response = await self._client().post(self.url, data=raw, headers=headers, proxy=self._proxy,
                                                 allow_redirects=False)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise _Retry("timeout", f"no answer from {self._shown} in time (connect_timeout/idle_timeout)") from None
        except aiohttp.ClientError as exc:
            raise _Retry("connection", f"could not reach {self._shown} ({type(exc).__name__})") from None
        try:
            if response.status != 200:
                raise await self._status_failure(response)
            rest = response.content.iter_any()
            first = await self._first_chunk(rest)
        except BaseException:
            response.close()
            raise
        lead = first.lstrip()[:1]
        if lead in (b"{", b"["):
            return Opened(self.name, response, first, False, attempts, rest)
        if lead in SSE_LEADS:
            return Opened(self.name, response, first, True, attempts, rest)
        response.close()
        start = self._mask(first[:200].decode("utf-8", "replace"))
        what = "an empty body" if not first else f"neither JSON nor an event stream: {start!r}"
        raise _Retry("bad_response", f"{self._shown} answered 200 with {what}")

    async def _first_chunk(self, rest: AsyncIterator[bytes]) -> bytes:
        import aiohttp

        try:
            async for chunk in rest:
                if chunk.strip():
                    return chunk
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise _Retry("timeout", f"{self._shown} sent no data for {self._idle:g}s (idle_timeout)") from None
        except aiohttp.ClientError as exc:
            raise _Retry("connection", f"{self._shown} dropped the connection ({type(exc).__name__})") from None
        return b""

    async def _status_failure(self, response: aiohttp.ClientResponse) -> _Retry:
        import aiohttp

        from muxc.backends.http.client import status_kind

        raw = b""
        try:
            async for chunk in response.content.iter_any():
                raw += chunk
                if len(raw) >= MAX_ERROR_BODY:
                    break
        except (aiohttp.ClientError, TimeoutError):
            pass
        status = response.status
        try:
            detail = error_text(parse_json(raw)) or raw[:200].decode("utf-8", "replace")
        except ValueError:
            detail = raw[:200].decode("utf-8", "replace")
        kind = status_kind(status)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        message = f"{status} from {self._shown}: {self._mask(detail.strip())}"
        return _Retry(kind, message, status, retry_after, final=kind == "config")

    def _final(self, failure: _Retry, attempts: int) -> RelayError:
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        return RelayError(failure.kind, self.name, self._mask(f"backend {self.name!r}: {failure.message}{tries}"),
                          status=failure.status, retry_after=failure.retry_after, attempts=attempts)

    def _rate_limited(self, last: _Retry | None, attempts: int) -> RelayError:
        assert self._pool is not None
        now = time.time()
        earliest = min((u for u in self._pool.parked_until().values() if u > now), default=None)
        after = earliest - now if earliest else None
        detail = f": {last.message}" if last else ""
        return RelayError("rate_limit", self.name, self._mask(
            f"backend {self.name!r}: every credential is rate limited{detail}"),
            status=429, retry_after=after, attempts=attempts)

    def _mask(self, text: str) -> str:
        return mask(text, self._secrets)


def _encode(payload: dict[str, Any]) -> bytes:
    return msgspec.json.encode(payload)
