"""Paths and small helpers the front-end tests share (fixtures are in ``conftest.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import Result

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
SEEDS = HERE / "seeds"
ROUNDTRIP = HERE / "roundtrip"
REPO = HERE.parents[1]


def diagnostics(result: Result) -> list[dict[str, Any]]:
    """The JSON array `muxc check --format json` printed on stdout."""
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def codes(result: Result) -> list[str]:
    return [d["code"] for d in diagnostics(result)]


def severities(result: Result) -> dict[str, set[str]]:
    """severity -> the codes reported with it."""
    out: dict[str, set[str]] = {}
    for d in diagnostics(result):
        out.setdefault(d["severity"], set()).add(d["code"])
    return out
