"""What a backend is, from its configuration alone: what its answers depend on (cache keys),
whether it speaks HTTP and where, whether muxc runs its server, whether it reads the project.

No client is created and nothing heavy is imported (no httpx): an up-to-date build answers every
question about its backends from here, so it never builds an HTTP client or starts a managed
backend. Credentials, timeouts and retry settings are not part of the identity: they change how
a call is made, not what it answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from muxc.backends.base import BackendError
from muxc.backends.http.anthropic import DEFAULT_BASE as ANTHROPIC_BASE
from muxc.config.schema import BackendConfig

LOCAL_UNAVAILABLE = (
    "the built-in local model is not running: install the muxc[local] extra, "
    "or route this role to a backend of your own in .muxc/config.toml"
)
SECRET_QUERY_WORDS = ("key", "token", "secret", "sig", "password")


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
    if config.type == "local":
        from muxc.backends.managed import local

        # the model by its content hash and the defaults the server is sent; the port never is
        return {"kind": "local", **local.model_identity(config), "params": local.effective_params(config)}
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
    if config.reads_project is not None:
        return config.reads_project
    return config.type != "local" and http_target(config) is None


def _default_model(protocol: str) -> str:
    from muxc.backends.http import anthropic as anthropic_protocol
    from muxc.backends.http import openai as openai_protocol

    return (anthropic_protocol if protocol == "anthropic" else openai_protocol).DEFAULT_MODEL


def is_managed(config: BackendConfig) -> bool:
    """True when muxc runs this backend's server: ``[backends.X.managed]`` or ``type = "local"``."""
    return config.managed is not None or config.type == "local"


def http_target(config: BackendConfig) -> tuple[str, str] | None:
    """(protocol, base URL) for an HTTP backend, None for a CLI backend.

    Raises ``BackendError(config)`` for an HTTP backend without a URL. The built-in ``local``
    backend is an OpenAI server once something (the managed layer) gives it a ``base_url``."""
    url = config.base_url or (config.command if config.command.startswith(("http://", "https://")) else None)
    if config.type == "local" and url is None:
        raise BackendError("unavailable", config.name, LOCAL_UNAVAILABLE)
    protocol = config.protocol
    if protocol is None and (
        config.type == "claude-api" or (config.api_key_env and not config.command and url is None)
    ):
        protocol = "anthropic"
    if url is None and protocol == "anthropic":
        url = ANTHROPIC_BASE
    if url is None and (protocol is not None or config.type == "http"):
        raise BackendError(
            "config", config.name, 'an HTTP backend needs a URL: set base_url = "http://host:port/v1"'
        )
    return None if url is None else (protocol or "openai", url)


def public_url(url: str) -> str:
    """``url`` without user:password, query values that look like credentials, or a trailing /."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = [(k, v) for k, v in parse_qsl(parts.query) if not any(w in k.lower() for w in SECRET_QUERY_WORDS)]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), urlencode(query), ""))


def env_pairs(env: list[list[str]] | dict[str, str]) -> dict[str, str]:
    """llm-mux's ``[["K", "V"], …]`` or a table, as a dict."""
    if isinstance(env, dict):
        return dict(env)
    return {pair[0]: pair[1] for pair in env if len(pair) == 2}
