"""The gateway's door into muxc (``muxc serve``): config, routing, backends, managed servers, the
LLM log and the daily budget, for the HTTP face in ``muxc/serve``.

- Config is the build's: the same layered files (``load_config``), plus the ``[serve]`` table.
- Routing (``route``): a request's ``model`` names, in this order, an alias (``[serve] aliases``),
  a role, a backend, or matches a ``[serve.routes]`` glob (first match in file order). A role is
  resolved by the build's one resolver (``backends.roles.resolve_role``): enabled backends in its
  order, its execution mode and ``fallback_on``. Anything else is ``UnknownModel`` listing what exists.
- Backends: one ``Relay`` per HTTP backend for the whole server (its credential pool, retries and
  ``max_concurrent`` shared by every request). Managed backends go through the build's
  ``BackendPool`` and ``Supervisor``: a lease starts the server (or waits for it), and holding it
  keeps the server resident; the lease is taken on a thread of its own, as the supervisor blocks.
- Accounting: every answered or failed request becomes one LLM log row with ``workflow =
  "(serve)"`` and ``step`` the endpoint, written by one background thread so SQLite's commits
  never sit on a request's path. ``max_cost_per_day`` sums the day's served cost (UTC).
- Startup refuses a non-loopback host without API keys, and keys whose variables are unset.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import ipaddress
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from muxc.app.api import Project, Report, load_config
from muxc.backends.base import BackendError, Usage
from muxc.backends.calls import CallRecord
from muxc.backends.http.protocol import cost_usd
from muxc.backends.http.sse import SseEvent, SseParser  # noqa: F401 (re-exported for the face)
from muxc.backends.identity import http_target, is_managed
from muxc.backends.relay import Opened, Relay, RelayError  # noqa: F401 (re-exported for the face)
from muxc.backends.roles import RoleError, resolve_role
from muxc.base.cancel import Cancel
from muxc.base.masking import SECRETS, mask
from muxc.config.env import expand, references
from muxc.config.schema import Config, ServeConfig
from muxc.lang.durations import to_seconds

SERVED = "(serve)"  # the LLM log's workflow column for a served request
LOOPBACK_NAMES = ("localhost", "ip6-localhost")


class GatewayError(Exception):
    """The gateway cannot start; the message says why and what to do."""


class UnknownModel(LookupError):
    def __init__(self, model: str, known: list[str]) -> None:
        listing = ", ".join(known) or "none"
        super().__init__(f"unknown model {model!r}: no alias, role, backend or [serve.routes] pattern matches it "
                         f"(models: {listing})")
        self.model, self.known = model, known


@dataclass(frozen=True)
class Route:
    model: str  # as the client sent it
    target: str  # the role or backend it reached
    backends: tuple[str, ...]  # in order
    execution: str = "first"
    fallback_on: tuple[str, ...] = ()
    pattern: str | None = None  # the [serve.routes] glob that matched, if one did

    @property
    def label(self) -> str:
        """A bounded name for metrics: the model, or the pattern it matched (clients choose the names)."""
        return self.pattern or self.model


@dataclass
class Settings:
    host: str
    port: int
    keys: tuple[str, ...]
    max_body: int
    max_cost_per_day: float | None
    max_wait: float
    ttl: float | None
    drain_timeout: float
    default_max_tokens: int = 4096  # for an Anthropic backend when neither the client nor params set one
    store_ttl: float = 7 * 86400.0  # seconds a stored Responses API response is kept
    max_stored: int = 10_000


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_of(serve: ServeConfig, host: str | None, port: int | None, environ: Mapping[str, str]) -> Settings:
    """The effective settings; ``GatewayError`` for a public host without keys or an unset key."""
    host = host or serve.host
    keys = []
    for entry in serve.api_keys:
        refs = references(entry)
        unset = [name for name, default, _, _ in refs if default is None and not environ.get(name)]
        if unset:
            raise GatewayError(f"[serve] api_keys refers to {', '.join(unset)}, which is not set; export it")
        value = expand(entry, environ)
        if value:
            SECRETS.register(value)
            keys.append(value)
    if not is_loopback(host) and not keys:
        raise GatewayError(f"refusing to listen on {host}: anyone who can reach it could spend your credentials. "
                           'Set [serve] api_keys = ["${MUXC_SERVE_KEY}"] (and export the variable), '
                           "or listen on 127.0.0.1")
    return Settings(host, port if port is not None else serve.port, tuple(keys), serve.max_body,
                    serve.max_cost_per_day, to_seconds(serve.max_wait),
                    to_seconds(serve.ttl) if serve.ttl is not None else None, to_seconds(serve.drain_timeout),
                    serve.default_max_tokens, to_seconds(serve.store_ttl), serve.max_stored)


# -- the LLM log, off the request path ------------------------------------------------------------


class _LogWriter:
    """One thread writes every served request's row; ``close`` flushes what is queued."""

    def __init__(self, path: Path | None) -> None:
        self._queue: queue.Queue[CallRecord | None] = queue.Queue()
        self._log: Any = None
        self.spent_today = 0.0
        self._day = _today()
        if path is None:
            return
        from muxc.store.llm_log import LlmLog

        try:
            self._log = LlmLog(path)
            self.spent_today = self._log.cost_since(self._day, SERVED)
        except Exception:  # the log is bookkeeping: serving goes on without it
            self._log = None
        self._thread = threading.Thread(target=self._run, name="muxc-serve-log", daemon=True)
        self._thread.start()

    def add(self, record: CallRecord) -> None:
        day = _today()
        if day != self._day:
            self._day, self.spent_today = day, 0.0
        self.spent_today += record.cost_usd or 0.0
        if self._log is not None:
            self._queue.put(record)

    def _run(self) -> None:
        while (record := self._queue.get()) is not None:
            with contextlib.suppress(Exception):
                self._log.log_call(record)

    def close(self) -> None:
        if self._log is None:
            return
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._log.close()


