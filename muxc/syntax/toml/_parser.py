"""Parse TOML text into a ``Document``: the grammar's tables, the callbacks, the builder.

Invariants:
- the parser (tables plus compiled scanners) is built once per process, lazily, from the
  tables ``tools.lalr_tables`` derived from ``grammar/toml.lark`` with Lark (Lark is not imported);
- every problem in the text comes out as ``TOMLError``; nothing else escapes for any ``str``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from muxc.lang.document import Document
from muxc.syntax.lalr import Parser, SyntaxFailure, TooDeep
from muxc.syntax.toml._builder import MAX_DEPTH, Builder
from muxc.syntax.toml._callbacks import RULES, TERMINALS
from muxc.syntax.toml._messages import describe
from muxc.syntax.toml.errors import Problem

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
    """The LALR tables of grammar/toml.lark, generated ahead of time.

    Reading and hashing the grammar here would cost more than the rest of a small parse
    (pathlib, hashlib); tests/toml/test_toml_tables.py fails instead when they are stale.
    """
    from muxc.syntax.toml._tables import TABLES

    return TABLES
