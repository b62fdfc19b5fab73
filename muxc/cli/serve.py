"""``muxc serve``: the HTTP gateway (docs/serve.md). Thin: options in, ``muxc.serve.server.run`` out."""

from __future__ import annotations

from pathlib import Path

import click

from muxc.cli.common import global_options, globals_of, refuse_json


@click.command()
@click.option("--host", help="Address to listen on (default: [serve] host, else 127.0.0.1). Any address "
              "but loopback needs [serve] api_keys.")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [serve] port, else 8080).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="An extra config file, over the layered ones.")
@click.option("--no-log", is_flag=True, help="Do not record served requests in the LLM log.")
@global_options
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, config_path: Path | None, no_log: bool) -> None:
    """Serve roles, backends and managed models over OpenAI- and Anthropic-compatible HTTP.

    Clients name a role, a backend or an alias as the `model`; [serve.routes] maps the names
    clients hard-code ("claude-*" = "coder"). Anthropic clients reach OpenAI backends and the
    other way round, streams and tools included.

    \b
    Examples:
      muxc serve                                  http://127.0.0.1:8080
      muxc serve --port 4000
      ANTHROPIC_BASE_URL=http://127.0.0.1:8080 claude    Claude Code through muxc

    \b
    Exit status: 0 stopped by SIGINT/SIGTERM after draining, 1 could not start
    (a config error, a public --host without [serve] api_keys, a port in use).
    """
    refuse_json(ctx, "serve runs a server that logs one line per request on stderr; /metrics and /running "
                     "give its state as data")
    missing = _missing_extra()
    if missing:
        click.echo(f"Error: muxc serve needs {', '.join(missing)}: pip install 'muxc[serve]'", err=True)
        ctx.exit(1)
    from muxc.app.gateway import Gateway, GatewayError

    try:
        options = globals_of(ctx)
        gateway = Gateway.open(options.directory, host, port, config_path=config_path, log=not no_log,
                               team=options.team)
    except GatewayError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(1)
    from muxc.serve.server import run

    ctx.exit(run(gateway))


def _missing_extra() -> list[str]:
    from importlib.util import find_spec

    return [name for name in ("uvicorn", "aiohttp", "prometheus_client") if find_spec(name) is None]
