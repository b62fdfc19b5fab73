"""Roles: which backends answer a step, and how their answers combine.

Resolution (``resolve_role``): a team's override of the role wins for ``backends``, ``execution``
and ``min_success`` (llm-mux reset ``min_success`` to 1 whenever an override set ``execution``; we
keep the role's); ``stop_early`` and ``fallback_on`` come from the role. Unknown roles, teams and
backends are errors listing what exists; disabled backends are skipped; a role left with no
enabled backend is an error.

Execution (``run_role``), never raising for a backend failure (the result says what failed):
- ``first``: the first enabled backend only; its failure is the step's failure.
- ``fallback``: the next backend only after a failure, and only of a kind listed in
  ``fallback_on`` (empty: any failure). ``"error"`` there means any failure; ``"empty"`` makes an
  empty answer count as a failure. An interrupted build never falls back.
- ``parallel``: every backend at once on its own thread; ``min_success`` answers needed. With
  ``stop_early`` the role returns once enough answered and cancels the rest; it also stops as soon
  as ``min_success`` has become unreachable.

Output is deterministic: for ``parallel``, ``=== <backend> ===`` blocks in the role's backend
order joined by a blank line, whatever order the answers arrived in, so cache keys stay stable.
"""

from __future__ import annotations

import difflib
import queue
import threading
from collections.abc import Iterable
from typing import Protocol

import msgspec

from muxc.backends.base import (
    Backend,
    BackendError,
    Cancel,
    Completion,
    CompletionRequest,
    ProgressCallback,
    Usage,
)
from muxc.base.masking import mask
from muxc.config.schema import Config, TeamConfig
from muxc.lang.roles import Execution, enabled_backends


class RoleError(Exception):
    """The role cannot be resolved from the configuration."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResolvedRole(msgspec.Struct, frozen=True):
    name: str
    backends: list[str]  # enabled ones, in the role's order
    execution: Execution = "first"
    min_success: int = 1
    stop_early: bool = False
    fallback_on: list[str] = []
    team: str | None = None
    disabled: list[str] = []  # configured in the role but switched off


class RoleResult(msgspec.Struct, frozen=True):
    role: str
    execution: Execution
    min_success: int
    output: str = ""
    outputs: dict[str, str] = {}  # successes only, in role order
    backend: str | None = None  # the first success in role order
    backends: list[str] = []  # successes in role order
    failures: dict[str, str] = {}  # backend -> masked message
    failure_kinds: dict[str, str] = {}  # backend -> failure kind ("empty" for an empty answer)
    usage: Usage = Usage()
    cost_usd: float | None = None
    completions: list[Completion] = []

    @property
    def ok(self) -> bool:
        return len(self.backends) >= max(1, self.min_success)

    @property
    def error(self) -> str | None:
        """Why the role failed, naming each backend's failure; None when it succeeded."""
        if self.ok:
            return None
        details = (
            "; ".join(f"{name}: {message}" for name, message in self.failures.items())
            or "no backend answered"
        )
        if self.execution == "parallel":
            return (
                f"role {self.role!r}: {len(self.backends)} of {self.min_success} required answers ({details})"
            )
        return f"role {self.role!r} failed ({details})"

    @property
    def cancelled(self) -> bool:
        return not self.ok and "cancelled" in self.failure_kinds.values()


class BackendSource(Protocol):
    def get(self, name: str) -> Backend: ...


# -- resolution ---------------------------------------------------------------------------------


