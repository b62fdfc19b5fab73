"""What a backend's answers depend on, from its configuration alone (no client is created).

Cache keys use this, so an up-to-date step never builds an HTTP client or starts a managed
backend. Credentials, timeouts and retry settings are not part of it: they change how a call is
made, not what it answers.
"""

from __future__ import annotations

from typing import Any

from muxc.config.schema import BackendConfig


class ConfigIdentity:
    """What every backend class shares: its identity and project reading come from its config."""

    config: BackendConfig
    _slots: Any

    @property
    def reads_project(self) -> bool:
        return reads_project(self.config)

    @property
    def in_flight(self) -> int:
        """Calls holding a concurrency slot right now."""
        return self._slots.in_flight

    def identity(self) -> dict[str, Any]:
        """The config-only identity cache keys use (never credentials or timeouts)."""
        return identity(self.config)


def identity(config: BackendConfig) -> dict[str, Any]:
    from muxc.backends.cli import env_pairs  # the backend modules import this one
    from muxc.backends.http import http_target, public_url

    if config.type == "local":
        from muxc.backends import local

        # the defaults the server is sent are part of the answer; the port never is
        return {"kind": "local", "model": local.model_ref(config), "params": local.effective_params(config)}
    target = http_target(config)
    if target is not None:
        protocol, url = target
        return {
            "kind": "http",
            "protocol": protocol,
            "model": config.model or _default_model(protocol),
            "params": dict(config.params),
            "base_url": public_url(url),
        }
    return {
        "kind": "cli",
        "command": config.command,
        "args": list(config.args),
        "model": config.model,
        "env": sorted(env_pairs(config.env)),
    }


def reads_project(config: BackendConfig) -> bool:
    """Agentic CLIs read the tree themselves (default for CLI backends); HTTP models do not."""
    from muxc.backends.http import http_target

    if config.reads_project is not None:
        return config.reads_project
    return config.type != "local" and http_target(config) is None


def _default_model(protocol: str) -> str:
    from muxc.backends import anthropic_protocol, openai_protocol

    return (anthropic_protocol if protocol == "anthropic" else openai_protocol).DEFAULT_MODEL
