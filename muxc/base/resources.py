"""Locate the files muxc ships beside its code: the Lark grammars and the stdlib workflows.

In a wheel they are packaged under ``muxc/_data/`` (see ``pyproject.toml``); in a checkout or
an editable install they are at the repository root. This module is the one place that knows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # muxc/, this file being in muxc/base/


@cache
def data_dir(name: str) -> Path:
    """The directory ``grammar`` or ``stdlib``, wherever this installation keeps it."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


def grammar_path(name: str) -> Path:
    """Path of a grammar file such as ``toml.lark`` or ``muxc.lark``."""
    return data_dir("grammar") / name


def grammar_text(name: str) -> str:
    return grammar_path(name).read_text(encoding="utf-8")


def stdlib_dir() -> Path:
    return data_dir("stdlib")
