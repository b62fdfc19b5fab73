"""Query steps: ask the step's role (resolved for the active team) and keep its answer.

The key includes the identity of every backend the role may use (kind, protocol, model,
parameters — never credentials) and, when a backend reads the project itself (agentic CLIs), the
project's state. With an ``output_schema`` the prompt asks for matching JSON and an answer that
does not match is re-asked ``schema_retries`` times with the validation errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from muxc.backends.base import CompletionRequest, Usage
from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.kinds import files_read
from muxc.run.outcome import Produced, StepFailure
from muxc.run.shellvalues import ShellCommand


def resolved_role(build: Build, plan: StepPlan) -> Any:
    """The role with the active team's override and the step's own parallel/min_success."""
    from muxc.backends.roles import resolve_role

    team = str(build.team) if build.team is not None else None
    role = resolve_role(build.config, plan.step.role or "default", team)
    changes: dict[str, Any] = {}
    if plan.step.parallel:
        changes["execution"] = "parallel"
    if plan.step.min_success is not None:
        changes["min_success"] = plan.step.min_success
    return msgspec.structs.replace(role, **changes) if changes else role


def extras(build: Build, plan: StepPlan, context: dict[str, Any]) -> dict[str, Any] | StepFailure:
    identity = _identity(build, plan)
    if isinstance(identity, StepFailure):
        return identity
    backends, agentic = identity
    files = files_read(build, plan, context, whole_project=agentic)
    return files if isinstance(files, StepFailure) else {"backends": backends, **files}


def _identity(build: Build, plan: StepPlan) -> tuple[dict[str, Any], bool] | StepFailure:
    """The role's backends as they enter keys, and whether one reads the project (memoised per build)."""
    from muxc.backends.base import BackendError
    from muxc.backends.identity import identity, reads_project
    from muxc.backends.roles import RoleError

    memo_key = ("identity", plan.step.role, plan.step.parallel, plan.step.min_success)
    known = build.memo.get(memo_key)
    if known is not None:
        return known
    try:
        role = resolved_role(build, plan)
        members = [build.config.backends[name] for name in role.backends]
        # how the role combines answers decides the output too (fallback_on: which backend answers)
        described = {"execution": role.execution, "min_success": role.min_success, "stop_early": role.stop_early,
                     "fallback_on": sorted(role.fallback_on),
                     "backends": [identity(member) for member in members]}
    except RoleError as error:
        return StepFailure("config", error.message)
    except BackendError as error:
        return StepFailure("config", error.message)
    result = build.memo[memo_key] = (described, any(reads_project(member) for member in members))
    return result


def pool_of(build: Build) -> Any:
    with build.lock:
        if build.backends is None:
            from muxc.backends.registry import BackendPool

            build.backends = BackendPool(build.config, build.root, logger=build.llm_log, environ=build.environ,
                                         state_dir=build.state_dir)
        return build.backends


def run(build: Build, plan: StepPlan, rendered: dict[str, str], context: dict[str, Any], item: Any,
        key: str = "", commands: Mapping[str, ShellCommand] | None = None) -> Produced | StepFailure:
    blocked = build.budget_left()
    if blocked is not None:
        return StepFailure("budget", f"not asked: {blocked}", hint="raise --max-cost/--max-calls or [budget]")
    schema = plan.step.output_schema
    prompt = rendered["prompt"] + (_suffix(schema) if schema else "")
    request = CompletionRequest(prompt=prompt, system=rendered.get("system"), params=plan.step.params,
                                step=plan.name, workflow=build.plan.workflow, cache_key=key,
                                timeout=plan.step.timeout / 1000 if plan.step.timeout else None)
    attempts = plan.step.retries + 1
    outcome: Produced | StepFailure = StepFailure("backend", "not asked")
    for attempt in range(attempts):
        if attempt and build.cancel.wait(plan.step.retry_delay / 1000):
            break
        outcome = _ask_with_schema(build, plan, request, schema)
        if isinstance(outcome, Produced) or outcome.kind in ("cancelled", "budget", "config"):
            break
    return outcome


def _suffix(schema: dict[str, Any]) -> str:
    from muxc.lang.outschema import prompt_suffix

    return prompt_suffix(schema)


