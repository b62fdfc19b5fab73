"""The edit engine behind ``apply`` steps: parse an LLM's edits, plan, apply, roll back.

``parse_edits(output)`` finds the edits (JSON, unified diff or SEARCH/REPLACE);
``plan(root, edit_set)`` checks every edit and computes the new bytes of every file before
anything is written; ``apply(plan)`` writes them atomically; ``Snapshot`` records the
touched files first and restores them byte for byte; ``fingerprint``/``post_fingerprint``
let the runtime skip an apply whose edits and files have not changed.

Nothing here prints, and expected failures are returned as values, never raised.
"""

from muxc.edits.apply import Applied, ApplyFailure, EditProblem, FileChange, Plan, apply, plan
from muxc.edits.fingerprint import fingerprint, post_fingerprint, state_fingerprint
from muxc.edits.model import Append, Delete, DiffHunks, Edit, EditSet, Hunk, ParseFailure, Replace, Write
from muxc.edits.parse import parse_edits
from muxc.edits.snapshot import FileRecord, RestoreReport, Snapshot

__all__ = [
    "Append",
    "Applied",
    "ApplyFailure",
    "Delete",
    "DiffHunks",
    "Edit",
    "EditProblem",
    "EditSet",
    "FileChange",
    "FileRecord",
    "Hunk",
    "ParseFailure",
    "Plan",
    "Replace",
    "RestoreReport",
    "Snapshot",
    "Write",
    "apply",
    "fingerprint",
    "parse_edits",
    "plan",
    "post_fingerprint",
    "state_fingerprint",
]
