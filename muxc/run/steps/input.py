"""Input steps: a question for the person running the build.

The answer comes from ``--input NAME=VALUE``, or is asked on the terminal (with ``options`` as the
choices), or the step fails saying how to give it. The answer is part of the key, so the same
answer reuses everything downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand


def extras(build: Build, plan: StepPlan, context: dict[str, Any]) -> dict[str, Any] | StepFailure:
    answer = _answer(build, plan, context)
    if isinstance(answer, StepFailure):
        return answer
    return {"answer": answer}


def _answer(build: Build, plan: StepPlan, context: dict[str, Any]) -> str | StepFailure:
    given = build.options.answers.get(plan.name, build.answers.get(plan.name))  # `--input name=` is an answer
    options = plan.step.options
    if given is None and build.options.interactive and not build.options.dry_run:  # status asks nothing
        given = _ask(build, plan, context)
        if given is not None:
            build.answers[plan.name] = given
    if given is None:
        given = plan.step.default
    if given is None:
        choices = f" (one of: {', '.join(options)})" if options else ""
        why = "the build will ask for it" if build.options.interactive else "this build is not interactive"
        return StepFailure("input", f"needs an answer and {why}{choices}", hint=f"pass --input {plan.name}=VALUE")
    if options and given not in options:
        return StepFailure("input", f"{given!r} is not one of the options: {', '.join(options)}",
                           hint=f"pass --input {plan.name}=<one of the options>")
    return given


def _ask(build: Build, plan: StepPlan, context: dict[str, Any]) -> str | None:
    from muxc.run.templating import RenderError, render

    try:
        question = render(plan.step.prompt.value, context) if plan.step.prompt else plan.name
    except RenderError:
        question = plan.step.prompt.value if plan.step.prompt else plan.name
    return build.reporter.ask(question.strip(), plan.step.options, plan.step.default)


def run(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any,
        key: str = "", commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
    answer = _answer(build, plan, context)
    return answer if isinstance(answer, StepFailure) else Produced(answer)
