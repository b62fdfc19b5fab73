"""Shell steps: ``sh -c`` in the project root, stdout is the output, a failure shows stderr.

The command holds references to its values, which reach the child as environment variables or,
when large, private files (see ``run.shellvalues``): no value is ever parsed as shell code.
``timeout`` kills the whole process group; ``retries`` reruns a failed command after ``retry_delay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muxc.base import process
from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.kinds import files_read
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand, run_with_values


def extras(build: Build, plan: StepPlan, context: dict[str, Any]) -> dict[str, Any] | StepFailure:
    files = files_read(build, plan, context, whole_project=True)
    wrapper = build.config.defaults.command_wrapper
    if wrapper and not isinstance(files, StepFailure):  # what runs is the wrapped command
        return {**files, "wrapper": wrapper}
    return files


def run(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any,
        key: str = "", commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
    command = (commands or {})["run"]
    attempts = plan.step.retries + 1
    failure: StepFailure | None = None
    for attempt in range(attempts):
        if attempt and build.cancel.wait(plan.step.retry_delay / 1000):
            break
        result = run_command(build, command, plan.step.timeout)
        failure = failure_of(result, command.shown, plan.step.timeout)
        if failure is not None and build.cancel.is_set:
            failure = stopped(build, result, command.shown)
        if failure is None:
            return Produced(result.stdout.strip(), duration_ms=result.duration_ms)
        if failure.kind == "cancelled":
            break
    assert failure is not None
    return failure


def wrap(build: Build, command: str) -> str:
    """Apply ``[defaults] command_wrapper`` (for example ``nix-shell --run '{cmd}'``)."""
    wrapper = build.config.defaults.command_wrapper
    if not wrapper:
        return command
    if "'{cmd}'" in wrapper:
        command = command.replace("'", "'\\''")
    return wrapper.replace("{cmd}", command)


def run_command(build: Build, command: ShellCommand, timeout_ms: int | None) -> process.ProcessResult:
    """Run a command (wrapped by ``command_wrapper``) with its values handed over as data."""
    timeout = timeout_ms / 1000 if timeout_ms else None
    return run_with_values(command, cwd=build.root, environ=build.environ, timeout_s=timeout, cancel=build.cancel,
                           wrap=lambda script: wrap(build, script))


def stopped(build: Build, result: process.ProcessResult, command: str) -> StepFailure:
    """The build was stopped while the command ran: say so, not the exit code of the killed
    process (it may have died of the kill before muxc saw the cancellation)."""
    why = "the workflow's timeout passed" if build.timed_out else "interrupted"
    return StepFailure("cancelled", f"{why}; its process group was killed", command=command,
                       stderr_tail=result.stderr_tail(), output=result.stdout)


def failure_of(result: process.ProcessResult, command: str, timeout_ms: int | None) -> StepFailure | None:
    if result.ok:
        return None
    tail = result.stderr_tail()
    if result.error is not None:
        return StepFailure("process", result.error, command=command)
    if result.stopped == "cancelled":
        return StepFailure("cancelled", "interrupted; its process group was killed", command=command,
                           stderr_tail=tail, output=result.stdout)
    if result.stopped == "timeout":
        from muxc.lang.durations import format_ms

        return StepFailure("timeout", f"timed out after {format_ms(timeout_ms or 0)}; its process group was killed",
                           command=command, stderr_tail=tail, output=result.stdout,
                           hint="raise `timeout` on the step if it needs longer")
    return StepFailure("process", f"the command exited with code {result.exit_code}", command=command,
                       exit_code=result.exit_code, stderr_tail=tail, output=result.stdout.strip())
