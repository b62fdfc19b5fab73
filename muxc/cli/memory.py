"""``muxc memory`` (read what store steps saved) and ``muxc ecosystems``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import msgspec

from muxc.cli.common import echo_json, global_options, globals_of


def _ecosystem_name(ctx: click.Context, given: str | None) -> str:
    """The named ecosystem, else the detected one, else the project directory's name (as store steps do)."""
    if given:
        return given
    from muxc.app.api import Report, load_config
    from muxc.app.ecosystems import detect_ecosystem

    project = globals_of(ctx).project()
    config = load_config(project, Report())
    home = Path(project.environ.get("HOME", str(Path.home())))
    found = detect_ecosystem(project.root, config.ecosystems, home) if config.ecosystems else None
    return found.name if found else project.root.name


def _open(ctx: click.Context, ecosystem: str | None) -> Any:
    """The ecosystem's database; when there is none yet: a note, no rows (``[]`` for JSON), exit 0."""
    from muxc.app.inspect import open_memory

    name = _ecosystem_name(ctx, ecosystem)
    found = open_memory(globals_of(ctx).project().environ, name)
    if found is None:
        click.echo(f"no memory for ecosystem {name!r} yet (store steps create it)", err=True)
        if globals_of(ctx).output == "json":
            echo_json([])
        ctx.exit(0)
    return found


def _emit(ctx: click.Context, rows: Any) -> None:
    data = msgspec.to_builtins(rows)
    if globals_of(ctx).output == "json":
        echo_json(data)
        return
    for row in data if isinstance(data, list) else [data]:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items() if v not in (None, "", [], {})))


@click.group()
def memory() -> None:
    """Read the memory database store steps write (one per ecosystem).

    \b
    Examples:
      muxc memory facts --project api
      muxc memory search "jwt expiry"
      muxc memory export --output json > memory.json
    """


_ecosystem_option = click.option("--ecosystem", help="Which ecosystem (default: the detected one).")


@memory.command()
@_ecosystem_option
@click.option("--project", help="Only facts about this project.")
@click.option("--category", help="Only this category.")
@click.option("-n", "--limit", type=int, help="At most this many.")
@global_options
@click.pass_context
def facts(ctx: click.Context, ecosystem: str | None, project: str | None, category: str | None,
          limit: int | None) -> None:
    """List stored facts."""
    with _open(ctx, ecosystem) as db:
        _emit(ctx, db.facts(project=project, category=category, limit=limit))


@memory.command()
@click.argument("query")
@_ecosystem_option
@click.option("-n", "--limit", default=20, show_default=True)
@global_options
@click.pass_context
def search(ctx: click.Context, query: str, ecosystem: str | None, limit: int) -> None:
    """Full-text search over facts and findings."""
    with _open(ctx, ecosystem) as db:
        _emit(ctx, db.search(query, limit=limit))


@memory.command()
@_ecosystem_option
@click.option("--type", "entity_type", help="Only entities of this type.")
@click.option("--project", help="Only this project's entities.")
@global_options
@click.pass_context
def entities(ctx: click.Context, ecosystem: str | None, entity_type: str | None, project: str | None) -> None:
    """List entities with their current properties."""
    with _open(ctx, ecosystem) as db:
        _emit(ctx, db.entities(entity_type=entity_type, project=project))


@memory.command()
@_ecosystem_option
@global_options
@click.pass_context
def export(ctx: click.Context, ecosystem: str | None) -> None:
    """Everything in the database, as JSON (empty tables when store steps never wrote it)."""
    from muxc.app.inspect import memory_export

    echo_json(msgspec.to_builtins(memory_export(globals_of(ctx).project().environ, _ecosystem_name(ctx, ecosystem))))


@click.command()
@global_options
@click.pass_context
def ecosystems(ctx: click.Context) -> None:
    """List the configured ecosystems and their projects; mark the one this project is in."""
    from muxc.app.api import Report, load_config
    from muxc.app.ecosystems import ecosystem_summary

    project = globals_of(ctx).project()
    config = load_config(project, Report())
    home = Path(project.environ.get("HOME", str(Path.home())))
    rows = ecosystem_summary(config.ecosystems, home, project.root)
    if globals_of(ctx).output == "json":
        echo_json(msgspec.to_builtins(rows))
        return
    if not rows:
        click.echo("no ecosystems configured ([ecosystems.NAME] in the config)", err=True)
    for row in msgspec.to_builtins(rows):
        click.echo(f"{row.get('name')}: {row.get('description', '')}")
        for project_row in row.get("projects", []):
            click.echo("  " + "  ".join(f"{k}={v}" for k, v in project_row.items() if v not in (None, "", [])))
