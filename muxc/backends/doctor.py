"""``muxc doctor``: is each backend usable? Structured answers, never an exception.

- CLI: the executable is found (on PATH, or relative to the project root) — the result names the
  exact command looked for and where it was found.
- HTTP: ``GET {base}/models`` answers within ``CHECK_TIMEOUT`` seconds (with the backend's
  credential and headers). 401/403 means the endpoint is up but the key is rejected.
- Local (``type = "local"``): the ``muxc[local]`` extra is installed and where the model is (or
  will be assembled); nothing is started.
- Managed (``[backends.X.managed]``): a server that is not running is fine ("stopped"): muxc
  starts it when a step needs it.
- ``probe``: one real request through the backend itself (``max_tokens: 1`` for HTTP, a tiny
  prompt for a CLI), without retries, so a broken model or key shows up before a long build. A
  managed backend is started for it and stopped again (unless it was already running).

Results are msgspec structs (``muxc doctor --output json`` encodes them as they are). Messages are
masked like every other message of the backend layer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import httpx
import msgspec

from muxc.backends.base import BackendError, Cancel, CompletionRequest
from muxc.backends.cli import which
from muxc.backends.credentials import CredentialError, resolve
from muxc.backends.http.client import ADAPTERS
from muxc.backends.http.protocol import CUT_OFF
from muxc.backends.identity import http_target, is_managed, public_url
from muxc.backends.managed.supervisor import Supervisor
from muxc.backends.registry import create_backend
from muxc.base.masking import SECRETS, Secrets, mask
from muxc.config.env import expand
from muxc.config.schema import BackendConfig, Config

CHECK_TIMEOUT = 5.0
PROBE_TIMEOUT = 60.0
PROBE_PROMPT = "Reply with the single word OK."

Status = Literal["ok", "reachable", "stopped", "disabled", "unused", "missing", "unreachable", "auth", "config",
                 "error"]


class ProbeResult(msgspec.Struct, frozen=True):
    ok: bool
    detail: str
    latency_ms: int | None = None
    kind: str | None = None  # the failure kind when not ok


class DoctorResult(msgspec.Struct, frozen=True):
    backend: str
    kind: Literal["cli", "http", "local"]
    status: Status
    ok: bool
    detail: str
    command: str | None = None  # CLI: the command looked for
    path: str | None = None  # CLI: where it was found
    url: str | None = None  # HTTP: the URL checked, without credentials
    http_status: int | None = None
    latency_ms: int | None = None
    probe: ProbeResult | None = None


def check_all(
    config: Config,
    *,
    project_root: str | Path,
    environ: Mapping[str, str] | None = None,
    probe: bool = False,
    secrets: Secrets = SECRETS,
    used: Collection[str] | None = None,
) -> list[DoctorResult]:
    """Every configured backend, checked concurrently, in name order. With ``used``, a backend not
    in it is listed as ``unused`` and not checked: nothing would ask it, so it cannot fail a build."""
    names = sorted(config.backends)
    if not names:
        return []
    checked = [name for name in names if used is None or name in used]
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(checked)))) as pool:
        futures = {
            name: pool.submit(
                check_backend,
                config.backends[name],
                project_root=project_root,
                environ=environ,
                probe=probe,
                secrets=secrets,
            )
            for name in checked
        }
        return [futures[name].result() if name in futures else _unused(config.backends[name]) for name in names]


def _unused(config: BackendConfig) -> DoctorResult:
    kind: Literal["cli", "http", "local"] = "local" if config.type == "local" else "http" if config.base_url or (
        config.command or "").startswith(("http://", "https://")) else "cli"
    return DoctorResult(config.name, kind, "unused", True, "no role in use reaches it; not checked")


def check_backend(
    config: BackendConfig,
    *,
    project_root: str | Path,
    environ: Mapping[str, str] | None = None,
    probe: bool = False,
    secrets: Secrets = SECRETS,
) -> DoctorResult:
    if config.type == "local":
        result = _check_local(config, project_root, environ)
        if probe and result.ok and config.enabled:
            result = msgspec.structs.replace(result, probe=_probe(config, project_root, environ, secrets))
        return result
    try:
        target = http_target(config)
    except BackendError as error:  # no URL, or the built-in local model is not installed
        status: Status = "missing" if error.kind == "unavailable" else "config"
        return DoctorResult(config.name, "http", status, False, error.message)
    kind: Literal["cli", "http"] = "cli" if target is None else "http"
    if not config.enabled:
        return DoctorResult(config.name, kind, "disabled", True, "disabled in config (enabled = false)")
    try:
        result = (
            _check_cli(config, project_root, environ)
            if target is None
            else _check_http(config, *target, environ, secrets)
        )
    except Exception as exc:  # the doctor reports; it never crashes on a bad backend
        result = DoctorResult(config.name, kind, "error", False, mask(f"check failed: {exc!r}", secrets))
    if config.managed is not None and result.status == "unreachable":
        result = msgspec.structs.replace(
            result, status="stopped", ok=True,
            detail=f"not running now; muxc runs its start hook when a step needs it ({result.detail})")
    if probe and result.ok:
        result = msgspec.structs.replace(result, probe=_probe(config, project_root, environ, secrets))
    return result


def _check_local(config: BackendConfig, project_root: str | Path, environ: Mapping[str, str] | None
                 ) -> DoctorResult:
    from muxc.backends.managed import local

    if not config.enabled:
        return DoctorResult(config.name, "local", "disabled", True, "disabled in config (enabled = false)")
    status, ok, detail = local.status(config, Path(project_root), os.environ if environ is None else environ)
    return DoctorResult(config.name, "local", status, ok, detail)  # type: ignore[arg-type]


def _check_cli(
    config: BackendConfig, project_root: str | Path, environ: Mapping[str, str] | None
) -> DoctorResult:
    command = config.command
    if not command:
        return DoctorResult(config.name, "cli", "config", False, "no command configured", command=command)
    found = which(command, project_root, environ)
    if found is None:
        where = "relative to the project root" if "/" in command else "on PATH"
        return DoctorResult(
            config.name,
            "cli",
            "missing",
            False,
            f"{command!r} not found {where}; install it or set command to its full path",
            command=command,
        )
    return DoctorResult(config.name, "cli", "ok", True, f"found at {found}", command=command, path=found)


def _check_http(
    config: BackendConfig, protocol: str, base: str, environ: Mapping[str, str] | None, secrets: Secrets
) -> DoctorResult:
    adapter = ADAPTERS[protocol]
    url = adapter.models_url(base)
    shown = public_url(url)
    env = os.environ if environ is None else environ
    headers = {key.lower(): expand(value, env) for key, value in config.headers.items()}
    try:
        key = resolve(config, protocol, env, secrets)[0].value
    except CredentialError as exc:
        return DoctorResult(
            config.name,
            "http",
            "config",
            False,
            mask(f"{exc}; export it before the build", secrets),
            url=shown,
        )
    started = time.monotonic()
    try:
        response = httpx.get(url, headers={**adapter.headers(key, False), **headers}, timeout=CHECK_TIMEOUT)
    except httpx.HTTPError as exc:
        detail = mask(
            f"no answer from {shown} within {CHECK_TIMEOUT:g}s: {type(exc).__name__}: {exc}", secrets
        )
        return DoctorResult(config.name, "http", "unreachable", False, detail, url=shown)
    latency = int((time.monotonic() - started) * 1000)
    return _http_verdict(config.name, shown, response.status_code, latency)


def _http_verdict(name: str, shown: str, status: int, latency: int) -> DoctorResult:
    if status < 400:
        status_name, ok, detail = "ok", True, f"GET {shown} answered {status}"
    elif status in (401, 403):
        status_name, ok, detail = (
            "auth",
            False,
            f"GET {shown} answered {status}: the endpoint is up but the key was rejected",
        )
    elif status < 500:
        status_name, ok, detail = (
            "reachable",
            True,
            f"GET {shown} answered {status}; the server is up (use probe to send a real request)",
        )
    else:
        status_name, ok, detail = "error", False, f"GET {shown} answered {status}"
    return DoctorResult(
        name, "http", status_name, ok, detail, url=shown, http_status=status, latency_ms=latency
    )  # type: ignore[arg-type]


def _probe(
    config: BackendConfig, project_root: str | Path, environ: Mapping[str, str] | None, secrets: Secrets
) -> ProbeResult:
    quick = msgspec.structs.replace(
        config, max_retries=0, stream=False, max_rate_limit_wait=0, params={**config.params, "max_tokens": 1}
    )
    supervisor = Supervisor() if is_managed(quick) else None  # started for the probe, then stopped
    started = time.monotonic()
    try:
        backend = create_backend(quick, project_root=project_root, secrets=secrets, environ=environ,
                                 supervisor=supervisor)
        try:
            completion = backend.complete(
                CompletionRequest(PROBE_PROMPT, timeout=PROBE_TIMEOUT, step="doctor"), Cancel()
            )
        finally:
            backend.close()
    except BackendError as error:
        elapsed = int((time.monotonic() - started) * 1000)
        if error.finish_reason in CUT_OFF:  # the server works: max_tokens = 1 left no room for text
            return ProbeResult(True, f"answered (no text within max_tokens = 1: {error.finish_reason!r})", elapsed)
        return ProbeResult(False, error.message, elapsed, error.kind)
    finally:
        if supervisor is not None:
            supervisor.shutdown()
    return ProbeResult(True, f"answered {completion.text[:40]!r}", completion.latency_ms)


class Unavailable(msgspec.Struct, frozen=True):
    """Why a backend cannot answer here, found without asking it, and what to do."""

    backend: str
    reason: str
    fix: str


def unavailable(config: BackendConfig, project_root: str | Path, environ: Mapping[str, str]
                ) -> Unavailable | None:
    """What stops ``config`` from answering that shows before any request: the built-in model's
    extra not installed, a CLI not on PATH, a credential's variable unset. None when nothing
    does (an endpoint that is down still shows only when it is asked)."""
    if not config.enabled:
        return None
    if config.type == "local" and not config.base_url:
        from muxc.backends.managed import local

        missing = local.missing_modules(config)
        if not missing:
            return None
        from muxc.base.install import install_command

        extra = local.extra_of(config)
        return Unavailable(config.name, f"the muxc[{extra}] extra is not installed (missing Python module"
                           f"{'s' if len(missing) > 1 else ''}: {', '.join(missing)})",
                           f"install it: {install_command(extra)}")
    try:
        target = http_target(config)
    except BackendError as error:
        return Unavailable(config.name, error.message, "fix the backend in the config")
    if target is None:
        if config.command and which(config.command, project_root, environ) is None:
            return Unavailable(config.name, f"{config.command!r} is not on PATH",
                               "install it, or set `command` to its full path")
        return None
    try:
        resolve(config, target[0], environ, Secrets())
    except CredentialError as error:
        return Unavailable(config.name, str(error), "set the variable before the build")
    return None
