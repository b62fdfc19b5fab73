"""Locate the files muxc ships beside its code: the Lark grammars, the stdlib workflows and the
JSON Schemas of workflows and config files.

In a wheel they are packaged under ``muxc/_data/`` (see ``pyproject.toml``); in a checkout or
an editable install they are at the repository root. This module is the one place that knows.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # muxc/, this file being in muxc/base/
# Where a checkout keeps each, when not at the repository root (the wheel has them all in _data/)
_IN_CHECKOUT = {"schema": "docs/schema"}


@cache
def data_dir(name: str) -> Path:
    """The directory ``grammar``, ``stdlib`` or ``schema``, wherever this installation keeps it."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / _IN_CHECKOUT.get(name, name)


def grammar_path(name: str) -> Path:
    """Path of a grammar file such as ``toml.lark`` or ``muxc.lark``."""
    return data_dir("grammar") / name


def grammar_text(name: str) -> str:
    return grammar_path(name).read_text(encoding="utf-8")


def stdlib_dir() -> Path:
    return data_dir("stdlib")


SCHEMAS = ("workflow", "config")


def schema_text(name: str) -> str:
    """The JSON Schema ``workflow`` or ``config`` (see ``SCHEMAS``), as shipped."""
    return (data_dir("schema") / f"{name}.schema.json").read_text(encoding="utf-8")
