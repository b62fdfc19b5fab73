"""The step kinds: what each adds to its cache key, and the handler that runs it.

``extras_for`` gives the key components only a build knows (the backends' identity, the files
read, the edits applied, the answer given); ``handler_for`` gives the function that runs the
step once its key missed the cache. Both return a ``StepFailure`` instead of raising.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from muxc.compile.plan import StepPlan
from muxc.run.context import Build
from muxc.run.outcome import Produced, StepFailure
from muxc.syntax.ast import STEP_KINDS

# (build, step, rendered texts, template context, for_each item; key=the result's cache key)
Handler = Callable[..., "Produced | StepFailure"]


def handler_for(kind: str) -> Handler:
    return _module(kind).run


def extras_for(build: Build, plan: StepPlan, item: Any, context: dict[str, Any]) -> dict[str, Any] | StepFailure:
    return _module(plan.kind).extras(build, plan, context)


def _module(kind: str) -> Any:
    """The kind's module in muxc.run.steps, imported when a build first meets that kind (a build
    of queries never loads the edit engine)."""
    if kind not in STEP_KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"muxc.run.steps.{kind}")


def files_read(build: Build, plan: StepPlan, context: dict[str, Any], whole_project: bool
               ) -> dict[str, Any] | StepFailure:
    """The key component for the files a step reads: its ``inputs``, else maybe the project.

    `inputs = []` declares that the step reads no file: nothing, not even the project."""
    from muxc.run.keys import input_patterns
    from muxc.run.templating import RenderError, render

    patterns = input_patterns(plan)
    if not patterns and plan.declares_inputs:
        return {}
    if patterns:
        try:
            rendered = [render(p, context) if "{" in p else p for p in patterns]
        except RenderError:
            rendered = patterns
        try:
            tree = build.fingerprints.inputs(rendered)
        except ValueError as error:  # a pattern pathlib refuses, such as `src/**.rs`
            return StepFailure("config", f"an `inputs` pattern is not a valid glob: {error}",
                               hint="`**` must be a whole path component: write src/**/*.rs, not src/**.rs")
        return {"inputs": _kept(build, tree)}
    if whole_project:
        return {"project": _kept(build, build.fingerprints.project())}
    return {}


def _kept(build: Build, tree: Any) -> str:
    """A tree's digest, after storing its listing once per build (status shows which files
    changed); the store keeps a listing it already has."""
    if tree.digest not in build.seen_trees:
        build.seen_trees.add(tree.digest)
        build.store.put_tree(tree.digest, tree.files)
    return tree.digest
