"""Building backends from config, and the build-wide pool that owns them.

``create_backend`` decides the kind the way llm-mux does, made explicit: ``protocol``,
``base_url``, an http(s) ``command``, ``type = "http"`` or ``type = "claude-api"`` make an HTTP
backend (``claude-api`` means the Anthropic protocol); anything else is a CLI. Managed lifecycles
(``[backends.X.managed]``) are someone else's layer: they wrap what this module builds.

``BackendPool`` creates one instance per backend name, lazily and thread-safely, for the whole
build (one HTTP client, one concurrency limit, one credential pool each), and closes them all at
the end. A configuration problem surfaces as a ``BackendError(kind="config")`` when the backend is
first asked for, naming it and what to fix.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from muxc.backends.base import Backend, BackendError
from muxc.backends.calls import CallLogger, LoggedBackend
from muxc.backends.cli import CliBackend
from muxc.backends.http import HttpBackend, http_target
from muxc.backends.masking import SECRETS, Secrets
from muxc.backends.retry import Tuning
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
) -> Backend:
    """One backend instance for ``config``; wrapped so every call reaches ``logger`` if given."""
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
    return LoggedBackend(backend, logger, secrets) if logger is not None else backend


class BackendPool:
    """The build's backends: created on first use, one per name, closed together."""

    def __init__(
        self,
        config: Config,
        project_root: str | Path,
        *,
        secrets: Secrets = SECRETS,
        logger: CallLogger | None = None,
        environ: Mapping[str, str] | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.config = config
        self._root = project_root
        self._secrets = secrets
        self._logger = logger
        self._environ = environ
        self._tuning = tuning
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}

    def get(self, name: str) -> Backend:
        with self._lock:
            backend = self._backends.get(name)
            if backend is None:
                backend = self._backends[name] = self._create(name)
            return backend

    def created(self) -> dict[str, Backend]:
        with self._lock:
            return dict(self._backends)

    def close(self) -> None:
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
        return create_backend(
            config,
            project_root=self._root,
            defaults=self.config.defaults,
            secrets=self._secrets,
            logger=self._logger,
            environ=self._environ,
            tuning=self._tuning,
        )
