"""Write a workflow in the muxc language, in its one canonical layout.

``muxc fmt --to mux`` is this function; a ``.mux`` file that is already formatted comes back
unchanged, through TOML and back as well. Layout: the ``workflow`` line, the args, the roles,
then each step separated by a blank line; a step header carries kind, name, ``@role``,
``from SOURCE``, ``> "file"`` and the other fields in ``[...]``; its text follows after ``:``.
"""

from __future__ import annotations

import re

from muxc.lang.document import Entry, Str
from muxc.lang.origin import Origin
from muxc.lang.roles import RoleConfig
from muxc.syntax import emit_values as V
from muxc.syntax.ast import Arg, Step, Workflow
from muxc.syntax.fields import BODY_FIELD

SHORTHAND = {"role": "@", "source": "from ", "save": "> "}
HEADER_ATTRS = ("version", "timeout", "continue_on_error")
NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-]*)*")


def emit_mux(workflow: Workflow) -> str:
    groups = [_workflow_line(workflow)]
    groups.append("".join(_arg(arg) for arg in workflow.args.values()))
    groups.append("".join(_role(role) for role in workflow.roles.values()))
    groups += [_step(step) for step in workflow.steps]
    text = "\n".join(group for group in groups if group)
    if workflow.trailing_comments:
        text += "\n" + V.comment_lines(workflow.trailing_comments)
    return text


def _name(name: str) -> str:
    return name if NAME_TOKEN.fullmatch(name) else V.short_string(name)


def _workflow_line(workflow: Workflow) -> str:
    origin = workflow.origin
    assert origin is not None
    line = f"workflow {_name(workflow.name)}"
    description = origin.value("description")
    if description is not None:
        line += " " + V.inline(description)
    entries = [origin.entries[k] for k in HEADER_ATTRS if k in origin.entries]
    comments = origin.comments + (origin.entries["description"].comments if description is not None else ())
    return V.comment_lines(comments) + _with_attrs(line, entries) + "\n"


def _arg(arg: Arg) -> str:
    origin = arg.origin
    assert origin is not None
    parts = [f"arg {_name(arg.name)}"]
    default = origin.value("default")
    if default is not None:
        parts.append(f"= {V.inline(default)}")
    if origin.value("required") is not None:
        parts.append("required" if arg.required else "")
    description = origin.value("description")
    if description is not None:
        parts.append(V.inline(description))
    comments = _all_comments(origin, ("default", "required", "description"))
    return V.comment_lines(comments) + " ".join(p for p in parts if p) + "\n"


def _role(role: RoleConfig) -> str:
    origin = role.origin
    assert origin is not None
    entries = [origin.entries[k] for k in V.field_order(RoleConfig) if k in origin.entries]
    return V.comment_lines(origin.comments) + _with_attrs(f"role {_name(role.name)}", entries) + "\n"


def _all_comments(origin: Origin, keys: tuple[str, ...]) -> tuple[str, ...]:
    extra = tuple(c for k in keys if k in origin.entries for c in origin.entries[k].comments)
    return origin.comments + extra


# --- steps -----------------------------------------------------------------------------


def _step(step: Step) -> str:
    origin = step.origin
    assert origin is not None
    body_field = BODY_FIELD.get(step.type)
    header = f"{step.type} {_name(step.name)}"
    moved: list[str] = []
    for field, prefix in SHORTHAND.items():
        entry = origin.entry(field)
        if entry is not None and isinstance(entry.value, Str):
            value = entry.value.value
            if field == "save":
                header += " " + prefix + V.inline(entry.value)
            elif field == "source" and DOTTED.fullmatch(value):
                header += " " + prefix + value
            else:
                header += " " + prefix + _name(value)
            moved += entry.comments
    skip = {"name", "type", *SHORTHAND, body_field}
    attrs = [origin.entries[k] for k in V.field_order(Step) if k in origin.entries and k not in skip]
    line = _with_attrs(header, attrs)
    body = origin.entry(body_field) if body_field else None
    # the name and the kind are the header itself: comments a TOML file wrote above them go above it
    named = tuple(c for key in ("name", "type") if key in origin.entries for c in origin.entries[key].comments)
    comments = origin.comments + named + tuple(moved)
    if body is None:
        return V.comment_lines(comments) + line + "\n"
    text, trailing = _body(body)
    if trailing is not None:
        comments += trailing
    return V.comment_lines(comments) + line + text


def _body(entry: Entry) -> tuple[str, tuple[str, ...] | None]:
    """The body after the header, and comments that must move above the step."""
    value = entry.value
    assert isinstance(value, Str)
    text = value.value
    comments = entry.comments
    if _fits_block(text):
        header_comment = f" #{comments[0]}" if len(comments) == 1 else ""
        lines = "".join(f"    {line}\n" if line else "\n" for line in text[:-1].split("\n"))
        return ":" + header_comment + "\n" + lines, (comments if len(comments) > 1 else None)
    if _fits_line(text):
        return f": {text}\n", comments or None
    return f" = {V.short_string(text)}\n", comments or None


def _fits_block(text: str) -> bool:
    if not text.endswith("\n") or text.endswith("\n\n") or "\r" in text:
        return False
    first = next((line for line in text.split("\n") if line.strip()), "")
    return bool(first) and not first[0].isspace() and "\n" in text


def _fits_line(text: str) -> bool:
    return bool(text) and "\n" not in text and "\r" not in text and text == text.strip() and not text.startswith("#")


def _with_attrs(line: str, entries: list[Entry]) -> str:
    if not entries:
        return line
    pairs = [f"{V.key(e.key)} = {V.inline(e.value, multiline_tables=True, indent='    ')}" for e in entries]
    flat = f"{line} [{', '.join(pairs)}]"
    if len(flat) <= V.LINE_WIDTH and not any(e.comments for e in entries) and "\n" not in flat:
        return flat
    body = "".join(V.comment_lines(e.comments, "    ") + f"    {pair},\n" for e, pair in zip(entries, pairs))
    return f"{line} [\n{body}]"
