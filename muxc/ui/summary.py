"""After a build: step failures as diagnostics, the totals line, and the JSON document.

The totals line is ``summary_line(BuildSummary)``, a pure function of the summary (``summary_of``
makes one from a build), so any path that knows how the steps ended prints the same line.

A failed step is shown with the same renderer as a check error, pointing at the step in the
workflow file, with the command, its exit code and the end of its stderr as notes.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from muxc.base.text import plural
from muxc.diagnostics.model import Diagnostic, Label, Severity
from muxc.run.context import CACHED, FAILED, RAN, Build


def failure_diagnostics(build: Build) -> list[Diagnostic]:
    out = []
    for plan in build.plan.steps:
        state = build.state(plan.name)
        if state.status != FAILED or state.failure is None:
            continue
        failure = state.failure
        notes = []
        if failure.command:
            notes.append(f"command: {failure.command.strip()}")
        if failure.exit_code is not None:
            notes.append(f"exit code: {failure.exit_code}")
        if failure.stderr_tail:
            notes.append("stderr:\n" + "\n".join("    " + line for line in failure.stderr_tail.splitlines()))
        out.append(Diagnostic("step-failed", Severity.ERROR, f"step `{plan.name}` failed: {failure.message}",
                              (Label(plan.file, plan.span, f"this {plan.kind} step failed"),), tuple(notes),
                              failure.hint))
    return out


class BuildSummary(msgspec.Struct, frozen=True):
    """What the last line of a build says: everything ``summary_line`` needs, and nothing else,
    so a build that never ran its engine (a no-op fast path) can make one and print the same."""

    workflow: str
    steps: int
    counts: dict[str, int]  # status -> how many steps ended so
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


# The statuses the summary names, in its order; "ran" and "cached" are said even when 0.
SUMMARY_ORDER = (RAN, CACHED, FAILED, "skipped", "interrupted", "not reached", "would run")


def summary_of(build: Build) -> BuildSummary:
    counts: dict[str, int] = {}
    tokens_in = tokens_out = 0
    cost = 0.0
    for state in build.states.values():
        counts[state.status] = counts.get(state.status, 0) + 1
        record = state.record
        if record is not None and state.status == RAN:
            tokens_in += record.usage.input_tokens or 0
            tokens_out += record.usage.output_tokens or 0
            cost += record.usage.cost_usd or 0.0
    return BuildSummary(build.plan.workflow, len(build.states), counts, round(time.time() - build.started, 2),
                        tokens_in, tokens_out, round(cost, 6))


def totals(build: Build) -> dict[str, Any]:
    summary = summary_of(build)
    counts = {status: summary.counts.get(status, 0) for status in SUMMARY_ORDER} | summary.counts
    return {"steps": summary.steps, **counts, "input_tokens": summary.input_tokens,
            "output_tokens": summary.output_tokens, "cost_usd": summary.cost_usd, "seconds": summary.seconds}


def summary_line(summary: BuildSummary) -> str:
    """'w: 1000 steps — 0 ran, 1000 cached in 0.3s' (a pure function of the summary)."""
    counts = summary.counts
    parts = [f"{counts.get(RAN, 0)} ran", f"{counts.get(CACHED, 0)} cached"]
    parts += [f"{counts[k]} {k}" for k in SUMMARY_ORDER[2:] if counts.get(k)]
    line = f"{summary.workflow}: {plural(summary.steps, 'step')} — " + ", ".join(parts) + \
        f" in {summary.seconds:.1f}s"
    if summary.input_tokens or summary.output_tokens:
        line += f"; {summary.input_tokens:,} tokens in, {summary.output_tokens:,} out"
    if summary.cost_usd:
        line += f"; ${summary.cost_usd:.4f}"
    return line


def final_output(build: Build) -> str | None:
    name = build.plan.final
    if name is None:
        return None
    from muxc.run.scope import view_of

    state = build.state(name)
    if state.status not in (RAN, CACHED):
        return None
    return view_of(build, name).output


def as_json(build: Build, code: int) -> dict[str, Any]:
    from muxc.app.remote import where
    from muxc.run.scope import view_of

    steps = []
    for plan in build.plan.steps:
        state = build.state(plan.name)
        view = view_of(build, plan.name) if state.status in (RAN, CACHED) else None
        record = state.record
        steps.append({
            "name": plan.name,
            "kind": plan.kind,
            "status": state.status,
            "cached": state.status == CACHED,
            "duration_ms": state.duration_ms,
            "backend": view.backend or None if view else None,
            "tokens": {"input": record.usage.input_tokens, "cached_input": record.usage.cached_input_tokens,
                       "output": record.usage.output_tokens} if record else None,
            "cost_usd": record.usage.cost_usd if record else None,
            "reason": state.reason or None,
            "error": state.failure.message if state.failure is not None else None,
            "saved": str(build.targets[plan.name]) if plan.name in build.targets else None,
            "where": where(build, plan.name),  # a worker's address, local, cache or remote cache
        })
    if any(step["status"] == "would run" for step in steps):  # a dry run (never the no-op fast path)
        _add_estimates(build, steps)
    return {"workflow": build.plan.workflow, "success": code == 0, "exit_code": code, "steps": steps,
            "totals": totals(build), "output": final_output(build)}


def _add_estimates(build: Build, steps: list[dict[str, Any]]) -> None:
    """A dry run's query steps that would run carry their estimate (``app.estimates``)."""
    from muxc.app.estimates import estimate_queries

    found = estimate_queries(build, [step["name"] for step in steps if step["status"] == "would run"])
    for step in steps:
        if step["name"] in found:
            step["estimate"] = msgspec.to_builtins(found[step["name"]])
