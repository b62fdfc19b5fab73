"""The one place that reads files and connects the pure compiler to the runtime.

Each function here is what one CLI command does, minus the printing: it takes paths and the
environment, runs the stages, and returns a result value holding the diagnostics and the
sources they point into. Nothing here prints or exits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# the project and its workflows live in app.project (light, for the no-op lane); the faces find them here too
from muxc.app.project import (  # noqa: F401
    TEST_FILE_SUFFIXES,
    WORKFLOW_SUFFIXES,
    Project,
    UnknownWorkflow,
    WorkflowEntry,
    find_workflows,
    is_test_file,
    require_workflow,
    resolve_workflow,
    unknown_workflow,
)
from muxc.config.schema import Config
from muxc.diagnostics.model import Diagnostic, Severity
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile
from muxc.diagnostics.span import Span
from muxc.syntax.ast import Workflow

if TYPE_CHECKING:  # the checker (and Jinja) load only when a file is checked: not on a cached rebuild
    from muxc.check.state import CheckedWorkflow


@dataclass
class Report:
    """Diagnostics and the sources they point into."""

    sink: DiagnosticSink = field(default_factory=DiagnosticSink)
    sources: dict[str, SourceFile] = field(default_factory=dict)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.sink.sorted()

    @property
    def errors(self) -> int:
        return self.sink.error_count

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.sink if d.severity is Severity.WARNING)


@dataclass
class Checked:
    path: str
    workflow: Workflow | None
    checked: CheckedWorkflow | None


@dataclass
class CheckReport(Report):
    results: list[Checked] = field(default_factory=list)
    config: Config | None = None


# --- loading ---------------------------------------------------------------------------


def load_config(project: Project, report: Report) -> Config:
    from muxc.app.config_files import load_config as load

    return load(project.root, project.environ, report.sink, report.sources, project.config_path)


def parse_file(path: Path, report: Report) -> Workflow | None:
    from muxc.app.sources import read_source
    from muxc.syntax import parse_workflow

    source = read_source(path, report.sink, report.sources, allow_empty=False)
    if source is None:
        return None
    return parse_workflow(source.text, source.path, report.sink)


def check_file(path: Path, config: Config, report: CheckReport,
               environ: Mapping[str, str] | None = None, backends_at: Path | None = None,
               parsed: Callable[[Workflow], None] | None = None) -> Checked:
    """Parse and check one workflow; with ``environ``, also the ``${VAR}`` references of the
    backends its roles reach (an unset one there is an error; elsewhere it does not matter), and
    with ``backends_at`` (the project root) a warning for query steps whose backends cannot
    answer on this machine (what a build would stop on). ``parsed`` gets the workflow as soon as
    it is parsed, before the checks (`check` starts the shell tools on it there)."""
    from muxc.check import check

    workflow = parse_file(path, report)
    if workflow is not None and parsed is not None:
        parsed(workflow)
    checked = check(workflow, config, report.sink) if workflow is not None else None
    if checked is not None and environ is not None:
        check_reachable_env(checked.config, workflow.steps, environ, report.sink)
        if backends_at is not None and not report.errors:
            from muxc.app.preflight import report_unanswerable, step_span

            report_unanswerable(checked.config, [step_span(step) for step in workflow.steps], None, backends_at,
                                environ, report.sink, Severity.WARNING)
    result = Checked(str(path), workflow, checked)
    report.results.append(result)
    return result


def roles_used(steps: Iterable[Any]) -> set[str]:
    """The roles a workflow's steps ask: each query's (``default`` when it names none) and any named."""
    return {step.role or "default" for step in steps if step.type == "query" or step.role}


def check_reachable_env(config: Config, steps: Iterable[Any], environ: Mapping[str, str],
                        sink: DiagnosticSink) -> None:
    from muxc.config.build import backends_of_roles, check_env_references

    check_env_references(config, environ, sink, backends_of_roles(config, roles_used(steps)))


def check_paths(project: Project, paths: list[Path], backends: bool = False, shell: bool = True) -> CheckReport:
    """Check the given files, or every workflow muxc can find when none is given (``backends``:
    also warn about query steps whose backends cannot answer on this machine, in the files given
    or the project's and user's own; ``shell``: also
    parse shell commands with ``sh -n`` and shellcheck, when installed)."""
    report = CheckReport()
    report.config = load_config(project, report)
    entries = [(path, "given") for path in paths] or [(e.path, e.origin) for e in find_workflows(project)]
    shell_judge = None
    if shell:  # the shell tools work on each workflow's commands while its pure checks run
        from muxc.app.shellsyntax import ShellJudge

        shell_judge = ShellJudge(project.environ)
    for path, origin in entries:
        # checking everything, the stdlib's workflows are not warned about backends (as `muxc
        # doctor` does not judge them): a fresh install builds none of them until asked
        judge = backends and origin != "stdlib"
        check_file(path, report.config, report, project.environ, project.root if judge else None,
                   shell_judge.add if shell_judge is not None else None)
    _check_own_tests(report)
    if shell_judge is not None:
        shell_judge.report(report.sink)
    return report


def _check_own_tests(report: CheckReport) -> None:
    """A ``.mux`` workflow's own ``test`` statements are read as ``muxc test`` reads them (whether
    the steps they name exist is ``muxc test``'s to say: it needs the built plan)."""
    for result in report.results:
        file = result.workflow.file if result.workflow is not None else ""
        source = report.sources.get(file)
        if source is None or not file.endswith(".mux"):
            continue
        from muxc.syntax.mux_tests import has_test_statement

        if has_test_statement(source.text):
            from muxc.app.testing.parse import parse_test_file

            parse_test_file(source.text, file, str(Path(result.path).resolve().parent), report.sink)


