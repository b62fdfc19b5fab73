"""Credential pool: which API key the next request uses, shared by every thread of the build.

Sources, in order of precedence:
- ``credentials = ["env:KEY_A", "KEY_B"]``: environment variable names, in failover order;
- ``api_key``: a literal or ``${VAR}`` (llm-mux sent it literally; we expand it);
- ``type = "claude-api"`` / protocol anthropic: ``api_key_env`` (default ``ANTHROPIC_API_KEY``);
  required for ``claude-api`` or an explicit ``api_key_env``, optional for a plain anthropic
  protocol backend (a local server or proxy may need none).

Selection is sticky: every request uses the current key until it is parked or dead, then the pool
moves on and stays there (prompt-cache locality, and later calls in the build avoid a parked key).
- ``park(…, explicit=True)``: a 429 with Retry-After; the key is not chosen before that instant.
- ``park(…, explicit=False)``: a 429 without Retry-After; a short heuristic park that never locks
  the pool. When only heuristic parks remain, the key freed earliest is offered in degraded mode.
- ``kill``: 401/403; the key is never used again in this build.

Invariant: a credential's *value* never leaves this module except as the header sent upstream;
messages name the variable (``name``). Values are registered with the masking registry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import msgspec

from muxc.base.masking import Secrets
from muxc.config.env import expand, references
from muxc.config.schema import BackendConfig

DEFAULT_ANTHROPIC_ENV = "ANTHROPIC_API_KEY"
NO_KEY = "(no key)"  # the one "credential" of a backend configured without any


class Credential(msgspec.Struct, frozen=True):
    name: str  # what messages show: the variable name, or "api_key" for a literal
    value: str | None  # None: send no credential (local servers)


class CredentialError(Exception):
    """The configured credentials cannot be resolved (a variable is unset)."""


class Choice(msgspec.Struct, frozen=True):
    credential: Credential
    ready_at: float  # time.time() when it may be used; now for an available key
    degraded: bool = False  # every live key holds a heuristic park; this one was freed first


class _KeyState(msgspec.Struct):
    credential: Credential
    explicit_until: float = 0.0
    heuristic_until: float = 0.0
    heuristic_hits: int = 0
    dead: bool = False


def resolve(
    config: BackendConfig, protocol: str | None, environ: Mapping[str, str], secrets: Secrets
) -> list[Credential]:
    """The backend's credentials in failover order; registers every value as a secret."""
    found = (
        _from_list(config.credentials, environ) if config.credentials else _single(config, protocol, environ)
    )
    for credential in found:
        secrets.register(credential.value)
    return found


def _from_list(entries: list[str], environ: Mapping[str, str]) -> list[Credential]:
    names = [entry.removeprefix("env:") for entry in entries]
    found = [Credential(name, environ[name]) for name in names if environ.get(name)]
    if not found:
        raise CredentialError(f"none of the credential variables is set: {', '.join(names)}")
    return found


def _single(config: BackendConfig, protocol: str | None, environ: Mapping[str, str]) -> list[Credential]:
    if config.api_key is not None:
        return [_from_api_key(config.api_key, environ)]
    if protocol == "anthropic" or config.type == "claude-api" or config.api_key_env:
        name = config.api_key_env or DEFAULT_ANTHROPIC_ENV
        if environ.get(name):
            return [Credential(name, environ[name])]
        if config.type == "claude-api" or config.api_key_env:
            raise CredentialError(f"the variable {name} holding the API key is not set")
    # No key configured: fine for local servers and proxies; a 401 will say what to set.
    return [Credential(NO_KEY, None)]


def _from_api_key(api_key: str, environ: Mapping[str, str]) -> Credential:
    refs = references(api_key)
    unset = [name for name, default, _, _ in refs if default is None and not environ.get(name)]
    if unset:
        raise CredentialError(f"api_key refers to {', '.join(unset)}, which is not set")
    name = refs[0][0] if len(refs) == 1 else "api_key"
    return Credential(name, expand(api_key, environ))


class CredentialPool:
    """Sticky selection with parking and failover; thread-safe, one per backend per build."""

    def __init__(self, credentials: list[Credential]) -> None:
        if not credentials:
            raise ValueError("a credential pool needs at least one credential")
        self._lock = threading.Lock()
        self._keys = [_KeyState(credential) for credential in credentials]
        self._current = 0

    @property
    def names(self) -> list[str]:
        return [key.credential.name for key in self._keys]

    def choose(self, now: float | None = None) -> Choice | None:
        """The key to use next, or None when every key is dead."""
        now = time.time() if now is None else now
        with self._lock:
            live = [i for i, key in enumerate(self._keys) if not key.dead]
            if not live:
                return None
            return self._available(live, now) or self._degraded(live, now) or self._earliest(live)

    def _available(self, live: list[int], now: float) -> Choice | None:
        ready = [
            i for i in live if self._keys[i].explicit_until <= now and self._keys[i].heuristic_until <= now
        ]
        if not ready:
            return None
        if self._current not in ready:
            self._current = ready[0]
        return Choice(self._keys[self._current].credential, now)

    def _degraded(self, live: list[int], now: float) -> Choice | None:
        # Only heuristic parks left: never lock the pool on a guess, offer the one freed first.
        unparked = [i for i in live if self._keys[i].explicit_until <= now]
        if not unparked:
            return None
        best = min(unparked, key=lambda i: self._keys[i].heuristic_until)
        return Choice(self._keys[best].credential, now, degraded=True)

    def _earliest(self, live: list[int]) -> Choice:
        best = min(live, key=lambda i: self._keys[i].explicit_until)
        return Choice(self._keys[best].credential, self._keys[best].explicit_until)

    def park(
        self, credential: Credential, seconds: float, *, explicit: bool, now: float | None = None
    ) -> None:
        """Keep ``credential`` out of rotation for ``seconds`` (explicit: the server said so)."""
        now = time.time() if now is None else now
        with self._lock:
            key = self._state(credential)
            if explicit:
                key.explicit_until = max(key.explicit_until, now + seconds)
            else:
                key.heuristic_hits += 1
                key.heuristic_until = max(key.heuristic_until, now + seconds)

    def heuristic_hits(self, credential: Credential) -> int:
        with self._lock:
            return self._state(credential).heuristic_hits

    def kill(self, credential: Credential) -> None:
        """401/403: never use this key again in this build."""
        with self._lock:
            self._state(credential).dead = True

    def parked_until(self) -> dict[str, float]:
        """When each live key may be used again (its explicit park, else its heuristic one)."""
        with self._lock:
            return {
                key.credential.name: key.explicit_until or key.heuristic_until
                for key in self._keys
                if not key.dead
            }

    def _state(self, credential: Credential) -> _KeyState:
        for key in self._keys:
            if key.credential == credential:
                return key
        raise KeyError(credential.name)
