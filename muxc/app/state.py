"""The build state, looked at and managed: plan rows, status rows, clean and forget.

What ``muxc plan``, ``status``, ``clean`` and ``forget`` show and do, as data; the CLI prints it.
``clean`` and ``forget`` take the project's build lock: never while a build runs. ``status`` only
looks (a dry run with doit's index of its own), so it reads while a build runs and says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muxc.store.statedir import APPLY_JOURNAL, RECOVERED, BuildLock, lock_holder, state_dir


def key_templates(step: Any) -> list[str]:
    from muxc.run.keys import templates_of

    return list(templates_of(step))


def plan_json(build: Any) -> dict[str, Any]:
    import msgspec

    steps = []
    for step in build.plan.steps:
        steps.append({"name": step.name, "kind": step.kind, "deps": list(step.deps), "consumes": list(step.consumes),
                      "role": step.step.role, "save": str(build.targets[step.name]) if step.name in build.targets
                      else None, "definition": msgspec.to_builtins(step.definition),
                      "templates": key_templates(step), "reads_project": step.reads_project,
                      "volatile": step.volatile, "cache_ttl_ms": step.cache_ttl_ms})
    return {"workflow": build.plan.workflow, "args": build.plan.args, "final": build.plan.final, "steps": steps}


def status_row(build: Any, step: Any) -> dict[str, Any]:
    from muxc.run.reasons import change_list

    state = build.state(step.name)
    if state.status in ("cached", "skipped"):
        label = "up to date" if state.status == "cached" else "skipped (its `if` is false)"
        if state.status == "cached" and _served_remotely(build, state.key):
            label = "cached (remote)"
        reason = state.reason if state.status == "cached" else ""  # what a build does to its saved file
        return {"step": step.name, "status": label, "reason": reason, "details": []}
    if state.status == "failed":
        return {"step": step.name, "status": "cannot tell", "reason": state.failure.message, "details": []}
    details: list[str] = []
    if state.components:
        previous = build.latest.get(step.name)
        changes = change_list(build, step, previous, state.components, state.rendered, detailed=True)
        details = [line for change in changes for line in change.splitlines()[1:]]
    return {"step": step.name, "status": "would run", "reason": state.reason, "details": details}


def _served_remotely(build: Any, key: str) -> bool:
    from muxc.app.remote import served_remotely

    return served_remotely(build, key)


@dataclass
class Status:
    rows: list[dict[str, Any]]
    running: str | None  # the pid of a build running meanwhile: the rows show what it finished so far

    @property
    def up_to_date(self) -> bool:
        return all(row["status"] in ("up to date", "cached (remote)") for row in self.rows)


def build_status(build: Any) -> Status:
    """What a build would do, step by step, without taking the lock. Closes ``build``."""
    from muxc.app.builds import close, execute

    running = lock_holder(build.state_dir)
    done = execute(build, lock=False)
    try:
        return Status([status_row(build, step) for step in build.plan.steps], running)
    finally:
        close(done.build)


def clean_state(root: Path) -> Path | None:
    """Delete every cached result of the project (not what a killed apply left to put back);
    None when there is nothing to clean. Raises ``LockHeld`` while a build runs."""
    directory = root / ".muxc" / "state"
    if not directory.exists():
        return None
    with BuildLock(directory):
        for child in directory.iterdir():
            if child.name not in ("lock", ".gitignore", APPLY_JOURNAL, RECOVERED):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    return directory


def forget_steps(root: Path, workflow: str, steps: tuple[str, ...]) -> tuple[list[tuple[str, int]], str | None]:
    """Drop every cached result of ``steps``: (step, results dropped) each, and a note when the
    cache had to be set aside as damaged. Raises ``LockHeld`` while a build runs."""
    from muxc.store.results import open_store

    directory = state_dir(root)
    with BuildLock(directory):
        store, damaged = open_store(directory / "cache.db")
        try:
            return [(step, store.forget(workflow, step)) for step in steps], damaged
        finally:
            store.close()
