"""Stage 2, pure: check a workflow against its config and freeze what the compiler needs.

One pass per concern, in order (``PASSES``); every pass reports everything it finds, so one run
shows all the problems. ``check`` returns a ``CheckedWorkflow`` only when no error was found.
"""

from __future__ import annotations

from muxc.check.graph import check_graph
from muxc.check.references import check_references
from muxc.check.roles import check_roles
from muxc.check.savepaths import check_save_paths
from muxc.check.schemas import check_cache_policies, check_schemas
from muxc.check.shell import check_shell_values
from muxc.check.state import CheckedStep, CheckedWorkflow, CheckState
from muxc.check.templates import check_templates
from muxc.config.build import with_workflow_roles
from muxc.config.schema import Config
from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax.ast import Workflow

PASSES = (check_references, check_templates, check_save_paths, check_shell_values, check_roles, check_schemas,
          check_cache_policies, check_graph)


def check(workflow: Workflow, config: Config, sink: DiagnosticSink) -> CheckedWorkflow | None:
    """The checked workflow, or None when the workflow has errors (all reported to ``sink``)."""
    errors_before = sink.error_count
    state = CheckState(workflow, with_workflow_roles(config, workflow.roles), sink)
    for run_pass in PASSES:
        run_pass(state)
    if sink.error_count > errors_before or state.has_cycle:
        return None
    return _freeze(state)


def _freeze(state: CheckState) -> CheckedWorkflow:
    position = {name: i for i, name in enumerate(state.workflow.step_names)}
    by_step: dict[str, list] = {name: [] for name in position}
    for edge in state.edges:
        by_step[edge.step].append(edge)
    steps = {}
    for step in state.workflow.steps:
        edges = by_step[step.name]
        templates = tuple(state.templates.get(step.name, ()))
        env_vars = _env_vars([r for t in templates for r in t.info.refs if r.root == "env"])
        steps[step.name] = CheckedStep(
            step=step,
            deps=tuple(sorted({e.upstream for e in edges}, key=position.__getitem__)),
            consumes=tuple(sorted({e.upstream for e in edges if e.consumes}, key=position.__getitem__)),
            templates=templates,
            env_vars=env_vars,
            volatile=step.always or any(t.info.volatile for t in templates),
        )
    return CheckedWorkflow(state.workflow, state.config, tuple(state.order), steps, tuple(state.edges))


def _env_vars(refs: list) -> tuple[str, ...]:
    """The environment variables templates read by name; ``("*",)`` when a name is computed
    (``env[args.var]``, ``env.get(x)``, ``env | dictsort``): then every variable may matter."""
    if any(not ref.path or ref.called for ref in refs):
        return ("*",)
    return tuple(sorted({ref.path[0] for ref in refs}))
