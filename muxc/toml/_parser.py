"""Parse TOML text into a ``Document``: the grammar's tables, the callbacks, the builder.

Invariants:
- the parser (tables plus compiled scanners) is built once per process, lazily; Lark is
  imported only when the checked-in tables do not match ``grammar/toml.lark``;
- every problem in the text comes out as ``TOMLError``; nothing else escapes for any ``str``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from muxc.toml._builder import MAX_DEPTH, Builder
from muxc.toml._callbacks import RULES, TERMINALS
from muxc.toml._lalr import Parser, SyntaxFailure, TooDeep
from muxc.toml._messages import describe
from muxc.toml.document import Document
from muxc.toml.errors import Problem

_BOM = "\ufeff"


def parse_document(text: str) -> Document:
    """The spanned document of ``text``; raises ``TOMLError``."""
    builder = Builder(text)
    parser = toml_parser()
    try:
        parser.parse(text, 1 if text.startswith(_BOM) else 0, builder)
    except Problem as problem:
        raise problem.error(text) from None
    except SyntaxFailure as failure:
        raise describe(failure, text, parser).error(text) from None
    except TooDeep as too_deep:
        raise Builder.too_deep(too_deep.offset).error(text) from None
    return builder.document()


@cache
def toml_parser() -> Parser:
    # Each nesting level takes a few stack entries; the builder's depth check comes first.
    return Parser(_tables(), TERMINALS, RULES, max_stack=8 * MAX_DEPTH + 64)


def _tables() -> dict[str, Any]:
    """The checked-in tables if they were generated from this grammar, else fresh ones."""
    from muxc.resources import grammar_text
    from muxc.toml._generate import grammar_digest
    from muxc.toml._tables import TABLES

    try:
        grammar = grammar_text("toml.lark")
    except OSError:  # an installation without the grammar file: trust the generated tables
        return TABLES
    if TABLES["digest"] == grammar_digest(grammar):
        return TABLES
    from muxc.toml._generate import build_tables

    return build_tables(grammar)
