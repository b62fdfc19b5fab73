"""The pytest plugin (entry point ``pytest11: muxc``): pytest collects ``*.test.toml`` and
``*.test.mux`` files and ``.mux`` workflows with ``test`` statements, and runs each test as an item, exactly as ``muxc test`` does (``runner.run_case``).

A failed test shows the same diagnostics ``muxc test`` prints; a test file with errors is one
failing item showing them. Without the installed entry point: ``pytest -p muxc.app.testing.pytest_plugin``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".test.toml", ".test.mux")  # runner.SUFFIXES; muxc itself loads only when pytest meets a test file


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIXES):
        return WorkflowTestFile.from_parent(parent, path=file_path)
    if file_path.suffix == ".mux":  # a workflow carrying its own `test` statements
        from muxc.app.testing.runner import is_test_source

        if is_test_source(file_path):
            return WorkflowTestFile.from_parent(parent, path=file_path)
    return None


def _render(diagnostics: list[Any], sources: Any) -> str:
    from muxc.diagnostics.render import render

    return render("full", diagnostics, sources)


class WorkflowTestFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from muxc.app.api import Report
        from muxc.app.testing.runner import load

        report = Report()
        loaded = load(self.path, report)
        if loaded is None or report.errors or loaded.workflow is None:
            yield BadTestFile.from_parent(self, name="(test file)", report=report)
            return
        for index, case in enumerate(loaded.file.cases):
            yield WorkflowTest.from_parent(self, name=case.name, loaded=loaded, index=index)


class WorkflowTestFailed(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _ShowsDiagnostics(pytest.Item):
    """An item whose failure is shown as muxc's rendered diagnostics, not a Python traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, WorkflowTestFailed):
            return excinfo.value.text
        return str(super().repr_failure(excinfo))


class WorkflowTest(_ShowsDiagnostics):
    def __init__(self, *, loaded: Any, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded
        self.index = index

    def runtest(self) -> None:
        from muxc.app.testing.runner import PASSED, run_case, sources_of

        result = run_case(self.loaded, self.index)
        if result.outcome != PASSED:
            raise WorkflowTestFailed(_render(list(result.diagnostics), sources_of([result])))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"muxc test {self.loaded.file.path}::{self.name}"


class BadTestFile(_ShowsDiagnostics):
    def __init__(self, *, report: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report

    def runtest(self) -> None:
        raise WorkflowTestFailed(_render(self.report.diagnostics, self.report.sources))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"muxc test {self.path.name}"
