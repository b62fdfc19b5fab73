"""Find workflow tests, run each case in its own temporary project, and collect the results.

A case runs in a fresh directory (``muxc-test-*`` under the system temp dir): the fixture
directory is copied in, inline files are written, HOME and the XDG dirs point inside it (no user
config, cache or LLM log is read or written), and the workflow is built from where it lives
with every backend replaced by the case's scripted answers (``answers.ScriptedPool``). The
directory is removed afterwards. A build changes the working directory's meaning (team
detection), so cases run one at a time per process: ``-j N`` uses N worker processes.

Nothing here prints: a ``CaseResult`` holds the outcome, the failed expectations and any
diagnostics (a step a test names that the workflow lacks, a workflow that fails ``muxc check``),
with the texts they point into, so a face can render them with ``muxc.diagnostics.render``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import msgspec

from muxc.app.api import Project, Report, resolve_workflow
from muxc.app.sources import read_source
from muxc.app.testing.assertions import Failure, RunFacts, check_expect, check_run, step_names
from muxc.app.testing.cassette import Recorded, cassette_path, dump_cassette, parse_cassette
from muxc.app.testing.model import TestCase, TestFile
from muxc.app.testing.parse import parse_test_file
from muxc.diagnostics.model import Diagnostic, Label, Severity
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile
from muxc.diagnostics.span import Span
from muxc.lang.validate import did_you_mean
from muxc.syntax.mux_tests import has_test_statement

SUFFIX = ".test.toml"
SUFFIXES = (SUFFIX, ".test.mux")
PASSED, FAILED, ERROR = "passed", "failed", "error"


class CaseResult(msgspec.Struct, frozen=True):
    file: str  # the test file, as shown
    name: str
    outcome: str  # passed | failed | error
    failures: tuple[Failure, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()  # why it could not run (an error), or its failures
    sources: dict[str, str] = {}  # path -> text, for rendering the diagnostics
    duration_ms: int = 0
    recorded: tuple[Recorded, ...] = ()  # the answers its cassette should hold (recording only)

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


class Loaded(msgspec.Struct, frozen=True):
    """A parsed test file and the workflow it names (None: the file cannot run)."""

    file: TestFile
    workflow: str | None
    recorded: tuple[Recorded, ...] = ()  # its cassette
    cassette: str = ""  # the cassette's path (it may not exist yet)


# --- discovery and loading -----------------------------------------------------------------


def discover(paths: Sequence[Path]) -> list[Path]:
    """The test files under ``paths`` (files given by name are taken as they are), sorted:
    ``*.test.toml``, ``*.test.mux``, and ``.mux`` workflows that carry ``test`` statements."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if is_test_source(p) and not _hidden(p.relative_to(path)))
        else:
            found.add(path)
    return sorted(found)


def is_test_source(path: Path) -> bool:
    """A test file, or a ``.mux`` workflow with a ``test`` statement (read only to look for one)."""
    if path.name.endswith(SUFFIXES):
        return path.is_file()
    if path.suffix != ".mux" or not path.is_file():
        return False
    try:
        return has_test_statement(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False





def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part in ("node_modules", "__pycache__") for part in relative.parts[:-1])


def load(path: Path, report: Report) -> Loaded | None:
    """The test file at ``path`` with its workflow resolved; problems go to ``report``."""
    source = read_source(path, report.sink, report.sources, allow_empty=False)
    if source is None:
        return None
    errors = report.errors
    parsed = parse_test_file(source.text, source.path, str(path.resolve().parent), report.sink)
    if parsed is None or report.errors > errors:  # a half-understood test proves nothing: none of it runs
        return None
    cassette = Path(cassette_path(str(path)))
    recorded = _read_cassette(cassette, report) if cassette.exists() else ()
    if recorded is None:
        return None
    workflow = _workflow_of(parsed)
    if workflow is None:
        report.sink.report("unknown-workflow", f"no workflow {parsed.workflow.value!r} beside this test or by that "
                           "name", parsed.path, parsed.workflow.span, "not found",
                           help="give a path relative to the test file, or a name `muxc list` shows")
    return Loaded(parsed, workflow, recorded, str(cassette))


