"""Store steps: write the JSON in the rendered ``prompt`` to the ecosystem's memory database.

JSON is found in fenced or prose-wrapped text. Items missing required keys are reported as
warnings with their index (never dropped silently); the output is the store's summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand


def ecosystem_of(build: Build) -> str:
    """The detected ecosystem, or the project directory's name when none is configured."""
    return build.ecosystem_name or build.root.name


def project_of(build: Build) -> str:
    """The detected project's name, or the project directory's name."""
    current = build.ecosystem.get("current_project") if isinstance(build.ecosystem, dict) else None
    return (current or {}).get("name") or build.root.name


def extras(build: Build, plan: StepPlan, context: dict[str, Any]) -> dict[str, Any]:
    return {"ecosystem": ecosystem_of(build)}


def run(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any,
        key: str = "", commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
    from muxc.lang.llmjson import extract_json
    from muxc.store.memory import MemoryDB

    found = extract_json(rendered["prompt"])
    if found is None:
        start = rendered["prompt"][:200]
        return StepFailure("store", f"no JSON to store; the data starts: {start!r}",
                           hint="a store step's prompt should render JSON such as {{ steps.X.output }}")
    assert build.data_dir is not None
    with MemoryDB.open(build.data_dir, ecosystem_of(build)) as db:
        report = db.store(found.value, project_default=project_of(build))
    if report.error:
        return StepFailure("store", report.error)
    for warning in report.warnings:
        build.reporter.note(f"{plan.name}: {warning}")
    # the warnings are in the output too: --output json/quiet show no notes, and a later step may read them
    warnings = "".join(f"\n  - {warning}" for warning in report.warnings)
    return Produced(report.summary() + (f"\nwarnings:{warnings}" if warnings else ""))
