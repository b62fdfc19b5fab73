"""Test results as JUnit XML (``muxc test --junit FILE``), the format CI systems read.

One ``<testsuite>`` per test file, one ``<testcase>`` per test (classname: the file, name: the
test's name); a failed expectation is a ``<failure>``, a test that could not run an ``<error>``,
each with the messages and what was expected and got as its text, and the diagnostic code as its
``type``. Every attribute Apache Ant's JUnit schema requires is written (``timestamp``,
``hostname``, ``id``, ``package``), so the strictest readers accept it (tests validate it).
"""

from __future__ import annotations

import datetime
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from muxc.app.testing.assertions import Failure
from muxc.app.testing.runner import ERROR, FAILED, CaseResult


def junit_xml(results: Sequence[CaseResult], when: datetime.datetime | None = None) -> str:
    """The report; ``when`` (UTC, default now) is each suite's ``timestamp``."""
    stamp = (when or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    host = socket.gethostname() or "localhost"
    root = ET.Element("testsuites", name="muxc test", tests=str(len(results)),
                      failures=str(_count(results, FAILED)), errors=str(_count(results, ERROR)), skipped="0",
                      time=_seconds(sum(result.duration_ms for result in results)))
    for index, file in enumerate(dict.fromkeys(result.file for result in results)):
        mine = [result for result in results if result.file == file]
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(mine)),
                              failures=str(_count(mine, FAILED)), errors=str(_count(mine, ERROR)), skipped="0",
                              time=_seconds(sum(result.duration_ms for result in mine)), timestamp=stamp,
                              hostname=host, id=str(index), package=file)
        for result in mine:
            _case(suite, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, result: CaseResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=result.file, name=result.name,
                         time=_seconds(result.duration_ms))
    if result.outcome == FAILED:
        first = result.failures[0] if result.failures else None
        failure = ET.SubElement(case, "failure", message=first.message if first else "failed",
                                type=first.code if first else "test-failed")
        failure.text = "\n".join(_failure_text(f) for f in result.failures)
    elif result.outcome == ERROR:
        messages = [diagnostic.message for diagnostic in result.diagnostics] or ["the test could not run"]
        error = ET.SubElement(case, "error", message=messages[0],
                              type=result.diagnostics[0].code if result.diagnostics else "error")
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