def _read_cassette(path: Path, report: Report) -> tuple[Recorded, ...] | None:
    source = read_source(path, report.sink, report.sources)
    return parse_cassette(source.text, source.path, report.sink) if source is not None else None


def _workflow_of(file: TestFile) -> str | None:
    name = str(file.workflow.value)
    beside = Path(file.directory) / name
    if beside.is_file():
        return str(beside)
    found = resolve_workflow(Project(Path(file.directory)), name)
    return str(found.resolve()) if found is not None else None


def select(loaded: Sequence[Loaded], pattern: str | None) -> list[tuple[Loaded, int]]:
    """(file, case index) pairs whose id or name matches ``-k`` (a substring or a glob)."""
    chosen = []
    for item in loaded:
        if item.workflow is None:  # diagnosed once, for the file: its cases cannot run
            continue
        for index, case in enumerate(item.file.cases):
            ident = f"{item.file.path}::{case.name}"
            if pattern is None or pattern in ident or fnmatch.fnmatch(ident, pattern) \
                    or fnmatch.fnmatch(case.name, pattern):
                chosen.append((item, index))
    return chosen


# --- running -------------------------------------------------------------------------------


def run_cases(cases: Sequence[tuple[Loaded, int]], jobs: int = 1, record: str | None = None) -> list[CaseResult]:
    """Every case's result, in the order given; ``jobs > 1`` runs them in worker processes.
    ``record``: None replays, ``"all"`` asks the real backends for every unscripted query,
    ``"missing"`` only for those the cassette lacks (``save_cassettes`` writes them)."""
    if jobs <= 1 or len(cases) <= 1:
        return [run_case(item, index, record) for item, index in cases]
    with ProcessPoolExecutor(max_workers=min(jobs, len(cases)), mp_context=get_context("spawn")) as pool:
        return list(pool.map(run_case, [item for item, _ in cases], [index for _, index in cases],
                             [record] * len(cases)))


def run_case(loaded: Loaded, index: int, record: str | None = None, source: Any = None) -> CaseResult:
    """One case, start to end, never raising: an unexpected problem is an ``error`` result.
    ``source``: when recording, what answers instead of the real backends (``source(request,
    cancel) -> text``; ``tools.record_scripted`` records scripted answers so)."""
    case = loaded.file.cases[index]
    started = time.monotonic()
    try:
        result = _run(loaded, case, record, source)
    except Exception as error:  # a test runner reports; it never dies with a traceback
        result = _error(loaded.file, case, f"the test could not run: {type(error).__name__}: {error}", case.span,
                        code="test-failed")
    return msgspec.structs.replace(result, duration_ms=int((time.monotonic() - started) * 1000))


def _error(file: TestFile, case: TestCase, message: str, span: Span, code: str = "unknown-workflow") -> CaseResult:
    diagnostic = Diagnostic(code, Severity.ERROR, message, (Label(file.path, span, ""),))
    return CaseResult(file.path, case.name, ERROR, diagnostics=(diagnostic,), sources=_own_source(file))


def _own_source(file: TestFile) -> dict[str, str]:
    path = Path(file.directory) / Path(file.path).name
    with contextlib.suppress(OSError):
        return {file.path: path.read_text(encoding="utf-8")}
    return {}


def _run(loaded: Loaded, case: TestCase, record: str | None, source: Any = None) -> CaseResult:
    file = loaded.file
    if loaded.workflow is None:  # `select` leaves these out; a direct caller gets the reason
        return _error(file, case, f"no workflow {file.workflow.value!r}", file.workflow.span)
    with _isolated() as (root, environ):
        sink = DiagnosticSink()
        _lay_out(file, case, root, sink)
        if sink.error_count:
            return _diagnosed(file, case, sink, {})
        return _build_and_check(loaded, case, root, environ, record, source)


