"""Test results as JUnit XML (``muxc test --junit FILE``), the format CI systems read.

One ``<testsuite>`` per test file, one ``<testcase>`` per test (classname: the file, name: the
test's name); a failed expectation is a ``<failure>``, a test that could not run an ``<error>``,
each with the messages and what was expected and got as its text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from muxc.app.testing.assertions import Failure
from muxc.app.testing.runner import ERROR, FAILED, CaseResult


def junit_xml(results: Sequence[CaseResult]) -> str:
    root = ET.Element("testsuites", name="muxc test", tests=str(len(results)),
                      failures=str(_count(results, FAILED)), errors=str(_count(results, ERROR)))
    for file in dict.fromkeys(result.file for result in results):
        mine = [result for result in results if result.file == file]
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(mine)),
                              failures=str(_count(mine, FAILED)), errors=str(_count(mine, ERROR)),
                              time=_seconds(sum(result.duration_ms for result in mine)))
        for result in mine:
            _case(suite, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, result: CaseResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=result.file, name=result.name,
                         time=_seconds(result.duration_ms))
    if result.outcome == FAILED:
        failure = ET.SubElement(case, "failure", message=result.failures[0].message if result.failures else "failed")
        failure.text = "\n".join(_failure_text(f) for f in result.failures)
    elif result.outcome == ERROR:
        messages = [diagnostic.message for diagnostic in result.diagnostics] or ["the test could not run"]
        error = ET.SubElement(case, "error", message=messages[0])
        error.text = "\n".join(messages)


def _failure_text(failure: Failure) -> str:
    details = list(failure.notes) or [f"expected: {failure.expected}", f"got: {failure.got}"]
    if failure.help:
        details.append(f"help: {failure.help}")
    return failure.message + "".join("\n  " + detail.replace("\n", "\n  ") for detail in details)


def _count(results: Sequence[CaseResult], outcome: str) -> int:
    return sum(1 for result in results if result.outcome == outcome)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"
