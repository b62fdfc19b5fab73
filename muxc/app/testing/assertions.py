"""Checking a finished test build: each failed assertion becomes a ``Failure`` saying expected vs got.

Pure over the values it is given (a step's output, a file's text or None, the run's facts), so
the runner decides where those come from. ``json`` paths are dotted keys and ``[index]``es,
optionally after ``$.``: ``$.findings[0].severity``.
"""

from __future__ import annotations

import json
import re

import msgspec

from muxc.app.testing.model import Expect, RunExpect
from muxc.diagnostics.span import Span

SHOWN = 400  # characters of a long value shown in a failure


class Failure(msgspec.Struct, frozen=True):
    message: str
    span: Span  # where in the test file the failing assertion is
    expected: str = ""
    got: str = ""
    code: str = "test-failed"  # the diagnostic code it is shown with
    notes: tuple[str, ...] = ()  # shown instead of expected/got when set
    help: str | None = None
    label: str = "this failed"


class RunFacts(msgspec.Struct, frozen=True):
    success: bool
    statuses: dict[str, str]  # step -> ran | cached | skipped | failed | not reached
    calls: int
    errors: dict[str, str] = {}  # step -> failure message


_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def json_at(text: str, path: str) -> tuple[bool, object]:
    """(found, value) at ``path`` in the JSON of ``text``, found as ``steps.X.json`` finds it (in a
    fence, in prose, repaired: ``llmjson``); (False, why) when it is not there."""
    from muxc.lang.llmjson import extract_json, why_no_json

    extracted = extract_json(text)
    if extracted is None:
        return False, f"the text {why_no_json(text)}"
    value: object = extracted.value
    rest = path[2:] if path.startswith("$.") else path.lstrip("$")
    for match in _PATH_PART.finditer(rest):
        key, index = match.group(1), match.group(2)
        if index is not None and isinstance(value, list) and -len(value) <= int(index) < len(value):
            value = value[int(index)]
        elif key is not None and isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return False, f"nothing at {match.group(0).lstrip('.')!r}"
    return True, value


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + f"… ({len(text)} characters)"


def check_expect(expect: Expect, text: str | None, exit_code: int | str | None = None,
                 changed: tuple[str, ...] = ()) -> list[Failure]:
    """The failures of ``expect`` against the subject's text (None: the file does not exist) and,
    for a step, its exit code (a string: why there is none) and the files it changed."""
    subject = expect.subject
    failures = []
    if expect.changed is not None and sorted(expect.changed.value) != sorted(changed):
        failures.append(Failure(f"{subject} changed other files", expect.changed.span,
                                ", ".join(sorted(expect.changed.value)) or "none", ", ".join(sorted(changed)) or "none"))
    if expect.exit_code is not None and exit_code != expect.exit_code.value:
        failures.append(Failure(f"{subject} exited with {exit_code}, not {expect.exit_code.value}",
                                expect.exit_code.span, str(expect.exit_code.value), str(exit_code)))
    return failures + _content_checks(expect, subject, text)


def _content_checks(expect: Expect, subject: str, text: str | None) -> list[Failure]:
    if expect.exists is not None and bool(expect.exists.value) != (text is not None):
        want = "exists" if expect.exists.value else "does not exist"
        return [Failure(f"{subject}: expected it {want}", expect.exists.span,
                        want, "exists" if text is not None else "missing")]
    if text is None:
        if any((expect.contains, expect.regex, expect.equals, expect.lines, expect.not_contains, expect.json,
                expect.schema)):
            return [Failure(f"{subject} does not exist", expect.span, "a file", "missing")]
        return []
    failures = []
    if expect.json is not None or expect.schema is not None:
        found, value = json_at(text, str(expect.json.value) if expect.json is not None else "$")
        if not found:
            span = expect.json.span if expect.json is not None else expect.schema_span or expect.span
            return [Failure(f"{subject}: {value}", span, "JSON", _shown(text))]
        failures += _schema_checks(expect, subject, value)
        if expect.json is not None:
            text = value if isinstance(value, str) else json.dumps(value)
    return failures + _text_checks(expect, subject, text)


def _schema_checks(expect: Expect, subject: str, value: object) -> list[Failure]:
    from muxc.lang.outschema import validate

    if expect.schema is None:
        return []
    violations = validate(value, expect.schema)
    return [Failure(f"{subject} does not satisfy the schema: {violation.text()}", expect.schema_span or expect.span,
                    "a value the schema accepts", _shown(json.dumps(value))) for violation in violations]


def _text_checks(expect: Expect, subject: str, text: str) -> list[Failure]:
    failures = []
    for needle in expect.contains:
        if str(needle.value) not in text:
            failures.append(Failure(f"{subject} does not contain {needle.value!r}", needle.span,
                                    f"contains {needle.value!r}", _shown(text)))
    for needle in expect.not_contains:
        if str(needle.value) in text:
            failures.append(Failure(f"{subject} contains {needle.value!r}", needle.span,
                                    f"no {needle.value!r}", _shown(text)))
    if expect.regex is not None and re.search(str(expect.regex.value), text, re.MULTILINE) is None:
        failures.append(Failure(f"{subject} does not match /{expect.regex.value}/", expect.regex.span,
                                f"matches /{expect.regex.value}/", _shown(text)))
    if expect.equals is not None and text.rstrip("\n") != str(expect.equals.value).rstrip("\n"):
        failures.append(Failure(f"{subject} is not the expected text", expect.equals.span,
                                _shown(str(expect.equals.value)), _shown(text)))
    if expect.lines is not None and len(text.splitlines()) != expect.lines.value:
        failures.append(Failure(f"{subject} has {len(text.splitlines())} lines, not {expect.lines.value}",
                                expect.lines.span, str(expect.lines.value), str(len(text.splitlines()))))
    return failures


def check_run(run: RunExpect, facts: RunFacts) -> list[Failure]:
    failures = []
    if run.success is not None and run.success.value != facts.success:
        why = "; ".join(f"{step}: {error}" for step, error in facts.errors.items())
        failures.append(Failure("the build " + ("failed" if run.success.value else "succeeded"), run.success.span,
                                "success" if run.success.value else "failure",
                                "success" if facts.success else _shown(why) if why else "failure"))
    for status in ("ran", "cached", "skipped", "failed"):
        wanted = getattr(run, status)
        if wanted is None:
            continue
        got = sorted(step for step, state in facts.statuses.items() if state == status)
        if sorted(wanted.value) != got:
            failures.append(Failure(f"the steps that {status} differ", wanted.span,
                                    ", ".join(sorted(wanted.value)) or "none", ", ".join(got) or "none"))
    if run.calls is not None and run.calls.value != facts.calls:
        failures.append(Failure(f"the build made {facts.calls} LLM calls, not {run.calls.value}", run.calls.span,
                                str(run.calls.value), str(facts.calls)))
    return failures


def step_names(run: RunExpect) -> list[tuple[str, Span]]:
    """Every step a run assertion names, with the span of its list."""
    named = (getattr(run, status) for status in ("ran", "cached", "skipped", "failed"))
    return [(str(name), field.span) for field in named if field is not None for name in field.value]


