"""Run a child process the way every part of muxc needs: its own process group, stdout and
stderr read together (no deadlock on a chatty stderr), a deadline and Ctrl-C that kill the whole
group (SIGTERM, then SIGKILL after a grace period), and nothing left behind.

Shell steps, verify commands, CLI backends and managed-backend hooks all go through ``run``.
Every live process group is registered so an interrupted build can kill them all at once
(``kill_all``), within a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

import msgspec

from muxc.base.cancel import Cancel

POLL_S = 0.05
LEFTOVER_GRACE_S = 0.5  # the command exited but a child keeps its pipes open


class ProcessResult(msgspec.Struct, frozen=True):
    exit_code: int | None  # None when killed before exiting; 128+N for signal N
    stdout: str
    stderr: str
    stopped: str | None = None  # "timeout" | "cancelled" when muxc killed it
    duration_ms: int = 0
    error: str | None = None  # could not start: the reason
    error_kind: str | None = None  # "not-found" | "not-executable" | "other" when it could not start

    @property
    def ok(self) -> bool:
        return self.stopped is None and self.error is None and self.exit_code == 0

    def stderr_tail(self, lines: int = 20, chars: int = 2000) -> str:
        return "\n".join(self.stderr.rstrip().splitlines()[-lines:])[-chars:]


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def kill_all(sig: int = signal.SIGKILL) -> int:
    """Kill every live process group muxc started; returns how many."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for process in live:
        _signal_group(process, sig)
    return len(live)


def run(
    command: Sequence[str] | str,
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout_s: float | None = None,
    cancel: Cancel | None = None,
    kill_grace_s: float = 2.0,
    keep_background: bool = False,
) -> ProcessResult:
    """Run ``command`` (a string goes through ``sh -c``) and wait for it, within the limits.

    Once it exits, whatever it left running in its process group is killed, unless
    ``keep_background``: a managed backend's ``start`` hook launches its server that way, and
    killing the group at once could catch a ``setsid server &`` child before it has left."""
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    started = time.monotonic()
    try:
        process = _Popen(
            argv, cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as error:
        return ProcessResult(None, "", "", error=_start_error(argv[0], error), error_kind=_error_kind(error))
    with _LIVE_LOCK:
        _LIVE.add(process)
    try:
        stdout, stderr, stopped = _wait(process, stdin, started, timeout_s, cancel or Cancel(), kill_grace_s,
                                        keep_background)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(process)
    return ProcessResult(_exit_code(process.returncode), stdout.decode("utf-8", "replace"),
                         stderr.decode("utf-8", "replace"), stopped, int((time.monotonic() - started) * 1000))


class _Popen(subprocess.Popen):  # type: ignore[type-arg]
    """``Popen`` whose timed wait sleeps on the child's exit instead of polling for it.

    ``communicate(timeout=...)`` reaps the child with ``wait(timeout)``, which checks, sleeps
    0.5 ms, 1 ms, 2 ms... until the child is gone: about 1.5 ms lost per command that has just
    closed its pipes (measured: 6.2 against 4.8 ms for ``sh -c 'cp a b'``), which is most of a
    shell step's cost beyond starting it. A pidfd (Linux) becomes readable the moment the child
    exits; elsewhere, or if it cannot be had, the standard wait runs as before."""

    def _wait(self, timeout: float | None) -> int | None:  # the method wait() and communicate() use
        if timeout is not None and self.returncode is None and timeout > 0:
            exited = _sleep_until_exit(self.pid, timeout)
            if exited is False:  # still running: say so at once instead of waiting again
                timeout = 0
        return super()._wait(timeout)  # type: ignore[misc]


def _sleep_until_exit(pid: int, timeout: float) -> bool | None:
    """True once ``pid`` exited, False at the timeout, None when there is no pidfd to wait on."""
    import select

    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or already reaped
        return None
    try:
        ready, _, _ = select.select([handle], [], [], timeout)
        return bool(ready)
    finally:
        os.close(handle)


def _wait(process: subprocess.Popen[bytes], data: bytes | None, started: float, timeout_s: float | None,
          cancel: Cancel, grace: float, keep_background: bool) -> tuple[bytes, bytes, str | None]:
    deadline = started + timeout_s if timeout_s else None
    exited_at: float | None = None
    while True:
        try:
            # communicate() resumes after a timeout; the input is given only the first time
            stdout, stderr = process.communicate(data, timeout=POLL_S)
            if not keep_background:
                _signal_group(process, signal.SIGKILL)  # leftover children of a finished command
            return stdout, stderr, None
        except subprocess.TimeoutExpired:
            data = None
        now = time.monotonic()
        if cancel.is_set:
            return (*_stop(process, min(grace, 0.5)), "cancelled")
        if deadline is not None and now >= deadline:
            return (*_stop(process, grace), "timeout")
        if process.poll() is not None:
            exited_at = exited_at or now
            if now - exited_at > LEFTOVER_GRACE_S:
                return (*_stop(process, 0.0), None)


def _stop(process: subprocess.Popen[bytes], grace: float) -> tuple[bytes, bytes]:
    """SIGTERM the group, SIGKILL it after ``grace``; collect what it printed."""
    if grace > 0:
        _signal_group(process, signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=grace)
            _signal_group(process, signal.SIGKILL)
            return stdout, stderr
        except subprocess.TimeoutExpired:
            pass
    _signal_group(process, signal.SIGKILL)
    try:
        return process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a grandchild left the group and still holds the pipes
        process.kill()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()
        return b"", b""


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _exit_code(returncode: int | None) -> int | None:
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


def _error_kind(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "not-found"
    return "not-executable" if isinstance(error, PermissionError) else "other"


def _start_error(executable: str, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"command {executable!r} not found"
    if isinstance(error, PermissionError):
        return f"{executable!r} is not executable (check its permissions)"
    return f"could not start {executable!r}: {error}"
