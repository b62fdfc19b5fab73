"""Rendering that keeps track of which text came from values and which from the template.

Every ``{{ }}`` output of a tracking environment goes through ``finalize`` (also inside macros,
``{% set %}`` blocks and ``{% filter %}``), which records the value's text and writes an
unforgeable marker in its place: a NUL, a per-rendering random nonce of digits (they survive
``| upper``), the value's number, a NUL. The caller then decides what each marker becomes: a
shell reference (``shellvalues``), or the value itself with the template's own layout kept
apart for the cache key (``render_tracked``).

Why: a key may normalise what the author typed (trailing spaces, blank lines: cosmetic) but never
what a value contributes — an upstream output that changed only in white space is a new input.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
import msgspec

from muxc.compile.keys import normalize_text
from muxc.run.flat import flat_template


class Collector:
    """The values of one rendering, each kept once, behind its marker."""

    def __init__(self) -> None:
        self.nonce = str(secrets.randbelow(10**12)).zfill(12)
        self.marker = re.compile("\x00" + self.nonce + r":(\d+)\x00")
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, value: object) -> str:
        text = self.expand(str(value))
        if text not in self.index:
            self.index[text] = len(self.values)
            self.values.append(text)
        return f"\x00{self.nonce}:{self.index[text]}\x00"

    def expand(self, text: str) -> str:
        """A value built from other outputs (a macro, a ``{% set %}`` block) holds their markers."""
        return self.marker.sub(lambda match: self.values[int(match[1])], text) if "\x00" in text else text


_ACTIVE = threading.local()


def current() -> Collector:
    """The collector of the rendering under way on this thread (``finalize`` writes to it)."""
    stack = getattr(_ACTIVE, "collectors", None)
    if not stack:
        raise RuntimeError("a tracking template was rendered outside render_marked")
    return stack[-1]


def collect(value: Any) -> str:
    """The ``finalize`` of a tracking environment."""
    return current().add(value)


def render_marked(template: str, env: jinja2.Environment, compiled: Callable[[str], jinja2.Template],
                  context: Mapping[str, Any]) -> tuple[str, Collector]:
    """The template rendered with markers for values, and the collector that holds them.

    Raises Jinja's errors; the caller turns them into its own."""
    collector = Collector()
    stack = _ACTIVE.__dict__.setdefault("collectors", [])
    stack.append(collector)
    try:
        flat = flat_template(template, env)
        finalize = env.finalize or str
        text = flat.render(context, finalize) if flat is not None else compiled(template).render(context)
        return text, collector
    finally:
        stack.pop()


class Tracked(msgspec.Struct, frozen=True):
    """A rendered prompt: ``text`` is what is sent; ``layout`` the template's own text with each
    value as ``\\x00N\\x00``; ``values`` their texts, in order of first use."""

    text: str
    layout: str
    values: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        return self.text

    def key_material(self) -> bytes:
        """The layout normalised (cosmetic edits change nothing), every value exactly."""
        return msgspec.json.encode([normalize_text(self.layout), list(self.values)])


def tracked_text(marked: str, collector: Collector) -> Tracked:
    numbers: dict[int, int] = {}
    layout = collector.marker.sub(lambda m: f"\x00{numbers.setdefault(int(m[1]), len(numbers))}\x00", marked)
    values = tuple(collector.values[index] for index in sorted(numbers, key=numbers.__getitem__))
    return Tracked(collector.expand(marked), layout, values)
