"""The values the build cache holds: step results, a step's latest build, files muxc saved.

Plain frozen msgspec Structs with no I/O, so code that only reads or shows results (the no-op
fast path, the summary) need not load SQLite's wrapper; ``store.results`` stores them.
"""

from __future__ import annotations

import msgspec


class SavedFile(msgspec.Struct, frozen=True):
    """A file muxc saved: the digest of what it wrote there and the key of that result."""

    digest: str
    key: str
    workflow: str
    step: str


class UsageRecord(msgspec.Struct, frozen=True):
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


class StepRecord(msgspec.Struct, frozen=True):
    """A step's result as templates see it (``steps.X.*``), plus bookkeeping."""

    key: str
    step: str
    output: str = ""
    outputs: dict[str, str] = {}
    failed: bool = False
    error: str | None = None
    skipped: bool = False
    backend: str | None = None
    backends: list[str] = []
    duration_ms: int = 0
    usage: UsageRecord = UsageRecord()
    items: list[str] = []  # for_each: the item keys, in order
    created_at: float = 0.0


class Latest(msgspec.Struct, frozen=True):
    """The last build of a step: its key, and what muxc last wrote to its saved file."""

    key: str
    pre_key: str
    output_digest: str
    created_at: float
    target: str | None = None
    target_digest: str | None = None