def resolve_role(config: Config, role: str, team: str | None = None) -> ResolvedRole:
    """The backends and mode for ``role``, with ``team``'s override applied."""
    override = _team(config, team).roles.get(role) if team is not None else None
    base = config.roles.get(role)
    if override is None and base is None:
        raise RoleError(_unknown("role", role, _known_roles(config, team)))
    backends = override.backends if override is not None else base.backends  # type: ignore[union-attr]
    execution = (override.execution if override is not None else None) or (
        base.execution if base else "first"
    )
    min_success = (
        override.min_success
        if override is not None and override.min_success is not None
        else (base.min_success if base else 1)
    )
    enabled, disabled = _enabled(config, role, backends)
    if execution == "parallel" and min_success > len(enabled):
        raise RoleError(
            f"role {role!r} needs min_success = {min_success} but has {len(enabled)} enabled backend(s): {', '.join(enabled)}"
        )
    return ResolvedRole(
        name=role,
        backends=enabled,
        execution=execution,
        min_success=max(1, min_success),
        stop_early=base.stop_early if base else False,
        fallback_on=list(base.fallback_on) if base else [],
        team=team,
        disabled=disabled,
    )


def _team(config: Config, team: str) -> TeamConfig:
    found = config.teams.get(team)
    if found is None:
        raise RoleError(_unknown("team", team, config.teams))
    return found


def _known_roles(config: Config, team: str | None) -> set[str]:
    known = set(config.roles)
    if team is not None and team in config.teams:
        known |= set(config.teams[team].roles)
    return known


def _enabled(config: Config, role: str, backends: list[str]) -> tuple[list[str], list[str]]:
    missing = [name for name in backends if name not in config.backends]
    if missing:
        raise RoleError(
            f"role {role!r} uses {_names(missing)} not configured; "
            + _unknown("backend", missing[0], config.backends)
        )
    enabled = enabled_backends(backends, config.backends)
    disabled = [name for name in backends if name not in enabled]
    if not enabled:
        why = f" (disabled: {', '.join(disabled)})" if disabled else ""
        raise RoleError(f"role {role!r} has no enabled backend{why}; enable one or add a backend to the role")
    return enabled, disabled


def _names(names: list[str]) -> str:
    quoted = ", ".join(repr(name) for name in names)
    return f"backend {quoted}, which is" if len(names) == 1 else f"backends {quoted}, which are"


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(known) if known else "none"
    return f"unknown {what} {name!r}{hint} (known {what}s: {listing})"


# -- execution ----------------------------------------------------------------------------------


class _Outcome(msgspec.Struct, frozen=True):
    backend: str
    completion: Completion | None = None
    kind: str | None = None  # failure kind
    message: str | None = None


def run_role(
    role: ResolvedRole,
    backends: BackendSource,
    request: CompletionRequest,
    cancel: Cancel,
    on_progress: ProgressCallback | None = None,
) -> RoleResult:
    """Ask the role's backends for ``request`` per its execution mode."""
    if role.execution == "parallel":
        outcomes = _parallel(role, backends, request, cancel)
    elif role.execution == "fallback":
        outcomes = _fallback(role, backends, request, cancel, on_progress)
    else:
        outcomes = [_ask(backends, role.backends[0], request, cancel, on_progress)]
    return _result(role, outcomes)


def _ask(
    backends: BackendSource,
    name: str,
    request: CompletionRequest,
    cancel: Cancel,
    on_progress: ProgressCallback | None,
) -> _Outcome:
    try:
        return _Outcome(name, backends.get(name).complete(request, cancel, on_progress))
    except BackendError as error:
        return _Outcome(name, kind=error.kind, message=mask(error.message))


def _ask_into(
    done: queue.Queue[_Outcome],
    backends: BackendSource,
    name: str,
    request: CompletionRequest,
    cancel: Cancel,
) -> None:
    """Thread body: always deliver an outcome, or the role would wait forever."""
    try:
        outcome = _ask(backends, name, request, cancel, None)
    except Exception as exc:
        outcome = _Outcome(name, kind="error", message=mask(f"internal error: {exc!r}"))
    done.put(outcome)


