"""Interruptible socket reads for httpx: Ctrl-C, the total deadline and the idle limit all apply
while a request waits for a response, not only between streamed chunks.

httpx offers per-request connect/read timeouts but nothing that a second thread can trip, and a
read timeout is fixed when the response starts. So the transport here gives httpcore a network
backend whose streams read in slices of ``SLICE`` seconds and, between slices, consult the
``CallLimits`` of the request running on this thread (a context variable set by ``watch``):
- cancel set → the read fails with reason ``cancelled`` (within one slice);
- total deadline passed → reason ``total``;
- no byte for the read timeout httpcore passes (our ``idle_timeout``) → reason ``idle``.
The failed read surfaces as ``httpx.ReadTimeout``; the caller reads ``CallLimits.reason``.

The one private detail relied on: ``httpx.HTTPTransport`` keeps its pool in ``_pool``
(httpx 0.2x). ``tests/backends`` pins the behaviour (cancel and total timeout on a silent server).
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from muxc.base.cancel import Cancel

SLICE = 0.1


class CallLimits:
    """What bounds the request on this thread; ``reason`` says which bound fired."""

    def __init__(self, cancel: Cancel, deadline: float) -> None:
        self.cancel = cancel
        self.deadline = deadline  # time.monotonic()
        self.reason: str | None = None

    def expired(self, idle_since: float, idle: float | None) -> str | None:
        now = time.monotonic()
        if self.cancel.is_set:
            return "cancelled"
        if now >= self.deadline:
            return "total"
        if idle is not None and now - idle_since >= idle:
            return "idle"
        return None

    def next_slice(self, idle_since: float, idle: float | None) -> float:
        now = time.monotonic()
        bounds = [SLICE, self.deadline - now]
        if idle is not None:
            bounds.append(idle_since + idle - now)
        return max(0.001, min(bounds))


_current: ContextVar[CallLimits | None] = ContextVar("muxc_call_limits", default=None)


@contextlib.contextmanager
def watch(cancel: Cancel, deadline: float) -> Iterator[CallLimits]:
    """Bound every socket read this thread makes inside the block."""
    limits = CallLimits(cancel, deadline)
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limits = _current.get()
        if limits is None:
            return self._inner.read(max_bytes, timeout)
        since = time.monotonic()
        while True:
            reason = limits.expired(since, timeout)
            if reason is not None:
                limits.reason = reason
                raise httpcore.ReadTimeout(reason)
            with contextlib.suppress(httpcore.ReadTimeout):
                return self._inner.read(max_bytes, limits.next_slice(since, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        limits = _current.get()
        if limits is not None and limits.cancel.is_set:
            limits.reason = "cancelled"
            raise httpcore.WriteTimeout("cancelled")
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class InterruptibleTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections read through ``_Stream`` (through a proxy when
    the environment names one for the backend's URL: a custom transport makes httpx ignore
    ``HTTPS_PROXY`` and friends, so it is honoured here)."""

    def __init__(self, limits: httpx.Limits, *, tls: bool, proxy: str | None = None) -> None:
        # Not calling super().__init__: it would build a second SSL context and pool for nothing.
        options = {
            "ssl_context": _ssl_context() if tls else None,
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": _Backend(),
        }
        self._pool = httpcore.HTTPProxy(proxy_url=proxy, **options) if proxy else httpcore.ConnectionPool(**options)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``...), unless
    ``NO_PROXY`` exempts its host; loopback is always direct."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("localhost", "127.0.0.1", "::1") or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~40 ms; one context serves every backend (it is thread-safe).
    return httpx.create_ssl_context()


def new_client(max_connections: int | None, *, tls: bool = True, proxy: str | None = None) -> httpx.Client:
    """One client per backend, shared by all threads (httpx.Client is thread-safe).

    ``tls=False`` (a plain http:// base URL) skips loading the CA bundle altogether."""
    keepalive = max_connections or 64
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
    return httpx.Client(transport=InterruptibleTransport(limits, tls=tls, proxy=proxy), follow_redirects=False)
