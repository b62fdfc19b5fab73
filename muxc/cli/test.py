"""``muxc test``: run workflow tests (``*.test.toml``, ``*.test.mux``, a ``.mux`` workflow's own
``test`` statements) offline, with a pytest-like summary."""

from __future__ import annotations

import time
from pathlib import Path

import click

from muxc.cli.common import echo_json, global_options, globals_of, use_color


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("-k", "pattern", metavar="PATTERN", help="Run only tests whose FILE::NAME contains PATTERN (or matches it as a glob).")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Tests run at once (each in its own process).")
@click.option("--record", "record", flag_value="all",
              help="Ask the configured backends for every unscripted query and store the answers in the cassette.")
@click.option("--record-missing", "record", flag_value="missing",
              help="Record only the answers the cassette lacks (new steps, changed prompts).")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the results as JUnit XML to FILE (for CI).")
@global_options
@click.pass_context
def test(ctx: click.Context, paths: tuple[Path, ...], pattern: str | None, jobs: int, record: str | None,
         junit: Path | None) -> None:
    """Run the workflow tests under PATHS (default: the project), each in a temporary project.

    A test file, NAME.test.toml, names a workflow and holds [[test]] cases: args, fixture files,
    scripted answers for the query steps and expectations on outputs, files and the run (or, in
    the muxc language, `test` statements in NAME.test.mux or in the .mux workflow itself). Other
    queries are answered from NAME.cassette.toml, recorded once with --record: no backend is
    called. See docs/testing.md.

    \b
    Exit status: 0 every test passed, 1 a test failed or a test file has errors, 2 usage.

    \b
    Examples:
      muxc test                         every test file in the project
      muxc test stdlib/ -j 4
      muxc test review.test.toml -k approves --output json
      muxc test --record-missing        record the answers of new or changed steps
      muxc test --junit reports/muxc-tests.xml
    """
    from muxc.app.api import Report
    from muxc.app.testing.runner import collect, run_cases, save_cassettes

    g = globals_of(ctx)
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise click.UsageError(f"no such file or directory: {', '.join(missing)}", ctx)
    started = time.monotonic()
    report = Report()
    collected = collect(list(paths) or [g.project().root], pattern, report)
    results = run_cases(collected.cases, jobs, record)
    if record is not None:
        for path in save_cassettes(collected.cases, results):
            click.echo(f"recorded: {path}", err=True)
    elapsed = time.monotonic() - started
    if junit is not None:
        _write_junit(ctx, junit, results)
    if g.output == "json":
        echo_json(_as_json(report, results))
    else:
        _print_console(report, results, elapsed, g.output == "quiet")
    failed = report.errors or any(result.outcome != "passed" for result in results) or not results
    ctx.exit(1 if failed else 0)


def _write_junit(ctx: click.Context, path: Path, results: list) -> None:
    from muxc.app.testing.junit import junit_xml

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(junit_xml(results), encoding="utf-8")
    except OSError as error:
        raise click.UsageError(f"cannot write --junit {path}: {error.strerror or error}", ctx) from None


def _counts(results: list) -> dict[str, int]:
    return {outcome: sum(1 for r in results if r.outcome == outcome) for outcome in ("passed", "failed", "error")}


def _summary(report: object, results: list, elapsed: float) -> str:
    counts = _counts(results)
    parts = [f"{counts['passed']} passed", f"{counts['failed']} failed"]
    errors = counts["error"]
    if errors:
        parts.append(f"{errors} error" + ("s" if errors > 1 else ""))
    bad_files = len({d.labels[0].file for d in report.diagnostics if d.labels})
    if bad_files:
        parts.append(f"{bad_files} test file" + ("s" if bad_files > 1 else "") + " with errors")
    return ", ".join(parts) + f" in {elapsed:.2f}s"


def _print_console(report: object, results: list, elapsed: float, quiet: bool) -> None:
    from muxc.app.testing.runner import sources_of
    from muxc.diagnostics.render import render

    color = use_color()
    marks = {"passed": ".", "failed": "F", "error": "E"}
    if not quiet:
        for file in dict.fromkeys(result.file for result in results):
            click.echo(f"{file} " + "".join(marks[r.outcome] for r in results if r.file == file))
    if report.diagnostics:
        click.echo(render("full", report.diagnostics, report.sources, color=color), nl=False)
    bad = [result for result in results if result.outcome != "passed"]
    if bad:
        click.echo("\n" + _rule("FAILURES"))
        sources = sources_of(bad)
        for result in bad:
            click.echo(_rule(result.id, "_"))
            click.echo(render("full", list(result.diagnostics), sources, color=color), nl=False)
    if not results and not report.diagnostics:
        click.echo("no tests found (test files are named NAME.test.toml or NAME.test.mux)")
    click.echo(_rule(_summary(report, results, elapsed)))


def _rule(text: str, fill: str = "=") -> str:
    return f" {text} ".center(78, fill)


def _as_json(report: object, results: list) -> dict:
    from muxc.app.testing.runner import sources_of
    from muxc.diagnostics.render import as_json_object

    sources = sources_of(results)
    tests = [{"id": r.id, "file": r.file, "name": r.name, "outcome": r.outcome, "duration_ms": r.duration_ms,
              "failures": [{"message": f.message, "code": f.code, "expected": f.expected, "got": f.got,
                            "notes": list(f.notes), "help": f.help} for f in r.failures],
              "diagnostics": [as_json_object(d, sources) for d in r.diagnostics]} for r in results]
    counts = _counts(results)
    return {"passed": counts["passed"], "failed": counts["failed"], "errors": counts["error"], "tests": tests,
            "diagnostics": [as_json_object(d, report.sources) for d in report.diagnostics]}
