"""Validate a spanned table into a typed msgspec struct, reporting every problem with a span.

The struct's field annotations are the schema: ``msgspec.convert`` checks each value, and a
failure is reported at the offending value (or list item) instead of stopping at the first
error. Unknown keys get a did-you-mean; missing required fields point at the table. Fields
annotated ``Str`` keep their spanned node (templates); nested structs and tables of structs
are validated recursively so their spans survive too.
"""

from __future__ import annotations

import difflib
import functools
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

import msgspec

from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Node, Str, Table, to_python, type_name
from muxc.lang.durations import DurationError, DurationRangeError, to_ms
from muxc.lang.origin import Origin

INVALID = object()



class Context(msgspec.Struct):
    """What a validation run needs to report: the file, the sink, and how to name things."""

    file: str
    sink: DiagnosticSink
    subject: str  # e.g. "step 'analyze'", for messages
    durations: Mapping[str, str] = {}  # field -> unit of a bare integer ("ms" or "s")

    def report(self, code: str, message: str, span: Span, label: str = "", **extra: Any) -> None:
        self.sink.report(code, message, self.file, span, label, **extra)


@functools.cache
def struct_fields(cls: type) -> tuple[Any, ...]:
    """``msgspec.structs.fields`` evaluates annotations each call; schemas are fixed, so once."""
    return msgspec.structs.fields(cls)


