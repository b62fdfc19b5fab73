"""Lowering, pure: a checked workflow plus its arguments becomes a ``Plan``.

Arguments are checked against the declarations here (defaults applied, ``required`` enforced,
unknown names rejected with the declared list), because they are the build's input. Each step
gets its static cache-key recipe: the normalised fields that determine its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from muxc.compile.keys import digest_value
from muxc.compile.plan import Plan, StepPlan
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.durations import MAX_CACHE_MS, DurationError, to_ms
from muxc.lang.validate import did_you_mean
from muxc.syntax.ast import Step, Workflow

if TYPE_CHECKING:  # types only: a cached plan is used without loading the checker
    from muxc.check.state import CheckedStep, CheckedWorkflow

# Fields that change what a step produces. Templates are not here: their rendered text is part of
# the key at build time, so a cosmetic edit to a template changes nothing.
KEYED_FIELDS = ("type", "version", "inputs", "always", "params", "parallel", "min_success", "output_schema",
                "schema_retries", "source", "verify_retries", "rollback_on_failure", "options", "default")


def compile_plan(checked: CheckedWorkflow, args: Mapping[str, str], sink: DiagnosticSink) -> Plan | None:
    """The plan, or None after reporting argument problems."""
    workflow = checked.workflow
    resolved = resolve_args(checked, args, sink)
    if resolved is None:
        return None
    position = positions(workflow)  # once: a lookup per step made compiling quadratic in steps
    steps = tuple(_lower(checked.steps[name], position[name], workflow.file) for name in checked.order)
    return Plan(workflow.name, workflow.file, resolved, steps, _final(checked), checked.config.cache.salt,
                workflow.timeout or None, workflow.continue_on_error)


def positions(workflow: Workflow) -> dict[str, int]:
    """Each step's position in the file (the first, should a name repeat)."""
    found: dict[str, int] = {}
    for index, name in enumerate(workflow.step_names):
        found.setdefault(name, index)
    return found


def _lower(checked: CheckedStep, index: int, file: str) -> StepPlan:
    step = checked.step
    declared = declares_inputs(step)
    definition = {name: _field(step, name) for name in KEYED_FIELDS
                  if name == "type" or _field(step, name) != _DEFAULTS.get(name)}
    return StepPlan(
        name=step.name,
        kind=step.type,
        index=index,
        deps=checked.deps,
        consumes=checked.consumes,
        step=msgspec.structs.replace(step, origin=None),  # the runtime needs values, not the source's nodes
        definition=definition,
        definition_digest=digest_value(definition),
        reads_project=step.type == "shell" and not declared,
        declares_inputs=declared,
        volatile=checked.volatile,
        cache_ttl_ms=cache_ttl(step.cache),
        env_vars=checked.env_vars,
        file=file,
        span=step.origin.anchor if step.origin else Span(0, 0),
        reads_memory=_reads(checked, "memory"),
        reads_workflow=_reads(checked, "workflow"),
    )


def _reads(checked: CheckedStep, root: str) -> bool:
    return any(ref.root == root for template in checked.templates for ref in template.info.refs)


def declares_inputs(step: Step) -> bool:
    """Whether the step says which files it reads; `inputs = []` says it reads none."""
    return bool(step.inputs) or (step.origin is not None and step.origin.entry("inputs") is not None)


def _field(step: Step, name: str) -> Any:
    return getattr(step, name)


# A field left at its default is not part of the definition, so adding a field to muxc (with a
# default) never invalidates existing caches.
_DEFAULTS = {f.name: f.default if f.default is not msgspec.NODEFAULT else f.default_factory()
             for f in msgspec.structs.fields(Step)
             if f.default is not msgspec.NODEFAULT or f.default_factory is not msgspec.NODEFAULT}


def cache_ttl(policy: str | None) -> int | None:
    """None for forever, 0 for never, else milliseconds. Invalid policies were reported by check."""
    if policy in (None, "forever"):
        return None
    if policy == "never":
        return 0
    try:
        return to_ms(policy, "ms", MAX_CACHE_MS)
    except DurationError:
        return None


def _final(checked: CheckedWorkflow) -> str | None:
    """The last step (in file order) that no other step depends on."""
    upstream = {edge.upstream for edge in checked.edges}
    sinks = [name for name in checked.workflow.step_names if name not in upstream]
    return sinks[-1] if sinks else None


# --- arguments -------------------------------------------------------------------------


def resolve_args(checked: CheckedWorkflow, given: Mapping[str, str], sink: DiagnosticSink) -> dict[str, str] | None:
    workflow = checked.workflow
    errors = sink.error_count
    anchor = workflow.origin.anchor if workflow.origin else Span(0, 0)
    if workflow.declares_args:
        values = _declared_args(workflow, given, sink, anchor)
    else:
        values = dict(given)
        for name in _referenced_args(checked):
            if name not in values:
                sink.report("missing-arg", f"argument `{name}` is used but not given", workflow.file, anchor,
                            f"{workflow.name} needs {name}", help=f"pass it: muxc build {workflow.name} {name}=...")
    return None if sink.error_count > errors else values


def _declared_args(workflow: Workflow, given: Mapping[str, str], sink: DiagnosticSink, anchor: Span) -> dict[str, str]:
    declared = ", ".join(workflow.args) or "none"
    for name in given:
        if name not in workflow.args:
            sink.report("unknown-arg", f"`{workflow.name}` has no argument `{name}`", workflow.file, anchor,
                        "declared here", help=did_you_mean(name, workflow.args) or f"its arguments are: {declared}")
    values = {}
    for name, arg in workflow.args.items():
        value = given.get(name, arg.default)
        if value is None:
            if arg.required:
                span = arg.origin.anchor if arg.origin else anchor
                sink.report("missing-arg", f"argument `{name}` is required", workflow.file, span, "required here",
                            help=f"pass it: muxc build {workflow.name} {name}=..." +
                            (f" ({arg.description})" if arg.description else ""))
            continue
        values[name] = value
    return values


def _referenced_args(checked: CheckedWorkflow) -> list[str]:
    names: dict[str, None] = {}
    for step in checked.steps.values():
        for template in step.templates:
            for ref in template.info.refs:
                guarded = (ref.root, ref.path[:1]) in template.info.guarded or (ref.root, ref.path) in \
                    template.info.guarded
                if ref.root == "args" and ref.path and not guarded:
                    names[ref.path[0]] = None
    return list(names)
