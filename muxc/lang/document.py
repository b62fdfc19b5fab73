"""The spanned TOML document: every key and value with its exact place in the source.

This is the data model the TOML front-end produces and the DSL reuses for attribute values,
so one schema layer validates both formats with the same spans. Values are decoded exactly as
``tomllib`` decodes them; ``to_python`` turns a node into the plain value ``tomllib`` returns.

Invariants:
- spans are character offsets into the document's text (``Span(start, end)``, end exclusive);
- ``Str.pieces`` maps decoded characters back to the source (see ``Str.source_offset``), so a
  diagnostic can point inside a multi-line string, past escapes and line continuations;
- ``Table.entries`` keeps source order; an implicitly created table (``[a.b]`` creating ``a``)
  has kind ``implicit``.
"""

from __future__ import annotations

import bisect
import datetime
from typing import Union

import msgspec

from muxc.diagnostics.span import Span


class Str(msgspec.Struct, frozen=True):
    """A string value (or a DSL text body) and how its characters map to the source.

    ``pieces`` is a sorted tuple of ``(decoded_index, source_offset)`` breakpoints: decoded
    character ``i`` sits at ``source_offset + (i - decoded_index)`` for the last breakpoint
    with ``decoded_index <= i``. An escape sequence starts a breakpoint at itself and the
    character after it starts another.
    """

    value: str
    span: Span
    pieces: tuple[tuple[int, int], ...] = ()

    def source_offset(self, index: int) -> int:
        """Source offset of decoded character ``index`` (``len(value)`` maps past the last one)."""
        if not self.pieces:
            return self.span.start
        at = bisect.bisect_right(self.pieces, index, key=_decoded_index) - 1  # no list: a body has a piece per line
        decoded, source = self.pieces[max(at, 0)]
        return source + (index - decoded)

    def source_span(self, start: int, end: int) -> Span:
        """The source span of decoded characters ``start`` up to ``end``."""
        if end <= start:
            return Span.point(self.source_offset(start))
        return Span(self.source_offset(start), self.source_offset(end - 1) + 1)


def _decoded_index(piece: tuple[int, int]) -> int:
    return piece[0]


class Scalar(msgspec.Struct, frozen=True):
    """An integer, float, boolean, or date/time value."""

    value: bool | int | float | datetime.datetime | datetime.date | datetime.time
    span: Span


class Array(msgspec.Struct, frozen=True):
    items: tuple[Node, ...]
    span: Span


class Entry(msgspec.Struct, frozen=True):
    """One key of a table: its (last) key part's span, its value, and comments above it."""

    key: str
    key_span: Span
    value: Node
    comments: tuple[str, ...] = ()


class Table(msgspec.Struct, frozen=True):
    """A table. ``span`` is the header (``[a.b]``/``[[a]]``), the braces of an inline table,
    the key of a dotted or implicit table, or the whole text for the root."""

    entries: dict[str, Entry]
    span: Span
    kind: str = "header"  # root | header | array-element | inline | dotted | implicit
    comments: tuple[str, ...] = ()

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry.value if entry is not None else None


Node = Union[Str, Scalar, Array, Table]  # noqa: UP007 - evaluated at runtime by msgspec


class Document(msgspec.Struct, frozen=True):
    """A parsed TOML text: the root table plus comments after the last statement."""

    root: Table
    text: str
    trailing_comments: tuple[str, ...] = ()


def to_python(node: Node) -> object:
    """The plain Python value ``tomllib`` would give for a node."""
    if isinstance(node, (Str, Scalar)):
        return node.value
    if isinstance(node, Array):
        return [to_python(item) for item in node.items]
    return {key: to_python(entry.value) for key, entry in node.entries.items()}


def type_name(node: Node) -> str:
    """The TOML type name of a node, as messages show it."""
    if isinstance(node, Str):
        return "string"
    if isinstance(node, Array):
        return "array"
    if isinstance(node, Table):
        return "table"
    value = node.value
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime.datetime):
        return "datetime"
    if isinstance(value, datetime.date):
        return "date"
    return "time"
