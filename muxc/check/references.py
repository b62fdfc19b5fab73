"""Pass: explicit step references — ``depends_on`` entries and an apply step's ``source``.

Each must name a step of the workflow (with a did-you-mean otherwise). ``source`` accepts ``X``
and ``steps.X`` (llm-mux's README writes the second, its code accepts only the first). Every
valid reference becomes an edge of the dependency graph, labelled with the exact entry.
"""

from __future__ import annotations

from muxc.check.state import CheckState, Edge
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Str
from muxc.lang.validate import did_you_mean
from muxc.syntax.ast import Step


def check_references(state: CheckState) -> None:
    for step in state.workflow.steps:
        _depends_on(state, step)
        _source(state, step)


def _depends_on(state: CheckState, step: Step) -> None:
    node = step.origin.value("depends_on") if step.origin else None
    if not isinstance(node, Array):
        return
    for item in node.items:
        if isinstance(item, Str):
            _reference(state, step, item.value, item.span, "depends_on", consumes=False)


def _source(state: CheckState, step: Step) -> None:
    if step.source is None or step.origin is None:
        return
    node = step.origin.value("source")
    assert isinstance(node, Str)
    name = step.source.removeprefix("steps.")
    offset = len(step.source) - len(name)
    span = node.source_span(offset, len(step.source))
    if _reference(state, step, name, span, "source", consumes=True):
        _check_source_kind(state, step, name, span)


def _reference(state: CheckState, step: Step, name: str, span: Span, via: str, consumes: bool) -> bool:
    if name == step.name:
        state.report("dependency-cycle", f"step `{step.name}` depends on itself", span, "itself",
                     help=f"remove `{name}` from `{via}`")
        state.has_cycle = True
        return False
    if name in state.workflow.unbuilt_steps:
        return False  # the step exists but has errors of its own, reported where it is declared
    if state.step(name) is None:
        state.report("unknown-step", f"no step named `{name}`", span, "not a step of this workflow",
                     help=did_you_mean(name, state.workflow.declared_step_names) or _step_list(state))
        return False
    state.edges.append(Edge(step.name, name, span, via, consumes))
    return True


def _check_source_kind(state: CheckState, step: Step, name: str, span: Span) -> None:
    source = state.step(name)
    if source is not None and source.type != "query" and step.verify_retries > 0:
        state.report("source-cannot-retry", f"`verify_retries` re-asks the source step's role, but `{name}` is a "
                     f"{source.type} step", span, f"a {source.type} step has no role",
                     help="take the edits from a query step, or set verify_retries = 0")


def _step_list(state: CheckState) -> str:
    names = state.workflow.declared_step_names
    return "the steps are " + ", ".join(f"`{n}`" for n in names) if names else "this workflow has no steps"
