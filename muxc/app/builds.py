"""Prepare and run a build: the runtime half of ``muxc.app.api``.

``prepare`` does everything that can fail before a step runs — find the workflow, check it,
compile the plan with the arguments, pick the team and ecosystem, open the state — and returns
diagnostics instead of a build when something is wrong (a workflow that fails ``muxc check`` is
never run). ``execute`` runs it under the project's build lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muxc.app.api import (
    CheckReport,
    Project,
    check_file,
    check_reachable_env,
    load_config,
    resolve_workflow,
    unknown_workflow,
)
from muxc.diagnostics.span import Span
from muxc.run.context import Build, BuildOptions
from muxc.run.events import Reporter, SilentReporter


@dataclass
class Prepared(CheckReport):
    build: Build | None = None
    workflow_path: Path | None = None
    usage_error: bool = False  # the command line was wrong (exit 2), not the workflow
    usage: str | None = None  # what was wrong with it, when that is not a diagnostic in a file
    failure: str | None = None  # it cannot run here (a cluster that cannot be used): exit 1 with this message
    remote_warnings: list[str] = dataclasses.field(default_factory=list)  # said once each (an unreachable remote)


def prepare(project: Project, workflow: str, args: Mapping[str, str], options: BuildOptions,
            reporter: Reporter | None = None) -> Prepared:
    report = Prepared()
    path = resolve_workflow(project, workflow)
    if path is None:  # no file to point into: a usage message, not a code frame
        report.usage = unknown_workflow(project, workflow)
        report.usage_error = True
        return report
    report.workflow_path = path
    compiled = _cached_plan(project, path, args, options) or _compile(project, path, args, options, report)
    if compiled is None:
        return report
    plan, config = compiled
    config = _routed(config, options, report)
    if config is None:
        return report
    report.build = _assemble(project, plan, config, options, reporter or SilentReporter(), report)
    return report


def _routed(config: Any, options: BuildOptions, report: Prepared) -> Any:
    """The config with ``-m NAME`` (every role) and ``--role ROLE=NAME`` applied for this run: the
    roles answer through NAME, a backend or a role, and no team override stands in the way. Cache
    keys name the backends a role resolves to, so they follow. None (a usage error) for a NAME or
    ROLE that does not exist."""
    if options.model is None and not options.routes:
        return config
    import msgspec

    from muxc.config.schema import RoleConfig
    from muxc.lang.validate import did_you_mean

    known = sorted({*config.roles, *(role for team in config.teams.values() for role in team.roles)})

    def target(name: str, flag: str) -> Any:
        if name in config.backends:
            return RoleConfig(name=name, backends=[name])
        if name in config.roles:
            return config.roles[name]
        hint = did_you_mean(name, [*config.backends, *config.roles]) or "see `muxc backends` and `muxc roles`"
        report.usage = f"{flag}: no backend or role named {name!r}; {hint}"
        return None

    changes: dict[str, Any] = {}
    if options.model is not None:
        changes = dict.fromkeys(known, target(options.model, "--model"))
    for role, name in options.routes.items():
        if role not in known:
            report.usage = f"--role {role}={name}: no role named {role!r}; " + (
                did_you_mean(role, known) or "see `muxc roles`")
            break
        changes[role] = target(name, f"--role {role}={name}")
    if report.usage is not None:
        report.usage_error = True
        return None
    roles = {**config.roles, **{role: msgspec.structs.replace(to, name=role) for role, to in changes.items()}}
    teams = {name: msgspec.structs.replace(team, roles={r: o for r, o in team.roles.items() if r not in changes})
             for name, team in config.teams.items()}
    return msgspec.structs.replace(config, roles=roles, teams=teams)


def _plan_cache(project: Project, path: Path, args: Mapping[str, str], options: BuildOptions
                ) -> tuple[str | None, Path, Path]:
    from muxc.base.userdirs import config_files, user_data_dir
    from muxc.store import plancache

    files = config_files(project.root, project.environ) + ([project.config_path] if project.config_path else [])
    key = plancache.cache_key(path, files, args, options.team, project.environ)
    return key, project.root / ".muxc" / "state" / "plans", user_data_dir(project.environ)


def _cached_plan(project: Project, path: Path, args: Mapping[str, str], options: BuildOptions) -> Any:
    """(plan, config) from an earlier build of the same unchanged workflow and config, or None.

    Only the plan and the workflow's own roles are cached: the config is read again (it is small),
    so a literal API key in a config file never reaches the state directory."""
    from muxc.config.build import with_workflow_roles
    from muxc.store import plancache

    key, directory, data_dir = _plan_cache(project, path, args, options)
    cached = plancache.load(directory, key, data_dir) if key else None
    if cached is None:
        return None
    plan, roles = cached
    report = Prepared()
    config = with_workflow_roles(load_config(project, report), roles)
    check_reachable_env(config, [step.step for step in plan.steps], project.environ, report.sink)
    return None if report.errors else (plan, config)  # with errors: compiled again, to report them


def _compile(project: Project, path: Path, args: Mapping[str, str], options: BuildOptions,
             report: Prepared) -> Any:
    from muxc.compile.lower import compile_plan
    from muxc.store import plancache

    config = load_config(project, report)
    checked = check_file(path, config, report, project.environ).checked
    if checked is None or report.errors:
        return None
    plan = compile_plan(checked, args, report.sink)
    if plan is None:
        return None
    key, directory, data_dir = _plan_cache(project, path, args, options)
    if key:
        plancache.save(directory, key, data_dir, (plan, checked.workflow.roles))
    return plan, checked.config


def _assemble(project: Project, plan: Any, config: Any, options: BuildOptions, reporter: Reporter,
              report: Prepared) -> Build | None:
    jobs_given = options.jobs > 0  # without -j, a cluster build sizes it to the cluster (app.remote)
    if options.jobs <= 0:
        options = dataclasses.replace(options, jobs=config.defaults.jobs or 4)
    from muxc.app.teams import UnknownTeam, select_team
    from muxc.base.userdirs import user_data_dir
    from muxc.run.fingerprint import Fingerprinter
    from muxc.store.results import open_store
    from muxc.store.statedir import state_dir

    try:
        team = select_team(config, options.team, Path.cwd(), project.root)
    except UnknownTeam as error:
        report.sink.report("unknown-team", str(error), plan.file, Span(0, 0), "",
                           help="see `muxc teams` for the configured teams")
        report.usage_error = True
        return None
    if not _answers_known(plan, options, report):
        return None
    directory = state_dir(project.root)
    store, damaged = open_store(directory / "cache.db")
    build = Build(plan=plan, root=project.root, state_dir=directory, environ=project.environ, config=config,
                  store=store, fingerprints=Fingerprinter(project.root),
                  reporter=reporter, options=options, data_dir=user_data_dir(project.environ))
    if damaged:
        reporter.note(damaged)
    build.latest = build.store.latest_all(plan.workflow)
    build.saved = build.store.saved_all()
    _set_team(build, team)
    _set_ecosystem(build, project)
    _set_targets(build, report)
    saved = {*build.saved, *(_relative(project.root, p) for p in build.targets.values())}
    build.fingerprints = Fingerprinter(project.root, directory / "stat-cache", exclude=saved,
                                       exclude_files={_relative(project.root, Path(plan.file).resolve())})
    _preflight(build, team.name if team else None, report)
    return None if report.errors else _beyond_one_machine(build, report, jobs_given)


def _beyond_one_machine(build: Build, report: Prepared, jobs_given: bool) -> Build | None:
    """The shared cache and the cluster, when the options or the config ask for them (app.remote)."""
    if not (build.options.remote or build.options.executor or build.config.cache.remote
            or build.config.executor.type != "local"):
        return build
    from muxc.app.remote import NotAttached, attach

    def warn(message: str) -> None:
        report.remote_warnings.append(message)
        build.reporter.note(message)

    try:
        return attach(build, warn, jobs_given)
    except NotAttached as error:
        build.store.close()
        if error.usage:
            report.usage, report.usage_error = str(error), True
        else:
            report.failure = str(error)
        return None


def _preflight(build: Build, team: str | None, report: Prepared) -> None:
    """Stop before the first call when a step that would run asks backends that cannot answer.

    Steps the cache serves ask nobody: when some query step's backends cannot answer, a dry run
    decides which steps would run (after the up-to-date decision, as the build will), and only
    those are judged. The dry run costs nothing in the usual case, where every backend can answer."""
    options = build.options
    if options.dry_run or options.replay or options.answers_elsewhere:  # these make no calls
        return
    if not any(plan.kind == "query" for plan in build.plan.steps):  # nothing asks a backend: spare loading them
        return
    from muxc.app.preflight import report_unanswerable
    from muxc.diagnostics.sink import DiagnosticSink

    def judge(plans: list[Any], sink: DiagnosticSink) -> None:
        report_unanswerable(build.config, [(plan.step, plan.file, plan.span) for plan in plans], team, build.root,
                            build.environ, sink)

    scratch = DiagnosticSink()
    judge(build.plan.steps, scratch)
    if not len(scratch):
        return
    running = would_run(build)
    judge([plan for plan in build.plan.steps if plan.name in running], report.sink)
    if report.errors and build.plan.file not in report.sources:  # a cached plan: the frame needs the text
        from muxc.app.sources import read_source

        read_source(Path(build.plan.file), report.sink, report.sources)


def would_run(build: Build) -> set[str]:
    """The steps a build would run (or might: a failure or an unreached step counts), found by a
    dry run of a copy of ``build``: the cache's answers, nothing called, nothing written."""
    import threading

    from muxc.base.cancel import Cancel
    from muxc.run.context import CACHED, SKIPPED
    from muxc.run.engine import run_build

    dry = dataclasses.replace(build, options=dataclasses.replace(build.options, dry_run=True, keep_going=True),
                              reporter=SilentReporter(), states={}, memo={}, cancel=Cancel(), lock=threading.Lock(),
                              seen_trees=set(), answers={}, backends=None, llm_log=None, calls=0,
                              calls_in_flight=0, cost_usd=0.0, timed_out=False)
    run_build(dry)
    return {name for name, state in dry.states.items() if state.status not in (CACHED, SKIPPED)}


