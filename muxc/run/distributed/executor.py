"""The coordinator's side of ``--executor dask``: one Dask task per query or shell step that runs.

``DaskExecutor`` sits behind ``run.executor``'s executor seam: by the time it is asked, the
coordinator has decided the step's key and found it in no cache, and has rendered its text. It
claims the LLM call against the build's budget (a query), sends the step, waits for it while
watching the build's cancel flag, and returns what the handler would have returned here.

- A worker that dies mid-step: Dask runs the task again on another worker (the outcome is the
  step's, whoever ran it); a step that kills ``distributed.scheduler.allowed-failures`` workers
  in a row fails with that said.
- Ctrl-C: the futures are cancelled and the build's cancel event set, so workers kill the
  commands they are running.
- ``where``: the address of the worker(s) each step ran on, for ``--output json``.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import muxc
from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.distributed.cluster import Cluster
from muxc.run.distributed.spec import BuildSpec, StepTask, TeamSpec, WorkerOutcome
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand

REMOTE_KINDS = ("query", "shell")
POLL_S = 0.2  # how often a waiting step looks at the cancel flag


class DaskExecutor:
    def __init__(self, cluster: Cluster, env_names: list[str]) -> None:
        self.cluster = cluster
        self.build_id = uuid.uuid4().hex
        self._env_names = env_names
        self._scattered: Any = None
        self._lock = threading.Lock()
        self.where: dict[str, set[str]] = {}
        self._lost: str | None = None  # why the cluster can no longer be used

    def takes(self, plan: StepPlan) -> bool:
        return plan.kind in REMOTE_KINDS

    def run(self, build: Build, plan: StepPlan, rendered: dict[str, str], item: Any, key: str = "",
            commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
        if self._lost is not None:
            return StepFailure("worker", f"not sent: {self._lost}")
        asks = plan.kind == "query"
        if asks and (blocked := build.start_call()) is not None:
            return StepFailure("budget", f"not asked: {blocked}", hint="raise --max-cost/--max-calls or [budget]")
        outcome: WorkerOutcome | StepFailure = StepFailure("worker", "not sent")
        try:
            task = StepTask(plan, rendered, dict(commands or {}), item, key, self._tree(build, plan))
            outcome = self._send(build, plan, task)
        finally:
            if asks:
                build.end_call(*_calls_and_cost(outcome))
        if isinstance(outcome, StepFailure):
            return outcome
        self._note(build, plan, outcome)
        return outcome.result

    def _send(self, build: Build, plan: StepPlan, task: StepTask) -> WorkerOutcome | StepFailure:
        from muxc.run.distributed.worker import run_task

        client = self.cluster.client
        future = client.submit(run_task, self._spec_future(build), task, key=f"muxc-{plan.kind}-{uuid.uuid4().hex}",
                               pure=False)
        try:
            return self._wait(build, future)
        finally:
            future.release()

    def _wait(self, build: Build, future: Any) -> WorkerOutcome | StepFailure:
        from distributed import CancelledError, KilledWorker

        while True:
            if build.cancel.is_set:
                self.cancel()
                future.cancel()
                why = "the workflow's timeout passed" if build.timed_out else "interrupted"
                return StepFailure("cancelled", f"{why} while it ran on the cluster; its task was cancelled")
            try:
                return future.result(timeout=POLL_S)
            except TimeoutError:
                continue
            except KilledWorker as error:
                return StepFailure("worker", f"every worker that ran it died ({error}); it was not retried again",
                                   hint="the step may exhaust a worker's memory; see the workers' logs")
            except CancelledError:
                return self._lost_or(StepFailure("worker", "its task was cancelled on the cluster"))
            except Exception as error:
                return self._lost_or(StepFailure("worker", f"the cluster could not run it: {type(error).__name__}: "
                                                           f"{error}"))

    def _lost_or(self, failure: StepFailure) -> StepFailure:
        """The failure, or, when the scheduler is gone, that (and every later step fails at once)."""
        if self.cluster.client.status == "running":  # "connecting": it lost the scheduler and is retrying
            return failure
        with self._lock:
            self._lost = (f"the connection to the Dask scheduler at {self.cluster.address} was lost "
                          f"({self.cluster.client.status})")
        return StepFailure("worker", self._lost, hint="build again once the scheduler is back: finished steps "
                           "are kept")

    def _spec_future(self, build: Build) -> Any:
        """The build's spec, on every worker once (not sent again with each step)."""
        with self._lock:
            if self._scattered is None:
                spec = build_spec(build, self.build_id, self._env_names)
                self._scattered = self.cluster.client.scatter(spec, broadcast=True, hash=False)
            return self._scattered

    def _tree(self, build: Build, plan: StepPlan) -> str | None:
        """The coordinator's project digest when the step reads the project, which the worker
        must match; None when it reads no file of it."""
        if not _reads_tree(build, plan):
            return None
        return build.fingerprints.project().digest

    def _note(self, build: Build, plan: StepPlan, outcome: WorkerOutcome) -> None:
        with self._lock:
            self.where.setdefault(plan.name, set()).add(outcome.where)
        if build.llm_log is not None:
            for call in outcome.calls:
                build.llm_log.log_call(call)

    def where_of(self, name: str) -> str | None:
        with self._lock:
            found = self.where.get(name)
        return ", ".join(sorted(found)) if found else None

    def cancel(self) -> None:
        """Tell the workers to stop this build's commands (idempotent)."""
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(_event_name(self.build_id), client=self.cluster.client).set()

    def close(self) -> None:
        if self._lost is None:
            self.cancel()  # also the workers' signal to forget the build
        self.cluster.close(quick=self._lost is not None)


def _event_name(build_id: str) -> str:
    from muxc.run.distributed.worker import cancel_event_name

    return cancel_event_name(build_id)


def _reads_tree(build: Build, plan: StepPlan) -> bool:
    if plan.kind == "shell":
        return not (plan.declares_inputs and not plan.step.inputs)
    from muxc.backends.identity import reads_project
    from muxc.run.steps.query import resolved_role

    try:
        role = resolved_role(build, plan)
        return any(reads_project(build.config.backends[name]) for name in role.backends)
    except Exception:  # the worker reports a role that cannot be resolved, as a local build would
        return False


def _calls_and_cost(outcome: WorkerOutcome | StepFailure) -> tuple[int, float | None]:
    if isinstance(outcome, StepFailure):
        return 0, None
    result = outcome.result
    if isinstance(result, Produced):
        return result.calls, result.cost_usd
    return len(outcome.calls), sum(call.cost_usd or 0.0 for call in outcome.calls) or None


def build_spec(build: Build, build_id: str, env_names: list[str]) -> BuildSpec:
    team = build.team
    spec_team = None
    if team is not None:
        spec_team = TeamSpec(team.name, team.description, list(team.detect),
                             team.verify if isinstance(team.verify, str) else None, list(team.roles))
    printer = build.fingerprints
    saved_copies = getattr(printer, "_orig_of", ())  # the saved files: their .orig copies are left out too
    exclude = tuple(sorted(name for name in printer.exclude if f"{name}.orig" in saved_copies))
    others = tuple(sorted(printer.exclude.difference(exclude)))
    return BuildSpec(build_id, muxc.__version__, build.plan.workflow, build.plan.file, str(build.root), build.config,
                     {name: build.environ[name] for name in env_names if name in build.environ}, spec_team,
                     exclude, others)
