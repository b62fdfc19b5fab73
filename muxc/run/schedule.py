"""The order a build hands its steps to doit: topological, stable, and batched by managed backend.

doit dispatches independent tasks in the order it is given them, serially or to ``-j N``
workers. If query steps for two managed backends alternate in that order, a machine that holds
only one of them at a time (``[resources] slots``) would switch at every step. ``batched``
reorders the plan so that steps for the same managed backend run one after another:

- It is a topological order: a step never comes before a step it depends on.
- It is stable. A step that needs no managed backend (shell steps, steps on API backends) keeps
  its place relative to its neighbours. When at most one managed backend is involved, the plan's
  own order comes back unchanged.
- Among the steps that are ready, one for the current backend (or for none) goes first. The
  current backend changes only when no ready step can use it, and then to the backend of the
  earliest ready step.

``batched`` is pure; ``ordered_steps`` finds each step's backend group from the build's config
(the same role resolution the query step uses) and applies it. The supervisor
(``backends/managed.py``) does the rest at run time: it switches only when no waiting or
in-flight call still needs the resident backend.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

Node = tuple[str, Sequence[str], str | None]  # (step name, the steps it depends on, its backend group)


def batched(nodes: Sequence[Node]) -> list[str]:
    """Step names in a dependency-respecting order that groups steps by backend group."""
    if len({group for _, _, group in nodes if group is not None}) < 2:
        return [name for name, _, _ in nodes]
    position = {name: index for index, (name, _, _) in enumerate(nodes)}
    group = {name: g for name, _, g in nodes}
    waiting_on = {name: {d for d in deps if d in position} for name, deps, _ in nodes}
    dependents: dict[str, list[str]] = {name: [] for name in position}
    for name, deps in waiting_on.items():
        for dep in deps:
            dependents[dep].append(name)
    ready = sorted(position[name] for name, deps in waiting_on.items() if not deps)
    order: list[str] = []
    current: str | None = None
    while ready:
        index = _pick(ready, nodes, current)
        name = nodes[ready.pop(index)][0]
        current = group[name] or current
        order.append(name)
        for follower in dependents[name]:
            waiting_on[follower].discard(name)
            if not waiting_on[follower]:
                bisect.insort(ready, position[follower])
    placed = set(order)
    order += [name for name, _, _ in nodes if name not in placed]  # a cycle: doit reports it
    return order


def _pick(ready: list[int], nodes: Sequence[Node], current: str | None) -> int:
    """The first ready step that causes no switch, else the first ready step."""
    if current is None:  # nothing is resident yet: any step is as cheap as any other
        return 0
    for slot, index in enumerate(ready):
        if nodes[index][2] in (None, current):
            return slot
    return 0


def ordered_steps(build: Any) -> list[Any]:
    """The build's step plans in ``batched`` order."""
    plans = build.plan.steps
    groups = {plan.name: backend_group(build, plan) for plan in plans}
    by_name = {plan.name: plan for plan in plans}
    return [by_name[name] for name in batched([(p.name, p.deps, groups[p.name]) for p in plans])]


def backend_group(build: Any, plan: Any) -> str | None:
    """The managed backends a query step calls first ("a" or "a+b" for a parallel role), or
    None: the step needs no managed backend, or its role does not resolve (the step reports
    that itself when it runs)."""
    if plan.kind != "query":
        return None
    memo_key = ("backend-group", plan.step.role, plan.step.parallel)
    if memo_key not in build.memo:
        build.memo[memo_key] = _group(build, plan)
    return build.memo[memo_key]


def _group(build: Any, plan: Any) -> str | None:
    from muxc.backends.identity import is_managed
    from muxc.backends.roles import RoleError
    from muxc.run.steps.query import resolved_role

    try:
        role = resolved_role(build, plan)
    except RoleError:
        return None
    called = role.backends if role.execution == "parallel" else role.backends[:1]
    managed = sorted(name for name in called if is_managed(build.config.backends[name]))
    return "+".join(managed) or None