def _answers_known(plan: Any, options: BuildOptions, report: Prepared) -> bool:
    """Every ``--input NAME=VALUE`` names an input step: a typo must not fall back to a default unseen."""
    from muxc.lang.validate import did_you_mean

    inputs = [step.name for step in plan.steps if step.kind == "input"]
    unknown = [name for name in options.answers if name not in inputs]
    for name in unknown:
        report.sink.report("unknown-arg", f"`{plan.workflow}` has no input step `{name}` (given as --input {name}=...)",
                           plan.file, Span(0, 0), "", help=did_you_mean(name, inputs) or
                           (f"its input steps are: {', '.join(inputs)}" if inputs else "it has no input steps"))
    return not unknown


def _set_team(build: Build, team: Any) -> None:
    if team is None:
        return
    from muxc.run.templating import TeamView

    build.team = TeamView(team.name, team.description, team.detect, team.verify, list(team.roles))


def _set_ecosystem(build: Build, project: Project) -> None:
    from muxc.app.ecosystems import detect_ecosystem

    home = Path(project.environ.get("HOME", str(Path.home())))
    found = detect_ecosystem(project.root, build.config.ecosystems, home) if build.config.ecosystems else None
    if found is not None:
        build.ecosystem = found.as_template_value()
        build.ecosystem_name = found.name


