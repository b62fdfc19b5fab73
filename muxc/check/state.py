"""What the checker passes share: the workflow, the config, and what earlier passes found.

Passes run in order (``check.PASSES``); each reads the state, reports diagnostics, and adds
what later passes need (edges of the dependency graph, the analysed templates). The result is
frozen into a ``CheckedWorkflow``, the compiler's input contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from muxc.config.schema import Config
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Str
from muxc.lang.jinja import TemplateInfo
from muxc.syntax.ast import Step, Workflow


class Edge(msgspec.Struct, frozen=True):
    """``step`` needs ``upstream`` to finish first; ``span`` is where the file says so.

    Finding the exact span of a reference inside a template re-lexes it, which only a
    diagnostic needs, so template edges carry ``locate`` and resolve their span on demand."""

    step: str
    upstream: str
    span: Span
    via: str  # depends_on | source | the template field name
    consumes: bool  # the step reads the upstream step's output (not just ordering)
    locate: Any = None  # a callable giving the exact span

    def exact_span(self) -> Span:
        return self.locate() if self.locate is not None else self.span


class Template(msgspec.Struct, frozen=True):
    """One analysed template field of a step (``inputs`` items are ``inputs[0]``, ...)."""

    field: str
    node: Str
    info: TemplateInfo


class CheckedStep(msgspec.Struct, frozen=True):
    step: Step
    deps: tuple[str, ...]  # every upstream step, in file order
    consumes: tuple[str, ...]  # upstream steps whose output or fields its templates read
    templates: tuple[Template, ...]
    env_vars: tuple[str, ...]  # env.X names read by its templates; ("*",) when a name is computed
    volatile: bool  # always = true, or templates that read the clock or randomness


class CheckedWorkflow(msgspec.Struct, frozen=True):
    workflow: Workflow
    config: Config
    order: tuple[str, ...]  # a topological order, file order among equals
    steps: dict[str, CheckedStep]
    edges: tuple[Edge, ...]


@dataclass
class CheckState:
    workflow: Workflow
    config: Config
    sink: DiagnosticSink
    edges: list[Edge] = field(default_factory=list)
    templates: dict[str, list[Template]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    has_cycle: bool = False
    steps_by_name: dict[str, Step] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps_by_name = {step.name: step for step in self.workflow.steps}

    @property
    def file(self) -> str:
        return self.workflow.file

    def report(self, code: str, message: str, span: Span, label: str = "", **extra: object) -> None:
        self.sink.report(code, message, self.file, span, label, **extra)

    def step(self, name: str) -> Step | None:
        return self.steps_by_name.get(name)
