"""Assemble statements, in source order, into the tables of a ``Document``; enforce TOML's rules.

The parser hands over one line at a time: a key/value pair, a ``[table]`` header or a
``[[array.of.tables]]`` header, with the comment at the end of its line. Tables grow while
the document is read, so they are mutable ``_Table``/``_TableArray`` objects here and are
frozen into ``document.Table``/``document.Array`` at the end. Finished values (strings,
scalars, arrays, inline tables) are document nodes from the start.

The rules are tomllib's (which follow TOML 1.0):
- a key is defined once; a table is defined once, by a header, or by dotted keys;
- a header may name a table that an earlier header only implied (``[a.b]`` implies ``a``),
  or a sub-table of a table made by dotted keys, but not a table made by dotted keys itself;
- dotted keys may extend tables they made in the same section (since the last header) and
  tables a header only implied, never a table defined elsewhere or an array of tables;
- inline tables and arrays written as values are closed: nothing can be added to them;
- ``[[a]]`` appends a table to the array of tables ``a``; later headers reach into its last
  element.

Invariants: entries keep source order; a problem is raised as ``Problem`` at the key or
header that breaks a rule, with the earlier definition as ``related``; nesting (keys plus
values) never exceeds ``MAX_DEPTH``, so code walking the result recursively is safe.
"""

from __future__ import annotations

import re

from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Document, Entry, Node, Scalar, Str, Table, type_name
from muxc.syntax.toml.errors import Problem, line_number

MAX_DEPTH = 100  # tables and values nested deeper than this are refused
_TOO_DEEP = f"tables and values are nested too deeply (more than {MAX_DEPTH} levels)"

KEYVAL, TABLE, TABLE_ARRAY = "keyval", "table", "array"  # statement kinds

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class _Table:
    """A table still being read: entries may be added, an implied table may be defined."""

    __slots__ = ("comments", "dotted_in", "entries", "kind", "span")

    def __init__(self, span: Span, kind: str, comments: tuple[str, ...] = (), dotted_in: int | None = None):
        self.entries: dict[str, Entry | _Slot] = {}
        self.span = span
        self.kind = kind
        self.comments = comments
        # the section whose dotted keys made or extended this table (None: not by dotted keys)
        self.dotted_in = dotted_in


class _TableArray:
    """An array of tables still being read: ``[[a]]`` headers append elements."""

    __slots__ = ("items", "span")

    def __init__(self, first: _Table):
        self.items = [first]
        self.span = first.span


class _Slot:
    """The entry of a table that is still growing (a ``_Table`` or a ``_TableArray``)."""

    __slots__ = ("comments", "key", "key_span", "value")

    def __init__(self, key: str, key_span: Span, value: _Table | _TableArray, comments: tuple[str, ...] = ()):
        self.key = key
        self.key_span = key_span
        self.value = value
        self.comments = comments