def _set_targets(build: Build, report: Prepared) -> None:
    """Render each ``save`` path now: doit needs its targets before anything runs.

    A rendered path that breaks ``muxc.confine``'s rule (``outdir=../x``) is no target: the step
    runs, its result is cached, and it fails without writing anything (``refused_saves``)."""
    from muxc.base.confine import resolve_inside
    from muxc.run.scope import template_context
    from muxc.run.templating import RenderError, render

    for plan in build.plan.steps:
        if plan.step.save is None:
            continue
        try:
            relative = render(plan.step.save.value, template_context(build, plan)).strip()
        except RenderError as error:
            report.sink.report("bad-save-path", f"the save path of `{plan.name}` cannot be rendered before the "
                               f"build: {error}", plan.file, plan.step.save.span, "",
                               help="a save path may use args, env, workflow and team, not step outputs")
            continue
        resolved = resolve_inside(build.root, relative, plan.step.allow_tool_files)
        if isinstance(resolved, str):
            build.refused_saves[plan.name] = f"its save path {resolved}"
            continue
        path = resolved.absolute
        other = next((name for name, known in build.targets.items() if known == path), None)
        if other is not None:  # doit would refuse the whole build with its own task names
            report.sink.report("bad-save-path", f"`{plan.name}` saves to {relative}, and so does `{other}`",
                               plan.file, plan.step.save.span, "the same file",
                               help="give each step its own file: one would overwrite the other")
            continue
        build.targets[plan.name] = path


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@dataclass
class Executed:
    code: int
    build: Build


def execute(build: Build, lock: bool = True) -> Executed:
    """Run the build under the project's lock. Call ``close`` when done reading its results.

    Only a dry run may go without the lock (``lock=False``, what ``muxc status`` does): it writes
    nothing a build reads, so it can look while another build runs."""
    import contextlib

    from muxc.run.engine import run_build
    from muxc.store.statedir import BuildLock

    assert lock or build.options.dry_run, "only a dry run may run without the build lock"
    _open_llm_log(build)
    try:
        with BuildLock(build.state_dir) if lock else contextlib.nullcontext():
            _recover_apply(build)
            code = run_build(build, on_forced_exit=lambda: build.reporter.build_finished(build))
            _retract_unproduced(build)
            _record_run(build, code)
    except BaseException:
        close(build)
        raise
    build.reporter.build_finished(build)
    return Executed(code, build)