def did_you_mean(name: str, candidates: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def build(
    cls: type,
    table: Table,
    ctx: Context,
    *,
    fixed: Mapping[str, Any] | None = None,
    skip: typing.Collection[str] = (),
    name_span: Span | None = None,
    comments: tuple[str, ...] = (),
) -> Any:
    """An instance of ``cls`` from ``table``, or None when a required value is unusable."""
    fixed = dict(fixed or {})
    fields = {f.encode_name: f for f in struct_fields(cls) if f.name != "origin" and f.name not in fixed}
    values: dict[str, Any] = {}
    for key, entry in table.entries.items():
        if key in skip:
            continue
        field = fields.get(key)
        if field is None:
            _unknown_field(key, entry.key_span, fields, ctx)
            continue
        value = convert(entry.value, field.type, key, ctx)
        if value is not INVALID:
            values[field.name] = value
    if not _has_required(fields, table, values, ctx, name_span):
        return None
    if "origin" not in cls.__struct_fields__:  # a plain value table, such as a backend's price
        return cls(**values, **fixed)
    origin = Origin(ctx.file, table.span, dict(table.entries), name_span, comments or table.comments)
    return cls(**values, **fixed, origin=origin)


def _unknown_field(key: str, span: Span, fields: Mapping[str, Any], ctx: Context) -> None:
    known = ", ".join(f"`{name}`" for name in fields)
    ctx.report(
        "unknown-field",
        f"unknown field `{key}` in {ctx.subject}",
        span,
        "not a field here",
        help=did_you_mean(key, fields) or f"the fields are {known}",
    )


def _has_required(fields: Mapping[str, Any], table: Table, values: dict[str, Any], ctx: Context, at: Span | None) -> bool:
    ok = True
    for key, field in fields.items():
        if field.required and field.name not in values:
            ok = False
            if key not in table.entries:  # present but invalid was already reported
                ctx.report("missing-field", f"{ctx.subject} is missing `{key}`", at or table.span, f"needs `{key}`")
    return ok


# --- conversion ------------------------------------------------------------------------


def convert(node: Node, annotation: Any, key: str, ctx: Context) -> Any:
    """The value of ``node`` as ``annotation``, or ``INVALID`` after reporting why not."""
    inner, _ = _unwrap_optional(annotation)
    if inner is Str:
        return _expect_str(node, key, ctx)
    if key in ctx.durations:
        return _duration(node, key, ctx)
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
        return _nested(node, inner, key, ctx)
    struct_values = _struct_values_of(inner)
    if struct_values is not None:
        return _table_of_structs(node, struct_values, key, ctx)
    return _msgspec_convert(node, annotation, key, ctx)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """(the type inside ``X | None``, whether None was allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _struct_values_of(annotation: Any) -> type | None:
    """For ``dict[str, SomeStruct]``, the struct type."""
    if typing.get_origin(annotation) is dict:
        value_type = typing.get_args(annotation)[1]
        if isinstance(value_type, type) and issubclass(value_type, msgspec.Struct):
            return value_type
    return None


def _expect_str(node: Node, key: str, ctx: Context) -> Any:
    if isinstance(node, Str):
        return node
    _wrong_type(node, "a string", key, ctx)
    return INVALID


def _duration(node: Node, key: str, ctx: Context) -> Any:
    value = to_python(node)
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        _wrong_type(node, "a duration (an integer, or a string such as \"30s\")", key, ctx)
        return INVALID
    unit = ctx.durations[key]
    try:
        ms = to_ms(value, unit)
    except DurationRangeError as error:
        ctx.report("invalid-duration", f"invalid duration for `{key}`: {error}", node.span, "out of range",
                   help="0 means no limit" if key == "timeout" and unit == "ms" else None)
        return INVALID
    except DurationError as error:
        ctx.report("invalid-duration", f"invalid duration for `{key}`: {error}", node.span, "not a duration")
        return INVALID
    if unit == "ms" and isinstance(value, int) and 1 <= value <= 99:
        ctx.report(
            "suspicious-duration",
            f"`{key} = {value}` is {value} milliseconds, which is too short to be meant",
            node.span,
            f"{value} ms",
            help=f"write `\"{value}s\"` for seconds or `\"{value}m\"` for minutes; 0 means no limit",
        )
        return INVALID
    return ms if unit == "ms" else ms / 1000  # a field keeps its own unit: seconds stay seconds


def _nested(node: Node, cls: type, key: str, ctx: Context) -> Any:
    if not isinstance(node, Table):
        _wrong_type(node, "a table", key, ctx)
        return INVALID
    sub = Context(ctx.file, ctx.sink, f"`{key}` of {ctx.subject}", ctx.durations)
    result = build(cls, node, sub)
    return INVALID if result is None else result


def _table_of_structs(node: Node, cls: type, key: str, ctx: Context) -> Any:
    if not isinstance(node, Table):
        _wrong_type(node, "a table", key, ctx)
        return INVALID
    out = {}
    for name, entry in node.entries.items():
        if not isinstance(entry.value, Table):
            _wrong_type(entry.value, "a table", f"{key}.{name}", ctx)
            continue
        sub = Context(ctx.file, ctx.sink, f"`{key}.{name}`", ctx.durations)
        item = build(cls, entry.value, sub, fixed={"name": name} if "name" in cls.__struct_fields__ else None,
                     name_span=entry.key_span)
        if item is not None:
            out[name] = item
    return out


_PATH_PART = re.compile(r"\[(\d+)\]|\.([A-Za-z_][A-Za-z0-9_]*)|\[\"?([^\]\"]*)\"?\]")


def _msgspec_convert(node: Node, annotation: Any, key: str, ctx: Context) -> Any:
    try:
        return msgspec.convert(to_python(node), annotation, strict=True)
    except msgspec.ValidationError as error:
        message, _, path = str(error).partition(" - at `")
        target, where = _locate(node, path.rstrip("`"))
        _report_validation(target, annotation, message, key + where, ctx)
        return INVALID


def _locate(node: Node, path: str) -> tuple[Node, str]:
    """The node a msgspec error path such as ``$[2]`` or ``$.a.b`` points at, and the part of
    the path that was followed (``[2]``, ``.a.b``), so a message can name the item, not the list."""
    followed = ""
    for match in _PATH_PART.finditer(path):
        index, attr, quoted = match.groups()
        if index is not None and isinstance(node, Array) and int(index) < len(node.items):
            node = node.items[int(index)]
            followed += f"[{index}]"
        elif isinstance(node, Table) and (attr or quoted) in node.entries:
            node = node.entries[attr or quoted].value
            followed += f".{attr or quoted}"
        else:
            break
    return node, followed


def _report_validation(node: Node, annotation: Any, message: str, key: str, ctx: Context) -> None:
    if message.startswith("Invalid enum value"):
        choices = _literal_choices(annotation)
        value = to_python(node)
        ctx.report(
            "invalid-value",
            f"invalid value {value!r} for `{key}`: expected one of {', '.join(repr(c) for c in choices)}",
            node.span,
            "not allowed here",
            help=did_you_mean(str(value), [str(c) for c in choices]),
        )
        return
    expected = _expected_from_message(message) or describe(annotation)
    _wrong_type(node, expected, key, ctx)


def _wrong_type(node: Node, expected: str, key: str, ctx: Context) -> None:
    ctx.report(
        "wrong-type",
        f"`{key}` of {ctx.subject} must be {expected}, not {_article(type_name(node))}",
        node.span,
        f"this is {_article(type_name(node))}",
    )


_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def _expected_from_message(message: str) -> str | None:
    match = re.match(r"Expected `([^`]+)`", message)
    if not match:
        return None
    words = [_TYPE_WORDS.get(part.strip(), part.strip()) for part in match.group(1).split("|")]
    words = [w for w in words if w != "nothing"]
    return " or ".join(dict.fromkeys(words))


def describe(annotation: Any) -> str:
    """User words for a type annotation."""
    inner, _ = _unwrap_optional(annotation)
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(inner))
    if origin is list:
        return f"a list of {describe(typing.get_args(inner)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(inner) if a is not type(None))
    return _TYPE_WORDS.get(getattr(inner, "__name__", ""), str(inner))


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    inner, _ = _unwrap_optional(annotation)
    if typing.get_origin(inner) is list:
        inner = typing.get_args(inner)[0]
    return typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else ()


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun
