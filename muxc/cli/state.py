"""``muxc plan``, ``status``, ``graph``, ``clean`` and ``forget``: look at and manage the build state."""

from __future__ import annotations

import shutil
from typing import Any

import click

from muxc.cli.build import build_options, parse_assignments, render_diagnostics
from muxc.cli.common import echo_json, global_options, globals_of


def _prepared(ctx: click.Context, workflow: str, args: tuple[str, ...], dry_run: bool = True) -> Any:
    from muxc.app.builds import prepare
    from muxc.run.events import SilentReporter

    g = globals_of(ctx)
    options = build_options({"force": False, "refresh": (), "keep_going": True, "replay": False, "dry_run": dry_run,
                             "max_cost": None, "max_calls": None, "answers": {}}, g, None)
    prepared = prepare(g.project(), workflow, parse_assignments(ctx, args, "argument"), options, SilentReporter())
    if prepared.build is None:
        render_diagnostics(prepared)
        ctx.exit(2 if prepared.workflow_path is None else 1)
    return prepared.build


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
            echo_json(_plan_json(build))
            return
        for step in build.plan.steps:
            click.echo(_plan_line(build, step))
    finally:
        build.store.close()


def _plan_line(build: Any, step: Any) -> str:
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
    key = ["rendered " + ", ".join(_key_templates(step))] if _key_templates(step) else []
    key += ["project state" if step.reads_project else ""] + [f"{k}" for k in sorted(step.definition)]
    parts.append("key: " + ", ".join(k for k in key if k))
    return "  ".join(parts)


def _key_templates(step: Any) -> list[str]:
    from muxc.run.keys import templates_of

    return list(templates_of(step))


def _plan_json(build: Any) -> dict[str, Any]:
    import msgspec

    steps = []
    for step in build.plan.steps:
        steps.append({"name": step.name, "kind": step.kind, "deps": list(step.deps), "consumes": list(step.consumes),
                      "role": step.step.role, "save": str(build.targets[step.name]) if step.name in build.targets
                      else None, "definition": msgspec.to_builtins(step.definition),
                      "templates": _key_templates(step), "reads_project": step.reads_project,
                      "volatile": step.volatile, "cache_ttl_ms": step.cache_ttl_ms})
    return {"workflow": build.plan.workflow, "args": build.plan.args, "final": build.plan.final, "steps": steps}


@click.command()
@click.argument("workflow")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@global_options
@click.pass_context
def status(ctx: click.Context, workflow: str, args: tuple[str, ...]) -> None:
    """Say, for each step, whether it is up to date, or why it would run — with the difference.

    Nothing runs. For a step that would run, the changed part of its key is shown: which
    files changed, the old and new model, or a short diff of the rendered prompt.

    \b
    Exit status: 0 everything is up to date, 1 something would run, 2 usage, 3 a file or
    directory muxc keeps its state in is unusable (the message names it).
    """
    from muxc.app.builds import close, execute
    from muxc.store.statedir import LockHeld

    build = _prepared(ctx, workflow, args)
    try:
        done = execute(build)
    except LockHeld as error:  # it would see half a build: wait for it
        raise click.ClickException(str(error)) from None
    try:
        rows = [_status_row(build, step) for step in build.plan.steps]
    finally:
        close(done.build)
    if globals_of(ctx).output == "json":
        echo_json(rows)
    else:
        for row in rows:
            click.echo(f"{row['step']}: {row['status']}" + (f" — {row['reason']}" if row["reason"] else ""))
            for detail in row["details"]:
                click.echo(detail)
    ctx.exit(0 if all(row["status"] == "up to date" for row in rows) else 1)