def _recover_apply(build: Build) -> None:
    """Undo the unverified edits of an apply step a killed build left (see run.applyjournal)."""
    from muxc.store.statedir import APPLY_JOURNAL

    if not (build.state_dir / APPLY_JOURNAL).exists():  # the usual case: no need to load the edit engine
        return
    from muxc.run import applyjournal

    journal = applyjournal.pending(build.state_dir)
    if journal is None:
        return
    if build.options.dry_run:  # a dry run writes nothing
        build.reporter.note(f"a build was killed while step `{journal.step}` applied edits; "
                            "the next build puts its files back before it starts")
        return
    build.reporter.note(applyjournal.recover(build.state_dir, journal, build.root))


# Failures that say nothing about the step's result: its saved file stays for the next build.
_KEEPS_SAVED_FILE = frozenset({"cancelled", "cache-miss", "budget", "save"})


def _retract_unproduced(build: Build) -> None:
    """Saved files of steps that produced no result in this build go, as a clean build has none:
    skipped by `if`, failed, or not reached. An interrupted build, a replay and a dry run keep
    them (the step was not really decided)."""
    from muxc.run.context import FAILED, NOT_REACHED, SKIPPED
    from muxc.run.targets import retract

    if build.options.dry_run or build.options.replay:
        return
    for name in build.targets:
        state = build.state(name)
        why = {SKIPPED: "its step was skipped (`if` is false)", FAILED: "its step failed",
               NOT_REACHED: "its step was not reached"}.get(state.status)
        kept = build.cancel.is_set or (state.failure is not None and state.failure.kind in _KEEPS_SAVED_FILE)
        if why is None or kept:
            continue
        try:
            note = retract(build, build.step(name), why)
        except OSError as error:
            note = f"cannot remove the saved file of `{name}` ({why}): {error.strerror or error}"
        if note is not None:
            build.reporter.note(note)


ERROR_CHARS = 4000


def _record_run(build: Build, code: int) -> None:
    """Record the build in its ecosystem's ``workflow_runs`` (projects with an ecosystem or a store step)."""
    if build.data_dir is None or build.options.dry_run:
        return
    if build.ecosystem_name is None and not any(plan.kind == "store" for plan in build.plan.steps):
        return
    import time

    from muxc.run.context import FAILED
    from muxc.run.steps.store import ecosystem_of, project_of
    from muxc.store.memory import MemoryDB

    failed = next((plan.name for plan in build.plan.steps if build.state(plan.name).status == FAILED), None)
    failure = build.state(failed).failure if failed is not None else None
    error = failure.message[:ERROR_CHARS] if failure is not None else "interrupted" if code == 130 else None
    duration_ms = int((time.time() - build.started) * 1000)
    try:
        with MemoryDB.open(build.data_dir, ecosystem_of(build)) as db:
            db.record_run(build.plan.workflow, project_of(build), code == 0, duration_ms, failed, error, None)
    except Exception as problem:  # recording must never fail the build
        build.reporter.note(f"this build could not be recorded in the memory database: {problem}")


def _open_llm_log(build: Build) -> None:
    """The log of LLM calls, for a build with query steps (no other kind calls a model)."""
    if build.data_dir is None or not any(plan.kind == "query" for plan in build.plan.steps):
        return
    from muxc.store.llm_log import LlmLog

    try:
        build.llm_log = LlmLog(build.data_dir / "llm-log.db")
    except Exception as error:  # the log must never stop a build
        build.reporter.note(f"the LLM log is unavailable: {error}")


def close(build: Build) -> None:
    """Save what the build learned and release its files and clients."""
    if build.executor is not None or getattr(build.store, "remote", None) is not None:
        from muxc.app.remote import close as beyond_close  # the cluster, the remote's index

        beyond_close(build)
    build.fingerprints.save()
    if build.backends is not None:
        build.backends.close()
    if build.llm_log is not None:
        build.llm_log.close()
    build.store.close()


def unknown_refresh(build: object, refresh: tuple[str, ...]) -> str | None:
    """A message for a --refresh that names no step (a typo would otherwise refresh nothing)."""
    from muxc.lang.validate import did_you_mean

    names = [plan.name for plan in build.plan.steps]
    for name in refresh:
        if name not in names:
            hint = did_you_mean(name, names) or "its steps are: " + ", ".join(names)
            return f"--refresh {name}: `{build.plan.workflow}` has no step `{name}`; {hint}"
    return None
