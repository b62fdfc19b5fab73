"""CLI backends: run ``command args… [prompt]`` and take what it prints as the answer.

- The prompt is the last argv item, or goes on stdin when ``stdin = true``, or automatically when
  it is larger than ``STDIN_THRESHOLD`` bytes (Linux refuses a single argument over 128 KiB).
  When argv carries the prompt, stdin is /dev/null. A system text is put before the prompt.
- The process runs in the project root, with the parent environment plus ``env`` (llm-mux's
  array of pairs or a table; ``${VAR}`` expanded) and without ``CLAUDECODE`` (so a nested Claude
  Code starts).
- It runs in its own session: a timeout or Ctrl-C kills the whole process group (SIGTERM, then
  SIGKILL after a grace), and leftover children of a finished CLI are killed too. stdout and
  stderr are drained together, so a chatty stderr cannot deadlock it.
- Non-zero exit → ``process`` error with the exit code and the stderr tail; a missing executable
  → ``config`` error saying how to fix it. Timeouts are retried only with ``retry_timeout``.
- Output is stdout with trailing whitespace trimmed and registered secrets masked; ``codex exec
  --json`` JSONL is reduced to the last agent message (``output_format = "codex-json"``, or detected from ``--json`` and a command
  named ``codex``).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from muxc.backends.base import (
    BackendError,
    Cancel,
    Completion,
    CompletionRequest,
    FailureKind,
    ProgressCallback,
    Usage,
)
from muxc.backends.http.protocol import cost_usd, parse_json
from muxc.backends.identity import ConfigIdentity, env_pairs
from muxc.backends.managed.slots import Slots, limit_for
from muxc.backends.retry import RetryPolicy, Tuning, wait_or_cancel
from muxc.base import process
from muxc.base.masking import SECRETS, Secrets, looks_secret, mask, mask_known
from muxc.config.env import expand, references
from muxc.config.schema import BackendConfig, Defaults
from muxc.lang.durations import to_seconds as parse_duration

STDIN_THRESHOLD = 100_000  # bytes; Linux's per-argument limit (MAX_ARG_STRLEN) is 131072
ARG_LIMIT = 131_072
POLL = 0.1  # how often a waiting call looks at the cancel flag and the deadline
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000
REMOVED_ENV = ("CLAUDECODE",)


class CliBackend(ConfigIdentity):
    """A ``Backend`` that runs a command per call; thread-safe (nothing shared but the slots)."""

    def __init__(
        self,
        config: BackendConfig,
        *,
        project_root: str | Path,
        defaults: Defaults | None = None,
        secrets: Secrets = SECRETS,
        environ: Mapping[str, str] | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self._root = str(project_root)
        self._secrets = secrets
        self._policy = RetryPolicy.from_config(config, tuning)
        self._timeout = parse_duration(config.timeout)
        self._slots = Slots(limit_for(config.max_concurrent, defaults.max_concurrent if defaults else None))
        self._env = self._environment(os.environ if environ is None else environ)
        self._codex = is_codex_json(config)

    # -- the Backend protocol ------------------------------------------------------------------

    def close(self) -> None:
        pass

    def complete(
        self, request: CompletionRequest, cancel: Cancel, on_progress: ProgressCallback | None = None
    ) -> Completion:
        started = time.monotonic()
        prompt = f"{request.system}\n\n{request.prompt}" if request.system else request.prompt
        via_stdin = self._via_stdin(prompt)
        # The step's timeout bounds the whole call, retries included; ours bounds each run.
        deadline = started + request.timeout if request.timeout else float("inf")
        attempts = 0
        while True:
            attempts += 1
            limit = min(self._timeout, deadline - time.monotonic())
            try:
                text, usage = self._once(prompt, via_stdin, limit, cancel, attempts)
            except BackendError as error:
                delay = self._policy.backoff(attempts)
                if not self._retries(error, attempts) or time.monotonic() + delay >= deadline:
                    raise
                wait_or_cancel(cancel, delay, self.name, attempts)
                continue
            return self._completion(text, usage, started, attempts)

    def _retries(self, error: BackendError, attempts: int) -> bool:
        """Only a timed-out run is retried, and only with ``retry_timeout`` (llm-mux's meaning)."""
        return error.kind == "timeout" and self._policy.retry_timeout and attempts <= self._policy.max_retries

    # -- one run -------------------------------------------------------------------------------

    def _once(
        self, prompt: str, via_stdin: bool, limit: float, cancel: Cancel, attempts: int
    ) -> tuple[str, Usage]:
        if not self.config.command:
            raise self._error(
                "config", 'no command configured; set command = "<executable>" for this backend', attempts
            )
        argv = [self.config.command, *self.config.args] + ([] if via_stdin else [prompt])
        cancelled = lambda: self._error("cancelled", "interrupted while waiting for a free slot", attempts)  # noqa: E731
        with self._slots.hold(cancel, cancelled):
            result = process.run(
                argv,
                cwd=self._root,
                env=self._env,
                stdin=prompt.encode() if via_stdin else None,
                timeout_s=limit,
                cancel=cancel,
                kill_grace_s=self._policy.tuning.cli_kill_grace,
            )
        return self._outcome(result, limit, attempts)

    def _start_failure(self, result: process.ProcessResult, attempts: int) -> BackendError:
        if result.error_kind == "not-found":
            return self._error("config", self._not_found_message(), attempts)
        if result.error_kind == "not-executable":
            return self._error(
                "config", f"{self.config.command!r} is not executable; check its permissions (chmod +x)", attempts
            )
        return self._error("config", f"could not start {self.config.command!r}: {result.error}", attempts)

    # -- results -------------------------------------------------------------------------------

    def _outcome(self, run: process.ProcessResult, limit: float, attempts: int) -> tuple[str, Usage]:
        if run.error is not None:
            raise self._start_failure(run, attempts)
        tail = self._tail(run.stderr)
        if run.stopped == "cancelled":
            raise self._error(
                "cancelled", "interrupted; the process group was killed", attempts, stderr_tail=tail
            )
        if run.stopped == "timeout":
            message = f"{self.config.command!r} did not finish within {limit:g}s (timeout); its process group was killed"
            raise self._error("timeout", message, attempts, stderr_tail=tail)
        code = run.exit_code
        if code != 0:
            shown = f": {tail}" if tail else " (no stderr)"
            raise self._error(
                "process",
                f"{self.config.command!r} exited with code {code}{shown}",
                attempts,
                exit_code=code,
                stderr_tail=tail,
            )
        text = run.stdout
        return self._codex_answer(text, attempts) if self._codex else (text.rstrip(), Usage())

    def _codex_answer(self, text: str, attempts: int) -> tuple[str, Usage]:
        answer, usage = parse_codex_jsonl(text)
        if answer is None:
            start = self._mask(text[:200])
            raise self._error(
                "bad_response",
                f"codex --json printed no agent message; output starts {start!r}",
                attempts,
                body_start=start,
            )
        return answer.rstrip(), usage

    def _completion(self, text: str, usage: Usage, started: float, attempts: int) -> Completion:
        return Completion(
            text=mask_known(text, self._secrets),  # a key the CLI printed is no part of an answer
            backend=self.name,
            model=self.config.model,
            usage=usage,
            latency_ms=int((time.monotonic() - started) * 1000),
            attempts=attempts,
            cost_usd=cost_usd(usage, self.config.price),
        )

    # -- helpers -------------------------------------------------------------------------------

    def _via_stdin(self, prompt: str) -> bool:
        size = len(prompt.encode())
        if self.config.stdin is None:
            return size > STDIN_THRESHOLD
        if not self.config.stdin and size >= ARG_LIMIT:
            message = f"the prompt is {size // 1024} KiB, over Linux's 128 KiB argument limit; set stdin = true for this backend"
            raise self._error("config", message, 1)
        return self.config.stdin

    def _environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        env = {key: value for key, value in environ.items() if key not in REMOVED_ENV}
        for key, value in env_pairs(self.config.env).items():
            env[key] = expand(value, environ)
            if references(value):
                # a value fed from the environment may be a key; its name says whether it surely is
                self._secrets.register(env[key], credential=looks_secret(key))
        return env

    def _not_found_message(self) -> str:
        command = self.config.command
        where = "relative to the project root" if "/" in command else "on PATH"
        return f"command {command!r} not found {where}; install it or set command to its full path in [backends.{self.name}]"

    def _tail(self, stderr: str) -> str:
        lines = stderr.rstrip().splitlines()[-STDERR_TAIL_LINES:]
        return self._mask("\n".join(lines)[-STDERR_TAIL_CHARS:])

    def _mask(self, text: str) -> str:
        return mask(text, self._secrets)

    def _error(self, kind: FailureKind, message: str, attempts: int, **extra: Any) -> BackendError:
        return BackendError(kind, self.name, self._mask(message), attempts=attempts, **extra)


def is_codex_json(config: BackendConfig) -> bool:
    if config.output_format is not None:
        return config.output_format == "codex-json"
    return "--json" in config.args and os.path.basename(config.command) == "codex"


def parse_codex_jsonl(text: str) -> tuple[str | None, Usage]:
    """The last ``item.completed`` agent message of a codex JSONL stream, and its usage."""
    answer: str | None = None
    usage = Usage()
    for line in text.splitlines():
        event = _json_line(line)
        if event.get("type") == "item.completed":
            item = event.get("item") or {}
            if item.get("type") == "agent_message" and isinstance(item.get("text"), str):
                answer = item["text"]
        elif event.get("type") == "turn.completed" and isinstance(event.get("usage"), dict):
            usage = usage + _codex_usage(event["usage"])
    return answer, usage


def _json_line(line: str) -> dict[str, Any]:
    try:
        event = parse_json(line)
    except ValueError:  # nested too deeply included
        return {}
    return event if isinstance(event, dict) else {}


def _codex_usage(data: dict[str, Any]) -> Usage:
    # codex reports OpenAI-style: input_tokens includes cached_input_tokens.
    total, cached = data.get("input_tokens"), data.get("cached_input_tokens")
    fresh = total - cached if isinstance(total, int) and isinstance(cached, int) else total
    return Usage(fresh, cached, data.get("output_tokens"))


def which(command: str, project_root: str | Path, environ: Mapping[str, str] | None = None) -> str | None:
    """Where ``command`` would be found (the doctor's check), or None."""
    if "/" in command:
        path = Path(project_root, command)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(command, path=(environ or os.environ).get("PATH"))
