"""The no-op fast path: decide "nothing to do" from the last build's manifest, without the engine.

``muxc build``, ``build --replay`` and ``muxc status`` ask ``noop_build`` / ``noop_status`` first.
They answer from ``store.manifest`` when everything the last successful build of the same
invocation read is unchanged, and print exactly what the full path would: the same progress
events, summary, final output and ``--output json``. Otherwise they return None and the command
takes the full path (which writes a fresh manifest through ``remember``). Nothing here imports
doit, Jinja, sqlite-utils or httpx.

Unchanged means, each checked with the rule the full path uses (any doubt is a change):
- the clock is not behind the manifest, no build holds the lock, no apply is left to undo;
- the workflow argument resolves to the same file; the plan cache's key (workflow text, config
  files and the variables they reference, args, team, directory, muxc version) is the same;
- the environment variables the steps' templates read have the same values; the files team
  detection looks for came and went nowhere;
- every file tree a step's key read (its ``inputs`` globs, or the project's state with git's HEAD
  and index) has the same digest, by ``run.fingerprint.Fingerprinter`` and its stat cache (with
  its racy-timestamp rule: a file changed within ``RACY_NS`` of being hashed is hashed again);
- each saved file holds what muxc wrote (a skipped step's is absent);
- the cache still holds every result, the workflow's ``latest`` rows and the ``saved`` table are
  those the build left.
Only plans whose outcome is a function of those are recorded: shell and query steps, none
volatile, reading memory, with a cache lifetime, or in an ecosystem (whose builds are logged).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from muxc.run.context import CACHED, RAN, SKIPPED, BuildOptions, StepState
from muxc.store import manifest as manifests

__all__ = ["BuildOptions", "forget", "noop_build", "noop_status", "remember"]

SWITCH = "MUXC_FAST_PATH"  # "0": always take the full path (benchmarks compare the two)


class Invocation(msgspec.Struct, frozen=True):
    """What names a manifest: the same command line in the same place finds it again."""

    workflow: str
    args: dict[str, str]
    team: str | None
    model: str | None
    routes: dict[str, str]
    root: str
    cwd: str


def invocation(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions) -> Invocation:
    return Invocation(workflow, dict(args), options.team, options.model, dict(options.routes), str(project.root),
                      os.getcwd())


def _manifest_file(project: Any, call: Invocation) -> Path:
    return manifests.manifest_path(_state(project), manifests.digest_of(call))


def _state(project: Any) -> Path:
    return Path(project.root) / ".muxc" / "state"


# --- the read side --------------------------------------------------------------------------


class FastStep(msgspec.Struct, frozen=True):
    name: str
    kind: str
    deps: tuple[str, ...] = ()  # what the live view asks of a waiting step (none waits here)


@dataclass
class FastPlan:
    workflow: str
    final: str | None
    steps: list[FastStep]


@dataclass
class FastBuild:
    """What ``ui.summary`` and the progress display read of a build, served from a manifest."""

    plan: FastPlan
    states: dict[str, StepState]
    targets: dict[str, Path]
    store: manifests.RecordReader
    options: BuildOptions
    started: float = field(default_factory=time.time)
    cost_usd: float = 0.0  # nothing was asked
    calls: int = 0

    def state(self, name: str) -> StepState:
        return self.states[name]

    def close(self) -> None:
        self.store.close()


def noop_build(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions,
               reporter: Any) -> FastBuild | None:
    """The build, when nothing changed since the last one (reported through ``reporter``); else None."""
    return _guarded(_noop_build, project, workflow, args, options, reporter)


def noop_status(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions
                ) -> list[dict[str, Any]] | None:
    """``muxc status``'s rows when every step is up to date; else None (also while a build runs)."""
    return _guarded(_noop_status, project, workflow, args, options)


def _guarded(decide: Any, *args: Any) -> Any:
    """A surprise in the fast path is a doubt like any other: the full path answers (and says what
    went wrong, if anything did). The traceback goes to the --debug log."""
    try:
        return decide(*args)
    except Exception:
        import logging

        logging.getLogger("muxc").debug("the no-op fast path stepped aside", exc_info=True)
        return None


