"""What a step handler returns: what it produced, or why it failed.

Handlers never raise for an expected failure. A ``StepFailure`` carries what a user needs to fix
it: what failed, the command and its exit code, the tail of stderr, a hint; the CLI renders it as
a diagnostic pointing at the step in the workflow file.
"""

from __future__ import annotations

import msgspec

from muxc.backends.base import Usage


class Produced(msgspec.Struct, frozen=True):
    output: str
    outputs: dict[str, str] = {}
    backend: str | None = None
    backends: list[str] = []
    usage: Usage = Usage()
    cost_usd: float | None = None
    duration_ms: int = 0
    calls: int = 0


class StepFailure(msgspec.Struct, frozen=True):
    kind: str  # process | timeout | backend | render | cache-miss | budget | cancelled | config | edits | save | internal
    message: str
    command: str | None = None
    exit_code: int | None = None
    stderr_tail: str | None = None
    output: str = ""  # what the step printed before failing (dependents of a continue_on_error step see it)
    hint: str | None = None
    detail: str | None = None  # long text for the debug log (a traceback)
