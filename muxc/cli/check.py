"""``muxc check`` (alias ``validate``), ``muxc fmt`` and ``muxc explain``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from muxc.base.text import plural
from muxc.cli.common import echo_json, global_options, globals_of, refuse_json, use_color, workflow_path

FORMATS = ("full", "concise", "json", "github")


def _targets(ctx: click.Context, names: tuple[str, ...], project: object) -> list[Path]:
    """Files as given, or workflows by name through the lookup path."""

    paths: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found = _workflows_in(path)
            if not found:
                raise click.UsageError(f"no workflow files (.mux, .toml) in {name}", ctx)
            paths += found
            continue
        if path.exists():
            paths.append(path)
            continue
        paths.append(workflow_path(ctx, project, name))
    return paths


def _workflows_in(directory: Path) -> list[Path]:
    """The workflow files under a directory: not config files, not hidden directories, and not
    `muxc test` suites (their tests, cassettes and fixture projects are not workflows)."""
    from muxc.app.api import is_test_file

    suites = {p.parent for pattern in ("*.test.toml", "*.test.mux") for p in directory.rglob(pattern)}
    return sorted(p for p in directory.rglob("*") if p.suffix in (".mux", ".toml") and p.is_file()
                  and p.name != "config.toml" and not is_test_file(p)
                  and not any(parent in suites for parent in p.parents)
                  and not any(part.startswith(".") and part not in (".muxc", ".llm-mux")
                              for part in p.relative_to(directory).parts[:-1]))


@click.command()
@click.argument("files", nargs=-1, metavar="[FILE|DIR|NAME]...")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="full: code frames (default on a terminal); concise: one line each (default otherwise); "
                   "json: an array on stdout; github: workflow annotations.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also read this config file (above all others).")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--backends/--no-backends", default=True, show_default=True,
              help="Warn about query steps whose backends cannot answer on this machine (backend-unavailable).")
@click.option("--shell/--no-shell", default=True, show_default=True,
              help="Parse shell commands with `sh -n`, and lint them with shellcheck when it is on PATH "
                   "(shell-syntax, shellcheck warnings).")
@global_options
@click.pass_context
def check(ctx: click.Context, files: tuple[str, ...], fmt: str | None, config_path: Path | None,
          strict: bool, backends: bool, shell: bool) -> None:
    """Check workflows without running them; report every problem at once.

    With no FILE, checks every workflow muxc can find: the project's (.muxc/workflows,
    .llm-mux/workflows), the user's, and the stdlib.

    \b
    Exit status: 0 no errors (warnings allowed), 1 errors (or warnings with --strict), 2 usage.

    \b
    Examples:
      muxc check
      muxc check .muxc/workflows/review.toml --format concise
      muxc check --format json | jq '.[].message'
    """
    from muxc.app.api import check_paths
    from muxc.diagnostics.render import render

    g = globals_of(ctx)
    project = g.project(config_path)
    report = check_paths(project, _targets(ctx, files, project), backends, shell)
    fmt = fmt or ("json" if g.output == "json" else "full" if sys.stdout.isatty() else "concise")
    output = render(fmt, report.diagnostics, report.sources, color=fmt == "full" and use_color())
    if output:
        click.echo(output, nl=False)
    if g.output == "console" and fmt != "json":
        _summary(len(report.results), report.errors, report.warnings, pointer=fmt != "full")
    ctx.exit(1 if report.errors or (strict and report.warnings) else 0)


def _summary(checked: int, errors: int, warnings: int, pointer: bool = False) -> None:
    """One line on stderr; one-line formats (whose lines carry no pointer) say where codes are explained."""
    found = ", ".join(p for p in (plural(errors, "error") if errors else "",
                                  plural(warnings, "warning") if warnings else "") if p)
    explain = " (`muxc explain CODE` explains a code)" if pointer and found else ""
    click.echo(f"checked {plural(checked, 'workflow')}: {found or 'no problems'}{explain}", err=True)


validate = click.Command("validate", callback=check.callback, params=check.params,
                         help="Alias of `check` (llm-mux's name).")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(["mux", "toml"]), help="Target format (default: the file's own).")
@click.option("-w", "--write", is_flag=True, help="Write the result to FILE (or FILE with the new suffix).")
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if FILE is not already formatted.")
@global_options
@click.pass_context
def fmt(ctx: click.Context, file: Path, to: str | None, write: bool, check_only: bool) -> None:
    """Format a workflow, or convert it between TOML and the muxc language, without loss.

    \b
    Examples:
      muxc fmt .llm-mux/workflows/review.toml --to mux > review.mux
      muxc fmt review.mux --to toml
      muxc fmt -w review.mux
    """
    from muxc.app.api import format_file
    from muxc.diagnostics.render import render

    refuse_json(ctx, "fmt writes a workflow file, not data; `muxc show FILE --output json` gives it as JSON")
    result = format_file(file, to)
    if result.text is None:
        # the refusal note (at the top of the file) says "fix the errors above": print it last
        shown = sorted(result.diagnostics, key=lambda d: d.code == "fmt-refused")
        click.echo(render("full" if sys.stderr.isatty() else "concise", shown, result.sources,
                          color=use_color(sys.stderr)), err=True, nl=False)
        ctx.exit(1)
    original = file.read_text(encoding="utf-8")
    if check_only:
        ctx.exit(0 if result.text == original else 1)
    if write:
        target = file if to is None or file.suffix == f".{to}" else file.with_suffix(f".{to}")
        _write_atomically(target, result.text)
        click.echo(f"wrote {target}", err=True)
        return
    click.echo(result.text, nl=False)


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    path = Path(os.path.realpath(path))  # through a symlink: replace its target, keep the link
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@click.command()
@click.argument("code", required=False)
@click.option("--list", "list_all", is_flag=True, help="List every code with its title.")
@global_options
@click.pass_context
def explain(ctx: click.Context, code: str | None, list_all: bool) -> None:
    """Explain a diagnostic code, with an example and its fix.

    \b
    Examples:
      muxc explain unknown-step
      muxc explain --list
    """
    from muxc.diagnostics.codes import all_codes, suggest

    if (list_all or code is None) and globals_of(ctx).output == "json":
        echo_json([_code_json(entry) for entry in all_codes().values()])
        return
    if list_all or code is None:
        for entry in all_codes().values():
            click.echo(f"{entry.name:<26} {entry.severity.value:<8} {entry.title}")
        return
    entry = all_codes().get(code)
    if entry is None:
        close = suggest(code)
        hint = f" Did you mean {', '.join(close)}?" if close else " `muxc explain --list` shows them all."
        raise click.UsageError(f"no diagnostic code {code!r}.{hint}", ctx)
    if globals_of(ctx).output == "json":
        echo_json(_code_json(entry))
        return
    click.echo(f"{entry.name} ({entry.severity.value}): {entry.title}\n\n{entry.explanation}\n")
    if entry.example:
        click.echo("Example:\n" + _indent(entry.example) + "\n")
    if entry.fix:
        click.echo("Fix:\n" + _indent(entry.fix))


def _code_json(entry: object) -> dict:
    return {"code": entry.name, "severity": entry.severity.value, "title": entry.title,
            "explanation": entry.explanation, "example": entry.example, "fix": entry.fix}


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