@contextlib.contextmanager
def _isolated() -> Iterator[tuple[Path, dict[str, str]]]:
    base = Path(tempfile.mkdtemp(prefix="muxc-test-"))
    root, home = base / "project", base / "home"
    root.mkdir()
    home.mkdir()
    environ = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_DATA_HOME": str(home / ".local/share"), "XDG_STATE_HOME": str(home / ".local/state"),
               "XDG_CACHE_HOME": str(home / ".cache")}
    previous = Path.cwd()
    os.chdir(root)  # team detection starts from the working directory
    try:
        yield root, environ
    finally:
        os.chdir(previous)
        shutil.rmtree(base, ignore_errors=True)


def _lay_out(file: TestFile, case: TestCase, root: Path, sink: DiagnosticSink) -> None:
    """The fixture directory, then the inline files, into ``root``."""
    if case.fixture is not None:
        fixture = Path(file.directory) / str(case.fixture.value)
        if not fixture.is_dir():
            sink.report("unreadable-file", f"the fixture directory {case.fixture.value!r} does not exist",
                        file.path, case.fixture.span, "not a directory", help="paths are relative to the test file")
        else:
            shutil.copytree(fixture, root, dirs_exist_ok=True)
    if case.git:
        _git_snapshot(root)
    for relative, text in case.files.items():
        target = (root / relative).resolve()
        if not target.is_relative_to(root.resolve()):
            sink.report("invalid-value", f"the fixture file {relative!r} is outside the project", file.path,
                        case.span, help="fixture files are relative paths inside the test's project")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


_GIT = ("-c", "user.name=muxc test", "-c", "user.email=test@muxc.invalid", "-c", "commit.gpgsign=false",
        "-c", "init.defaultBranch=main")


def _git_snapshot(root: Path) -> None:
    """A repository whose one commit holds the fixture: what `git diff` then shows is `files`."""
    import subprocess

    for args in (("init", "-q"), ("add", "-A"), ("commit", "-q", "--allow-empty", "-m", "fixture")):
        subprocess.run(["git", *_GIT, *args], cwd=root, capture_output=True, check=True)


def _diagnosed(file: TestFile, case: TestCase, sink: DiagnosticSink, sources: dict[str, SourceFile]) -> CaseResult:
    texts = {**_own_source(file), **{path: source.text for path, source in sources.items()}}
    return CaseResult(file.path, case.name, ERROR, diagnostics=tuple(sink.sorted()), sources=texts)


def _build_and_check(loaded: Loaded, case: TestCase, root: Path, environ: dict[str, str],
                     record: str | None, source: Any = None) -> CaseResult:
    from muxc.app.builds import BuildOptions, close, execute, prepare
    from muxc.app.testing.answers import ScriptedAnswers, ScriptedPool

    file = loaded.file
    # The test's answer source stands in for the configured backends: whether those could
    # answer (is the local model's extra installed, is a key set) does not matter.
    options = BuildOptions(jobs=2, answers=dict(case.inputs), interactive=False, answers_elsewhere=True)
    prepared = prepare(Project(root, environ), str(loaded.workflow), dict(case.args), options)
    if prepared.build is None:
        return _diagnosed(file, case, prepared.sink, prepared.sources)
    build = prepared.build
    try:
        sink = DiagnosticSink()
        _names_known(file, case, [plan.name for plan in build.plan.steps], sink)
        if sink.error_count:
            return _diagnosed(file, case, sink, {})
        live = (source or Live(loaded, build)) if record else None
        answers = ScriptedAnswers({answer.step: answer.texts for answer in case.answers}, test=case.name,
                                  workflow=build.plan.workflow,
                                  recorded=[entry for entry in loaded.recorded if entry.test == case.name],
                                  live=live, rerecord=record == "all")
        build.backends = ScriptedPool(build.config, build.root, answers)
        before = _snapshot(root, case)
        try:
            code = execute(build).code
        finally:
            if live is not None:
                live.close()
        failures = _missed(case, answers.misses) or _check(case, build, root, answers.calls, code, before)
    finally:
        close(build)
    return msgspec.structs.replace(_verdict(file, case, failures), recorded=tuple(answers.used.values()))


