"""The workflow AST both front-ends produce: a workflow, its args, roles and steps.

Values are validated and typed; template-bearing fields keep their spanned ``Str`` node so the
checker can point inside a multi-line prompt. Every struct keeps its ``origin`` (file, spans and
the spanned entries as written) so passes can point at any key or list item, and ``muxc fmt`` can
write any value back exactly as it was written (``180`` stays ``180``, ``"3m"`` stays ``"3m"``).

Field order in ``Step`` is the canonical order ``muxc fmt`` writes. llm-mux's spelling is kept for
every llm-mux field (``if`` is ``if_`` in Python, ``if`` in files).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from muxc.lang.document import Str
from muxc.lang.origin import Origin
from muxc.lang.roles import RoleConfig

StepKind = Literal["shell", "query", "apply", "store", "input"]
STEP_KINDS: tuple[str, ...] = ("shell", "query", "apply", "store", "input")


class Arg(msgspec.Struct, frozen=True):
    name: str
    required: bool = False
    default: str | None = None
    description: str = ""
    origin: Origin | None = None


class Step(msgspec.Struct, frozen=True):
    """One step. Which fields a kind uses, and which it requires, is in ``syntax.fields``."""

    name: str
    type: StepKind
    role: str | None = None
    source: str | None = None
    save: Str | None = None  # a file the output is written to (a build target)
    prompt: Str | None = None
    run: Str | None = None
    system: Str | None = None
    depends_on: list[str] = []
    if_: Str | None = msgspec.field(default=None, name="if")
    for_each: Str | None = None
    inputs: list[str] = []
    always: bool = False
    cache: str | None = None  # "forever" | "never" | a duration
    version: int | str | None = None
    timeout: int | None = None  # ms
    retries: int = 0
    retry_delay: int = 1000  # ms
    continue_on_error: bool = False
    allow_tool_files: bool = False  # saves and edits may write tool files (muxc.confine)
    parallel: bool = False
    min_success: int | None = None
    params: dict[str, Any] = {}
    output_schema: dict[str, Any] | None = None
    schema_retries: int = 1
    verify: Str | None = None
    verify_retries: int = 0
    verify_retry_prompt: Str | None = None
    verify_timeout: int | None = None  # ms
    rollback_on_failure: bool = False
    options: list[str] | None = None
    default: str | None = None
    origin: Origin | None = None

    def template_fields(self) -> list[tuple[str, Str]]:
        """(field name as written, node) for every template-bearing field that is set."""
        found = []
        for name in TEMPLATE_FIELDS:
            node = getattr(self, "if_" if name == "if" else name)
            if node is not None:
                found.append((name, node))
        return found


TEMPLATE_FIELDS: tuple[str, ...] = (
    "save",
    "prompt",
    "run",
    "system",
    "if",
    "for_each",
    "verify",
    "verify_retry_prompt",
)


class Workflow(msgspec.Struct, frozen=True):
    name: str
    file: str
    format: Literal["toml", "mux"]
    description: str = ""
    version: int | None = None
    timeout: int | None = None  # ms
    continue_on_error: bool = False
    args: dict[str, Arg] = {}
    roles: dict[str, RoleConfig] = {}
    steps: tuple[Step, ...] = ()
    declares_args: bool = False
    origin: Origin | None = None
    trailing_comments: tuple[str, ...] = ()
    # Steps the file declares that could not be built (a mistyped type, say): their errors are
    # reported, and references to them are not "unknown step" — hints list them as steps.
    unbuilt_steps: tuple[str, ...] = ()

    def step(self, name: str) -> Step | None:
        """The step called ``name`` (a linear search: passes that look up often index it)."""
        for step in self.steps:
            if step.name == name:
                return step
        return None

    @property
    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    @property
    def declared_step_names(self) -> list[str]:
        """Every step the file declares, built or not: the names hints offer."""
        return [*self.step_names, *(name for name in self.unbuilt_steps if self.step(name) is None)]
