"""Why a step runs: the difference between its new key and the one it was last built with.

Each key component that differs becomes a reason a person can act on: never built, its
definition changed (which fields), its prompt changed (because steps.X changed, or the template
itself — with a short diff), the model or backends changed (old -> new), input files changed
(which), the project changed (which files), forced, volatile, expired.
"""

from __future__ import annotations

import difflib
from typing import Any

from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.fingerprint import diff_trees
from muxc.store.results import Latest

MAX_DIFF_LINES = 12


def explain_change(build: Build, plan: StepPlan, previous: Latest | None, components: dict[str, Any],
                   rendered: dict[str, str]) -> str:
    changes = "; ".join(change_list(build, plan, previous, components, rendered))
    distrusted = build.store.distrusted(previous.key) if previous is not None else None
    return changes or distrusted or "its cached result expired"


def change_list(build: Build, plan: StepPlan, previous: Latest | None, components: dict[str, Any],
                rendered: dict[str, str], detailed: bool = False) -> list[str]:
    if previous is None:
        return ["never built"]
    old, old_rendered = build.store.details(previous.key)
    if not old:
        return ["its last build is no longer in the cache"]
    reasons: list[str] = []
    if old.get("salt") != components.get("salt"):
        reasons.append("the cache salt changed")
    if old.get("definition") != components.get("definition"):
        reasons.append(_definition(old.get("definition", {}), components["definition"]))
    if old.get("rendered") != components.get("rendered"):
        reasons += _rendered(old, components, old_rendered, rendered, detailed)
    if old.get("backends") != components.get("backends"):
        reasons.append(_backends(old.get("backends"), components.get("backends")))
    for part, what in (("inputs", "input files"), ("project", "the project")):
        if old.get(part) != components.get(part) and part in components:
            reasons.append(_files(build, what, old.get(part), components[part]))
    for part, what in (("source", "the edits to apply"), ("files", "the files the edits touch"),
                       ("wrapper", "the command wrapper"),
                       ("answer", "the answer"), ("item", "the item"), ("ecosystem", "the ecosystem")):
        if old.get(part) != components.get(part) and (part in components or part in old):
            reasons.append(f"{what} changed")
    return reasons


def _definition(old: dict[str, Any], new: dict[str, Any]) -> str:
    fields = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "its definition changed (" + ", ".join(fields) + ")"


def _rendered(old: dict[str, Any], new: dict[str, Any], old_text: dict[str, str], new_text: dict[str, str],
              detailed: bool) -> list[str]:
    out = []
    upstream = [name for name, d in new.get("upstream", {}).items() if old.get("upstream", {}).get(name) != d]
    for field, value in new.get("rendered", {}).items():
        if old.get("rendered", {}).get(field) == value:
            continue
        label = "command" if field == "run" else field
        why = f"{label} changed because " + ", ".join(f"steps.{n}" for n in upstream) + " changed" if upstream \
            else f"{label} changed"
        if detailed and field in old_text and field in new_text:
            why += "\n" + short_diff(old_text[field], new_text[field])
        out.append(why)
    return out


def short_diff(old: str, new: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "now", lineterm="", n=1))
    shown = lines[2:2 + MAX_DIFF_LINES]
    if len(lines) - 2 > MAX_DIFF_LINES:
        shown.append(f"... {len(lines) - 2 - MAX_DIFF_LINES} more lines")
    return "\n".join("    " + line for line in shown)


def _backends(old: Any, new: Any) -> str:
    old_models = [b.get("model") or b.get("command") for b in (old or {}).get("backends", [])]
    new_models = [b.get("model") or b.get("command") for b in (new or {}).get("backends", [])]
    old_kinds = [b.get("kind") for b in (old or {}).get("backends", [])]
    new_kinds = [b.get("kind") for b in (new or {}).get("backends", [])]
    if old_models != new_models:
        what = "model" if old_kinds == new_kinds else "backend"
        return f"the {what} changed: {', '.join(map(str, old_models))} -> {', '.join(map(str, new_models))}"
    return "the backends' settings changed (execution, parameters or protocol)"


def _files(build: Build, what: str, old: str | None, new: str) -> str:
    before = build.store.tree(old) if old else None
    after = build.store.tree(new)
    if before is None or after is None:
        return f"{what} changed"
    added, removed, changed = diff_trees(before, after)
    names = [*changed, *added, *removed]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{shown} changed" if names else f"{what} changed"