class Live:
    """Recording: a query asked of the real backends its role has in the test's real project
    (the user's and the project's config, the real environment), while the key it is stored
    under is the one the isolated test build computed, the same on every machine."""

    def __init__(self, loaded: Loaded, build: Any) -> None:
        from muxc.app.api import load_config
        from muxc.backends.registry import BackendPool

        real = Project.discover(Path(loaded.file.directory), environ=dict(os.environ))
        config = load_config(real, Report())
        extra = {name: role for name, role in build.config.roles.items() if name not in config.roles}
        self.config = msgspec.structs.replace(config, roles={**config.roles, **extra})
        self.roles = {plan.name: plan.step.role or "default" for plan in build.plan.steps}
        self.pool = BackendPool(self.config, real.root, environ=real.environ)

    def __call__(self, request: Any, cancel: Any) -> str:
        from muxc.backends.base import BackendError
        from muxc.backends.roles import resolve_role, run_role

        role = resolve_role(self.config, self.roles.get(request.step, "default"))
        result = run_role(role, self.pool, request, cancel)
        if result.backend is None:
            kind = next(iter(result.failure_kinds.values()), "server")
            message = "; ".join(f"{name}: {why}" for name, why in result.failures.items()) or "no answer"
            raise BackendError(kind if kind != "empty" else "bad_response", "recording", message)
        return result.output

    def close(self) -> None:
        self.pool.close()


def _names_known(file: TestFile, case: TestCase, steps: list[str], sink: DiagnosticSink) -> None:
    named = [(answer.step, answer.span) for answer in case.answers]
    named += [(str(expect.step.value), expect.step.span) for expect in case.expects if expect.step is not None]
    named += step_names(case.run) if case.run is not None else []
    for name, span in named:
        if name not in steps:
            sink.report("unknown-step", f"the workflow has no step `{name}`", file.path, span, "no such step",
                        help=did_you_mean(name, steps) or "its steps are: " + ", ".join(steps))


def _check(case: TestCase, build: Any, root: Path, calls: int, code: int, before: dict[str, str]
           ) -> list[Failure]:
    from muxc.run.scope import view_of

    statuses = {plan.name: build.state(plan.name).status for plan in build.plan.steps}
    errors = {name: build.state(name).failure.message for name in statuses if build.state(name).failure is not None}
    failures: list[Failure] = []
    if code != 0 and (case.run is None or case.run.success is None):  # unless the test expects it to fail
        why = "; ".join(f"{step}: {error}" for step, error in errors.items()) or f"exit code {code}"
        failures.append(Failure("the build failed", case.span, "success", why))
    for expect in case.expects:
        if expect.step is not None:
            name = str(expect.step.value)
            view = view_of(build, name)
            changed = tuple(path for path in (view.outputs or {}).get("paths", "").split("\n") if path)
            failures += check_expect(expect, str(view.output or ""), _exit_code(build.state(name)), changed)
        elif expect.diff is not None:
            relative = str(expect.diff.value)
            failures += check_expect(expect, _diff(before.get(relative), _file_text(root, relative), relative))
        else:
            text = _file_text(root, str(expect.file.value)) if expect.file is not None else None
            failures += check_expect(expect, text)
    if case.run is not None:
        failures += check_run(case.run, RunFacts(code == 0, statuses, calls, errors))
    return failures


