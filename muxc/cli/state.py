"""``muxc plan``, ``status``, ``graph``, ``clean`` and ``forget``: look at and manage the build state."""

from __future__ import annotations

from typing import Any

import click

from muxc.cli.beyond import remote_option
from muxc.cli.build import build_options, not_built, parse_assignments, render_diagnostics, route_options
from muxc.cli.common import echo_json, global_options, globals_of, workflow_path


def _prepared(ctx: click.Context, workflow: str, args: tuple[str, ...], model: str | None = None,
              role: tuple[str, ...] = ()) -> Any:
    from muxc.app.builds import SilentReporter, prepare

    g = globals_of(ctx)
    options = build_options({"force": False, "refresh": (), "keep_going": True, "replay": False, "dry_run": True,
                             "max_cost": None, "max_calls": None, "answers": {}, "model": model,
                             "routes": parse_assignments(ctx, role, "--role")}, g, None)
    prepared = prepare(g.project(), workflow, parse_assignments(ctx, args, "argument"), options, SilentReporter())
    if prepared.build is None:
        not_built(ctx, workflow, prepared)
    ctx.meta["muxc.remote_warnings"] = prepared.remote_warnings  # filled while it runs, said after
    return prepared.build



def _noop_status(ctx: click.Context, workflow: str, args: tuple[str, ...], model: str | None,
                 role: tuple[str, ...]) -> list[dict[str, Any]] | None:
    from muxc.app.fastpath import noop_status

    g = globals_of(ctx)
    options = build_options({"force": False, "refresh": (), "keep_going": True, "replay": False, "dry_run": True,
                             "max_cost": None, "max_calls": None, "answers": {}, "model": model,
                             "routes": parse_assignments(ctx, role, "--role")}, g, None)
    return noop_status(g.project(), workflow, parse_assignments(ctx, args, "argument"), options)


@click.command()
@click.argument("workflow")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@global_options
@click.pass_context
def plan(ctx: click.Context, workflow: str, args: tuple[str, ...]) -> None:
    """Print the plan: steps in build order, what each depends on, and its cache-key recipe.

    \b
    Example:
      muxc plan rust-audit outdir=reports/feb-audit
    """
    build = _prepared(ctx, workflow, args)
    try:
        if globals_of(ctx).output == "json":
            from muxc.app.state import plan_json

            echo_json(plan_json(build))
            return
        for step in build.plan.steps:
            click.echo(_plan_line(build, step))
    finally:
        build.store.close()


def _plan_line(build: Any, step: Any) -> str:
    from muxc.app.state import key_templates

    parts = [f"{step.name} ({step.kind}"]
    if step.step.role:
        parts[0] += f" @{step.step.role}"
    parts[0] += ")"
    if step.deps:
        parts.append("after " + ", ".join(step.deps))
    if step.name in build.targets:
        parts.append(f"saves {build.targets[step.name].relative_to(build.root)}")
    if step.cache_ttl_ms is not None:
        parts.append("never cached" if step.cache_ttl_ms == 0 else f"cached for {step.step.cache}")
    key = ["rendered " + ", ".join(key_templates(step))] if key_templates(step) else []
    key += ["project state" if step.reads_project else ""] + [f"{k}" for k in sorted(step.definition)]
    parts.append("key: " + ", ".join(k for k in key if k))
    return "  ".join(parts)


