"""After a build: step failures as diagnostics, the totals line, and the JSON document.

A failed step is shown with the same renderer as a check error, pointing at the step in the
workflow file, with the command, its exit code and the end of its stderr as notes.
"""

from __future__ import annotations

from typing import Any

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


def totals(build: Build) -> dict[str, Any]:
    counts = {status: 0 for status in (RAN, CACHED, FAILED, "skipped", "not reached", "would run")}
    tokens_in = tokens_out = 0
    cost = 0.0
    for state in build.states.values():
        counts[state.status] = counts.get(state.status, 0) + 1
        record = state.record
        if record is not None and state.status == RAN:
            tokens_in += record.usage.input_tokens or 0
            tokens_out += record.usage.output_tokens or 0
            cost += record.usage.cost_usd or 0.0
    import time

    return {"steps": len(build.states), **counts, "input_tokens": tokens_in, "output_tokens": tokens_out,
            "cost_usd": round(cost, 6), "seconds": round(time.time() - build.started, 2)}


def summary_line(build: Build) -> str:
    t = totals(build)
    parts = [f"{t[RAN]} ran", f"{t[CACHED]} cached"]
    parts += [f"{t[k]} {k}" for k in (FAILED, "skipped", "not reached", "would run") if t.get(k)]
    steps = f"{t['steps']} step{'' if t['steps'] == 1 else 's'}"
    line = f"{build.plan.workflow}: {steps} — " + ", ".join(parts) + f" in {t['seconds']:.1f}s"
    if t["input_tokens"] or t["output_tokens"]:
        line += f"; {t['input_tokens']:,} tokens in, {t['output_tokens']:,} out"
    if t["cost_usd"]:
        line += f"; ${t['cost_usd']:.4f}"
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
        })
    return {"workflow": build.plan.workflow, "success": code == 0, "exit_code": code, "steps": steps,
            "totals": totals(build), "output": final_output(build)}