def _ask_with_schema(build: Build, plan: StepPlan, request: CompletionRequest, schema: dict[str, Any] | None
                     ) -> Produced | StepFailure:
    produced = _ask(build, plan, request)
    retries = plan.step.schema_retries
    while isinstance(produced, Produced) and schema:
        problems = _violations(produced, schema)
        if not problems:
            break
        if retries <= 0:
            asked = plan.step.schema_retries
            again = f" (asked again {asked} time{'s' if asked != 1 else ''} with the errors)" if asked > 0 else ""
            return StepFailure("schema", f"the answer does not match output_schema{again}: " +
                               "; ".join(problems[:5]), output=produced.output,
                               hint="the answer is in the LLM log (muxc logs); raise schema_retries to ask more")
        retries -= 1
        request = msgspec.structs.replace(request, prompt=_retry_prompt(request.prompt, produced.output, schema))
        produced = _ask(build, plan, request)
    return produced


def _retry_prompt(prompt: str, answer: str, schema: dict[str, Any]) -> str:
    from muxc.lang.llmjson import extract_json
    from muxc.lang.outschema import retry_prompt, validate

    found = extract_json(answer)
    return retry_prompt(prompt, answer, validate(found.value, schema) if found is not None else [])


def _violations(produced: Produced, schema: dict[str, Any]) -> list[str]:
    from muxc.lang.llmjson import extract_json, why_no_json
    from muxc.lang.outschema import validate

    answers = produced.outputs.values() if len(produced.outputs) > 1 else [produced.output]
    problems: list[str] = []
    for answer in answers:
        found = extract_json(answer)
        if found is None:
            problems.append(f"the answer {why_no_json(answer)}")
            continue
        problems += [v.text() for v in validate(found.value, schema)]
    return problems


def _ask(build: Build, plan: StepPlan, request: CompletionRequest) -> Produced | StepFailure:
    from muxc.backends.roles import RoleError, run_role

    try:
        role = resolved_role(build, plan)
    except RoleError as error:
        return StepFailure("config", error.message)
    blocked = build.start_call()
    if blocked is not None:
        return StepFailure("budget", f"not asked: {blocked}", hint="raise --max-cost/--max-calls or [budget]")
    calls, cost = 0, None
    state = build.state(plan.name)
    state.asking, state.streamed = _asked(role), 0
    try:
        result = run_role(role, pool_of(build), request, build.cancel, _progress(state))
        calls, cost = len(result.completions) + len(result.failures), result.cost_usd
    finally:
        build.end_call(calls, cost)
    if result.cancelled:
        why = "the workflow's timeout passed" if build.timed_out else "interrupted"
        return StepFailure("cancelled", f"{why} while waiting for the backend")
    if not result.ok:
        return StepFailure("backend", result.error or "no backend answered")
    return Produced(result.output, dict(result.outputs), result.backend, list(result.backends),
                    result.usage or Usage(), result.cost_usd, calls=calls)


def _asked(role: Any) -> str:
    """'a', 'a → b' (fallback) or 'a + b' (parallel): who the live view says is asked."""
    if role.execution == "parallel":
        return " + ".join(role.backends)
    return " → ".join(role.backends if role.execution == "fallback" else role.backends[:1])


def _progress(state: Any) -> Any:
    def received(characters: int) -> None:
        state.streamed = characters

    return received


def ask_again(build: Build, plan: StepPlan, prompt: str, system: str | None = None) -> str | StepFailure:
    """Ask a query step's role a new prompt (an apply step re-asking for corrected edits).

    The request is the step's own in everything but the prompt: its system prompt, parameters and
    timeout, and its output_schema (instructions appended, the answer validated and re-asked)."""
    blocked = build.budget_left()
    if blocked is not None:
        return StepFailure("budget", f"not asked again: {blocked}")
    schema = plan.step.output_schema
    request = CompletionRequest(prompt=prompt + (_suffix(schema) if schema else ""), system=system,
                                params=plan.step.params, step=plan.name, workflow=build.plan.workflow,
                                timeout=plan.step.timeout / 1000 if plan.step.timeout else None)
    produced = _ask_with_schema(build, plan, request, schema)
    return produced if isinstance(produced, StepFailure) else produced.output
