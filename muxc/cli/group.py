"""The ``muxc`` click group: llm-mux's global options, the exit codes, one module per area.

Commands are thin: parse options, call one ``muxc.app.api`` function, render, exit. Results go to
stdout, progress and summaries to stderr. Exit codes: 0 success, 1 a failure muxc found (errors
in a workflow, a failed step), 2 a usage problem (bad option, unknown workflow or code), 3 a file
or directory muxc needs is unusable (the message names it and what to do; ``common.LazyGroup``).
Imports are lazy so ``muxc check`` on a small file starts fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from muxc.cli.common import Globals, LazyGroup

COMMANDS = {
    "check": "muxc.cli.check:check",
    "validate": "muxc.cli.check:validate",
    "fmt": "muxc.cli.check:fmt",
    "explain": "muxc.cli.check:explain",
    "init": "muxc.cli.init:init",
    "list": "muxc.cli.workflows:list_workflows",
    "show": "muxc.cli.workflows:show",
    "build": "muxc.cli.build:build",
    "run": "muxc.cli.build:run",
    "plan": "muxc.cli.state:plan",
    "schema": "muxc.cli.schema:schema",
    "status": "muxc.cli.state:status",
    "graph": "muxc.cli.state:graph",
    "clean": "muxc.cli.state:clean",
    "forget": "muxc.cli.state:forget",
    "doctor": "muxc.cli.backends:doctor",
    "backends": "muxc.cli.backends:backends_command",
    "roles": "muxc.cli.backends:roles",
    "teams": "muxc.cli.backends:teams",
    "logs": "muxc.cli.backends:logs",
    "memory": "muxc.cli.memory:memory",
    "ecosystems": "muxc.cli.memory:ecosystems",
    "test": "muxc.cli.test:test",
    "push": "muxc.cli.remote:push",
    "pull": "muxc.cli.remote:pull",
    "serve": "muxc.cli.serve:serve",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, invoke_without_command=True, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "MUXC"})
@click.option("--version", is_flag=True, allow_from_autoenv=False,
              help="Show the version and exit (with --output json: as JSON).")
@click.option("-C", "--dir", "directory", type=click.Path(file_okay=False, path_type=Path), envvar="MUXC_DIR",
              help="Run as if started in DIR (the project root).")
@click.option("--team", help="Use this team instead of detecting one.")
@click.option("--output", type=click.Choice(["console", "json", "quiet"]), default="console", show_default=True,
              help="console: for people; json: pure JSON on stdout; quiet: results only.")
@click.option("--quiet", is_flag=True, help="Same as --output quiet.")
@click.option("--debug", is_flag=True, help="Write a debug log file and print its path.")
@click.pass_context
def main(ctx: click.Context, version: bool, directory: Path | None, team: str | None, output: str, quiet: bool,
         debug: bool) -> None:
    """muxc compiles multi-step LLM workflows to a cached build graph.

    \b
    Examples:
      muxc check                      check every workflow muxc can find
      muxc build rust-audit outdir=reports/feb-audit
      muxc fmt review.toml --to mux   convert llm-mux TOML to the muxc language

    \b
    Exit status, the same for every command:
      0    success (`status` too, whatever would run; `status --exit-code` gives 1 then)
      1    a failure muxc found: errors in a workflow, a failed step, a build holding the lock
      2    a usage problem: a bad or missing option or argument, an unknown workflow, step,
           team or diagnostic code (the message names a close one when there is one)
      3    a file or directory muxc needs is unusable (the message names it and the fix)
      130  interrupted (what finished is kept)

    \b
    Every option can come from the environment too (the command line wins):
      MUXC_OPTION            a global option: MUXC_OUTPUT=json, MUXC_TEAM=rust, MUXC_DIR=..
      MUXC_COMMAND_OPTION    a command's: MUXC_BUILD_MODEL=claude, MUXC_BUILD_JOBS=8,
                             MUXC_BUILD_ROLE="analyzer=claude synthesizer=openai"
    Flags take 1/true or 0/false (MUXC_BUILD_KEEP_GOING=1).
    """
    _collect_rarely()
    ctx.obj = Globals(directory=directory, team=team, output="quiet" if quiet else output, debug=debug)
    if version:  # not click's eager --version: it would answer before --output json is read
        _version(ctx.obj.output)
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        raise click.UsageError("Missing command.", ctx)
    if debug:
        ctx.obj.start_debug_log()


def _collect_rarely() -> None:
    """A command builds large object graphs (a 10,000-step workflow's parse tree, plan and tasks)
    and frees little of them before it exits. Python's default cycle collection (every 700 new
    objects) walked them again and again: `muxc check` on 10,000 steps took 3.4 s of CPU instead
    of 1.6 s with collection off, and grew faster than the workflow. Rarer collections keep it
    linear; what cycles there are still get collected."""
    import gc

    gc.set_threshold(100_000, 50, 100)


def _version(output: str) -> None:
    from importlib.metadata import version

    from muxc.cli.common import echo_json

    if output == "json":
        echo_json({"name": "muxc", "version": version("muxc")})
    else:
        click.echo(f"muxc, version {version('muxc')}")
