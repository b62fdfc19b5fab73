"""The fast path of a rebuild: decide that a step is up to date without rendering anything.

doit calls this once the step's dependencies are done. A step is up to date when its pre-key
(everything its rendered text and key derive from) maps to a key whose result is stored, fresh
per its cache policy, and whose saved file holds what muxc wrote for that very result. Anything less certain —
conditions, items, volatile or input steps, a failed upstream — is left to the executor, which
reaches the same answer the slow way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from muxc.compile.plan import StepPlan
from muxc.run import keys
from muxc.run.context import CACHED, FAILED, Build
from muxc.run.scope import template_context
from muxc.run.targets import target_ok

_DEFER_KINDS = ("input", "apply")


class LazyContext(Mapping[str, Any]):
    """A step's template context, built only if something actually renders."""

    def __init__(self, build: Build, plan: StepPlan) -> None:
        self._build, self._plan = build, plan
        self._context: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._context is None:
            self._context = template_context(self._build, self._plan)
        return self._context

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def up_to_date(build: Build, name: str) -> bool:
    plan = build.step(name)
    if not _decidable(build, plan):
        return False
    known = _known_key(build, plan)
    if known is None:
        return False
    pre, key = known
    latest = build.latest.get(name)
    found = (latest.output_digest, latest.created_at) if latest is not None and latest.key == key else \
        build.store.lookup(key)
    if found is None or not _fresh(plan, found[1]) or not target_ok(build, plan, key):
        return False
    if latest is None or (latest.key, latest.pre_key) != (key, pre):
        # found through the memo (a renamed step, an identical step elsewhere): from now on this
        # is the step's latest build, which status explains changes against and forget finds
        from muxc.run.executor import note_latest

        note_latest(build, name, key, pre, found[0], found[1])
    state = build.state(name)
    state.status, state.key, state.output_digest = CACHED, key, found[0]
    build.reporter.step_finished(name, state)
    return True


def _decidable(build: Build, plan: StepPlan) -> bool:
    if build.options.dry_run or build.options.forces(plan.name) or build.cancel.is_set or needs_executor(plan):
        return False
    return all(build.state(dep).status != FAILED for dep in plan.deps)


def needs_executor(plan: StepPlan) -> bool:
    """Whatever the cache holds, the executor decides this step (it is seen to start)."""
    step = plan.step
    return step.if_ is not None or step.for_each is not None or plan.volatile or plan.reads_memory or \
        plan.kind in _DEFER_KINDS


def _known_key(build: Build, plan: StepPlan) -> tuple[str, str] | None:
    """(pre-key, key) when the pre-key is known to lead to a key."""
    from muxc.run.executor import known_key
    from muxc.run.kinds import extras_for
    from muxc.run.outcome import StepFailure

    extras = extras_for(build, plan, None, LazyContext(build, plan))  # type: ignore[arg-type]
    if isinstance(extras, StepFailure):
        return None
    pre = keys.pre_key(build, plan, None, extras)
    key = known_key(build, plan.name, pre)
    build.memo[("decided", plan.name)] = (extras, pre, key)  # the executor need not work these out again
    return (pre, key) if key is not None else None


def _fresh(plan: StepPlan, created_at: float) -> bool:
    ttl = plan.cache_ttl_ms
    return ttl is None or (ttl > 0 and (time.time() - created_at) * 1000 < ttl)