@click.command()
@click.argument("workflow")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 1 when some step would run (for scripts).")
@remote_option
@route_options
@global_options
@click.pass_context
def status(ctx: click.Context, workflow: str, args: tuple[str, ...], exit_code: bool, model: str | None,
           role: tuple[str, ...]) -> None:
    """Say, for each step, whether it is up to date, or why it would run — with the difference.

    Nothing runs. For a step that would run, the changed part of its key is shown: which
    files changed, the old and new model, or a short diff of the rendered prompt. It reads
    while a build runs (and says so): steps that build has not finished yet show as would run.

    \b
    Exit status: 0 the status is shown (with --exit-code: only when everything is up to date;
    1 when something would run), 1 the workflow has errors, 2 usage, 3 a file or directory
    muxc keeps its state in is unusable (the message names it).

    \b
    Examples:
      muxc status rust-audit
      muxc status rust-audit --exit-code || muxc build rust-audit
      muxc status rust-audit -m claude   what a build with -m claude would rerun
    """
    from muxc.app.state import Status, build_status

    rows = _noop_status(ctx, workflow, args, model, role)  # nothing changed: from the last build's manifest
    found = Status(rows, None) if rows is not None else build_status(_prepared(ctx, workflow, args, model, role))
    if found.running is not None:
        click.echo(f"note: a build is running in this project (pid {found.running}); this is the state so far",
                   err=True)
    for message in ctx.meta.get("muxc.remote_warnings", []):  # a shared cache that could not be used
        click.echo(f"warning: {message}", err=True)
    if globals_of(ctx).output == "json":
        echo_json(found.rows)
    else:
        for row in found.rows:
            click.echo(f"{row['step']}: {row['status']}" + (f" — {row['reason']}" if row["reason"] else ""))
            for detail in row["details"]:
                click.echo(detail)
    ctx.exit(1 if exit_code and not found.up_to_date else 0)


@click.command()
@click.argument("workflow")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@global_options
@click.pass_context
def graph(ctx: click.Context, workflow: str, fmt: str) -> None:
    """Print the dependency graph as Mermaid or Graphviz DOT.

    Solid edges: the step reads the other's result. Dashed: order only (depends_on).

    \b
    Examples:
      muxc graph rust-audit > audit.mmd
      muxc graph rust-audit --format dot | dot -Tsvg > audit.svg
    """
    from muxc.app.api import CheckReport, check_file, load_config

    g = globals_of(ctx)
    project = g.project()
    path = workflow_path(ctx, project, workflow)
    report = CheckReport()
    checked = check_file(path, load_config(project, report), report).checked
    if checked is None:
        render_diagnostics(report)
        ctx.exit(1)
    from muxc.ui.graph import as_data, dot, mermaid

    if g.output == "json":  # the graph as data (--format picks a text form)
        echo_json(as_data(checked))
        return
    click.echo(mermaid(checked) if fmt == "mermaid" else dot(checked), nl=False)


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def clean(ctx: click.Context, yes: bool) -> None:
    """Delete the project's build state (.muxc/state): every cached result, for every workflow.

    The next build runs everything again. Saved outputs (reports) are not touched, nor what a
    killed apply step left to put back (apply-journal, recovered/).
    """
    from muxc.app.errors import LockHeld
    from muxc.app.state import clean_state

    g = globals_of(ctx)
    root = g.project().root
    if not (root / ".muxc" / "state").exists():
        click.echo("nothing to clean", err=True)
        if g.output == "json":
            echo_json({"cleaned": None})
        return
    if not yes and not click.confirm(f"delete every cached result in {root / '.muxc' / 'state'}?", err=True,
                                     default=False):
        if g.output == "json":
            echo_json({"cleaned": None})
        ctx.exit(1)
    try:
        directory = clean_state(root)
    except LockHeld as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"cleaned {directory}", err=True)
    if g.output == "json":
        echo_json({"cleaned": str(directory)})


@click.command()
@click.argument("workflow")
@click.argument("steps", nargs=-1, required=True)
@global_options
@click.pass_context
def forget(ctx: click.Context, workflow: str, steps: tuple[str, ...]) -> None:
    """Forget every cached result of STEPS, so the next build runs them again.

    \b
    Example:
      muxc forget rust-audit summary
    """
    from muxc.app.api import unknown_steps, workflow_summary
    from muxc.app.errors import LockHeld
    from muxc.app.state import forget_steps

    project = globals_of(ctx).project()
    path = workflow_path(ctx, project, workflow)
    if (unknown := unknown_steps(path, workflow, steps)) is not None:
        raise click.UsageError(unknown, ctx)
    try:
        dropped, damaged = forget_steps(project.root, workflow_summary(path)[0] or workflow, steps)
        if damaged:
            click.echo(f"note: {damaged}", err=True)
        for step, count in dropped:
            click.echo(f"{step}: forgot {count} cached result{'s' if count != 1 else ''}", err=True)
        if globals_of(ctx).output == "json":
            echo_json({"workflow": workflow, "forgotten": dict(dropped)})
    except LockHeld as error:
        raise click.ClickException(str(error)) from None
