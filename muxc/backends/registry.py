"""Building backends from config, and the build-wide pool that owns them.

``create_backend`` decides the kind the way llm-mux does, made explicit: ``protocol``,
``base_url``, an http(s) ``command``, ``type = "http"`` or ``type = "claude-api"`` make an HTTP
backend (``claude-api`` means the Anthropic protocol); anything else is a CLI. Given a
``Supervisor``, a managed backend (``[backends.X.managed]``, or ``type = "local"``) is wrapped in
its lifecycle (``managed.py``); without one it is built plain, and ``local`` has no server.

``BackendPool`` creates one instance per backend name, lazily and thread-safely, for the whole
build (one HTTP client, one concurrency limit, one credential pool each), and closes them all at
the end. It also owns the build's one ``Supervisor``, made when the first managed backend is
asked for: ``stop_managed`` (the end of the build, Ctrl-C) and ``close`` stop the backends muxc
started. A configuration problem surfaces as a ``BackendError(kind="config")`` when the backend is
first asked for, naming it and what to fix.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from muxc.backends.base import Backend, BackendError
from muxc.backends.calls import CallLogger, LoggedBackend
from muxc.backends.cli import CliBackend
from muxc.backends.http.client import HttpBackend
from muxc.backends.identity import http_target, is_managed
from muxc.backends.managed.costs import COSTS_FILE, CostBook
from muxc.backends.managed.factory import managed_backend
from muxc.backends.managed.hooks import new_run_id
from muxc.backends.managed.supervisor import Supervisor
from muxc.backends.retry import Tuning
from muxc.base.masking import SECRETS, Secrets
from muxc.config.schema import BackendConfig, Config, Defaults


def create_backend(
    config: BackendConfig,
    *,
    project_root: str | Path,
    defaults: Defaults | None = None,
    secrets: Secrets = SECRETS,
    logger: CallLogger | None = None,
    environ: Mapping[str, str] | None = None,
    tuning: Tuning | None = None,
    supervisor: Supervisor | None = None,
    run_id: str | None = None,
    state_dir: Path | None = None,
) -> Backend:
    """One backend instance for ``config``; wrapped so every call reaches ``logger`` if given,
    and in its managed lifecycle if ``supervisor`` is given and the backend is managed."""

    def plain(effective: BackendConfig) -> Backend:
        return _plain(effective, project_root=project_root, defaults=defaults, secrets=secrets,
                      environ=environ, tuning=tuning)

    backend: Backend
    if supervisor is not None and is_managed(config):
        backend = managed_backend(config, supervisor, plain, project_root=Path(project_root),
                                  environ=os.environ if environ is None else environ,
                                  run_id=run_id or new_run_id(), state_dir=state_dir)
    else:
        backend = plain(config)
    return LoggedBackend(backend, logger, secrets) if logger is not None else backend


def _plain(
    config: BackendConfig,
    *,
    project_root: str | Path,
    defaults: Defaults | None,
    secrets: Secrets,
    environ: Mapping[str, str] | None,
    tuning: Tuning | None,
) -> Backend:
    target = http_target(config)
    backend: Backend
    if target is not None:
        protocol, base_url = target
        backend = HttpBackend(
            config,
            protocol=protocol,
            base_url=base_url,
            defaults=defaults,
            secrets=secrets,
            environ=environ,
            tuning=tuning,
        )
    else:
        backend = CliBackend(
            config,
            project_root=project_root,
            defaults=defaults,
            secrets=secrets,
            environ=environ,
            tuning=tuning,
        )
    return backend


class BackendPool:
    """The build's backends: created on first use, one per name, closed together.

    ``run_id`` reaches managed hooks as MUXC_RUN_ID (default: a new one); ``state_dir`` keeps
    the start costs and hook logs (a build hands its state directory; default: ``.muxc/state``)."""

    def __init__(
        self,
        config: Config,
        project_root: str | Path,
        *,
        secrets: Secrets = SECRETS,
        logger: CallLogger | None = None,
        environ: Mapping[str, str] | None = None,
        tuning: Tuning | None = None,
        run_id: str | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self._root = project_root
        self._secrets = secrets
        self._logger = logger
        self._environ = environ
        self._tuning = tuning
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self.run_id = run_id or new_run_id()
        self._state_dir = state_dir
        self.supervisor: Supervisor | None = None  # made with the first managed backend

    def get(self, name: str) -> Backend:
        with self._lock:
            backend = self._backends.get(name)
            if backend is None:
                backend = self._backends[name] = self._create(name)
            return backend

    def created(self) -> dict[str, Backend]:
        with self._lock:
            return dict(self._backends)

    def stop_managed(self) -> list[str]:
        """Stop the managed backends muxc started; notes on what they cost (once, then []).
        Never takes the pool's lock: a signal handler may call it while a thread holds it."""
        supervisor = self.supervisor
        return supervisor.shutdown() if supervisor is not None else []

    def close(self) -> None:
        self.stop_managed()
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            backend.close()

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self, name: str) -> Backend:
        config = self.config.backends.get(name)
        if config is None:
            known = ", ".join(sorted(self.config.backends)) or "none"
            raise BackendError(
                "config", name, f"no backend named {name!r} is configured (configured: {known})"
            )
        supervisor = self._managed() if is_managed(config) else None
        return create_backend(
            config,
            project_root=self._root,
            defaults=self.config.defaults,
            secrets=self._secrets,
            logger=self._logger,
            environ=self._environ,
            tuning=self._tuning,
            supervisor=supervisor,
            run_id=self.run_id,
            state_dir=self._state_dir,
        )

    def _managed(self) -> Supervisor:
        """The build's one supervisor (the caller holds the pool's lock)."""
        if self.supervisor is None:
            if self._state_dir is None:  # a build hands its own; a pool made alone uses the project's
                self._state_dir = Path(self._root) / ".muxc" / "state"
            costs = CostBook(self._state_dir / COSTS_FILE)
            self.supervisor = Supervisor(self.config.resources.slots, costs=costs)
        return self.supervisor
