"""Wrapping a configured backend in the supervisor's lifecycle: a ``[backends.X.managed]`` one
with its shell hooks, a ``type = "local"`` one with the embedded model's server."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from muxc.backends.base import (
    Backend,
    BackendError,
)
from muxc.backends.managed import local
from muxc.backends.managed.hooks import (
    Lifecycle,
    Settings,
    ShellHooks,
    base_url_of,
    free_port,
    hook_env,
    port_of,
)
from muxc.backends.managed.supervisor import ManagedBackend, Supervisor
from muxc.config.schema import BackendConfig


def managed_backend(
    config: BackendConfig,
    supervisor: Supervisor,
    build_inner: Callable[[BackendConfig], Backend],
    *,
    project_root: Path,
    environ: Mapping[str, str],
    run_id: str,
    state_dir: Path | None,
) -> ManagedBackend:
    """Wrap ``config``'s backend in the supervisor's lifecycle (registering it there).

    ``build_inner`` makes the backend that talks to the server (HTTP, or a CLI). Raises
    ``BackendError(unavailable)`` when ``type = "local"`` lacks the ``local`` extra."""
    log_dir = state_dir / "backends" if state_dir is not None else None
    if config.type == "local":


        local.check_installed(config, project_root)
        port = config.managed.port if config.managed and config.managed.port else free_port()
        effective = local.server_config(config, f"http://127.0.0.1:{port}/v1")
        hooks: Lifecycle = local.LocalServer(config, port=port, root=project_root, environ=environ,
                                             log_dir=log_dir)
        settings = local.settings(config)
    else:
        assert config.managed is not None
        if base_url_of(config) is None and not config.command:
            raise BackendError("config", config.name, 'a managed backend needs base_url = "http://127.0.0.1:PORT/v1": '
                               "the address of the server its start hook runs")
        port = port_of(config)
        effective = config
        hooks = ShellHooks(config.managed, project_root, log_dir, config.name)
        settings = Settings.of(config.managed)
    env = hook_env(environ, config.name, effective, port, run_id)
    supervisor.register(config.name, hooks, settings, env)
    return ManagedBackend(build_inner(effective), supervisor)
