"""``muxc init``: choose what answers the queries, and write ``.muxc/config.toml`` for it."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from muxc.cli.build import parse_assignments
from muxc.cli.common import echo_json, global_options, globals_of


@click.command()
@click.option("--backend", metavar="NAME|URL",
              help="Route every role to NAME (ollama, llamacpp, openai, anthropic, claude, codex, local) or to "
                   "the OpenAI-compatible server at URL.")
@click.option("--model", metavar="MODEL", help="The model the chosen backend is asked for.")
@click.option("--role", "roles", multiple=True, metavar="ROLE=NAME", help="Route ROLE to NAME instead (repeatable).")
@click.option("--scan", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="PORT",
              help="Also look for a server on this loopback port (11434 and 8080 always are).")
@click.option("--force", is_flag=True, help="Write a new config even if one exists (the old one is kept as "
                                            "config.toml.bak).")
@global_options
@click.pass_context
def init(ctx: click.Context, backend: str | None, model: str | None, roles: tuple[str, ...],
         ports: tuple[int, ...], force: bool) -> None:
    """Find what can answer here and route every built-in role to it in .muxc/config.toml.

    It looks for an OpenAI-compatible server on this machine (Ollama on port 11434, llama.cpp
    on 8080, --scan for others; loopback only, a short timeout), OPENAI_API_KEY and
    ANTHROPIC_API_KEY in the environment (the config refers to the variable, never the key),
    the claude and codex CLIs on PATH, and the built-in model (the `local` extra). On a
    terminal it asks which to use; otherwise pass --backend. When the project already has a
    .muxc/config.toml, it shows how the roles route instead (--force writes a new one).

    \b
    Exit status: 0 written (or shown), 1 nothing usable found or a config exists, 2 usage.

    \b
    Examples:
      muxc init
      muxc init --backend ollama --model llama3.2
      muxc init --backend http://127.0.0.1:8080/v1 --role coder=claude
    """
    from muxc.app import init as setup

    g = globals_of(ctx)
    project = g.project()
    routes = parse_assignments(ctx, roles, "--role")
    existing = setup.config_path(project.root)
    if existing.exists() and not force:
        _show_existing(ctx, project, asked=bool(backend or model or routes))
    detected = setup.detect(project.environ, ports)
    try:
        choice = _choice(ctx, backend, detected, project.environ)
        choice = setup.with_model(choice, model if model is not None else _ask_model(choice, backend))
        routing, backends = setup.routing(choice, routes, detected, project.environ)
    except setup.InitError as error:
        raise click.UsageError(str(error), ctx) from None
    path = setup.write_config(project.root, setup.config_text(routing, backends), force=True)
    _tell_written(g, path, routing, backends, detected)


def _interactive(ctx: click.Context) -> bool:
    return sys.stdin.isatty() and globals_of(ctx).output == "console"


def _choice(ctx: click.Context, backend: str | None, detected: list[Any], environ: Any) -> Any:
    from muxc.app import init as setup

    if backend is not None:
        return setup.choose(backend, detected, environ)
    if not detected:
        _nothing_found(ctx)
    if not _interactive(ctx):
        found = "; ".join(f"{c.name}: {c.found}" for c in detected)
        raise click.UsageError(f"not a terminal: pass --backend NAME|URL (found here: {found})", ctx)
    click.echo("muxc init: found on this machine:", err=True)
    for number, candidate in enumerate(detected, 1):
        click.echo(f"  {number}  {candidate.name:<10} {candidate.found}", err=True)
    click.echo(f"  {len(detected) + 1}  {'URL':<10} an OpenAI-compatible server of your own", err=True)
    picked = click.prompt("Route every role to", type=click.IntRange(1, len(detected) + 1), default=1, err=True)
    if picked <= len(detected):
        return detected[picked - 1]
    return setup.choose(click.prompt("Its base URL (http://HOST:PORT/v1)", err=True), detected, environ)


def _ask_model(choice: Any, given: str | None) -> str | None:
    """On a terminal, which of a server's several models (the first is the default)."""
    if given is not None or len(choice.models) < 2 or not sys.stdin.isatty():
        return None
    return click.prompt("Model", type=click.Choice(list(choice.models)), default=choice.models[0], err=True)


def _nothing_found(ctx: click.Context) -> NoReturn:
    from muxc.base.install import install_command

    click.echo("muxc init: nothing that can answer was found on this machine. Any one of these will do:\n"
               "  - start a local OpenAI-compatible server (`ollama serve`, llama.cpp's `llama-server`), then run "
               "muxc init again (--scan PORT for another port)\n"
               "  - set OPENAI_API_KEY or ANTHROPIC_API_KEY, or put the `claude` or `codex` CLI on PATH\n"
               f"  - install the built-in model: {install_command('local')}\n"
               "  - or name a server: muxc init --backend http://HOST:PORT/v1", err=True)
    ctx.exit(1)


def _show_existing(ctx: click.Context, project: Any, asked: bool) -> NoReturn:
    from muxc.app.api import Report, load_config
    from muxc.app.init import config_path, current_routing

    routing = current_routing(load_config(project, Report()))
    path = config_path(project.root)
    if globals_of(ctx).output == "json":
        echo_json({"config": str(path), "written": False, "roles": routing})
    else:
        click.echo(f"{_shown(path)} exists; the roles route to:")
        for role, backends in routing.items():
            click.echo(f"  {role:<20} {', '.join(backends)}")
        click.echo("muxc init --force writes a new one (the old one is kept as config.toml.bak)", err=True)
    ctx.exit(1 if asked else 0)


def _tell_written(g: Any, path: Any, routing: dict[str, str], backends: list[Any], detected: list[Any]) -> None:
    if g.output == "json":
        echo_json({"config": str(path), "written": True, "roles": {role: [name] for role, name in routing.items()},
                   "backends": {b.name: b.table for b in backends}, "detected": [c.name for c in detected]})
        return
    for backend in backends:
        click.echo(f"{backend.name}: {backend.found}")
    names = sorted(set(routing.values()))
    click.echo(f"wrote {_shown(path)}: every built-in role answered by {', '.join(names)}")
    click.echo("next: `muxc doctor --probe` asks it one question; `muxc build review` reviews your changes",
               err=True)


def _shown(path: Any) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
