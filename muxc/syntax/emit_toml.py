"""Write a workflow as llm-mux TOML: ``name`` and friends, ``[args.X]``, ``[roles.X]``, ``[[steps]]``.

Values are written from the spanned nodes the front-end kept, so they come back exactly as
written (an integer stays an integer, a duration string stays a string). Comments kept by the
front-ends are written above what they belong to. Large tables inside a step (such as
``output_schema``) become ``[steps.X]`` sections, as llm-mux's own examples write them.
"""

from __future__ import annotations

from muxc.lang.document import Entry, Table
from muxc.lang.origin import Origin
from muxc.lang.roles import RoleConfig
from muxc.syntax import emit_values as V
from muxc.syntax.ast import Arg, Step, Workflow

ROOT_ORDER = ("name", "description", "version", "timeout", "continue_on_error")


def emit_toml(workflow: Workflow) -> str:
    origin = workflow.origin
    assert origin is not None
    blocks = [_root(origin)]
    blocks += [_named_table("args", name, arg) for name, arg in workflow.args.items()]
    blocks += [_named_table("roles", name, role) for name, role in workflow.roles.items()]
    blocks += [_step(step) for step in workflow.steps]
    text = "\n".join(block for block in blocks if block)
    if workflow.trailing_comments:
        text += "\n" + V.comment_lines(workflow.trailing_comments)
    return text


def _root(origin: Origin) -> str:
    lines = []
    for key in ROOT_ORDER:
        entry = origin.entry(key)
        if entry is not None:
            comments = origin.comments if key == "name" else entry.comments
            lines.append(V.comment_lines(comments) + f"{key} = {V.inline(entry.value)}\n")
    return "".join(lines)


def _named_table(group: str, name: str, item: Arg | RoleConfig) -> str:
    origin = item.origin
    assert origin is not None
    header = V.comment_lines(origin.comments) + f"[{group}.{V.key(name)}]\n"
    return header + _entries(origin.entries, V.field_order(type(item)), f"{group}.{V.key(name)}")


def _step(step: Step) -> str:
    origin = step.origin
    assert origin is not None
    return V.comment_lines(origin.comments) + "[[steps]]\n" + _entries(origin.entries, V.field_order(Step), "steps")


def _entries(entries: dict[str, Entry], order: list[str] | None, path: str) -> str:
    """Key/value lines, then sub-table sections when any table of this level needs one.

    At a step's level keys follow ``order`` (the canonical field order); inside a table they
    follow ``emit_values.ordered``. If one table value is too long for a line, every table of
    the level becomes a section, so their order stays as written."""
    items = (sorted(entries.values(), key=lambda e: order.index(e.key) if e.key in order else len(order))
             if order is not None else V.ordered(entries))
    tables = [e for e in items if isinstance(e.value, Table)]
    sectioned = any(_needs_section(e.value) for e in tables)
    lines = [V.comment_lines(e.comments) + f"{V.key(e.key)} = {V.inline(e.value)}\n" for e in items
             if not (sectioned and isinstance(e.value, Table))]
    sections = [_section(f"{path}.{V.key(e.key)}", e) for e in tables] if sectioned else []
    return "".join(lines) + "".join(sections)


def _needs_section(table: Table) -> bool:
    return len(V.inline(table)) > V.LINE_WIDTH - 20


def _section(path: str, entry: Entry) -> str:
    table = entry.value
    assert isinstance(table, Table)
    header = "\n" + V.comment_lines(entry.comments) + f"[{path}]\n"
    return header + _entries(table.entries, None, path)
