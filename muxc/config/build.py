"""Validate one config file's spanned document into a ``Config``, and merge layered configs.

Pure: the caller reads the files and passes the environment. Merging follows llm-mux: a later
file's backend, role, team or ecosystem replaces the whole entry of the same name; ``[defaults]``
and the other single tables merge key by key. Problems that only show in context (a role naming
an unknown backend, a ``${VAR}`` with no value) are reported against the file and line they come from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from muxc.config import schema as S
from muxc.config.env import expand, missing
from muxc.diagnostics.sink import DiagnosticSink
from muxc.lang.document import Array, Str, Table
from muxc.lang.validate import Context, build, did_you_mean

TOP_LEVEL = ("defaults", "backends", "roles", "teams", "ecosystems", "budget", "resources", "cache", "serve",
             "executor")
_SINGLE = {"defaults": S.Defaults, "budget": S.Budget, "resources": S.Resources, "cache": S.CacheConfig,
           "serve": S.ServeConfig, "executor": S.ExecutorConfig}
_NAMED = {"backends": S.BackendConfig, "roles": S.RoleConfig, "teams": S.TeamConfig, "ecosystems": S.EcosystemConfig}
_SINGLE_DURATIONS = {"defaults": {"timeout": "s"},
                     "serve": {"max_wait": "s", "ttl": "s", "drain_timeout": "s"}}
BACKEND_DURATIONS = {
    "timeout": "s", "retry_delay": "ms", "connect_timeout": "s", "idle_timeout": "s", "max_rate_limit_wait": "s",
    "start_timeout": "s", "stop_timeout": "s", "health_timeout": "s", "health_interval": "s",
    "switch_cost_hint": "s",
}


def build_config(root: Table, file: str, sink: DiagnosticSink, environ: Mapping[str, str]) -> S.Config:
    """One file's config; unusable entries are reported and left out."""
    values: dict[str, object] = {"files": (file,)}
    for key, entry in root.entries.items():
        if key in _SINGLE:
            item = _single(key, entry.value, file, sink)
            if item is not None:
                values[key] = item
        elif key in _NAMED:
            values[key] = _named(key, entry.value, file, sink)
        else:
            sink.report("unknown-field", f"unknown config section `{key}`", file, entry.key_span,
                        "not a config section", help=did_you_mean(key, TOP_LEVEL) or
                        f"the sections are {', '.join(TOP_LEVEL)}")
    # a ``${VAR}`` with no value is reported by ``check_env_references`` for the backends a
    # workflow reaches: one in a backend nothing uses must not stop a build
    return _expanded(S.Config(**values), environ)


# Where ``${VAR}`` is replaced when the config is read. Secrets (``api_key``, ``credentials``) are
# not: they stay references until a request is made, so no key ever sits in a config value.
_EXPANDED_FIELDS = ("command", "base_url", "model")


def _expanded(config: S.Config, environ: Mapping[str, str]) -> S.Config:
    backends = {name: _expand_backend(backend, environ) for name, backend in config.backends.items()}
    return msgspec.structs.replace(config, backends=backends)


def _expand_backend(backend: S.BackendConfig, environ: Mapping[str, str]) -> S.BackendConfig:
    changes: dict[str, object] = {key: expand(getattr(backend, key), environ) for key in _EXPANDED_FIELDS
                                  if isinstance(getattr(backend, key), str) and "${" in getattr(backend, key)}
    if any("${" in arg for arg in backend.args):
        changes["args"] = [expand(arg, environ) for arg in backend.args]
    return msgspec.structs.replace(backend, **changes) if changes else backend


def _single(key: str, node: object, file: str, sink: DiagnosticSink) -> object | None:
    if not isinstance(node, Table):
        sink.report("wrong-type", f"`{key}` must be a table", file, node.span, "not a table")
        return None
    ctx = Context(file, sink, f"[{key}]", _SINGLE_DURATIONS.get(key, {}))
    return build(_SINGLE[key], node, ctx)


def _named(key: str, node: object, file: str, sink: DiagnosticSink) -> dict[str, object]:
    if not isinstance(node, Table):
        sink.report("wrong-type", f"`{key}` must be a table of named entries", file, node.span, "not a table")
        return {}
    out = {}
    for name, entry in node.entries.items():
        if not isinstance(entry.value, Table):
            sink.report("wrong-type", f"[{key}.{name}] must be a table", file, entry.value.span, "not a table")
            continue
        ctx = Context(file, sink, f"[{key}.{name}]", BACKEND_DURATIONS if key == "backends" else {})
        item = build(_NAMED[key], entry.value, ctx, fixed={"name": name}, name_span=entry.key_span)
        if item is not None:
            out[name] = item
    return out


def backends_of_roles(config: S.Config, roles: Iterable[str]) -> list[str]:
    """The backends ``roles`` can reach: their own and every team's override of them, in config
    order (a name no backend has is left out: the role checks report it)."""
    named = {name for role in roles if role in config.roles for name in config.roles[role].backends}
    named |= {name for team in config.teams.values() for role in roles if role in team.roles
              for name in team.roles[role].backends}
    return [name for name in config.backends if name in named]


def check_env_references(config: S.Config, environ: Mapping[str, str], sink: DiagnosticSink,
                         backends: Iterable[str] | None = None) -> None:
    """A ``${VAR}`` without a default whose variable is unset is an error at that value, in
    ``backends`` (default: every backend)."""
    names = config.backends if backends is None else backends
    for name in names:
        backend = config.backends[name]
        origin = backend.origin
        if origin is None:
            continue
        file = origin.file
        for key in ("command", "base_url", "api_key", "model", "args"):
            node = origin.value(key)
            for item in node.items if isinstance(node, Array) else [node]:
                if isinstance(item, Str):
                    _report_missing(item, key, backend.name, file, sink, environ)


def _report_missing(node: Str, key: str, backend: str, file: str, sink: DiagnosticSink,
                    environ: Mapping[str, str]) -> None:
    for name, start, end in missing(node.value, environ):
        sink.report("missing-env-var", f"environment variable `{name}` is not set", file,
                    node.source_span(start, end), f"`{key}` of backend `{backend}` needs it",
                    help=f"export {name}=..., or write ${{{name}:-default}} to give a default")


def merge(layers: list[S.Config]) -> S.Config:
    """Lowest precedence first; named entries are replaced whole, single tables key by key."""
    merged = S.Config()
    for layer in layers:
        merged = _merge_two(merged, layer)
    return merged


def _merge_two(base: S.Config, top: S.Config) -> S.Config:
    values: dict[str, object] = {"files": base.files + top.files}
    for key in _NAMED:
        values[key] = {**getattr(base, key), **getattr(top, key)}
    for key, cls in _SINGLE.items():
        values[key] = _merge_single(getattr(base, key), getattr(top, key), cls)
    return S.Config(**values)


def _merge_single(base: msgspec.Struct, top: msgspec.Struct, cls: type) -> msgspec.Struct:
    """Keys the top layer's file actually set win; the rest come from below."""
    origin = getattr(top, "origin", None)
    if origin is None:
        return base
    changed = {f.name: getattr(top, f.name) for f in msgspec.structs.fields(cls)
               if f.encode_name in origin.entries}
    return msgspec.structs.replace(base, **changed, origin=origin)


def with_workflow_roles(config: S.Config, roles: Mapping[str, S.RoleConfig]) -> S.Config:
    """Roles declared in a workflow sit on top of every config file."""
    if not roles:
        return config
    return msgspec.structs.replace(config, roles={**config.roles, **roles})