def _status_row(build: Any, step: Any) -> dict[str, Any]:
    from muxc.run.reasons import change_list

    state = build.state(step.name)
    if state.status in ("cached", "skipped"):
        label = "up to date" if state.status == "cached" else "skipped (its `if` is false)"
        reason = state.reason if state.status == "cached" else ""  # what a build does to its saved file
        return {"step": step.name, "status": label, "reason": reason, "details": []}
    if state.status == "failed":
        return {"step": step.name, "status": "cannot tell", "reason": state.failure.message, "details": []}
    details: list[str] = []
    if state.components:
        previous = build.latest.get(step.name)
        changes = change_list(build, step, previous, state.components, state.rendered, detailed=True)
        details = [line for change in changes for line in change.splitlines()[1:]]
    return {"step": step.name, "status": "would run", "reason": state.reason, "details": details}


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
    from muxc.app.api import CheckReport, check_file, load_config, resolve_workflow

    g = globals_of(ctx)
    project = g.project()
    path = resolve_workflow(project, workflow)
    if path is None:
        raise click.UsageError(f"no workflow named {workflow!r} (try `muxc list`)", ctx)
    report = CheckReport()
    checked = check_file(path, load_config(project, report), report).checked
    if checked is None:
        render_diagnostics(report)
        ctx.exit(1)
    click.echo(_mermaid(checked) if fmt == "mermaid" else _dot(checked), nl=False)


def _edges(checked: Any) -> list[tuple[str, str, bool]]:
    seen: dict[tuple[str, str], bool] = {}
    for edge in checked.edges:
        pair = (edge.upstream, edge.step)
        seen[pair] = seen.get(pair, False) or edge.consumes
    return [(a, b, consumes) for (a, b), consumes in seen.items()]


def _node_label(step: Any) -> str:
    return f"{step.name}\\n{step.type}" + (f" @{step.role}" if step.role else "")


def _mermaid(checked: Any) -> str:
    ids = {name: f"s{i}" for i, name in enumerate(checked.workflow.step_names)}
    lines = ["flowchart TD"]
    lines += [f'    {ids[s.name]}["{_node_label(s).replace(chr(92) + "n", "<br/>")}"]' for s in checked.workflow.steps]
    lines += [f"    {ids[a]} {'-->' if consumes else '-.->'} {ids[b]}" for a, b, consumes in _edges(checked)]
    return "\n".join(lines) + "\n"


def _dot(checked: Any) -> str:
    lines = [f'digraph "{checked.workflow.name}" {{', "    rankdir=TB;", "    node [shape=box];"]
    lines += [f'    "{s.name}" [label="{_node_label(s)}"];' for s in checked.workflow.steps]
    lines += [f'    "{a}" -> "{b}"' + ("" if consumes else " [style=dashed]") + ";"
              for a, b, consumes in _edges(checked)]
    return "\n".join([*lines, "}"]) + "\n"


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
@click.pass_context
def clean(ctx: click.Context, yes: bool) -> None:
    """Delete the project's build state (.muxc/state): every cached result, for every workflow.

    The next build runs everything again. Saved outputs (reports) are not touched, nor what a
    killed apply step left to put back (apply-journal, recovered/).
    """
    from muxc.store.statedir import APPLY_JOURNAL, RECOVERED, BuildLock, LockHeld

    root = globals_of(ctx).project().root
    directory = root / ".muxc" / "state"
    if not directory.exists():
        click.echo("nothing to clean", err=True)
        return
    if not yes and not click.confirm(f"delete every cached result in {directory}?", err=True, default=False):
        ctx.exit(1)
    try:
        with BuildLock(directory):
            for child in directory.iterdir():
                if child.name not in ("lock", ".gitignore", APPLY_JOURNAL, RECOVERED):
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
    except LockHeld as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"cleaned {directory}", err=True)


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
    from muxc.app.api import resolve_workflow, workflow_summary
    from muxc.store.statedir import BuildLock, LockHeld, state_dir
    from muxc.store.results import open_store

    project = globals_of(ctx).project()
    path = resolve_workflow(project, workflow)
    if path is None:
        raise click.UsageError(f"no workflow named {workflow!r} (try `muxc list`)", ctx)
    name = workflow_summary(path)[0] or workflow
    directory = state_dir(project.root)
    try:
        with BuildLock(directory):
            store, damaged = open_store(directory / "cache.db")
            if damaged:
                click.echo(f"note: {damaged}", err=True)
            try:
                for step in steps:
                    dropped = store.forget(name, step)
                    click.echo(f"{step}: forgot {dropped} cached result{'s' if dropped != 1 else ''}", err=True)
            finally:
                store.close()
    except LockHeld as error:
        raise click.ClickException(str(error)) from None
