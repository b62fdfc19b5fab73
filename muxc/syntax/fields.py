"""Which step fields each step kind uses and requires, with a one-line doc per field.

This table drives the schema checks (missing and inapplicable fields), ``muxc fmt`` (order),
the JSON Schema in ``docs/`` and the reference in ``docs/language.md``.
"""

from __future__ import annotations

from typing import NamedTuple

ALL = frozenset({"shell", "query", "apply", "store", "input"})


class FieldInfo(NamedTuple):
    name: str
    kinds: frozenset[str]
    required_for: frozenset[str]
    doc: str
    unit: str | None = None  # "ms" for durations whose bare integers are milliseconds


def _f(name: str, kinds: str | frozenset[str], doc: str, required: str = "", unit: str | None = None) -> FieldInfo:
    kind_set = ALL if kinds == "*" else frozenset(kinds.split()) if isinstance(kinds, str) else kinds
    return FieldInfo(name, kind_set, frozenset(required.split()), doc, unit)


STEP_FIELDS: tuple[FieldInfo, ...] = (
    _f("name", "*", "the step's name, unique in the workflow", "shell query apply store input"),
    _f("type", "*", "shell | query | apply | store | input", "shell query apply store input"),
    _f("role", "query", "the role whose backends answer the prompt", "query"),
    _f("source", "apply", "the step whose output holds the edits (`X` or `steps.X`)", "apply"),
    _f("save", "*", "a file the output is written to (a build target: deleting it rebuilds the step)"),
    _f("prompt", "query store input", "the prompt (query), the data to store (store), or the question (input)",
       "query store input"),
    _f("run", "shell", "the command, run with `sh -c` in the project root", "shell"),
    _f("system", "query", "a system prompt sent with the query"),
    _f("depends_on", "*", "steps that must finish first (references in templates are added automatically)"),
    _f("if", "*", "a condition; the step is skipped (skipped = true, empty output) when it is false"),
    _f("for_each", "*", "an expression yielding a list; the step runs once per item, `item` in templates"),
    _f("inputs", "shell query", "globs of files the step reads; narrows its cache key from the whole project (`[]`: none)"),
    _f("always", "*", "run on every build (a volatile step)"),
    _f("cache", "*", "how long a result stays valid: forever (default), never, or a duration such as 7d"),
    _f("version", "*", "change it to rerun the step deliberately"),
    _f("timeout", "*", "how long the step may take (an integer is milliseconds; or 30s, 5m)", unit="ms"),
    _f("retries", "shell query", "reruns after a failure"),
    _f("retry_delay", "shell query", "wait before a rerun (an integer is milliseconds)", unit="ms"),
    _f("continue_on_error", "*", "a failure does not stop the build; dependents see failed = true"),
    _f("allow_tool_files", "*", "its saved file and edits may write tool files that run code (.envrc, "
       ".github/workflows/, ...)"),
    _f("parallel", "query", "ask every backend of the role at once, whatever the role's execution"),
    _f("min_success", "query", "answers needed from a parallel role (overrides the role's)"),
    _f("params", "query", "backend parameters for this step (temperature, max_tokens, ...)"),
    _f("output_schema", "query", "the JSON the answer must match; typed as steps.X.json"),
    _f("schema_retries", "query", "re-asks with the validation error when the answer does not match"),
    _f("verify", "apply", "a command that checks the edits (default: the team's verify)"),
    _f("verify_retries", "apply", "re-asks the source step's role this many times when verify fails"),
    _f("verify_retry_prompt", "apply", "the re-ask prompt: {{ original }}, {{ edits }}, {{ error }}"),
    _f("verify_timeout", "apply", "how long verify may take (an integer is milliseconds)", unit="ms"),
    _f("rollback_on_failure", "apply", "restore every touched file byte for byte when the edits fail"),
    _f("options", "input", "the choices offered"),
    _f("default", "input", "the answer used when none is given"),
)

BY_NAME: dict[str, FieldInfo] = {f.name: f for f in STEP_FIELDS}

# The field that holds a step's body text in the DSL.
BODY_FIELD = {"shell": "run", "query": "prompt", "store": "prompt", "input": "prompt"}
