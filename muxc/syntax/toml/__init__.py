"""muxc's TOML 1.0 front-end: ``tomllib``'s values, plus exact spans for every key and value.

- ``loads(text)`` / ``load(binary_file)`` return the same dicts ``tomllib`` returns;
- ``parse(text)`` returns a ``document.Document`` whose nodes carry spans and comments;
- any invalid input raises ``TOMLError`` (a ``ValueError``) with line, column, offset, span
  and a message that says what was expected. Nothing else is raised for bad input.

The grammar is ``grammar/toml.lark``: Lark computes its LALR tables (``tools.lalr_tables``,
checked in as ``_tables``) and ``syntax.lalr`` runs them; the parser is built on first use.
Differences from tomllib, both from the TOML 1.0 spec: a UTF-8 byte order mark at the start
is skipped, and integers must fit in 64 bits. Values and nesting are limited to 100 levels.

This module is pure: no I/O but reading the file object given to ``load``.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from muxc.diagnostics.span import Span
from muxc.lang.document import Document, to_python
from muxc.syntax.toml.errors import TOMLError

__all__ = ["Document", "TOMLError", "load", "loads", "parse"]


def parse(text: str) -> Document:
    """The spanned ``Document`` of ``text``; raises ``TOMLError`` if it is not valid TOML."""
    # imported here so that code using only the data model (muxc.lang.document) stays light
    from muxc.syntax.toml._parser import parse_document

    return parse_document(text)


def loads(text: str) -> dict[str, Any]:
    """The plain value of ``text``, equal to ``tomllib.loads(text)``."""
    return to_python(parse(text).root)  # type: ignore[return-value]


def load(fp: BinaryIO) -> dict[str, Any]:
    """Like ``tomllib.load``: read a binary file object; invalid UTF-8 is a ``TOMLError``."""
    data = fp.read()
    if not isinstance(data, bytes):
        raise TypeError("File must be opened in binary mode, e.g. use `open('foo.toml', 'rb')`")
    return loads(decode(data))


def decode(data: bytes) -> str:
    """UTF-8 bytes as text; a ``TOMLError`` at the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        text = data[: error.start].decode("utf-8")
        offset = len(text)
        message = f"the text is not valid UTF-8: {error.reason} (byte 0x{data[error.start]:02X})"
        raise TOMLError.at(text, message, Span(offset, offset)) from None