class Builder:
    """Receives the lines of one document in order and builds its ``Document``."""

    def __init__(self, text: str):
        self.text = text
        self.root = _Table(Span(0, len(text)), "root")
        self._current = self.root
        self._section = 0  # counts headers: dotted keys of an earlier section close their tables
        self._depth = 0  # key length of the current header
        self._pending: list[str] = []  # full-line comments waiting for the next statement
        self._inner: list[tuple[int, str]] = []  # comments inside the arrays of the statement being read
        self._depths: dict[int, int] = {}  # id(array or inline table) -> its nesting depth

    # ------------------------------------------------------------------ statements

    def line(self, statement: tuple | None, comment: str | None) -> None:
        """One line: a statement (or none) and its trailing comment (or none)."""
        if statement is None:
            if comment is not None:
                self._pending.append(comment)
            return
        comments = self._take_comments(comment)
        kind, key, payload = statement
        if kind is KEYVAL:
            self._keyval(key, payload, comments)
        elif kind is TABLE:
            self._table_header(key, payload, comments)
        else:
            self._array_header(key, payload, comments)

    def _take_comments(self, comment: str | None) -> tuple[str, ...]:
        """The comments above a statement, those inside its arrays (a formatter writes them
        above the key, so none is lost), then the one at the end of its line."""
        if not self._pending and not self._inner:  # the common case: build nothing
            return () if comment is None else (comment,)
        comments = self._pending + [text for _, text in sorted(self._inner)]
        self._pending, self._inner = [], []
        if comment is not None:
            comments.append(comment)
        return tuple(comments)

    def document(self) -> Document:
        return Document(_freeze(self.root), self.text, tuple(self._pending))

    def _keyval(self, key: tuple[Str, ...], value: Node, comments: tuple[str, ...]) -> None:
        self._check_depth(self._depth + len(key) + self.depth_of(value), key[-1].span)
        table = self._dotted_parent(self._current, key, self._section)
        self._insert(table, key[-1], value, comments)

    def _table_header(self, key: tuple[Str, ...], span: Span, comments: tuple[str, ...]) -> None:
        self._enter_section(key, span)
        parent = self._header_parent(key)
        name = key[-1]
        existing = parent.entries.get(name.value)
        if existing is None:
            table = _Table(span, "header", comments)
            parent.entries[name.value] = _Slot(name.value, name.span, table)
        else:
            table = existing.value
            if not (isinstance(table, _Table) and table.kind == "implicit" and table.dotted_in is None):
                raise self._redefinition(key, span, existing)
            # [a] after [a.b]: the table a header implied is now defined here
            table.kind, table.span, table.comments = "header", span, comments
            existing.key_span = name.span
        self._current = table

    def _array_header(self, key: tuple[Str, ...], span: Span, comments: tuple[str, ...]) -> None:
        self._enter_section(key, span)
        parent = self._header_parent(key)
        name = key[-1]
        element = _Table(span, "array-element", comments)
        existing = parent.entries.get(name.value)
        if existing is None:
            parent.entries[name.value] = _Slot(name.value, name.span, _TableArray(element))
        elif isinstance(existing.value, _TableArray):
            existing.value.items.append(element)
        else:
            raise self._not_an_array_of_tables(key, span, existing)
        self._current = element

    def _enter_section(self, key: tuple[Str, ...], span: Span) -> None:
        self._check_depth(len(key), span)
        self._section += 1
        self._depth = len(key)

    # ------------------------------------------------------------------ inline values

    def inline_table(self, keyvals: list[tuple], span: Span) -> Table:
        """An inline table from its key/value pairs (dotted keys allowed, closed once built)."""
        table = _Table(span, "inline")
        depth = 1
        for _, key, value in keyvals:
            depth = max(depth, len(key) + self.depth_of(value))
            self._insert(self._dotted_parent(table, key, -1), key[-1], value, ())
        self._check_depth(depth, span)
        frozen = _freeze(table)
        self._depths[id(frozen)] = depth
        return frozen

    def array(self, items: list[Node], span: Span, comments: tuple | list = ()) -> Array:
        if comments:
            self._inner.extend(comments)
        depth = 1 + max((self.depth_of(item) for item in items), default=0)
        self._check_depth(depth, span)
        array = Array(tuple(items), span)
        self._depths[id(array)] = depth
        return array

    def depth_of(self, value: Node) -> int:
        """How deeply a finished value nests (0 for a string or scalar)."""
        if value.__class__ is Str or value.__class__ is Scalar:
            return 0
        return self._depths.get(id(value), 0)

    @staticmethod
    def _check_depth(depth: int, span: Span) -> None:
        if depth > MAX_DEPTH:
            raise Problem(_TOO_DEEP, span)

    @staticmethod
    def too_deep(offset: int) -> Problem:
        return Problem(_TOO_DEEP, Span(offset, offset + 1))

    # ------------------------------------------------------------------ paths

    def _dotted_parent(self, table: _Table, key: tuple[Str, ...], section: int) -> _Table:
        """The table that gets the last part of dotted ``key``, creating tables on the way."""
        for depth, part in enumerate(key[:-1]):
            existing = table.entries.get(part.value)
            if existing is None:
                child = _Table(part.span, "dotted", dotted_in=section)
                table.entries[part.value] = _Slot(part.value, part.span, child)
            else:
                child = existing.value
                if not (
                    isinstance(child, _Table)
                    and child.dotted_in in (None, section)
                    and child.kind != "header"
                ):
                    raise self._not_extensible(key[: depth + 1], existing, dotted=True)
                child.dotted_in = section
            table = child
        return table

    def _header_parent(self, key: tuple[Str, ...]) -> _Table:
        """The table that gets the last part of a header's key; implies missing tables."""
        table = self.root
        for depth, part in enumerate(key[:-1]):
            existing = table.entries.get(part.value)
            if existing is None:
                child = _Table(part.span, "implicit")
                table.entries[part.value] = _Slot(part.value, part.span, child)
                table = child
            elif isinstance(existing.value, _Table):
                table = existing.value
            elif isinstance(existing.value, _TableArray):
                table = existing.value.items[-1]
            else:
                raise self._not_extensible(key[: depth + 1], existing, dotted=False)
        return table

    def _insert(self, table: _Table, name: Str, value: Node, comments: tuple[str, ...]) -> None:
        existing = table.entries.get(name.value)
        if existing is not None:
            raise Problem(
                f"duplicate key {_quoted(name.value)} (first defined at line {self._line(existing.key_span)})",
                name.span,
                existing.key_span,
            )
        table.entries[name.value] = Entry(name.value, name.span, value, comments)

    # ------------------------------------------------------------------ messages

    def _line(self, span: Span) -> int:
        return line_number(self.text, span.start)

    def _redefinition(self, key: tuple[Str, ...], span: Span, existing: Entry | _Slot) -> Problem:
        header = f"[{_display(key)}]"
        value = existing.value
        first = self._line(existing.key_span)
        if isinstance(value, _Table) and value.kind == "header":
            return Problem(f"table {header} is defined twice (first at line {first})", span, value.span)
        if isinstance(value, _Table):
            return Problem(
                f"table {header} was already defined with dotted keys (at line {first})",
                span,
                existing.key_span,
            )
        return Problem(
            f"cannot define table {header}: {_quoted(_display(key))} is already {_describe(value)} (line {first})",
            span,
            _span_of(existing),
        )

    def _not_an_array_of_tables(self, key: tuple[Str, ...], span: Span, existing: Entry | _Slot) -> Problem:
        value = existing.value
        closed = "; arrays written as values are closed" if isinstance(value, Array) else ""
        return Problem(
            f"cannot define [[{_display(key)}]]: {_quoted(_display(key))} is already {_describe(value)} "
            f"(line {self._line(existing.key_span)}){closed}",
            span,
            _span_of(existing),
        )

    def _not_extensible(self, key: tuple[Str, ...], existing: Entry | _Slot, *, dotted: bool) -> Problem:
        """``key`` (a prefix of the key being defined) names something that cannot take a key."""
        value = existing.value
        span = key[-1].span
        name = _quoted(_display(key))
        first = self._line(existing.key_span)
        if isinstance(value, Table):  # the only tables finished while reading are inline tables
            return Problem(
                f"cannot add a key to inline table {name} after it is closed (line {first})", span, value.span
            )
        if isinstance(value, _TableArray):
            return Problem(
                f"cannot add to array of tables {name} with a dotted key; "
                f"use a [[{_display(key)}]] header (first at line {first})",
                span,
                value.span,
            )
        if isinstance(value, _Table) and dotted:
            how = "a [header]" if value.kind == "header" else "dotted keys in another section"
            return Problem(
                f"cannot add to table {name} with a dotted key: it was defined by {how} (line {first})",
                span,
                _span_of(existing),
            )
        return Problem(
            f"cannot add a key to {name}: it is {_describe(value)} (line {first}), not a table",
            span,
            _span_of(existing),
        )


