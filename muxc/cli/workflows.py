"""``muxc list`` and ``muxc show``: the workflows muxc can find, and one of them."""

from __future__ import annotations

import click

from muxc.cli.common import echo_json, global_options, globals_of, workflow_path


@click.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list workflows shadowed by one of the same name.")
@global_options
@click.pass_context
def list_workflows(ctx: click.Context, show_all: bool) -> None:
    """List the workflows muxc can find, in lookup order, with their descriptions.

    Lookup order: .muxc/workflows, .llm-mux/workflows, the user's config dir
    ($XDG_CONFIG_HOME/muxc/workflows, then llm-mux's), then the stdlib.
    """
    from muxc.app.api import find_workflows, workflow_summary

    g = globals_of(ctx)
    entries = [e for e in find_workflows(g.project()) if show_all or not e.shadowed]
    rows = []
    for entry in entries:
        _, description = workflow_summary(entry.path)
        rows.append({"name": entry.name, "origin": entry.origin, "path": str(entry.path),
                     "description": description, "shadowed": entry.shadowed})
    if g.output == "json":
        echo_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for row in rows:
        note = " (shadowed)" if row["shadowed"] else ""
        click.echo(f"{row['name']:<{width}}  {row['origin']:<7}  {row['description']}{note}")


@click.command()
@click.argument("name")
@click.option("--to", type=click.Choice(["mux", "toml"]), help="Show it converted to this format.")
@global_options
@click.pass_context
def show(ctx: click.Context, name: str, to: str | None) -> None:
    """Print a workflow's source (found by name or path).

    \b
    Examples:
      muxc show rust-audit
      muxc show rust-audit --to toml
    """
    from muxc.app.api import format_file

    path = workflow_path(ctx, globals_of(ctx).project(), name)
    text = path.read_text(encoding="utf-8")
    if to is not None:
        result = format_file(path, to)
        if result.text is None:
            raise click.ClickException(f"{path} has errors; run `muxc check {path}`")
        text = result.text
    if globals_of(ctx).output == "json":
        echo_json({"name": path.stem, "path": str(path), "format": to or path.suffix.lstrip("."), "text": text})
        return
    click.echo(text, nl=False)
