"""The plan: what the runtime builds, in order, with each step's static cache-key recipe.

Produced by ``compile.lower.compile_plan`` from a checked workflow and the arguments; pure data, no
doit. The runtime completes each key with what only a build can know (rendered text, backend
identity, input files, upstream outputs) — see ``docs/caching.md``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from muxc.diagnostics.span import Span
from muxc.syntax.ast import Step


class StepPlan(msgspec.Struct, frozen=True):
    name: str
    kind: str
    index: int  # position in the file
    deps: tuple[str, ...]  # every upstream step (ordering)
    consumes: tuple[str, ...]  # upstream steps whose results its templates or source read
    step: Step
    definition: dict[str, Any]  # the normalised fields that determine its result (not templates)
    definition_digest: str
    reads_project: bool  # a shell step that does not declare `inputs`: the project's state is part of its key
    volatile: bool  # always = true, or templates that read the clock or randomness
    cache_ttl_ms: int | None  # None: forever; 0: never reuse
    env_vars: tuple[str, ...]  # the variables its templates read; ("*",): any (a computed name)
    file: str
    span: Span  # where the step is named, for runtime diagnostics
    reads_memory: bool = False  # its templates read `memory`, which a pre-key cannot see change
    declares_inputs: bool = False  # it has `inputs`, maybe `[]`: only those files are read, never the project
    reads_workflow: bool = False  # its templates print the workflow's name


class Plan(msgspec.Struct, frozen=True):
    workflow: str
    file: str
    args: dict[str, str]
    steps: tuple[StepPlan, ...]  # topological order
    final: str | None  # the step whose output is the build's result
    salt: str = ""
    timeout_ms: int | None = None  # the whole build's limit (the workflow's `timeout`)
    continue_on_error: bool = False  # the workflow's: a failed step stops nothing (llm-mux's meaning)

    def step(self, name: str) -> StepPlan:
        for plan in self.steps:
            if plan.name == name:
                return plan
        raise KeyError(name)
