"""``muxc build`` (alias ``run``): check, compile and run a workflow, reusing everything cached."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from muxc.cli.beyond import beyond_options, beyond_values
from muxc.cli.common import echo_json, global_options, globals_of, use_color


def parse_assignments(ctx: click.Context, values: tuple[str, ...], what: str) -> dict[str, str]:
    """``key=value`` pairs, split on the first ``=``."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{what} {value!r} is not key=value", ctx)
        out[key] = rest
    return out


def build_options(options: dict, g: object, jobs: int | None) -> object:
    from muxc.app.fastpath import BuildOptions  # the light door: no engine before the fast path

    return BuildOptions(
        jobs=jobs or 0,  # 0: from [defaults] jobs, else 4
        force=options["force"],
        refresh=frozenset(options["refresh"]),
        keep_going=options["keep_going"],
        replay=options["replay"],
        dry_run=options["dry_run"],
        max_cost=options["max_cost"],
        max_calls=options["max_calls"],
        answers=options["answers"],
        interactive=sys.stdin.isatty() and g.output == "console",
        team=g.team,
        model=options.get("model"),
        routes=options.get("routes", {}),
        **beyond_values(),  # --remote, --no-push, --executor, --scheduler
    )


def route_options(command: object) -> object:
    """``-m/--model NAME`` and ``--role ROLE=NAME``: which backends answer, for this run."""
    command = click.option("--role", multiple=True, metavar="ROLE=NAME",
                           help="Answer ROLE through NAME (a backend or a role) for this run (repeatable).")(command)
    return click.option("-m", "--model", metavar="NAME",
                        help="Answer every query through NAME (a backend or a role) for this run.")(command)


def render_diagnostics(report: object, stream: object = None, fmt: str | None = None) -> None:
    from muxc.diagnostics.render import render

    stream = stream or sys.stderr
    fmt = fmt or ("full" if stream.isatty() else "concise")
    text = render(fmt, report.diagnostics, report.sources, color=use_color(stream))
    if text:
        click.echo(text, nl=False, err=True)


@click.command()
@click.argument("workflow")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), help="Steps run at once (default 4).")
@click.option("--force", is_flag=True, help="Rerun every step, ignoring the cache.")
@click.option("--refresh", multiple=True, metavar="STEP", help="Rerun this step (repeatable).")
@click.option("--keep-going", is_flag=True, help="After a failure, still run what does not depend on it.")
@click.option("--replay", is_flag=True, help="Serve every step from the cache; any miss fails (deterministic CI).")
@click.option("--dry-run", is_flag=True, help="Show what would run and why, with rendered prompts; run nothing.")
@click.option("--max-cost", type=float, metavar="USD", help="Start no LLM call once this much was spent.")
@click.option("--max-calls", type=int, metavar="N", help="Start no LLM call after N calls.")
@click.option("--input", "inputs", multiple=True, metavar="NAME=VALUE", help="Answer an input step.")
@click.option("-v", "--verbose", is_flag=True,
              help="On a pipe, list every step, the cached ones too (by default: those that ran or failed).")
@beyond_options
@route_options
@global_options
@click.pass_context
def build(ctx: click.Context, workflow: str, args: tuple[str, ...], jobs: int | None, force: bool,
          refresh: tuple[str, ...], keep_going: bool, replay: bool, dry_run: bool, max_cost: float | None,
          max_calls: int | None, inputs: tuple[str, ...], verbose: bool, model: str | None,
          role: tuple[str, ...]) -> None:
    """Build WORKFLOW (a path or a name), rerunning only what changed.

    WORKFLOW is looked up in .muxc/workflows, .llm-mux/workflows, the user's config dir, then the
    stdlib. Arguments are KEY=VALUE and are checked against the workflow's declarations.

    \b
    Exit status: 0 success, 1 a step failed or the workflow has errors, 2 usage, 3 a file or
    directory muxc keeps its state in is unusable (the message names it), 130 interrupted.

    Progress goes to stderr: on a terminal a live view (steps done, running, queued for a free
    job, cached and failed; elapsed time, tokens and cost so far; each running query's backend
    and tokens streamed), elsewhere a line per step that runs or fails (-v: every step), then
    a summary line. The final step's output goes to stdout.

    -m NAME answers every query through NAME (a backend or a role) for this run, --role
    ROLE=NAME one role; cache keys follow the backend that answers, so switching back reruns
    nothing.

    \b
    Examples:
      muxc build rust-audit outdir=reports/feb-audit
      muxc build review --dry-run
      muxc build fix file=src/lib.rs --refresh identify -j 8
      muxc build rust-audit -m claude --role synthesizer=openai
    """
    from muxc.app import fastpath
    from muxc.app.errors import LockHeld, StateError
    from muxc.ui.progress import reporter_for

    g = globals_of(ctx)
    options = build_options({"force": force, "refresh": refresh, "keep_going": keep_going, "replay": replay,
                             "dry_run": dry_run, "max_cost": max_cost, "max_calls": max_calls,
                             "answers": parse_assignments(ctx, inputs, "--input"), "model": model,
                             "routes": parse_assignments(ctx, role, "--role")}, g, jobs)
    reporter = reporter_for(g.output, verbose=verbose)
    project, arguments = g.project(), parse_assignments(ctx, args, "argument")
    # nothing changed since the last build: answered from its manifest, before the engine loads
    fast = None if dry_run else fastpath.noop_build(project, workflow, arguments, options, reporter)
    if fast is not None:
        try:
            ctx.exit(_report(g, fast, 0, dry_run))
        finally:
            fast.close()
    from muxc.app.builds import close, execute, prepare

    try:
        prepared = prepare(project, workflow, arguments, options, reporter)
    except StateError as error:
        _state_unusable(g, workflow, error)
    if prepared.build is None:
        not_built(ctx, workflow, prepared)
    from muxc.app.builds import unknown_refresh

    unknown = unknown_refresh(prepared.build, refresh)
    if unknown:
        close(prepared.build)
        raise click.UsageError(unknown, ctx)
    reporter.watch(prepared.build)
    if not dry_run:
        fastpath.forget(project, workflow, arguments, options)
    try:
        done = execute(prepared.build)
    except LockHeld as error:
        raise click.ClickException(str(error)) from None
    if not dry_run:
        fastpath.remember(project, workflow, arguments, done.build, done.code, prepared.workflow_path)
    if g.output != "console":  # the reporter showed them on the console: elsewhere stderr still says them
        for message in prepared.remote_warnings:
            click.echo(f"warning: {message}", err=True)
    try:
        code = _report(g, done.build, done.code, dry_run)
    finally:
        close(done.build)
    ctx.exit(code)


