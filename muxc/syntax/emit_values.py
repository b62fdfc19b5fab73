"""Write spanned values back as TOML or DSL literals, and the order fields are written in.

Both formats share TOML's value syntax; they differ only in that the DSL lets an inline table
span lines. Every literal written here reads back to exactly the same value (``muxc fmt`` is
lossless), which the round-trip tests check over every example and stdlib workflow.
"""

from __future__ import annotations

import datetime
import functools
import math
import re

import msgspec

from muxc.lang.document import Array, Entry, Node, Scalar, Str, Table
from muxc.lang.strings import escape_basic, quote_basic

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
LINE_WIDTH = 100


def key(name: str) -> str:
    return name if BARE_KEY.fullmatch(name) else quote_basic(name)


def scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as a literal")


def short_string(value: str) -> str:
    """A one-line literal: 'literal' when that avoids escapes, else "basic"."""
    needs_escape = any(c in value for c in '"\\') or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    literal_ok = "'" not in value and all(c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in value)
    if needs_escape and literal_ok:
        return f"'{value}'"
    return quote_basic(value)


def long_string(value: str) -> str:
    """A multi-line literal that reads back as exactly ``value``."""
    literal_ok = (
        "'''" not in value
        and not value.endswith("'")
        and all(c in "\n\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in value)
    )
    if literal_ok:
        return "'''\n" + value + "'''"
    text = escape_basic(value, multiline=True).replace('"""', '""\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    return '"""\n' + text + '"""'


def string(value: str) -> str:
    return long_string(value) if "\n" in value else short_string(value)


def inline(node: Node, *, multiline_tables: bool = False, indent: str = "") -> str:
    """A value as an inline literal (arrays and tables on one line when they fit)."""
    if isinstance(node, Str):
        return string(node.value)
    if isinstance(node, Scalar):
        return scalar(node.value)
    if isinstance(node, Array):
        return _inline_array(node, multiline_tables, indent)
    return _inline_table(node, multiline_tables, indent)


def _inline_array(node: Array, multiline: bool, indent: str) -> str:
    items = [inline(item, multiline_tables=multiline, indent=indent + "    ") for item in node.items]
    flat = "[" + ", ".join(items) + "]"
    if not multiline or len(flat) + len(indent) <= LINE_WIDTH or any("\n" in i for i in items if i.startswith("'''")):
        return flat
    inner = indent + "    "
    return "[\n" + "".join(f"{inner}{item},\n" for item in items) + indent + "]"


def ordered(entries: dict[str, Entry]) -> list[Entry]:
    """A table's entries as both formats write them: plain values first, then tables.

    TOML must write sub-tables after a table's plain keys (as ``[a.b]`` sections), so both formats
    use this order; converting back and forth then never moves a key."""
    values = list(entries.values())
    return [e for e in values if not isinstance(e.value, Table)] + [e for e in values if isinstance(e.value, Table)]


def _inline_table(node: Table, multiline: bool, indent: str) -> str:
    pairs = [f"{key(e.key)} = {inline(e.value, multiline_tables=multiline, indent=indent + '    ')}"
             for e in ordered(node.entries)]
    flat = "{" + ", ".join(pairs) + "}"
    if not multiline or len(flat) + len(indent) <= LINE_WIDTH:
        return flat
    inner = indent + "    "
    return "{\n" + "".join(f"{inner}{pair},\n" for pair in pairs) + indent + "}"


@functools.cache
def field_order(cls: type) -> tuple[str, ...]:
    """The keys of a struct as files spell them, in declaration order (the canonical order).

    Cached: ``msgspec.structs.fields`` evaluates the annotations on every call, which made
    formatting a workflow cost a millisecond per step."""
    return tuple(f.encode_name for f in msgspec.structs.fields(cls) if f.name != "origin")


# What TOML allows in no comment (nor should a .mux one hold): control characters but the tab.
_COMMENT_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def comment_lines(comments: tuple[str, ...], indent: str = "") -> str:
    """Comments as lines; a control character read from a comment is written as its ``\\uXXXX``
    escape (the file would not read back otherwise), a CR before the line break is dropped."""
    return "".join(f"{indent}#{_plain_comment(text)}\n" for text in comments)


def _plain_comment(text: str) -> str:
    return _COMMENT_CONTROL.sub(lambda found: f"\\u{ord(found.group()):04x}", text.removesuffix("\r"))