def _missed(case: TestCase, misses: Sequence[Any]) -> list[Failure]:
    """A query the test had no answer for is the failure, said once per step: every other
    expectation would only repeat that the build did not get its answers."""
    failures, seen = [], set()
    for miss in misses:
        if miss.step in seen:
            continue
        seen.add(miss.step)
        if miss.recorded:
            failures.append(Failure(
                f"step `{miss.step}` of workflow `{miss.workflow}` changed since its answer was recorded", case.span,
                code="cassette-miss", notes=(f"what the model reads changed (recorded → now):\n{miss.diff}" if miss.diff else
                                             "the prompt is the same: its backends' config or what it reads changed",),
                help="`muxc test --record` refreshes the cassette (`--record-missing`: only what misses), if the "
                     "change is intended", label=f"this test's recorded answer for `{miss.step}` no longer fits"))
        else:
            failures.append(Failure(
                f"query step `{miss.step}` of workflow `{miss.workflow}` has no answer in this test", case.span,
                code="cassette-miss", notes=("no scripted answer in [test.answers], and none recorded in the "
                                             "cassette for this step",),
                help=f"add `{miss.step} = \"...\"` under [test.answers], or record one with "
                     "`muxc test --record-missing`", label=f"no answer for `{miss.step}`"))
    return failures


def _snapshot(root: Path, case: TestCase) -> dict[str, str]:
    """Before the build: the text of every file a `diff` expectation names."""
    named = {str(expect.diff.value) for expect in case.expects if expect.diff is not None}
    return {path: text for path in named if (text := _file_text(root, path)) is not None}


def _diff(before: str | None, after: str | None, path: str) -> str:
    import difflib

    lines = difflib.unified_diff((before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
                                 "/dev/null" if before is None else f"a/{path}",
                                 "/dev/null" if after is None else f"b/{path}")
    return "".join(lines)


def _exit_code(state: Any) -> int | str:
    """0 for a step that succeeded, a failed command's code, else why there is none."""
    if state.status in ("ran", "cached"):
        return 0
    failure = state.failure
    if failure is not None and failure.exit_code is not None:
        return int(failure.exit_code)
    return f"no exit code ({state.status}{': ' + failure.message if failure is not None else ''})"


def _file_text(root: Path, relative: str) -> str | None:
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file():
        return None
    return target.read_text(encoding="utf-8", errors="replace")


def _verdict(file: TestFile, case: TestCase, failures: list[Failure]) -> CaseResult:
    if not failures:
        return CaseResult(file.path, case.name, PASSED)
    diagnostics = tuple(as_diagnostic(file.path, failure) for failure in failures)
    return CaseResult(file.path, case.name, FAILED, tuple(failures), diagnostics, _own_source(file))


def as_diagnostic(path: str, failure: Failure) -> Diagnostic:
    notes = (f"expected: {failure.expected}", f"got: {failure.got}") if failure.expected or failure.got else ()
    return Diagnostic(failure.code, Severity.ERROR, failure.message, (Label(path, failure.span, failure.label),),
                      failure.notes or notes, failure.help)


def sources_of(results: Sequence[CaseResult]) -> dict[str, SourceFile]:
    """The texts every result's diagnostics point into, for the renderer."""
    return {path: SourceFile(path, text) for result in results for path, text in result.sources.items()}


class Collected(msgspec.Struct, frozen=True):
    cases: list[tuple[Loaded, int]]
    files: int  # test files found


def collect(paths: Sequence[Path], pattern: str | None, report: Report) -> Collected:
    """Every selected case under ``paths``; bad test files are diagnosed in ``report``."""
    found = discover(paths)
    loaded = [item for path in found if (item := load(path, report)) is not None]
    return Collected(select(loaded, pattern), len(found))


def save_cassettes(cases: Sequence[tuple[Loaded, int]], results: Sequence[CaseResult]) -> list[str]:
    """After recording: each test file's cassette holds, for the tests that ran, the answers they
    used or recorded, and for the others what it held. Returns the cassettes written."""
    written = []
    by_file: dict[str, tuple[Loaded, list[CaseResult]]] = {}
    for (loaded, _), result in zip(cases, results, strict=True):
        by_file.setdefault(loaded.cassette, (loaded, []))[1].append(result)
    for path, (loaded, ran) in by_file.items():
        names = {result.name for result in ran}
        kept = [entry for entry in loaded.recorded if entry.test not in names]
        entries = kept + [entry for result in ran for entry in result.recorded]
        if not entries and not Path(path).exists():
            continue
        Path(path).write_text(dump_cassette(Path(loaded.file.path).name, entries), encoding="utf-8")
        written.append(path)
    return written
