"""``muxc init``: find what can answer on this machine and route every stdlib role to one choice.

What is found (``detect``), in the order offered: an OpenAI-compatible server on a loopback port
(Ollama's 11434, llama.cpp's 8080, or ports given; a ``GET /v1/models`` with a short timeout,
never beyond this machine: a URL given is probed only when it is a loopback one), an ``OPENAI_API_KEY`` or ``ANTHROPIC_API_KEY`` in the environment, the
``claude`` and ``codex`` CLIs on PATH, and the built-in model when the ``local`` extra is
installed. ``config_text`` writes ``.muxc/config.toml`` for the choice: one ``[backends.NAME]``
table per backend used (keys as ``${VAR}`` references, never their values) and one
``[roles.ROLE]`` per built-in role. An existing file is never overwritten unless asked
(``write_config(..., force=True)``, which keeps the old one beside it as ``config.toml.bak``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

USUAL_PORTS = {11434: "ollama", 8080: "llamacpp"}
PROBE_TIMEOUT_S = 0.3
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-20250514"}
HEADER = "# Written by `muxc init`: every built-in role answered by the backend chosen there.\n" \
         "# Edit freely; `muxc init --force` writes it again (keeping this one as config.toml.bak).\n"


class Candidate(msgspec.Struct, frozen=True):
    """A backend that can answer here, and the config table that reaches it."""

    name: str
    found: str  # why it is offered, for people
    table: dict[str, Any] = {}  # [backends.NAME]; {} for the built-in `local` (already configured)
    models: tuple[str, ...] = ()  # what a server said it serves


class InitError(Exception):
    """A choice that names nothing usable (a usage problem: exit 2)."""


def detect(environ: Mapping[str, str], ports: Iterable[int] = ()) -> list[Candidate]:
    found = [c for port in dict.fromkeys([*USUAL_PORTS, *ports]) if (c := probe_server(port)) is not None]
    if environ.get("OPENAI_API_KEY"):
        found.append(_keyed("openai", "OPENAI_API_KEY"))
    if environ.get("ANTHROPIC_API_KEY"):
        found.append(_keyed("anthropic", "ANTHROPIC_API_KEY"))
    for cli in ("claude", "codex"):
        if shutil.which(cli, path=environ.get("PATH", os.defpath)):
            found.append(Candidate(cli, f"`{cli}` is on PATH", {"command": cli}))
    if _local_extra_installed():
        found.append(Candidate("local", "the built-in model; the `local` extra is installed"))
    return found


def probe_server(port: int, host: str = "127.0.0.1") -> Candidate | None:
    """An OpenAI-compatible server answering ``GET /v1/models`` on a loopback port, or None."""
    return probe_url(f"http://{host}:{port}/v1", USUAL_PORTS.get(port, "server"))


def probe_url(url: str, name: str) -> Candidate | None:
    """The server at ``url`` (a base URL ending in /v1) if it lists its models, else None."""
    import httpx

    try:
        # trust_env off: a loopback probe must not go through an HTTP(S)_PROXY from the environment
        reply = httpx.get(f"{url}/models", timeout=PROBE_TIMEOUT_S, trust_env=False)
        models = tuple(str(m["id"]) for m in reply.json().get("data", []) if isinstance(m, dict) and "id" in m)
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        return None
    if reply.status_code != 200:
        return None
    shown = f" serving {', '.join(models[:3])}{'…' if len(models) > 3 else ''}" if models else ""
    table = {"base_url": url, **({"model": models[0]} if models else {})}
    return Candidate(name, f"a server at {url}{shown}", table, models)


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def _keyed(provider: str, variable: str) -> Candidate:
    table: dict[str, Any] = {"api_key": "${" + variable + "}", "model": DEFAULT_MODELS[provider]}
    if provider == "anthropic":
        table = {"type": "claude-api", **table}
    else:
        table = {"base_url": "https://api.openai.com/v1", **table}
    return Candidate(provider, f"{variable} is set", table)


def _local_extra_installed() -> bool:
    from muxc.backends.managed.local import missing_modules
    from muxc.config.schema import BackendConfig

    return not missing_modules(BackendConfig(name="local", type="local"))


def choose(spec: str, detected: list[Candidate], environ: Mapping[str, str]) -> Candidate:
    """``--backend NAME|URL``: a detected backend by name, a known one not detected (said so), or
    an OpenAI-compatible base URL."""
    if spec.startswith(("http://", "https://")):
        url = spec.rstrip("/")
        url = url if url.endswith("/v1") else url + "/v1"
        known = next((c for c in detected if c.table.get("base_url") == url), None)
        if known is None and _loopback(url):  # on this machine: ask it which models it serves
            known = probe_url(url, "server")
        return known or Candidate("server", f"the server at {url} (given)", {"base_url": url})
    for candidate in detected:
        if candidate.name == spec:
            return candidate
    offline = {"openai": lambda: _keyed("openai", "OPENAI_API_KEY"),
               "anthropic": lambda: _keyed("anthropic", "ANTHROPIC_API_KEY"),
               "claude": lambda: Candidate("claude", "given", {"command": "claude"}),
               "codex": lambda: Candidate("codex", "given", {"command": "codex"}),
               "local": lambda: Candidate("local", "given")}
    if spec in offline:
        return msgspec.structs.replace(offline[spec](), found="given, but not found on this machine")
    names = ", ".join(dict.fromkeys([*(c.name for c in detected), *offline]))
    raise InitError(f"--backend {spec}: not a backend muxc init knows or a URL; choose one of: {names}, "
                    "or give an OpenAI-compatible URL such as http://127.0.0.1:11434/v1")


def with_model(candidate: Candidate, model: str | None) -> Candidate:
    if model is None:
        return candidate
    if candidate.name == "local":
        raise InitError("--model: the built-in model is chosen in [backends.local] (see docs/configuration.md), "
                        "not by muxc init")
    return msgspec.structs.replace(candidate, table={**candidate.table, "model": model})


def routing(choice: Candidate, routes: Mapping[str, str], detected: list[Candidate],
            environ: Mapping[str, str]) -> tuple[dict[str, str], list[Candidate]]:
    """(role -> backend name, the backends to write): every built-in role to ``choice`` but the
    ``--role ROLE=NAME`` ones."""
    from muxc.config.defaults import BUILTIN_ROLES

    unknown = [role for role in routes if role not in BUILTIN_ROLES]
    if unknown:
        raise InitError(f"--role {unknown[0]}=...: not a built-in role; they are: {', '.join(BUILTIN_ROLES)}")
    used = {choice.name: choice}
    for name in routes.values():
        if name not in used:
            used[name] = choose(name, detected, environ)
    roles = {role: routes.get(role, choice.name) for role in BUILTIN_ROLES}
    return {role: used[name].name for role, name in roles.items()}, list(used.values())


def config_text(roles: Mapping[str, str], backends: list[Candidate]) -> str:
    blocks = [HEADER]
    for backend in backends:
        if backend.table:
            blocks.append(f"[backends.{backend.name}]\n" + "".join(f"{k} = {_toml(v)}\n"
                                                               for k, v in backend.table.items()))
    blocks += [f'[roles.{role}]\nbackends = ["{name}"]\n' for role, name in roles.items()]
    return "\n".join(blocks)


def _toml(value: Any) -> str:
    import json

    return json.dumps(value)  # strings and numbers: JSON's spelling is TOML's


def config_path(root: Path) -> Path:
    return root / ".muxc" / "config.toml"


def write_config(root: Path, text: str, force: bool) -> Path | None:
    """Write ``.muxc/config.toml``; None (nothing written) when one exists and ``force`` is off.
    With ``force`` the old file is kept as ``config.toml.bak``. Written whole or not at all."""
    from muxc.base.files import write_atomically

    path = config_path(root)
    if path.exists():
        if not force:
            return None
        path.with_name("config.toml.bak").write_bytes(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    return path


def current_routing(config: Any) -> dict[str, list[str]]:
    """role -> its backends, for every role (what a re-run of ``muxc init`` shows)."""
    return {name: list(role.backends) for name, role in sorted(config.roles.items())}