def _describe(value: object) -> str:
    """'an inline table', 'an array of tables', 'an integer', ...: what a value is."""
    if isinstance(value, _TableArray):
        return "an array of tables"
    if isinstance(value, _Table):
        return "a table"
    if isinstance(value, Table):
        return "an inline table"
    kind = type_name(value)  # type: ignore[arg-type]
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _span_of(existing: Entry | _Slot) -> Span:
    """Where an existing entry was defined: a header, or the key of a value."""
    value = existing.value
    if isinstance(value, (_TableArray, Array, Table)) or (
        isinstance(value, _Table) and value.kind == "header"
    ):
        return value.span
    return existing.key_span


def _freeze(table: _Table) -> Table:
    entries = {}
    for key, entry in table.entries.items():
        if entry.__class__ is _Slot:
            value = entry.value
            node = _freeze(value) if value.__class__ is _Table else _freeze_array(value)
            entry = Entry(key, entry.key_span, node, entry.comments)
        entries[key] = entry
    return Table(entries, table.span, table.kind, table.comments)


def _freeze_array(array: _TableArray) -> Array:
    return Array(tuple(_freeze(item) for item in array.items), array.span)


def _display(key: tuple[Str, ...]) -> str:
    """A key as one would write it: bare parts as is, others quoted."""
    return ".".join(
        part.value if _BARE_KEY.fullmatch(part.value) else _basic_quoted(part.value) for part in key
    )


def _quoted(name: str) -> str:
    return f"'{name}'"


def _basic_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in escaped) + '"'
