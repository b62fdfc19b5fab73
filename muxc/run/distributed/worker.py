"""What a Dask worker runs for one step: refuse what it must not run, else the kind's handler.

A worker refuses a step (the step fails with the reason; nothing runs) when:
- its muxc is not the coordinator's version (the same step could give another result);
- the project directory does not exist there, or its tree differs from the coordinator's
  (``StepTask.tree``): a shell step would run on other inputs than its key names.

Per worker process and build, one ``_WorkerBuild`` is kept (the backends' connections, the tree's
digest, the cancel flag): the first step of a build sets it up, the others reuse it. The build's
cancel event (``cancel_event_name``), set by the coordinator on Ctrl-C or at the end of the build,
kills the worker's running commands and drops the build.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import muxc
from muxc.backends.calls import CallRecord
from muxc.run.context import Build, StepState
from muxc.run.distributed.spec import BuildSpec, StepTask, WorkerOutcome
from muxc.run.outcome import StepFailure

KEPT_BUILDS = 8  # builds a worker process remembers (a long-lived cluster serves many)


def cancel_event_name(build_id: str) -> str:
    return f"muxc-cancel-{build_id}"


def muxc_version() -> str:
    """The worker's muxc (``Client.run`` asks every worker before the first step)."""
    return muxc.__version__


def run_task(spec: BuildSpec, task: StepTask) -> WorkerOutcome:
    where = _address()
    if spec.version != muxc.__version__:
        return WorkerOutcome(StepFailure("worker", f"refused by worker {where}: it runs muxc {muxc.__version__}, "
                                         f"the coordinator muxc {spec.version}",
                                         hint="install the same muxc on every worker"), where)
    here = _worker_build(spec)
    refused = here.refuses(task, where)
    if refused is not None:
        return WorkerOutcome(refused, where)
    from muxc.run.kinds import handler_for

    result = handler_for(task.plan.kind)(here.build, task.plan, task.rendered, {}, task.item, key=task.key,
                                         commands=task.commands)
    return WorkerOutcome(result, where, here.calls_of(task.key))


def _address() -> str:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not inside a worker (a direct call)
        return "local"


class _WorkerBuild:
    def __init__(self, spec: BuildSpec) -> None:
        self.spec = spec
        self._calls: list[CallRecord] = []
        self._lock = threading.Lock()
        self._tree: str | None = None
        self.build = _build_of(spec, self._log)
        _watch_cancel(spec.build_id, self.build)

    def _log(self, record: CallRecord) -> None:
        with self._lock:
            self._calls.append(record)

    def calls_of(self, key: str) -> list[CallRecord]:
        with self._lock:
            mine = [call for call in self._calls if call.cache_key == key]
            self._calls = [call for call in self._calls if call.cache_key != key]
        return mine

    def refuses(self, task: StepTask, where: str) -> StepFailure | None:
        if task.tree is None and task.plan.kind != "shell":  # a query of an HTTP backend needs no project
            return None
        root = Path(self.spec.root)
        if not root.is_dir():  # a shell step runs in the project, whatever it reads
            return StepFailure("worker", f"refused by worker {where}: the project directory {root} does not exist "
                               "there", hint="give workers the project at the same path: a shared filesystem, or "
                               "a checkout of the same commit")
        if task.tree is None:
            return None
        digest = self._tree_digest()
        if digest != task.tree:
            return StepFailure("worker", f"refused by worker {where}: its project tree at {root} differs from the "
                               "coordinator's, so the step would run on other inputs than its key names",
                               hint="bring the worker's checkout to the coordinator's state (same commit, same "
                               "uncommitted changes), or share the project directory")
        return None

    def _tree_digest(self) -> str:
        """The worker's project tree, fingerprinted once per build (as the coordinator does)."""
        with self._lock:
            if self._tree is None:
                from muxc.run.fingerprint import Fingerprinter

                printer = Fingerprinter(Path(self.spec.root), exclude=self.spec.exclude,
                                        exclude_files=self.spec.exclude_files)
                self._tree = printer.project().digest
            return self._tree


def _build_of(spec: BuildSpec, log: Any) -> Build:
    import msgspec

    from muxc.compile.plan import Plan
    from muxc.config.schema import Budget
    from muxc.run.events import SilentReporter

    config = msgspec.structs.replace(spec.config, budget=Budget())  # the coordinator keeps the budget
    environ = dict(spec.env)
    if "PATH" not in environ and "PATH" in os.environ:
        environ["PATH"] = os.environ["PATH"]
    build = Build(plan=Plan(spec.workflow, spec.file, {}, (), None), root=Path(spec.root),
                  state_dir=Path(tempfile.mkdtemp(prefix="muxc-worker-")), environ=environ, config=config,
                  store=None, fingerprints=None, reporter=SilentReporter())  # type: ignore[arg-type]
    build.llm_log = log
    build.states = defaultdict(StepState)  # steps arrive one by one; the handlers note progress in theirs
    if spec.team is not None:
        from muxc.run.templating import TeamView

        team = spec.team
        build.team = TeamView(team.name, team.description, team.detect, team.verify, team.roles)
    return build


_BUILDS: OrderedDict[str, _WorkerBuild] = OrderedDict()
_BUILDS_LOCK = threading.Lock()


def _worker_build(spec: BuildSpec) -> _WorkerBuild:
    with _BUILDS_LOCK:
        here = _BUILDS.get(spec.build_id)
        if here is None:
            here = _BUILDS[spec.build_id] = _WorkerBuild(spec)
            while len(_BUILDS) > KEPT_BUILDS:
                _, old = _BUILDS.popitem(last=False)
                _close(old)
        return here


def _drop(build_id: str) -> None:
    with _BUILDS_LOCK:
        here = _BUILDS.pop(build_id, None)
    if here is not None:
        _close(here)


def _close(here: _WorkerBuild) -> None:
    here.build.cancel.set()
    if here.build.backends is not None:
        here.build.backends.close()


def _watch_cancel(build_id: str, build: Build) -> None:
    """Set the worker's cancel flag (which kills its running commands) when the coordinator sets
    the build's event: on Ctrl-C, or when the build is over."""
    try:
        from distributed import Event, get_client

        event = Event(cancel_event_name(build_id), client=get_client())
    except ValueError:  # not inside a worker
        return

    def watch() -> None:
        while not build.cancel.is_set:
            try:
                if event.wait(timeout=2):
                    break
            except Exception:  # the scheduler is gone: nothing left to wait for
                break
        _drop(build_id)
        build.cancel.set()

    threading.Thread(target=watch, name=f"muxc-cancel-{build_id[:8]}", daemon=True).start()
