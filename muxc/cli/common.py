"""What every command shares: global options, lazy command loading, output helpers."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

EXIT_UNUSABLE = 3  # a file or directory muxc needs is unusable: the message names it


class LazyGroup(click.Group):
    """A group whose commands are imported only when invoked (or listed in --help).

    It is also where a file-system problem no command could handle becomes a message naming the
    path and exit status 3, never a traceback: a state entry of the wrong kind (``StateError``,
    whose message says what to do) or an ``OSError`` at a path (a full disk, a permission).
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (RuntimeError, OSError) as error:
            from muxc.app.errors import StateError

            if isinstance(error, StateError):
                _unusable(ctx, str(error))
            if not isinstance(error, OSError) or error.filename is None:
                raise
            _unusable(ctx, f"cannot use {error.filename}: {error.strerror or error}")


def _unusable(ctx: click.Context, message: str) -> None:
    import logging

    logging.getLogger("muxc").debug("unusable path", exc_info=True)  # the traceback, for --debug
    click.echo(f"Error: {message}", err=True)
    ctx.exit(EXIT_UNUSABLE)


@dataclass
class Globals:
    directory: Path | None = None
    team: str | None = None
    output: str = "console"
    debug: bool = False
    debug_log: Path | None = None

    def project(self, config_path: Path | None = None) -> Any:
        from muxc.app.api import Project

        return Project.discover(self.directory, config_path)

    def start_debug_log(self) -> None:
        import logging
        import tempfile
        import time

        path = Path(tempfile.gettempdir()) / f"muxc-debug-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        logging.basicConfig(filename=path, level=logging.DEBUG,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.debug_log = path
        click.echo(f"Debug logging to: {path}", err=True)


def globals_of(ctx: click.Context) -> Globals:
    obj = ctx.find_object(Globals)
    return obj if obj is not None else Globals()


def workflow_path(ctx: click.Context, project: Any, workflow: str) -> Path:
    """The workflow's file; an unknown one is a usage error (exit 2) with a close name if any."""
    from muxc.app.api import UnknownWorkflow, require_workflow

    try:
        return require_workflow(project, workflow)
    except UnknownWorkflow as error:
        raise click.UsageError(str(error), ctx) from None


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def echo_json(data: Any) -> None:
    import msgspec

    click.echo(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())


def refuse_json(ctx: click.Context, why: str) -> None:
    """With ``--output json``, a command whose result is not data says so (exit 2) instead of
    printing text a program would fail to parse."""
    if globals_of(ctx).output == "json":
        raise click.UsageError(f"--output json: {why}", ctx)


def _set_global(name: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        g = globals_of(ctx)
        if name == "quiet":
            g.output = "quiet"
        elif name == "debug" and not g.debug:
            g.debug = True
            g.start_debug_log()
        else:
            setattr(g, name, value)

    return callback


def global_options(command: Any) -> Any:
    """Accept the global options after the command name too (``muxc build x --output json``)."""
    options = [
        click.option("-C", "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
                     expose_value=False, callback=_set_global("directory"), help="Run as if started in DIR."),
        click.option("--team", expose_value=False, callback=_set_global("team"), help="Use this team."),
        click.option("--output", type=click.Choice(["console", "json", "quiet"]), expose_value=False,
                     callback=_set_global("output"), help="console, json (pure JSON on stdout) or quiet."),
        click.option("--quiet", is_flag=True, expose_value=False, callback=_set_global("quiet"),
                     help="Same as --output quiet."),
        click.option("--debug", is_flag=True, expose_value=False, callback=_set_global("debug"),
                     help="Write a debug log file and print its path."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