def _check_targets(config: Config) -> None:
    """Every alias and route names a role or backend that exists (a typo would make it a 404 later)."""
    known = set(config.roles) | set(config.backends)
    wrong = [f"[serve.{table}] {key!r} = {target!r}" for table, entries in
             (("aliases", config.serve.aliases), ("routes", config.serve.routes))
             for key, target in entries.items() if target not in known]
    if wrong:
        raise GatewayError(f"{'; '.join(wrong)}: no role or backend has that name "
                           f"(roles and backends: {', '.join(sorted(known))})")


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


# -- the gateway -----------------------------------------------------------------------------------


@dataclass
class Gateway:
    project: Project
    config: Config
    settings: Settings
    log_path: Path | None = None
    relays: dict[str, Relay] = field(default_factory=dict)
    _pool: Any = None
    _writer: _LogWriter | None = None
    _threads: ThreadPoolExecutor | None = None
    started: float = field(default_factory=time.time)
    team: str | None = None  # a team's role overrides apply, as in `muxc build --team`

    @classmethod
    def open(cls, directory: Path | None, host: str | None, port: int | None, *,
             config_path: Path | None = None, environ: Mapping[str, str] | None = None,
             log: bool = True, team: str | None = None) -> Gateway:
        """Load the config and check the settings; ``GatewayError`` names a problem to fix."""
        project = Project.discover(directory, config_path, environ)
        report = Report()
        config = load_config(project, report)
        if report.errors:
            from muxc.diagnostics.render import render_concise

            problems = render_concise(report.diagnostics, report.sources)
            raise GatewayError(f"the configuration has errors:\n{problems}")
        settings = settings_of(config.serve, host, port, project.environ)
        _check_targets(config)
        from muxc.base.userdirs import user_data_dir

        log_path = user_data_dir(project.environ) / "llm-log.db" if log else None
        if team is not None and team not in config.teams:
            raise GatewayError(f"unknown team {team!r} (teams: {', '.join(sorted(config.teams)) or 'none'})")
        return cls(project, config, settings, log_path, team=team)

    def start(self) -> None:
        """Open what the server needs once it runs (the log writer, the lease threads)."""
        self._writer = _LogWriter(self.log_path)
        self._threads = ThreadPoolExecutor(max_workers=256, thread_name_prefix="muxc-serve-lease")

    # -- routing -------------------------------------------------------------------------------

    def route(self, model: str) -> Route:
        serve = self.config.serve
        target = serve.aliases.get(model, model)
        found = self._target(target)
        if found is not None:
            return Route(model, *found)
        for pattern, name in serve.routes.items():
            if fnmatch.fnmatchcase(model, pattern) and (found := self._target(name)) is not None:
                return Route(model, *found, pattern=pattern)
        raise UnknownModel(model, self.model_names())

    def _target(self, name: str) -> tuple[str, tuple[str, ...], str, tuple[str, ...]] | None:
        team_roles = self.config.teams[self.team].roles if self.team is not None else {}
        if name in self.config.roles or name in team_roles:
            try:
                role = resolve_role(self.config, name, self.team)
            except RoleError:
                return None
            return name, tuple(role.backends), role.execution, tuple(role.fallback_on)
        backend = self.config.backends.get(name)
        if backend is not None and backend.enabled:
            return name, (name,), "first", ()
        return None

    def model_names(self) -> list[str]:
        """Aliases, roles and backends that can answer: a role or alias needs one HTTP (or managed
        local) backend enabled; a command-line backend cannot be served."""
        names = {name for name, backend in self.config.backends.items() if backend.enabled and self._serves(name)}
        for role in self.config.roles:
            with contextlib.suppress(RoleError):
                if any(backend in names for backend in resolve_role(self.config, role, self.team).backends):
                    names.add(role)
        names |= {alias for alias, target in self.config.serve.aliases.items() if target in names}
        return sorted(names)

    def _serves(self, name: str) -> bool:
        config = self.config.backends[name]
        try:
            return config.type == "local" or http_target(config) is not None
        except BackendError:
            return False

    # -- backends -----------------------------------------------------------------------------

    def relay(self, name: str) -> Relay:
        """The backend's relay (made on first use); ``RelayError`` for one that cannot serve."""
        relay = self.relays.get(name)
        if relay is None:
            relay = self.relays[name] = self._make_relay(name)
        return relay

    def _make_relay(self, name: str) -> Relay:
        config = self.config.backends[name]
        if is_managed(config):
            config = self._managed_config(name)
        try:
            target = http_target(config)
        except BackendError as error:
            raise RelayError(error.kind, name, error.message) from None
        if target is None:
            raise RelayError("config", name, f"backend {name!r} is a command-line backend; muxc serve relays only "
                             "HTTP backends (OpenAI chat completions or Anthropic messages)")
        return Relay(config, protocol=target[0], base_url=target[1], environ=self.project.environ,
                     max_concurrent=self.config.defaults.max_concurrent)

    def is_managed(self, name: str) -> bool:
        return is_managed(self.config.backends[name])

    def _managed_config(self, name: str) -> Any:
        """The effective config of a managed backend (a local one learns its port here)."""
        pool = self._backend_pool()
        try:
            backend = pool.get(name)
        except BackendError as error:
            raise RelayError(error.kind, name, error.message) from None
        inner = backend
        while hasattr(inner, "inner") and not hasattr(inner, "_adapter"):
            inner = inner.inner
        return getattr(inner, "config", self.config.backends[name])

    def _backend_pool(self) -> Any:
        if self._pool is None:
            from muxc.backends.registry import BackendPool

            self._pool = BackendPool(self.config, self.project.root, environ=self.project.environ,
                                     state_dir=self.project.root / ".muxc" / "state")
        return self._pool

    @property
    def supervisor(self) -> Any:
        return self._pool.supervisor if self._pool is not None else None

    async def lease(self, name: str, cancel: Cancel) -> Callable[[], None]:
        """Hold managed backend ``name`` resident (starting it first); returns the release. A
        failed start is a ``RelayError(unavailable)`` carrying the hook's stderr tail."""
        self.relay(name)  # registers it with the supervisor
        lease = self.supervisor.lease(name, cancel)
        loop = asyncio.get_running_loop()
        entered = loop.run_in_executor(self._threads, lease.__enter__)
        try:
            await asyncio.shield(entered)
        except BackendError as error:
            raise RelayError(error.kind, name, error.message, status=503) from None
        except asyncio.CancelledError:
            # the client left while the lease was being taken: if it is granted after all, give it back
            entered.add_done_callback(lambda done: _release_granted(done, lease))
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                lease.__exit__(None, None, None)

        return release

    def response_store(self) -> Any:
        """Where ``POST /v1/responses`` keeps stored responses: the project's state directory
        (``store.responses``); None when it cannot be opened (the face keeps them in memory then)."""
        try:
            from muxc.store.responses import ResponseDb
            from muxc.store.statedir import state_dir

            return ResponseDb(state_dir(self.project.root) / "serve-responses.db", limit=self.settings.max_stored,
                              ttl=self.settings.store_ttl)
        except Exception:  # bookkeeping, as the LLM log: serving goes on without it
            return None

    def switches(self) -> int:
        return self.supervisor.switches if self.supervisor is not None else 0

    def residents(self) -> list[dict[str, Any]]:
        return self.supervisor.residents() if self.supervisor is not None else []

    def switch_cost(self, name: str) -> float:
        """Seconds a start of ``name`` is expected to take (measured, shared with builds)."""
        supervisor = self.supervisor
        cost = supervisor.costs.get(name) if supervisor is not None else None
        if cost is not None:
            return cost.average_s
        managed = self.config.backends[name].managed
        return float(managed.switch_cost_hint) if managed and managed.switch_cost_hint else 1.0

    def slots_of(self, name: str) -> int:
        managed = self.config.backends[name].managed
        return managed.slots if managed is not None else 1

    @property
    def capacity(self) -> int:
        return self.config.resources.slots

    async def unload(self, name: str, idle_for: float = 0.0) -> bool:
        if self.supervisor is None or name not in self.config.backends:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self.supervisor.unload, name, idle_for)

    def stop_managed(self) -> list[str]:
        return self._pool.stop_managed() if self._pool is not None else []

    # -- accounting ----------------------------------------------------------------------------

    def over_budget(self) -> str | None:
        limit = self.settings.max_cost_per_day
        spent = self._writer.spent_today if self._writer is not None else 0.0
        if limit is not None and spent >= limit:
            return (f"the daily budget of ${limit:.2f} for served requests is spent (${spent:.4f} today, UTC); "
                    "raise [serve] max_cost_per_day or wait for tomorrow")
        return None

    def cost(self, backend: str, usage: Usage) -> float | None:
        config = self.config.backends.get(backend)
        return cost_usd(usage, config.price) if config is not None else None

    def record(self, *, started: float, backend: str, model: str | None, endpoint: str, prompt: str,
               system: str | None, response: str | None, status: str, error: str | None, usage: Usage,
               latency_ms: int, attempts: int = 1) -> float | None:
        """One LLM log row for a served request; returns its cost."""
        cost = self.cost(backend, usage)
        record = CallRecord(time=started, backend=backend, prompt=mask(prompt), status=status, workflow=SERVED,
                            step=endpoint, model=model, system=mask(system) if system else None,
                            response=mask(response) if response is not None else None,
                            error=mask(error) if error else None, usage=usage, latency_ms=latency_ms,
                            cost_usd=cost, attempts=attempts)
        if self._writer is not None:
            self._writer.add(record)
        return cost

    async def aclose(self) -> None:
        for relay in list(self.relays.values()):
            with contextlib.suppress(Exception):
                await relay.aclose()
        if self._writer is not None:
            self._writer.close()
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)


def _release_granted(done: asyncio.Future[Any], lease: Any) -> None:
    if not done.cancelled() and done.exception() is None:
        lease.__exit__(None, None, None)
