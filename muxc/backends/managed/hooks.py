"""A managed backend's lifecycle hooks: ``start``, ``stop``, ``health`` run with ``sh -c`` in the
project root, their settings in seconds, and the environment they see (MUXC_BACKEND, MUXC_MODEL,
MUXC_PORT, MUXC_BASE_URL, MUXC_RUN_ID). A hook that outlives its timeout has its process group
killed; see ``supervisor`` for when hooks run."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from muxc.backends.base import (
    Cancel,
)
from muxc.base import process
from muxc.base.process import ProcessResult
from muxc.config.schema import BackendConfig, ManagedConfig
from muxc.lang.durations import to_seconds as parse_duration


@dataclass(frozen=True)
class Settings:
    """A backend's ``managed`` table, with every duration in seconds."""

    start_timeout: float
    stop_timeout: float
    health_timeout: float
    health_interval: float
    slots: int = 1
    adopt_running: bool = True
    keep_running: bool = False

    @classmethod
    def of(cls, managed: ManagedConfig) -> Settings:
        return cls(
            start_timeout=_seconds(managed, "start_timeout"),
            stop_timeout=_seconds(managed, "stop_timeout"),
            health_timeout=_seconds(managed, "health_timeout"),
            health_interval=max(0.01, float(managed.health_interval)),
            slots=managed.slots,
            adopt_running=managed.adopt_running,
            keep_running=managed.keep_running,
        )


def _seconds(managed: ManagedConfig, key: str) -> float:
    """A duration field in seconds: a number (seconds, as the config loader keeps them) or a
    string such as "90s"."""
    return parse_duration(getattr(managed, key))


# -- lifecycles ---------------------------------------------------------------------------------


class Lifecycle(Protocol):
    """How one backend is started, checked and stopped: shell hooks, or muxc's own local server."""

    def has(self, hook: str) -> bool:
        """Whether ``hook`` ("start", "stop", "health") is configured."""

    def run(self, hook: str, env: Mapping[str, str], timeout_s: float, cancel: Cancel | None) -> ProcessResult:
        """Run ``hook``; a result whose ``ok`` is true means success (for health: healthy)."""

    def exited(self) -> ProcessResult | None:
        """For a server muxc holds as a child: its result once it has exited, else None."""

    def label(self, hook: str) -> str:
        """``hook`` named for a message: "the start hook `./up.sh`"."""

    def advice(self, hook: str, result: ProcessResult) -> str:
        """What the user can do about this failure (one sentence), or ""."""


class ShellHooks:
    """The user's ``start``/``stop``/``health`` shell strings, each run with ``sh -c``."""

    def __init__(self, managed: ManagedConfig, root: Path, log_dir: Path | None, name: str) -> None:
        self._hooks = {"start": managed.start, "stop": managed.stop, "health": managed.health}
        self._root = root
        self._log = log_dir / f"{name}.log" if log_dir is not None else None

    def has(self, hook: str) -> bool:
        return bool(self._hooks.get(hook))

    def run(self, hook: str, env: Mapping[str, str], timeout_s: float, cancel: Cancel | None) -> ProcessResult:
        command = self._hooks[hook] or "true"
        result = process.run(command, cwd=self._root, env=env, timeout_s=timeout_s, cancel=cancel,
                             keep_background=hook == "start")
        if hook != "health":  # polled often; its failures show up in the error instead
            self._append_log(hook, result)
        return result

    def exited(self) -> ProcessResult | None:
        return None  # a detached server is the hooks' business

    def label(self, hook: str) -> str:
        return f"the {hook} hook `{self._hooks.get(hook) or ''}`"

    def advice(self, hook: str, result: ProcessResult) -> str:
        where = f"; its output is in {self._log}" if self._log is not None else ""
        return (f"run the hook by hand (with MUXC_PORT and MUXC_BASE_URL set) to see why{where}, "
                "or route the role to another backend")

    def _append_log(self, hook: str, result: ProcessResult) -> None:
        if self._log is None:
            return
        with contextlib.suppress(OSError):  # the log helps; it must never fail a build
            self._log.parent.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            with self._log.open("a", encoding="utf-8") as log:
                log.write(f"--- {stamp} {hook}: exit {result.exit_code} in {result.duration_ms} ms"
                          f"{' (' + result.stopped + ')' if result.stopped else ''}\n{result.stdout}{result.stderr}")


# -- start costs --------------------------------------------------------------------------------


def how_it_ended(result: ProcessResult, limit: float, hook: str) -> str:
    if result.error:
        return f"could not run: {result.error}"
    if result.stopped == "timeout":
        return f"timed out after {limit:g}s ({hook}_timeout) and its process group was killed"
    if result.stopped == "cancelled":
        return "was interrupted"
    code = result.exit_code
    return f"was killed by signal {code - 128}" if code is not None and code > 128 else f"exited with code {code}"


def indented(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# -- the wrapper --------------------------------------------------------------------------------


def port_of(config: BackendConfig) -> int:
    """``managed.port``, else the port in the backend's URL, else a free loopback port."""
    if config.managed is not None and config.managed.port:
        return config.managed.port
    url = base_url_of(config)
    if url is not None:
        parts = urlsplit(url)
        with contextlib.suppress(ValueError):
            if parts.port:
                return parts.port
            return 443 if parts.scheme == "https" else 80
    return free_port()


def base_url_of(config: BackendConfig) -> str | None:
    if config.base_url:
        return config.base_url
    return config.command if config.command.startswith(("http://", "https://")) else None


def hook_env(environ: Mapping[str, str], name: str, config: BackendConfig, port: int, run_id: str) -> dict[str, str]:
    return {**environ, "MUXC_BACKEND": name, "MUXC_MODEL": config.model or "", "MUXC_PORT": str(port),
            "MUXC_BASE_URL": base_url_of(config) or "", "MUXC_RUN_ID": run_id}


def free_port() -> int:
    """A loopback port nothing listens on now (the server binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