def _fallback(
    role: ResolvedRole,
    backends: BackendSource,
    request: CompletionRequest,
    cancel: Cancel,
    on_progress: ProgressCallback | None,
) -> list[_Outcome]:
    outcomes = []
    for name in role.backends:
        outcome = _empty_as_failure(_ask(backends, name, request, cancel, on_progress), role.fallback_on)
        outcomes.append(outcome)
        if outcome.completion is not None or not _moves_on(outcome.kind, role.fallback_on) or cancel.is_set:
            break
    return outcomes


def _empty_as_failure(outcome: _Outcome, fallback_on: list[str]) -> _Outcome:
    if outcome.completion is not None and "empty" in fallback_on and not outcome.completion.text.strip():
        return _Outcome(outcome.backend, kind="empty", message="empty answer")
    return outcome


# Backend failure kinds that have no name of their own in ``fallback_on`` count as "error".
_CONFIG_KIND = {"process": "error", "config": "error", "unavailable": "error"}


def _moves_on(kind: str | None, fallback_on: list[str]) -> bool:
    if kind == "cancelled":
        return False
    if not fallback_on or "error" in fallback_on:
        return True
    return _CONFIG_KIND.get(kind or "", kind) in fallback_on


def _parallel(
    role: ResolvedRole, backends: BackendSource, request: CompletionRequest, cancel: Cancel
) -> list[_Outcome]:
    inner = cancel.child()
    done: queue.Queue[_Outcome] = queue.Queue()
    for name in role.backends:
        # Daemon threads: a backend still winding down after stop_early never blocks exit.
        threading.Thread(
            target=_ask_into,
            args=(done, backends, name, request, inner),
            daemon=True,
            name=f"muxc-role-{name}",
        ).start()
    outcomes: dict[str, _Outcome] = {}
    while len(outcomes) < len(role.backends) and not _settled(role, outcomes):
        outcome = done.get()
        outcomes[outcome.backend] = outcome
    inner.set()  # whatever still runs is no longer needed
    for name in role.backends:
        outcomes.setdefault(name, _Outcome(name, kind="cancelled", message=_why_stopped(role, outcomes)))
    return [outcomes[name] for name in role.backends]


def _settled(role: ResolvedRole, outcomes: dict[str, _Outcome]) -> bool:
    successes = sum(1 for o in outcomes.values() if o.completion is not None)
    pending = len(role.backends) - len(outcomes)
    return (role.stop_early and successes >= role.min_success) or successes + pending < role.min_success


def _why_stopped(role: ResolvedRole, outcomes: dict[str, _Outcome]) -> str:
    successes = sum(1 for o in outcomes.values() if o.completion is not None)
    if successes >= role.min_success:
        return f"not waited for: {successes} answer(s) were enough (stop_early)"
    return f"stopped: min_success = {role.min_success} could no longer be reached"


def _result(role: ResolvedRole, outcomes: list[_Outcome]) -> RoleResult:
    answered = [o for o in outcomes if o.completion is not None]
    completions = [o.completion for o in answered if o.completion is not None]
    outputs = {o.backend: c.text for o, c in zip(answered, completions, strict=True)}
    failed = [o for o in outcomes if o.completion is None]
    return RoleResult(
        role=role.name,
        execution=role.execution,
        min_success=role.min_success,
        output=_combined(outputs) if role.execution == "parallel" else next(iter(outputs.values()), ""),
        outputs=outputs,
        backend=next(iter(outputs), None),
        backends=list(outputs),
        failures={o.backend: o.message or "" for o in failed},
        failure_kinds={o.backend: o.kind or "error" for o in failed},
        usage=sum((c.usage for c in completions), Usage()),
        cost_usd=_total_cost(completions),
        completions=completions,
    )


def _combined(outputs: dict[str, str]) -> str:
    return "\n\n".join(f"=== {name} ===\n{text}" for name, text in outputs.items())


def _total_cost(completions: list[Completion]) -> float | None:
    costs = [c.cost_usd for c in completions if c.cost_usd is not None]
    return sum(costs) if costs else None
