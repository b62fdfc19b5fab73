"""Check a merged config as a whole: roles name configured backends, URLs are URLs, keys are not literal.

Pure. Each problem is reported in the file and at the line where the offending value was
written (a role in the project file naming a backend defined nowhere points at that entry).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from muxc.config.env import references
from muxc.config.schema import BackendConfig, Config, RoleOverride
from muxc.diagnostics.sink import DiagnosticSink
from muxc.lang.document import Array, Str
from muxc.lang.roles import RoleConfig
from muxc.lang.validate import did_you_mean


def validate_config(config: Config, sink: DiagnosticSink) -> None:
    for backend in config.backends.values():
        _check_backend(backend, sink)
    for role in config.roles.values():
        check_role_backends(role, config, sink, f"role `{role.name}`")
    for team in config.teams.values():
        for override in team.roles.values():
            check_role_backends(override, config, sink, f"team `{team.name}`")


def is_http(backend: BackendConfig) -> bool:
    url = backend.base_url or backend.command
    return backend.type in ("http", "claude-api") or url.startswith(("http://", "https://"))


def _check_backend(backend: BackendConfig, sink: DiagnosticSink) -> None:
    origin = backend.origin
    if origin is None:
        return
    key = "base_url" if backend.base_url else "command"
    node = origin.value(key)
    if is_http(backend) and isinstance(node, Str) and not references(node.value):
        _check_url(backend, node, key, sink)
    api_key = origin.value("api_key")
    if isinstance(api_key, Str) and api_key.value and not references(api_key.value):
        sink.report("literal-secret", f"backend `{backend.name}` has its API key written in the file", origin.file,
                    api_key.span, "a literal key", help="write api_key = \"${YOUR_KEY_VARIABLE}\" and export it")
    _check_env_pairs(backend, sink)
    if backend.type not in ("claude-api", "local") and not backend.command and not backend.base_url:
        sink.report("missing-field", f"backend `{backend.name}` has no command or base URL", origin.file,
                    origin.anchor, "nothing to run", help='set command = "claude" (a CLI) or an http(s) URL')


def _check_env_pairs(backend: BackendConfig, sink: DiagnosticSink) -> None:
    """llm-mux writes ``env`` as ``[["NAME", "value"], ...]``: every pair must be exactly that."""
    origin = backend.origin
    node = origin.value("env") if origin is not None else None
    if not isinstance(node, Array):
        return
    for item in node.items:
        if not (isinstance(item, Array) and len(item.items) == 2 and all(isinstance(x, Str) for x in item.items)):
            sink.report("wrong-type", f"an `env` entry of backend `{backend.name}` is not a [\"NAME\", \"value\"] pair",
                        origin.file, item.span, "not a pair", help='write env = [["NAME", "value"]] or env = {NAME = '
                        '"value"}')


def _check_url(backend: BackendConfig, node: Str, key: str, sink: DiagnosticSink) -> None:
    origin = backend.origin
    assert origin is not None
    parts = urlsplit(node.value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        sink.report("invalid-url", f"`{key}` of backend `{backend.name}` is not a valid URL", origin.file, node.span,
                    "not http(s)://host/...", help="write it as https://host/v1 or http://127.0.0.1:PORT/v1")
        return
    anthropic = backend.protocol == "anthropic" or backend.type == "claude-api"
    if not anthropic and "/v1" not in parts.path:
        sink.report("url-missing-v1", f"the base URL of backend `{backend.name}` has no /v1", origin.file, node.span,
                    "requests go to {base}/responses" if backend.protocol == "responses" else
                    "requests go to {base}/chat/completions",
                    help=f"most OpenAI-compatible servers want {node.value.rstrip('/')}/v1")


def check_role_backends(role: RoleConfig | RoleOverride, config: Config, sink: DiagnosticSink, owner: str) -> None:
    origin = role.origin
    if origin is None:
        return
    node = origin.value("backends")
    items = node.items if isinstance(node, Array) else ()
    known = [name for name in role.backends if name in config.backends]
    for item in items:
        if isinstance(item, Str) and item.value not in config.backends:
            listing = ", ".join(f"`{b}`" for b in config.backends) or "none"
            sink.report("unknown-backend", f"{owner} names backend `{item.value}`, which is not configured",
                        origin.file, item.span, "no such backend",
                        help=did_you_mean(item.value, config.backends) or f"the backends are {listing}")
    if not role.backends:
        sink.report("role-without-backends", f"{owner} lists no backends", origin.file, origin.value_span("backends"),
                    "empty")
    elif known and not any(config.backends[name].enabled for name in known):
        sink.report("role-without-backends", f"{owner} has no enabled backend", origin.file,
                    origin.value_span("backends"), "all of these are disabled",
                    help="enable one of them (enabled = true) or add another backend")