def _state_unusable(g: object, workflow: str, error: Exception) -> NoReturn:
    """With --output json a document still reaches stdout; the group prints the message, exit 3."""
    from muxc.cli.common import EXIT_UNUSABLE

    if g.output == "json":
        echo_json({"workflow": workflow, "success": False, "exit_code": EXIT_UNUSABLE, "steps": [], "output": None,
                   "diagnostics": [], "error": str(error)})
    raise error


def not_built(ctx: click.Context, workflow: str, prepared: object) -> NoReturn:
    """A build that never started: exit 2 for a usage problem (an unknown workflow or team), 1 for
    a workflow with errors. With ``--output json`` stdout still gets a document, with the reasons."""
    code = 2 if prepared.usage_error else 1
    if globals_of(ctx).output == "json":
        echo_json(_not_built(workflow, prepared, code))
    if prepared.usage is not None:
        raise click.UsageError(prepared.usage, ctx)
    if getattr(prepared, "failure", None) is not None:  # a cluster that cannot be used
        click.echo(f"Error: {prepared.failure}", err=True)
        ctx.exit(1)
    # a backend that cannot answer: its fix is in the help line, which the one-line form leaves out
    render_diagnostics(prepared, fmt="full" if any(d.code == "backend-unavailable" for d in prepared.diagnostics)
                       else None)
    ctx.exit(code)


def _not_built(workflow: str, report: object, code: int) -> dict:
    """The JSON document of a build that never started (the workflow has errors, or none was found)."""
    from muxc.diagnostics.render import as_json_object

    return {"workflow": workflow, "success": False, "exit_code": code, "steps": [], "output": None,
            "error": report.usage or getattr(report, "failure", None),
            "diagnostics": [as_json_object(d, report.sources) for d in report.diagnostics]}


def _report(g: object, build: object, code: int, dry_run: bool) -> int:
    from muxc.ui.summary import as_json, final_output, summary_line, summary_of

    if g.output == "json":
        echo_json(as_json(build, code))
        return 1 if code not in (0, 130) else code
    report_failures(build)
    if dry_run:
        from muxc.ui.dryrun import show_dry_run

        show_dry_run(build)
    elif code == 0 and (output := final_output(build)):  # an empty answer prints nothing, not a blank line
        click.echo(output.rstrip("\n"))
    if g.output == "console":
        click.echo(summary_line(summary_of(build)), err=True)
        if code == 130:
            click.echo("interrupted: finished steps are kept; build again to resume", err=True)
    return 1 if code not in (0, 130) else code


def report_failures(build: object) -> None:
    from muxc.ui.summary import failure_diagnostics

    failures = failure_diagnostics(build)
    if not failures:  # the usual case: nothing to render (and the renderer need not load)
        return
    from muxc.app.api import Report
    from muxc.app.sources import read_source

    report = Report()
    for diagnostic in failures:
        report.sink.add(diagnostic)
        file = diagnostic.labels[0].file
        if file not in report.sources:
            read_source(Path(file), report.sink, report.sources)
    # in full even in a pipe or a CI log: the command, its exit code and its stderr are notes,
    # which the one-line format leaves out, and they are what the reader needs
    render_diagnostics(report, fmt="full")


run = click.Command("run", callback=build.callback, params=build.params, help="Alias of `build` (llm-mux's name).")
