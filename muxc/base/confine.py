"""Decide whether a path a model's answer names may be written, and where it really is.

The rule is ``muxc.base.pathrules``: nothing outside the project root, under ``.git``, ``.muxc`` or
``.llm-mux``, and no tool file that runs code unless the step allows it. It is asked twice: of
the path as spelled, and of the real location once symlinks are resolved, so a symlink (anywhere
in the path, the final file included) can lead neither out of the root nor into a protected place.
Apply edits (``muxc.edits``) and saved outputs (``muxc.app.builds``) write only what this accepts.

Invariant: an accepted path is returned as the real location relative to the resolved root
(symlinks inside the root followed), so two names for one file are one file, and writes go to the
file, never replace the link. Every refusal names the path and the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from muxc.base.pathrules import refusal


class Resolved(NamedTuple):
    relative: str
    absolute: Path


def resolve_inside(root: Path, raw: str, allow_tool_files: bool = False) -> Resolved | str:
    """Where ``raw`` really is inside ``root``, or a refusal naming the path and the rule."""
    spelled = refusal(raw, allow_tool_files)
    if spelled is not None:
        return f"{raw!r} is refused: {spelled.rule}"
    try:
        real_root = root.resolve()
        target = (real_root / raw).resolve()
    except (OSError, RuntimeError):
        return f"{raw!r} is refused: it goes through a symlink loop"
    if not target.is_relative_to(real_root):
        return f"{raw!r} is refused: a symlink in it leads outside the project root (to {target})"
    relative = target.relative_to(real_root)
    if not relative.parts:
        return f"{raw!r} is refused: it names the project root, not a file"
    real = refusal(relative.as_posix(), allow_tool_files)
    if real is not None:
        return f"{raw!r} is refused: it leads into {relative.as_posix()} through a symlink, and {real.rule}"
    return Resolved(relative.as_posix(), target)
