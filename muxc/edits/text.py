"""The text of a file being edited: decoding, line endings, BOM and the final newline.

Invariants: a file is edited as ``str`` with its own line endings left in place, so lines an
edit does not touch keep their bytes even in a mixed-ending file. Text an edit inserts is
converted to the file's dominant ending (an LLM writes LF into CRLF files). A UTF-8 BOM is
stripped on reading and written back. Binary files (a NUL byte in the first 8 KB, or not
UTF-8) are refused, never edited.
"""

from __future__ import annotations

import re
from typing import NamedTuple

BOM = "\ufeff"
BINARY_PROBE_BYTES = 8192
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


class Decoded(NamedTuple):
    text: str
    bom: bool
    eol: str


def decode(data: bytes) -> Decoded | str:
    """The file's text, or why it is not text we edit."""
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return "it is a binary file (a NUL byte in its first 8 KB); binary files are never edited"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"it is not UTF-8 text (byte {error.start}); such files are never edited"
    bom = text.startswith(BOM)
    text = text[1:] if bom else text
    return Decoded(text, bom, dominant_eol(text))


def encode(text: str, bom: bool) -> bytes:
    """The bytes to write; raises UnicodeEncodeError for lone surrogates (from JSON escapes)."""
    return ((BOM if bom else "") + text).encode("utf-8")


def dominant_eol(text: str) -> str:
    crlf = text.count("\r\n")
    return "\r\n" if crlf > text.count("\n") - crlf else "\n"


def to_eol(text: str, eol: str) -> str:
    """``text`` with every line ending made ``eol``."""
    text = text.replace("\r\n", "\n")
    return text if eol == "\n" else text.replace("\n", eol)


def with_final_newline(text: str, wanted: bool, eol: str) -> str:
    """``text`` ending in a newline exactly when ``wanted`` (empty text stays empty)."""
    if not text or text.endswith("\n") == wanted:
        return text
    if wanted:
        return text + eol
    return text[:-2] if text.endswith("\r\n") else text[:-1]


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, each with its ending (the last may have none)."""
    return _LINE.findall(text)


def bare(line: str) -> str:
    """A line without its ending."""
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith("\n") else line


def line_starts(lines: list[str]) -> list[int]:
    """The offset of each line, plus the total length at the end."""
    starts, total = [0], 0
    for line in lines:
        total += len(line)
        starts.append(total)
    return starts
