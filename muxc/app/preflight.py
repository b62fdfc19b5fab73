"""Before the first call: do the backends a workflow's queries ask stand a chance of answering?

What shows without asking a backend — the built-in model's extra not installed, a CLI not on
PATH, a credential's variable unset (``backends.doctor.unavailable``) — is found for every
query step at once, and reported once per set of backends that block: the steps, their roles,
the reason and the fix. A build stops on it (an error) before anything runs, instead of failing
each step with the same long message; ``muxc check`` shows it as a warning. A role that still
has a backend that can answer (fallback, enough for ``parallel``'s ``min_success``) is fine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from muxc.base.text import plural
from muxc.diagnostics.model import Label, Severity
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span

CODE = "backend-unavailable"


def report_unanswerable(config: Any, steps: Iterable[tuple[Any, str, Span]], team: str | None, root: Path,
                        environ: Mapping[str, str], sink: DiagnosticSink,
                        severity: Severity = Severity.ERROR) -> None:
    """``steps``: (step, file, span to point at) each."""
    why = _why_unavailable(config, root, environ)
    groups: dict[tuple[str, ...], list[tuple[Any, str, Span, str]]] = {}
    for step, file, span in steps:
        if step.type != "query":
            continue
        role = step.role or "default"
        blocked = _blocked(config, role, team, why)
        if blocked:
            groups.setdefault(tuple(blocked), []).append((step, file, span, role))
    for blocked, asked in groups.items():
        _report(sink, [why(name) for name in blocked], asked, severity)


def unanswerable(config: Any, role: str, team: str | None, root: Path, environ: Mapping[str, str]) -> list[Any]:
    """Why ``role`` cannot answer here (``backends.doctor.unavailable`` problems), [] when it can."""
    why = _why_unavailable(config, root, environ)
    return [why(name) for name in _blocked(config, role, team, why)]


def _why_unavailable(config: Any, root: Path, environ: Mapping[str, str]) -> Callable[[str], Any]:
    """A backend's problem here by name (``backends.doctor.unavailable``), each judged once. The
    judge (and httpx under it, ~50 ms) is imported at the first question: a workflow without
    query steps asks none."""

    def why(name: str) -> Any:
        from muxc.backends.doctor import unavailable

        return unavailable(config.backends[name], root, environ)

    return functools.cache(why)


def _blocked(config: Any, role: str, team: str | None, why: Any) -> list[str]:
    """The backends that keep ``role`` from answering ([] when it can)."""
    from muxc.backends.roles import RoleError, resolve_role

    try:
        resolved = resolve_role(config, role, team)
    except RoleError:  # the checker reports unknown roles and roles with no backend
        return []
    backends = resolved.backends
    failing = [name for name in backends if why(name) is not None]
    usable = len(backends) - len(failing)
    if resolved.execution == "first":
        return backends[:1] if backends and why(backends[0]) is not None else []
    if resolved.execution == "parallel":
        return failing if usable < resolved.min_success else []
    return failing if usable == 0 else []


def _report(sink: DiagnosticSink, problems: list[Any], asked: list[tuple[Any, str, Span, str]],
            severity: Severity) -> None:
    by_role: dict[str, list[str]] = {}
    for step, _, _, role in asked:
        by_role.setdefault(role, []).append(f"`{step.name}`")
    who = "; ".join(f"{', '.join(names)} (role `{role}`)" for role, names in by_role.items())
    names = ", ".join(f"`{p.backend}`" for p in problems)
    message = (f"{plural(len(asked), 'query step')} cannot get an answer here: {who} "
               f"{'asks' if len(asked) == 1 else 'ask'} {names}, which cannot answer")
    roles = ", ".join(f"`{role}`" for role in by_role)
    fixes = "; ".join(dict.fromkeys(p.fix for p in problems))
    help_text = (f"{fixes}; or run `muxc init` to route the roles to what can answer here (a local server, an API "
                 f"key, a CLI), or route {roles} to a backend of your own in .muxc/config.toml ([backends.mine], then "
                 f"[roles.{next(iter(by_role))}] backends = [\"mine\"]); `muxc doctor` checks every backend in use")
    _, file, span, _ = asked[0]
    others = [Label(other_file, other_span, "this one too", primary=False) for _, other_file, other_span, _ in asked[1:]]
    sink.report(CODE, message, file, span, "asks a backend that cannot answer",
                secondary=others, notes=[f"`{p.backend}`: {p.reason}" for p in problems], help=help_text,
                severity=severity)



def step_span(step: Any) -> tuple[Any, str, Span]:
    """(step, file, span) of a parsed step: its role, else its name."""
    origin = step.origin
    return step, origin.file, origin.value_span("role") if step.role else (origin.name_span or origin.span)
