"""``muxc push`` / ``muxc pull``: move results between the local cache and the remote cache."""

from __future__ import annotations

from typing import Any

import click

from muxc.cli.common import echo_json, global_options, globals_of


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _transfer_result(ctx: click.Context, verb: str, done: Any) -> None:
    g = globals_of(ctx)
    if g.output == "json":
        echo_json({"remote": done.url, verb: done.moved, "present": done.present, "skipped": done.skipped,
                   "remote_ok": done.remote_ok})
    elif g.output != "quiet" or not done.remote_ok:
        where = "to" if verb == "pushed" else "from"
        click.echo(f"{verb} {done.moved} result{'s' if done.moved != 1 else ''} {where} {done.url} "
                   f"({done.present} already there" + (f", {done.skipped} skipped" if done.skipped else "") + ")",
                   err=g.output != "console")
    ctx.exit(0 if done.remote_ok else 1)


def _run(ctx: click.Context, action: Any) -> Any:
    from muxc.app.errors import LockHeld
    from muxc.app.remote import NotAttached

    try:
        return action()
    except NotAttached as error:
        if error.usage:
            raise click.UsageError(str(error), ctx) from None
        raise click.ClickException(str(error)) from None
    except LockHeld as error:
        raise click.ClickException(str(error)) from None


def _config(project: Any) -> Any:
    from muxc.app.api import Report, load_config

    return load_config(project, Report())


@click.command()
@click.argument("workflow", required=False)
@click.option("--remote", metavar="URL", help="The remote cache (default: [cache] remote).")
@global_options
@click.pass_context
def push(ctx: click.Context, workflow: str | None, remote: str | None) -> None:
    """Upload cached results the remote cache lacks: all of them, or WORKFLOW's last build.

    Only results already in the local cache go up (each verified by its digest on the way
    down), never the LLM log or a credential. Running it twice uploads nothing the second time.

    \b
    Exit status: 0 done, 1 the remote could not be used (the warning says why), 2 usage.

    \b
    Examples:
      muxc push --remote s3://team-bucket/muxc
      muxc push review
    """
    from muxc.app.transfer import push as push_results

    project = globals_of(ctx).project()
    done = _run(ctx, lambda: push_results(project.root, remote, _config(project), _warn, workflow))
    _transfer_result(ctx, "pushed", done)


@click.command()
@click.argument("workflow", required=False)
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--remote", metavar="URL", help="The remote cache (default: [cache] remote).")
@global_options
@click.pass_context
def pull(ctx: click.Context, workflow: str | None, args: tuple[str, ...], remote: str | None) -> None:
    """Download results from the remote cache: all it holds, or what building WORKFLOW would use.

    With WORKFLOW (and its KEY=VALUE arguments) muxc works out every step's key as `muxc status`
    does and downloads exactly the results a build would take from the remote now. Every entry
    is verified by its digest: a corrupt or truncated one is skipped with a warning.

    \b
    Exit status: 0 done, 1 the remote could not be used or the workflow has errors, 2 usage.

    \b
    Examples:
      muxc pull --remote file:///shared/muxc-cache
      muxc pull rust-audit outdir=docs/audit
    """
    from muxc.app.transfer import pull as pull_results
    from muxc.app.transfer import pull_workflow
    from muxc.cli.build import not_built, parse_assignments

    project = globals_of(ctx).project()
    if workflow is None:
        done = _run(ctx, lambda: pull_results(project.root, remote, _config(project), _warn))
    else:
        assignments = parse_assignments(ctx, args, "argument")
        done = _run(ctx, lambda: pull_workflow(project, workflow, assignments, remote, _warn))
        if not hasattr(done, "moved"):
            not_built(ctx, workflow, done)
    _transfer_result(ctx, "pulled", done)