def _noop_build(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions,
                reporter: Any) -> FastBuild | None:
    started = time.time()  # as the full path's clock starts: the summary's seconds compare
    if not _may_skip(options, project.environ):
        return None
    from muxc.store.statedir import BuildLock

    found = _load(project, workflow, args, options)
    if found is None:
        return None
    lock = BuildLock(_state(project))
    try:
        lock.acquire()
    except Exception:  # held, or a state entry of the wrong kind: the full path says which
        return None
    try:
        build = _decide(project, workflow, args, options, found, save_stat_cache=True)
    finally:
        lock.release()
    if build is not None:
        build.started = started
        _report(build, found, reporter)
    return build


def _noop_status(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions
                 ) -> list[dict[str, Any]] | None:
    if not _may_skip(options, project.environ):
        return None
    from muxc.store.statedir import lock_holder

    found = _load(project, workflow, args, options)
    if found is None or lock_holder(_state(project)) is not None:
        return None
    build = _decide(project, workflow, args, options, found, save_stat_cache=False)
    if build is None:
        return None
    build.close()
    return [{"step": entry.name, "status": "up to date" if entry.status == CACHED else "skipped (its `if` is false)",
             "reason": "", "details": []} for entry in found.steps]


def _may_skip(options: BuildOptions, environ: Mapping[str, str]) -> bool:
    """Options under which a build with nothing changed does nothing (and prints the same)."""
    if environ.get(SWITCH, "1") == "0" or _elsewhere(options):
        return False
    return not (options.force or options.refresh or options.answers)


def _elsewhere(options: BuildOptions) -> bool:
    """Answers, a cache or workers beyond this machine are in play (``muxc test``, issue 12's remote
    cache and cluster): what those say is not in a manifest."""
    return any(getattr(options, name, None) for name in ("answers_elsewhere", "remote", "executor"))


def _load(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions) -> manifests.Manifest | None:
    found = manifests.load(_manifest_file(project, invocation(project, workflow, args, options)))
    if found is None or time.time() < found.written_at:  # a clock that went back: stat times mean little
        return None
    return found


def _decide(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions,
            found: manifests.Manifest, save_stat_cache: bool) -> FastBuild | None:
    from muxc.store.statedir import PLANS, state_dir

    state = state_dir(Path(project.root))  # every entry of the right kind, as the full path settles them
    if _leftover_apply(state) or not _same_inputs(project, workflow, args, options, found):
        return None
    if not (state / PLANS / f"{found.plan_key}.plan").is_file():  # the full path would compile and cache it
        return None
    conn = manifests.connect(state / "cache.db")
    if conn is None:
        return None
    try:
        same = _same_cache(conn, found) and _same_targets(found) and _same_trees(project, found, save_stat_cache)
    except Exception:  # a database another muxc changed, a file that vanished meanwhile: doubt
        same = False
    if not same:
        conn.close()
        return None
    return _fast_build(found, manifests.RecordReader(conn), options)


def _leftover_apply(state: Path) -> bool:
    from muxc.store.statedir import APPLY_JOURNAL

    return os.path.lexists(state / APPLY_JOURNAL)


def _same_inputs(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions,
                 found: manifests.Manifest) -> bool:
    from muxc.app.project import resolve_workflow

    path = resolve_workflow(project, workflow)
    if path is None or str(path) != found.workflow_file:
        return False
    if plan_key(project, path, args, options) != found.plan_key:
        return False
    if env_digest(project.environ, found.env_names) != found.env_digest:
        return False
    return all(os.path.exists(probe) == existed for probe, existed in found.probes.items())


def plan_key(project: Any, path: Path, args: Mapping[str, str], options: BuildOptions) -> str | None:
    """The plan cache's key, over the files ``app.builds`` gives it."""
    from muxc.base.userdirs import config_files
    from muxc.store import plancache

    files = config_files(project.root, project.environ) + ([project.config_path] if project.config_path else [])
    return plancache.cache_key(path, files, args, options.team, project.environ)


