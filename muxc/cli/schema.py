"""``muxc schema workflow|config``: the JSON Schemas shipped with muxc, for editors."""

from __future__ import annotations

import click

from muxc.cli.common import global_options


@click.command()
@click.argument("name", type=click.Choice(["workflow", "config"]))
@global_options
def schema(name: str) -> None:
    """Print the JSON Schema of TOML workflows or of config files (draft 2020-12).

    Editors that use Taplo (VS Code's Even Better TOML, Taplo's language server) complete,
    explain and check keys with it; docs/configuration.md#editor-support-json-schemas says how
    to wire it in. The output is JSON already, with or without --output json.

    \b
    Examples:
      muxc schema config > .muxc/config.schema.json
      muxc schema workflow > .muxc/workflow.schema.json
    """
    from muxc.base.resources import schema_text

    click.echo(schema_text(name), nl=False)
