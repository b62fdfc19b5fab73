"""The build options that reach beyond one machine: ``--remote``, ``--no-push``, ``--executor``,
``--scheduler`` (docs/distributed.md).

``beyond_options`` adds them to a command without changing its signature: their values wait in
``ctx.meta`` until ``beyond_values`` turns them into ``BuildOptions`` fields.
"""

from __future__ import annotations

from typing import Any

import click

_META = "muxc.beyond"


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def beyond_options(command: Any) -> Any:
    """--remote URL, --no-push, --executor local|dask, --scheduler ADDRESS."""
    for option in reversed([
        click.option("--remote", metavar="URL", expose_value=False, callback=_keep,
                     help="Share the cache through URL (any fsspec URL: s3://bucket/muxc, file:///shared/muxc); "
                          "default: [cache] remote."),
        click.option("--no-push", "no_push", is_flag=True, default=None, expose_value=False, callback=_keep,
                     help="Read the remote cache, never upload to it (CI)."),
        click.option("--executor", type=click.Choice(["local", "dask"]), expose_value=False, callback=_keep,
                     help="Run query and shell steps here (local) or on a Dask cluster (dask); "
                          "default: [executor] type."),
        click.option("--scheduler", metavar="ADDRESS", expose_value=False, callback=_keep,
                     help="The Dask scheduler (tcp://HOST:8786); none: a local cluster sized to this machine."),
    ]):
        command = option(command)
    return command


def beyond_values(ctx: click.Context | None = None) -> dict[str, Any]:
    """The ``BuildOptions`` fields the options above set (none when they were not given)."""
    ctx = ctx or click.get_current_context(silent=True)
    values = ctx.meta.get(_META, {}) if ctx is not None else {}
    return {"remote": values.get("remote"), "push": False if values.get("no_push") else None,
            "executor": values.get("executor"), "scheduler": values.get("scheduler")}


def remote_option(command: Any) -> Any:
    """--remote URL alone, for commands that only look (``muxc status``)."""
    return click.option("--remote", metavar="URL", expose_value=False, callback=_keep,
                        help="Look in this shared cache too (default: [cache] remote).")(command)