def env_digest(environ: Mapping[str, str], names: list[str]) -> str:
    values = dict(environ) if "*" in names else {name: environ.get(name) for name in names}
    return manifests.digest_of(sorted(values.items(), key=lambda item: item[0]))


def _same_cache(conn: Any, found: manifests.Manifest) -> bool:
    if manifests.latest_digest(conn, found.workflow) != found.latest_digest:
        return False
    if manifests.saved_digest(conn) != found.saved_digest:
        return False
    keys = [entry.key for entry in found.steps if entry.key]
    keys += [key for entry in found.steps if entry.record is not None for key in entry.record.items]
    return manifests.all_servable(conn, keys)


def _same_targets(found: manifests.Manifest) -> bool:
    from muxc.run.targets import file_digest

    for entry in found.steps:
        if entry.target is None:
            continue
        try:
            data = Path(entry.target).read_bytes()
        except FileNotFoundError:
            data = None
        if (None if data is None else file_digest(data)) != entry.target_digest:
            return False
    return True


def _same_trees(project: Any, found: manifests.Manifest, save_stat_cache: bool) -> bool:
    if not found.trees:
        return True
    from muxc.run.fingerprint import Fingerprinter

    prints = Fingerprinter(project.root, _state(project) / "stat-cache", exclude=found.exclude,
                           exclude_files=found.exclude_files)
    same = all((prints.project() if tree.patterns is None else prints.inputs(tree.patterns)).digest == tree.digest
               for tree in found.trees)
    if save_stat_cache and prints.rehashed:  # what it learned spares the next build the reading
        prints.save()
    return same


def _fast_build(found: manifests.Manifest, reader: manifests.RecordReader, options: BuildOptions) -> FastBuild:
    states = {entry.name: StepState(status=entry.status, key=entry.key, output_digest=entry.output_digest,
                                    reason=entry.reason, record=entry.record) for entry in found.steps}
    targets = {entry.name: Path(entry.target) for entry in found.steps if entry.target is not None}
    plan = FastPlan(found.workflow, found.final, [FastStep(entry.name, entry.kind) for entry in found.steps])
    return FastBuild(plan, states, targets, reader, options)


def _report(build: FastBuild, found: manifests.Manifest, reporter: Any) -> None:
    """The progress events the engine would send: started, then each step as doit meets it."""
    watch = getattr(reporter, "watch", None)  # as the CLI hands the full path's build to it
    if watch is not None:
        watch(build)
    reporter.build_started(found.workflow, [entry.name for entry in found.steps])
    for index in found.order:
        entry = found.steps[index]
        if entry.started:
            reporter.step_started(entry.name, entry.kind)
        reporter.step_finished(entry.name, build.state(entry.name))
    reporter.build_finished(build)


# --- the write side -------------------------------------------------------------------------


def forget(project: Any, workflow: str, args: Mapping[str, str], options: BuildOptions) -> None:
    """A full build starts: the manifest of this invocation no longer describes the state."""
    with contextlib.suppress(OSError):
        manifests.discard(_manifest_file(project, invocation(project, workflow, args, options)))


def remember(project: Any, workflow: str, args: Mapping[str, str], build: Any, code: int, workflow_file: Path
             ) -> None:
    """After a full build: record what it read, when a rebuild with nothing changed is a no-op."""
    path = _manifest_file(project, invocation(project, workflow, args, build.options))
    try:
        recorded = _manifest_of(project, build, code, workflow_file, args)
        if recorded is None:
            manifests.discard(path)
        else:
            manifests.save(path, recorded)
    except OSError:  # best effort: without a manifest the next build takes the full path
        pass


