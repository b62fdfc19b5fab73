"""Pass: every query step's role resolves, to at least one enabled backend.

Roles come from the config layers (built-in, user, project, llm-mux's files), from the workflow
itself, and from team overrides. Problems inside config files (a role naming an unknown backend)
are ``config.validate``'s; this pass reports what the workflow gets wrong, at the role's name.
"""

from __future__ import annotations

from muxc.check.state import CheckState
from muxc.config.schema import Config
from muxc.config.validate import check_role_backends
from muxc.lang.roles import enabled_backends
from muxc.lang.validate import did_you_mean
from muxc.syntax.ast import Step


def check_roles(state: CheckState) -> None:
    for role in state.workflow.roles.values():
        check_role_backends(role, state.config, state.sink, f"role `{role.name}`")
    for step in state.workflow.steps:
        if step.role is not None:
            _check_role(state, step)


def available_roles(config: Config) -> dict[str, str]:
    """Every role name a step may use, with where it is defined."""
    found = {name: "config" for name in config.roles}
    for team in config.teams.values():
        for name in team.roles:
            found.setdefault(name, f"team `{team.name}`")
    return found


def _check_role(state: CheckState, step: Step) -> None:
    assert step.origin is not None and step.role is not None
    span = step.origin.value_span("role")
    roles = available_roles(state.config)
    if step.role not in roles:
        listing = ", ".join(f"`{r}`" for r in sorted(roles)) or "none"
        state.report("unknown-role", f"no role named `{step.role}`", span, "unknown role",
                     help=did_you_mean(step.role, roles) or f"the roles are {listing}; define new ones under "
                     "[roles.NAME] in .muxc/config.toml or in the workflow")
        return
    role = state.config.roles.get(step.role)
    # A role that lists no backends at all is reported once, where it is defined.
    if role is not None and role.backends and not enabled_backends(role.backends, state.config.backends):
        state.report("role-without-backends", f"role `{step.role}` has no enabled backend", span,
                     "nothing can answer", help="enable one of its backends or add another: "
                     + ", ".join(f"`{b}`" for b in role.backends))
