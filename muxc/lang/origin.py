"""Where a validated value came from: its file, its table's span and the spanned entries.

Typed structs (steps, args, config entries) hold plain validated values; their ``origin``
keeps the spanned TOML/DSL nodes so any later pass can point at a key, a value, or one item
of a list without the struct carrying a span per field.
"""

from __future__ import annotations

import msgspec

from muxc.diagnostics.span import Span
from muxc.lang.document import Entry, Node


class Origin(msgspec.Struct, frozen=True):
    file: str
    span: Span  # the table header, the DSL statement header, or the inline table
    entries: dict[str, Entry] = {}
    name_span: Span | None = None  # where the thing is named (step name, [backends.X] key)
    comments: tuple[str, ...] = ()  # comment lines written above it, kept for `muxc fmt`

    def entry(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def value(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry.value if entry is not None else None

    def value_span(self, key: str) -> Span:
        """The span of a key's value, falling back to where the thing is named."""
        node = self.value(key)
        return node.span if node is not None else self.anchor

    def key_span(self, key: str) -> Span:
        entry = self.entries.get(key)
        return entry.key_span if entry is not None else self.anchor

    @property
    def anchor(self) -> Span:
        """The best single place for a problem with the whole thing."""
        return self.name_span or self.span