def _recordable(build: Any, code: int) -> bool:
    options = build.options
    if code != 0 or options.dry_run or build.cancel.is_set or build.timed_out or build.refused_saves:
        return False
    if _elsewhere(options) or _remote_config(build.config):
        return False
    if build.ecosystem_name or build.config.ecosystems:
        return False  # an ecosystem's builds are logged in its memory database, each one
    if any(state.status not in (RAN, CACHED, SKIPPED) for state in build.states.values()):
        return False
    return all(plan.kind in ("shell", "query") and not plan.volatile and not plan.reads_memory
               and plan.cache_ttl_ms is None for plan in build.plan.steps) and not _model_files(build.config)


def _remote_config(config: Any) -> bool:
    cache, executor = getattr(config, "cache", None), getattr(config, "executor", None)
    return bool(getattr(cache, "remote", None)) or getattr(executor, "type", "local") != "local"


def _model_files(config: Any) -> bool:
    """A local backend running a model file of the user's: its content is part of keys."""
    local = [backend for backend in config.backends.values() if backend.type == "local"]
    if not local:
        return False
    from muxc.backends.managed.local_models import builtin_spec  # not .local: it loads http.client and ssl

    return any(builtin_spec(backend) is None for backend in local)


def _manifest_of(project: Any, build: Any, code: int, workflow_file: Path, args: Mapping[str, str]
                 ) -> manifests.Manifest | None:
    from muxc import __version__

    if not _recordable(build, code):
        return None
    key = plan_key(project, workflow_file, args, build.options)
    steps = [_entry(build, plan) for plan in build.plan.steps]
    conn = manifests.connect(build.store.path)
    if key is None or None in steps or conn is None:
        return None
    try:
        latest, saved = manifests.latest_digest(conn, build.plan.workflow), manifests.saved_digest(conn)
    finally:
        conn.close()
    names = sorted({name for plan in build.plan.steps for name in plan.env_vars})
    prints = build.fingerprints
    return manifests.Manifest(
        format=manifests.MANIFEST_FORMAT, version=__version__, written_at=time.time(), workflow=build.plan.workflow,
        workflow_file=str(workflow_file), final=build.plan.final, plan_key=key,
        env_names=["*"] if "*" in names else names, env_digest=env_digest(build.environ, ["*"] if "*" in names
                                                                           else names),
        probes=_probes(build), exclude=sorted(prints.excluded_saves), exclude_files=sorted(prints.excluded_files),
        trees=[manifests.TreeEntry(list(patterns) if patterns is not None else None, digest)
               for patterns, digest in prints.computed()],
        latest_digest=latest, saved_digest=saved, steps=steps, order=_order(build))


def _order(build: Any) -> list[int]:
    from muxc.run.schedule import ordered_steps

    position = {plan.name: index for index, plan in enumerate(build.plan.steps)}
    return [position[plan.name] for plan in ordered_steps(build)]


def _probes(build: Any) -> dict[str, bool]:
    if build.options.team is not None:  # named on the command line: part of the invocation
        return {}
    from muxc.app.teams import probe_paths

    return {path: os.path.exists(path) for path in probe_paths(build.config, Path.cwd(), build.root)}


def _entry(build: Any, plan: Any) -> manifests.StepEntry | None:
    """The step as a rebuild with nothing changed shows it; None when that cannot be told."""
    from muxc.run.targets import relative_path
    from muxc.run.uptodate import needs_executor

    state = build.state(plan.name)
    started = needs_executor(plan)
    record = state.record if started else None
    target = build.targets.get(plan.name)
    digest = None
    if state.status == SKIPPED:
        if target is not None and os.path.lexists(target):
            return None
        return manifests.StepEntry(plan.name, plan.kind, SKIPPED, reason=state.reason, started=started,
                                   record=record, target=str(target) if target else None)
    if target is not None:
        saved = build.saved.get(relative_path(build, target))
        served = state.record.key if state.record is not None else state.key
        if saved is None or saved.key != served:
            return None
        digest = saved.digest
    return manifests.StepEntry(plan.name, plan.kind, CACHED, key=state.key, output_digest=state.output_digest,
                               started=started, record=record, target=str(target) if target else None,
                               target_digest=digest)
