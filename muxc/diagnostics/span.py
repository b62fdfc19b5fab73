"""Source spans: half-open ranges of character offsets into one source text.

Invariant: ``0 <= start <= end``; offsets count Python characters (code points), so a
column computed from a span counts characters, never bytes. A span does not know its
file: the node or label that holds it does.
"""

from __future__ import annotations

import msgspec


class Span(msgspec.Struct, frozen=True, array_like=True):
    """Characters ``start`` up to (not including) ``end`` of a source text."""

    start: int
    end: int

    def join(self, other: Span) -> Span:
        """The smallest span covering both."""
        return Span(min(self.start, other.start), max(self.end, other.end))

    def shift(self, delta: int) -> Span:
        return Span(self.start + delta, self.end + delta)

    def __len__(self) -> int:
        return self.end - self.start

    @staticmethod
    def point(offset: int) -> Span:
        """An empty span at one offset (a place, such as end of file)."""
        return Span(offset, offset)