def step_names(path: Path) -> list[str]:
    """The step names of a workflow file, in order ([] when it does not parse)."""
    workflow = parse_file(path, Report())
    return [step.name for step in workflow.steps] if workflow is not None else []


def unknown_steps(path: Path, workflow: str, steps: tuple[str, ...]) -> str | None:
    """A usage message for the first of ``steps`` the workflow does not have, else None."""
    from muxc.lang.validate import did_you_mean

    names = step_names(path)
    if not names:  # it does not parse: nothing to check against (what the cache holds can go)
        return None
    for step in steps:
        if step not in names:
            hint = did_you_mean(step, names) or ("its steps are: " + ", ".join(names) if names else "")
            return f"`{workflow}` has no step `{step}`" + (f"; {hint}" if hint else "")
    return None


def workflow_summary(path: Path) -> tuple[str, str]:
    """(name, description) of a workflow file, reading as little as needed; errors give ("", "")."""
    report = Report()
    workflow = parse_file(path, report)
    return (workflow.name, workflow.description) if workflow else ("", "")


# --- fmt -------------------------------------------------------------------------------


@dataclass
class FormatResult(Report):
    text: str | None = None


def format_file(path: Path, to: str | None) -> FormatResult:
    """The file converted to ``to`` (mux or toml; default: its own format), or diagnostics."""
    from muxc.syntax import detect_format

    result = FormatResult()
    workflow = parse_file(path, result)
    if workflow is None or result.errors:
        if workflow is not None:
            _refuse_lossy(result, str(path))
        return result
    target = to or detect_format(str(path))
    tests = _own_tests(workflow, result)
    if tests and target != "mux":
        result.sink.report("fmt-refused", "this workflow carries `test` statements, which a TOML workflow cannot "
                           "hold", workflow.file, Span(0, 0), "", severity=Severity.ERROR,
                           help="move them into NAME.test.mux (with `tests \"NAME.mux\"` first) or NAME.test.toml")
        return result
    if target == "mux":
        from muxc.syntax.emit_mux import emit_mux

        result.text = emit_mux(workflow) + ("\n" + "".join(tests).rstrip("\n") + "\n" if tests else "")
    else:
        from muxc.syntax.emit_toml import emit_toml

        result.text = emit_toml(workflow)
    return result


def _own_tests(workflow: Workflow, result: Report) -> list[str]:
    """The test statements of a ``.mux`` workflow, as written (fmt writes the workflow, then them)."""
    source = result.sources.get(workflow.file)
    if workflow.format != "mux" or source is None or "test" not in source.text:
        return []
    from muxc.syntax.mux_tests import test_sources

    return test_sources(source.text, workflow.file)


def _refuse_lossy(result: FormatResult, file: str) -> None:
    result.sink.report("fmt-refused", "not formatting a file with errors: converting it would lose what they "
                       "point at", file, Span(0, 0), "", severity=Severity.NOTE,
                       help="fix the errors above and run muxc fmt again")
