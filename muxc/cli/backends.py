"""``muxc doctor``, ``backends``, ``roles``, ``teams`` and ``logs``: the backend layer, inspected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import msgspec

from muxc.cli.build import render_diagnostics
from muxc.cli.common import echo_json, global_options, globals_of, workflow_path


def _config(ctx: click.Context) -> tuple[Any, Any]:
    """(project, merged config); config problems are shown on stderr but do not stop the command."""
    from muxc.app.api import Report, load_config

    project = globals_of(ctx).project()
    report = Report()
    config = load_config(project, report)
    if report.diagnostics:
        render_diagnostics(report)
    return project, config


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@click.command()
@click.argument("workflow", required=False)
@click.option("--probe", is_flag=True, help="Also send each backend a one-token request.")
@global_options
@click.pass_context
def doctor(ctx: click.Context, workflow: str | None, probe: bool) -> None:
    """Check that the backends in use can answer: the CLI is on PATH, the HTTP endpoint answers.

    In use: reached by a role that one of your workflows asks (the project's or your own, a
    team's override included), or by a role your config files declare; with WORKFLOW, only by
    the roles that workflow asks (a stdlib workflow counts only when named). The other backends
    are listed as unused and not checked.

    \b
    Exit status: 0 every enabled backend in use is usable, 1 otherwise, 2 usage.

    \b
    Examples:
      muxc doctor
      muxc doctor rust-audit --probe
    """
    from muxc.app.inspect import doctor as check_backends

    project, config = _config(ctx)
    paths = [workflow_path(ctx, project, workflow)] if workflow is not None else None
    results = check_backends(project, config, probe, paths)
    team = _team(ctx, config, project)
    if globals_of(ctx).output == "json":
        echo_json({"backends": msgspec.to_builtins(results), "team": team.name if team else None})
    else:
        for result in results:
            mark = "-" if result.status == "unused" else "✓" if result.ok else "✗"
            probe_text = f" — probe: {result.probe.detail}" if result.probe else ""
            click.echo(f"{mark} {result.backend} ({result.kind}): {result.detail}{probe_text}")
        click.echo(f"team: {team.name} (found {', '.join(team.detect)})" if team else "team: none detected")
    ctx.exit(0 if all(r.ok and (r.probe is None or r.probe.ok) for r in results) else 1)


def _start_text(row: dict[str, Any]) -> str:
    if not row["managed"]:
        return ""
    if row["start_cost_s"] is None:
        return "managed, never started"
    if not row["starts"]:
        return f"starts in ~{row['start_cost_s']:g}s (switch_cost_hint)"
    return f"starts in ~{row['start_cost_s']:.1f}s ({row['starts']} start{'s' if row['starts'] != 1 else ''})"


def _team(ctx: click.Context, config: Any, project: Any) -> Any:
    """--team if given (an unknown one is a usage error), else the detected team."""
    from muxc.app.teams import UnknownTeam, select_team

    try:
        return select_team(config, globals_of(ctx).team, Path.cwd(), project.root)
    except UnknownTeam as error:
        raise click.UsageError(str(error), ctx) from None


@click.command("backends")
@global_options
@click.pass_context
def backends_command(ctx: click.Context) -> None:
    """List the configured backends (built-in ones included), where each is defined, and how long a
    managed one takes to start (a moving average over this project's builds)."""
    from muxc.app.inspect import backend_rows

    project, config = _config(ctx)
    rows = backend_rows(config, project.root)
    if globals_of(ctx).output == "json":
        echo_json(rows)
        return
    _table([[("✓ " if r["enabled"] else "✗ ") + r["name"], r["kind"] or "", r["model"] or "", r["endpoint"] or "",
             _start_text(r), r["defined_in"]] for r in rows])


@click.command()
@global_options
@click.pass_context
def roles(ctx: click.Context) -> None:
    """List the roles: their backends, execution mode, and team overrides."""
    _, config = _config(ctx)
    rows = []
    for role in config.roles.values():
        overrides = {team.name: list(team.roles[role.name].backends) for team in config.teams.values()
                     if role.name in team.roles}
        rows.append({"name": role.name, "execution": role.execution, "min_success": role.min_success,
                     "backends": list(role.backends), "description": role.description, "team_overrides": overrides,
                     "defined_in": role.origin.file if role.origin else "<built-in>"})
    if globals_of(ctx).output == "json":
        echo_json(rows)
        return
    _table([[r["name"], r["execution"], ", ".join(r["backends"]),
             "; ".join(f"{t}: {', '.join(b)}" for t, b in r["team_overrides"].items()), r["description"]]
            for r in rows])


@click.command()
@global_options
@click.pass_context
def teams(ctx: click.Context) -> None:
    """List the teams, how each is detected, its verify command, and which one applies here."""
    project, config = _config(ctx)
    active = _team(ctx, config, project)
    rows = [{"name": t.name, "detect": list(t.detect), "verify": t.verify, "roles": sorted(t.roles),
             "description": t.description, "active": active is not None and active.name == t.name}
            for t in config.teams.values()]
    if globals_of(ctx).output == "json":
        echo_json(rows)
        return
    _table([[("* " if r["active"] else "  ") + r["name"], ", ".join(r["detect"]), r["verify"] or "",
             r["description"]] for r in rows])


@click.command()
@click.option("-n", "--limit", default=20, show_default=True, help="How many calls.")
@click.option("--backend", help="Only this backend's calls.")
@click.option("--step", help="Only this step's calls.")
@click.option("--full", is_flag=True, help="Print each prompt and response in full.")
@global_options
@click.pass_context
def logs(ctx: click.Context, limit: int, backend: str | None, step: str | None, full: bool) -> None:
    """List recent LLM calls from the log (newest first): tokens, latency, cost, status.

    The log lives in the user data dir ($XDG_DATA_HOME/muxc/llm-log.db); keys never reach it.
    """
    from muxc.app.inspect import recent_calls

    entries = recent_calls(globals_of(ctx).project().environ, limit, backend, step)
    if globals_of(ctx).output == "json":
        echo_json(msgspec.to_builtins(entries or []))
        return
    if not entries:
        click.echo("no LLM calls recorded yet", err=True)
        return
    for entry in entries:
        tokens = f"{entry.input_tokens or '?'}→{entry.output_tokens or '?'} tok"
        cost = f" ${entry.cost_usd:.4f}" if entry.cost_usd else ""
        click.echo(f"{entry.time[:19]}  {entry.workflow}/{entry.step}  {entry.backend}  {entry.status}  "
                   f"{tokens}  {entry.latency_ms} ms{cost}")
        if full:
            click.echo(f"--- prompt\n{entry.prompt}\n--- response\n{entry.response or entry.error or ''}\n")
