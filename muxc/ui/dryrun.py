"""``muxc build --dry-run``: what would run and why, the rendered prompts, and what it may cost.

The estimate uses what the LLM log recorded for the same backend (average input and output
tokens, cost when a price is configured); prompts with no history are estimated at four
characters per token and labelled as estimates.
"""

from __future__ import annotations

from typing import Any

import click

from muxc.run.context import Build

PROMPT_LINES = 12


def show_dry_run(build: Build) -> None:
    would = [plan for plan in build.plan.steps if build.state(plan.name).status == "would run"]
    if not would:
        click.echo("nothing would run: every step is up to date")
        return
    total_in = total_out = 0
    total_cost = 0.0
    for plan in would:
        state = build.state(plan.name)
        click.echo(f"{plan.name} ({plan.kind}) would run: {state.reason}")
        for field, text in state.rendered.items():
            click.echo(_excerpt(field, text))
        if plan.kind == "apply":
            from muxc.run.steps.apply import preview

            click.echo(_excerpt("diff", preview(build, plan)))
        if plan.kind == "query":
            est_in, est_out, cost = _estimate(build, plan, state.rendered.get("prompt", ""))
            total_in, total_out, total_cost = total_in + est_in, total_out + est_out, total_cost + (cost or 0)
            click.echo(f"  estimate: ~{est_in:,} tokens in, ~{est_out:,} out" + (f", ~${cost:.4f}" if cost else ""))
        click.echo("")
    line = f"{len(would)} step{'s' if len(would) != 1 else ''} would run"
    if any(plan.kind == "query" for plan in would):
        line += f"; LLM estimate ~{total_in:,} tokens in, ~{total_out:,} out" + (f", ~${total_cost:.4f}" if total_cost
                                                                                else "")
    click.echo(line)


def _excerpt(field: str, text: str) -> str:
    lines = text.rstrip("\n").splitlines() or [""]
    shown = lines[:PROMPT_LINES]
    more = f"\n    ... {len(lines) - PROMPT_LINES} more lines" if len(lines) > PROMPT_LINES else ""
    return f"  {field}:\n" + "\n".join("    " + line for line in shown) + more


def _estimate(build: Build, plan: Any, prompt: str) -> tuple[int, int, float | None]:
    from muxc.run.steps.query import resolved_role

    tokens_in = max(1, len(prompt) // 4)
    tokens_out, cost = 500, None
    try:
        role = resolved_role(build, plan)
    except Exception:
        return tokens_in, tokens_out, cost
    if build.llm_log is not None and role.backends:
        average = build.llm_log.average_usage(role.backends[0])
        if average.calls:
            tokens_out = int(average.output_tokens or tokens_out)
            cost = average.cost_usd
    return tokens_in, tokens_out, cost
