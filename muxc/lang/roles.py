"""Roles, as both a workflow (``[roles.X]``, ``role name @...``) and the config declare them.

A role maps a task to backends: ``first``, ``fallback`` (moves on only on the failures it names)
or ``parallel`` (``min_success`` answers). The workflow's syntax and the config share this one
struct, and the checker and the runtime share ``enabled_backends``, the one rule for which of a
role's backends can answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from muxc.lang.origin import Origin

Execution = Literal["first", "parallel", "fallback"]
FailureKind = Literal["error", "timeout", "rate_limit", "auth", "connection", "server", "bad_response", "empty"]


class RoleConfig(msgspec.Struct, frozen=True):
    name: str
    backends: list[str]
    description: str = ""
    execution: Execution = "first"
    min_success: int = 1
    stop_early: bool = False  # parallel: stop waiting once min_success answers are in
    fallback_on: list[FailureKind] = []  # fallback: which failures move on (empty: any)
    origin: Origin | None = None


def enabled_backends(names: list[str], backends: Mapping[str, Any]) -> list[str]:
    """The role's backends that exist and are enabled, in the role's order."""
    return [name for name in names if name in backends and backends[name].enabled]
