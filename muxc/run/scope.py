"""The values a step's templates see at build time.

``steps`` holds the step's upstream results; args and upstream steps are also reachable by their
bare names (the checker rejects a name that is both). ``team`` and ``ecosystem`` are undefined
when none was detected, with a hint saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from muxc.run.stepview import StepView

if TYPE_CHECKING:  # types only: view_of is used without the engine (the summary, the no-op fast path)
    from muxc.compile.plan import StepPlan
    from muxc.run.context import Build

NO_ITEM = object()


def view_of(build: Build, name: str) -> StepView:
    state = build.state(name)
    if state.record is None and state.key and state.status == "cached":
        state.record = build.store.get(state.key)  # served by the fast path: loaded only when read
    record = state.record
    if record is not None:
        return StepView(record.output, record.outputs, record.failed, record.error, record.skipped, record.backend,
                        record.backends, record.duration_ms)
    failure = state.failure
    if failure is not None:  # what a continue_on_error step's dependents see: the message and stderr's end
        error = failure.message + (f"\n{failure.stderr_tail}" if failure.stderr_tail else "")
        return StepView(failure.output, {}, True, error, False, None, [], state.duration_ms)
    return StepView(skipped=state.status == "skipped")


def template_context(build: Build, plan: StepPlan, item: Any = NO_ITEM) -> dict[str, Any]:
    from muxc.run.templating import EnvView, MuxcUndefined

    steps = {name: view_of(build, name) for name in plan.deps}
    context: dict[str, Any] = {**build.plan.args, **steps}
    context.update(
        steps=steps,
        args=build.plan.args,
        env=EnvView(build.environ),
        workflow=build.plan.workflow,
        team=build.team if build.team is not None else
        MuxcUndefined(name="team", hint="no team was detected; pass --team NAME or configure [teams.X] detect"),
        ecosystem=build.ecosystem if build.ecosystem is not None else
        MuxcUndefined(name="ecosystem", hint="this project is not in any configured ecosystem"),
    )
    memory = _memory(build)
    if memory is not None:
        context["memory"] = memory
    if item is not NO_ITEM:
        context["item"] = item
    return context


def _memory(build: Build) -> Any:
    """The memory store steps write to: the ecosystem's, else the project directory's (as store does)."""
    if build.data_dir is None:
        return None
    from muxc.run.memoryview import MemoryView
    from muxc.run.steps.store import ecosystem_of

    return MemoryView(build.data_dir, ecosystem_of(build))
