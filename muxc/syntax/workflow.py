"""Build the workflow AST from a spanned document, whichever front-end produced it.

The TOML front-end hands over the parsed file; the DSL front-end hands over the same shape
(``name``, ``args``, ``roles``, ``[[steps]]``) with spans into the ``.mux`` text. Everything is
validated here once: unknown fields, wrong types, bad durations, missing fields per step type,
inapplicable fields, duplicate names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from muxc.diagnostics.model import Label
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Str, Table
from muxc.lang.origin import Origin
from muxc.lang.roles import RoleConfig
from muxc.lang.validate import INVALID, Context, build, convert, did_you_mean
from muxc.syntax import fields as F
from muxc.syntax.ast import STEP_KINDS, Arg, Step, Workflow

ROOT_KEYS = ("name", "description", "version", "timeout", "continue_on_error", "args", "roles", "steps")
STEP_DURATIONS = {f.name: f.unit for f in F.STEP_FIELDS if f.unit}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build_workflow(
    root: Table, file: str, fmt: str, sink: DiagnosticSink, trailing_comments: tuple[str, ...] = ()
) -> Workflow | None:
    """The validated workflow, or None if it has no usable name."""
    ctx = Context(file, sink, "the workflow", {"timeout": "ms"})
    _unknown_root_keys(root, ctx)
    scalars = _root_scalars(root, ctx)
    name = scalars.pop("name", None)
    if name is None:
        _missing_name(root, fmt, ctx)
        return None
    args_node = root.get("args")
    if root.get("steps") is None:
        ctx.report("empty-workflow", "the workflow has no steps", _name_span(root) or Span(0, 0), "nothing to build",
                   help="add steps: [[steps]] in TOML, or `shell NAME: command` / `query NAME @role:` in .mux")
    steps, unbuilt = _steps(root.get("steps"), ctx)
    return Workflow(
        name=name,
        file=file,
        format="mux" if fmt == "mux" else "toml",
        args=_args(args_node, ctx),
        roles=_roles(root.get("roles"), ctx),
        steps=steps,
        unbuilt_steps=unbuilt,
        declares_args=args_node is not None,
        origin=Origin(file, root.span, dict(root.entries), _name_span(root), _header_comments(root)),
        trailing_comments=trailing_comments,
        **scalars,
    )


def _unknown_root_keys(root: Table, ctx: Context) -> None:
    for key, entry in root.entries.items():
        if key not in ROOT_KEYS:
            help_text = did_you_mean(key, ROOT_KEYS)
            if key in ("backends", "teams", "ecosystems", "defaults"):
                help_text = f"`{key}` belongs in the config file (.muxc/config.toml), not in a workflow"
            ctx.report("unknown-field", f"unknown field `{key}` in the workflow", entry.key_span,
                       "not a workflow field", help=help_text)


def _root_scalars(root: Table, ctx: Context) -> dict[str, object]:
    types = {f.name: f.type for f in msgspec.structs.fields(Workflow)}
    out: dict[str, object] = {}
    for key in ("name", "description", "version", "timeout", "continue_on_error"):
        node = root.get(key)
        if node is None:
            continue
        value = convert(node, types[key], key, ctx)
        if value is not INVALID:
            out[key] = value.value if isinstance(value, Str) else value
    return out


def _missing_name(root: Table, fmt: str, ctx: Context) -> None:
    fix = "add `workflow NAME \"what it does\"` as the first line" if fmt == "mux" else 'add `name = "..."` at the top'
    ctx.report("missing-field", "the workflow has no name", Span(0, 0), "workflow starts here", help=fix)


def _name_span(root: Table) -> Span | None:
    node = root.get("name")
    return node.span if node is not None else None


def _header_comments(root: Table) -> tuple[str, ...]:
    entry = root.entries.get("name")
    return entry.comments if entry is not None else ()


# --- args and roles --------------------------------------------------------------------


def _args(node: object, ctx: Context) -> dict[str, Arg]:
    return _named_tables(
        node, ctx, Arg, "`args` must be a table of argument declarations", "argument",
        whole_help='declare each argument as a table: [args.pr] required = true, description = "..."',
        each_help=lambda name: f"write [args.{name}] with required, default and description keys")


def _roles(node: object, ctx: Context) -> dict[str, RoleConfig]:
    return _named_tables(node, ctx, RoleConfig, "`roles` must be a table of roles", "role")


def _named_tables(node: object, ctx: Context, cls: type, whole: str, noun: str, whole_help: str | None = None,
                  each_help: Callable[[str], str] | None = None) -> dict[str, Any]:
    """A table of named tables (``[args.X]``, ``[roles.X]``), each built as ``cls`` named X."""
    if node is None:
        return {}
    if not isinstance(node, Table):
        ctx.report("wrong-type", whole, node.span, "not a table", help=whole_help)
        return {}
    out = {}
    for name, entry in node.entries.items():
        if not isinstance(entry.value, Table):
            ctx.report("wrong-type", f"{noun} `{name}` must be a table", entry.value.span, "not a table",
                       help=each_help(name) if each_help else None)
            continue
        sub = Context(ctx.file, ctx.sink, f"{noun} `{name}`")
        built = build(cls, entry.value, sub, fixed={"name": name}, name_span=entry.key_span,
                      comments=entry.comments + entry.value.comments)
        if built is not None:
            out[name] = built
    return out


# --- steps -----------------------------------------------------------------------------


def _steps(node: object, ctx: Context) -> tuple[tuple[Step, ...], tuple[str, ...]]:
    """The steps that could be built, and the names of those that could not (reported already)."""
    if node is None:
        return (), ()
    if not isinstance(node, Array) or not all(isinstance(item, Table) for item in node.items):
        ctx.report("wrong-type", "`steps` must be an array of tables ([[steps]])", node.span, "not [[steps]]")
        return (), ()
    steps: list[Step] = []
    unbuilt: list[str] = []
    seen: dict[str, Step] = {}
    for table in node.items:
        step = _step(table, ctx)
        if step is None:
            name = table.get("name")
            if isinstance(name, Str) and name.value not in unbuilt:
                unbuilt.append(name.value)
            continue
        if step.name in seen:
            _duplicate_step(step, seen[step.name], ctx)
            continue
        seen[step.name] = step
        steps.append(step)
    return tuple(steps), tuple(unbuilt)


def _step(table: Table, ctx: Context) -> Step | None:
    name_node = table.get("name")
    name = name_node.value if isinstance(name_node, Str) else None
    subject = f"step `{name}`" if name else "this step"
    sub = Context(ctx.file, ctx.sink, subject, STEP_DURATIONS)
    name_span = name_node.span if name_node is not None else table.span
    kind = _kind(table)
    if kind is None and _unknown_kind(table, sub):
        build(Step, table, sub, fixed={"type": "shell"}, skip={"type"}, name_span=name_span)  # its other fields
        return None
    step = build(Step, table, sub, name_span=name_span)
    if step is None or kind is None:
        return None
    _check_name(step, name_span, sub)
    _check_fields_for_kind(step, table, sub, name_span)
    _check_short_query_timeout(step, table, sub)
    return step


def _check_short_query_timeout(step: Step, table: Table, ctx: Context) -> None:
    """llm-mux ignored query timeouts, so its workflows write seconds there (`timeout = 180`)."""
    node = table.get("timeout")
    if step.type != "query" or step.timeout is None or not 100 <= step.timeout < 1000 or isinstance(node, Str):
        return
    ctx.report("short-timeout", f"`timeout = {step.timeout}` gives this LLM call {step.timeout} milliseconds",
               node.span if node is not None else table.span, f"{step.timeout} ms",
               help=f'step timeouts are milliseconds; for seconds write timeout = "{step.timeout}s"')


def _kind(table: Table) -> str | None:
    node = table.get("type")
    if node is None:
        return None  # reported as a missing required field by build()
    if isinstance(node, Str) and node.value in STEP_KINDS:
        return node.value
    return None  # reported by build() as an invalid value or wrong type


def _unknown_kind(table: Table, ctx: Context) -> bool:
    """Report a step type that is a string but not a kind (``qeury``); True when reported."""
    node = table.get("type")
    if not isinstance(node, Str):
        return False
    kinds = ", ".join(f"`{kind}`" for kind in STEP_KINDS)
    ctx.report("invalid-value", f"unknown step type `{node.value}`", node.span, "not a step type",
               help=did_you_mean(node.value, STEP_KINDS) or f"the step types are {kinds}")
    return True


def _check_name(step: Step, span: Span, ctx: Context) -> None:
    if not IDENTIFIER.fullmatch(step.name):
        ctx.report(
            "step-name-not-identifier",
            f"step name `{step.name}` cannot be written as steps.{step.name} in a template",
            span,
            "not an identifier",
            help=f"rename it with letters, digits and underscores, or write steps['{step.name}'] in templates",
        )


def _check_fields_for_kind(step: Step, table: Table, ctx: Context, name_span: Span) -> None:
    misspelled = _misspelled_fields(table)
    for info in F.STEP_FIELDS:
        present = info.name in table.entries
        if step.type in info.required_for and not present and info.name in misspelled:
            continue  # "unknown field `promt`, did you mean `prompt`" already says it
        if step.type in info.required_for and not present:
            ctx.report("missing-field", f"{step.type} step `{step.name}` is missing `{info.name}`",
                       name_span, f"needs `{info.name}`", help=_required_help(step.type, info.name))
        elif step.type in info.required_for and _blank(table.entries[info.name].value):
            ctx.report("empty-field", f"`{info.name}` of {step.type} step `{step.name}` is empty",
                       table.entries[info.name].value.span, "empty", help=_required_help(step.type, info.name))
        elif present and step.type not in info.kinds:
            entry = table.entries[info.name]
            ctx.report("field-not-applicable", f"`{info.name}` has no effect on a {step.type} step",
                       entry.key_span, f"ignored on a {step.type} step",
                       help=f"`{info.name}` is used by {', '.join(sorted(info.kinds))} steps")


def _misspelled_fields(table: Table) -> set[str]:
    """Known fields that an unknown key of the table is a close misspelling of."""
    import difflib

    unknown = [key for key in table.entries if key not in F.BY_NAME]
    return {match for key in unknown for match in difflib.get_close_matches(key, list(F.BY_NAME), n=1, cutoff=0.6)}


def _blank(node: object) -> bool:
    return isinstance(node, Str) and not node.value.strip()


def _required_help(kind: str, field: str) -> str:
    return {
        ("query", "role"): "name the role whose backends answer, e.g. role = \"analyzer\" (or @analyzer in .mux)",
        ("query", "prompt"): "write the prompt the role is asked",
        ("shell", "run"): "write the command to run",
        ("apply", "source"): "name the step whose output holds the edits, e.g. source = \"fix\"",
        ("store", "prompt"): "write the data to store, usually {{ steps.X.output }}",
        ("input", "prompt"): "write the question to ask",
    }.get((kind, field), f"set `{field}`")


def _duplicate_step(step: Step, first: Step, ctx: Context) -> None:
    first_span = first.origin.anchor if first.origin else Span(0, 0)
    span = step.origin.anchor if step.origin else Span(0, 0)
    ctx.report("duplicate-step", f"a step named `{step.name}` is already defined", span, "defined again here",
               secondary=[Label(ctx.file, first_span, "first defined here", primary=False)],
               help="step names must be unique; rename one of them")
