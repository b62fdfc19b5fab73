"""``muxc build --dry-run``: what would run and why, the rendered prompts, and what it may cost.

Each query that would run gets an estimate (``app.estimates``): tokens in from its rendered
prompt, or, when its inputs are not built yet, from its template and the upstream outputs it
reads; tokens out from the LLM log's history of its backend; a cost from the configured or list
price. Every figure is labelled ``~`` with what it was sized from. A query whose role cannot
answer on this machine says so (the build would stop on it).
"""

from __future__ import annotations

from typing import Any

import click

from muxc.run.context import Build

PROMPT_LINES = 12


def show_dry_run(build: Build) -> None:
    from muxc.app.estimates import estimate_queries

    would = [plan for plan in build.plan.steps if build.state(plan.name).status == "would run"]
    if not would:
        click.echo("nothing would run: every step is up to date")
        return
    estimates = estimate_queries(build, [plan.name for plan in would])
    for plan in would:
        state = build.state(plan.name)
        click.echo(f"{plan.name} ({plan.kind}) would run: {state.reason}")
        for field, text in state.rendered.items():
            click.echo(_excerpt(field, text))
        if plan.kind == "apply":
            from muxc.run.steps.apply import preview

            click.echo(_excerpt("diff", preview(build, plan)))
        if plan.name in estimates:
            click.echo(estimate_lines(estimates[plan.name]))
            blocked = _cannot_answer(build, plan)
            if blocked:
                click.echo(f"  cannot answer here: {blocked}")
        click.echo("")
    click.echo(total_line(len(would), list(estimates.values())))


def estimate_lines(estimate: Any) -> str:
    """'  estimate: ~1,204 tokens in, ~500 out, ~$0.0081' and what each was sized from."""
    cost = f", ~${estimate.cost_usd:.4f}" if estimate.cost_usd else ", $0" if estimate.cost_usd == 0 else ""
    return (f"  estimate: ~{estimate.input_tokens:,} tokens in, ~{estimate.output_tokens:,} out{cost}\n"
            f"    in: {estimate.basis}; out: {estimate.output_basis}; cost: {estimate.price}")


def total_line(steps: int, estimates: list[Any]) -> str:
    line = f"{steps} step{'s' if steps != 1 else ''} would run"
    if not estimates:
        return line
    tokens_in = sum(e.input_tokens for e in estimates)
    tokens_out = sum(e.output_tokens for e in estimates)
    priced = [e.cost_usd for e in estimates if e.cost_usd is not None]
    line += f"; LLM estimate ~{tokens_in:,} tokens in, ~{tokens_out:,} out"
    if priced and sum(priced):
        line += f", ~${sum(priced):.4f}"
        if len(priced) < len(estimates):
            line += f" (+ {len(estimates) - len(priced)} unpriced)"
    elif len(priced) < len(estimates):
        line += ", cost unknown (no price)"
    else:
        line += ", $0"
    return line


def _cannot_answer(build: Build, plan: Any) -> str | None:
    from muxc.app.preflight import unanswerable

    team = build.team.name if build.team is not None else None
    problems = unanswerable(build.config, plan.step.role or "default", team, build.root, build.environ)
    return "; ".join(f"`{p.backend}`: {p.reason}" for p in problems) or None


def _excerpt(field: str, text: str) -> str:
    lines = text.rstrip("\n").splitlines() or [""]
    shown = lines[:PROMPT_LINES]
    more = f"\n    ... {len(lines) - PROMPT_LINES} more lines" if len(lines) > PROMPT_LINES else ""
    return f"  {field}:\n" + "\n".join("    " + line for line in shown) + more
