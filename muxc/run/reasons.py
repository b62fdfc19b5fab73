"""Why a step runs: the difference between its new key and the one it was last built with.

Each key component that differs becomes a reason a person can act on: never built, its
definition changed (which fields), its prompt changed (because steps.X changed, or the template
itself — with a short diff), the model or backends changed (old -> new), input files changed
(which), the project changed (which files), forced, volatile, expired.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator
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
        if not upstream and field in old_text and old_text.get(field) == new_text.get(field):
            out.append(f"the same {label}, keyed the way this version of muxc keys it (once, after an upgrade)")
            continue
        why = f"{label} changed because " + ", ".join(f"steps.{n}" for n in upstream) + " changed" if upstream \
            else f"{label} changed"
        if detailed and field in old_text and field in new_text:
            why += "\n" + short_diff(old_text[field], new_text[field])
        out.append(why)
    return out


def short_diff(old: str, new: str) -> str:
    """The first ``MAX_DIFF_LINES`` lines of a unified diff with one line of context, in time
    linear in the texts (see ``_Trimmed``)."""
    a, b = old.splitlines(), new.splitlines()
    lines = _unified(a, b, _Trimmed(a, b).get_grouped_opcodes(1))
    shown = list(itertools.islice(lines, MAX_DIFF_LINES))
    more = sum(1 for _ in lines)
    if more:
        shown.append(f"... {more} more lines")
    return "\n".join("    " + line for line in shown)


DIFF_WINDOW = 2000  # lines of each side's changed middle that difflib compares


class _Trimmed(difflib.SequenceMatcher):
    """difflib's opcodes with the common head and tail taken as equal without searching them, and
    difflib run on at most ``DIFF_WINDOW`` lines of the changed middle (the rest is a replacement):
    on a text with many repeated lines difflib is quadratic, and only the first lines are shown."""

    def __init__(self, a: list[str], b: list[str]) -> None:
        head = _common_length(a, b)
        tail = _common_length(a[head:][::-1], b[head:][::-1])
        self.head, self.a_end, self.b_end = head, len(a) - tail, len(b) - tail
        super().__init__(None, a, b)

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:
        head, a_end, b_end = self.head, self.a_end, self.b_end
        a_cut, b_cut = min(a_end, head + DIFF_WINDOW), min(b_end, head + DIFF_WINDOW)
        middle = difflib.SequenceMatcher(None, self.a[head:a_cut], self.b[head:b_cut]).get_opcodes()
        codes = [("equal", 0, head, 0, head)] if head else []
        codes += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle]
        if a_cut < a_end or b_cut < b_end:
            codes.append(("replace", a_cut, a_end, b_cut, b_end))
        if a_end < len(self.a):
            codes.append(("equal", a_end, len(self.a), b_end, len(self.b)))
        return codes or [("equal", 0, 0, 0, 0)]


def _common_length(a: list[str], b: list[str]) -> int:
    count = 0
    for left, right in zip(a, b):
        if left != right:
            break
        count += 1
    return count


def _unified(a: list[str], b: list[str], groups: Iterator[list[tuple[str, int, int, int, int]]]) -> Iterator[str]:
    """``difflib.unified_diff``'s lines after its two file headers, from grouped opcodes."""
    for group in groups:
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])


def _range(start: int, stop: int) -> str:
    """A unified diff's line range, as difflib writes it."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


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
