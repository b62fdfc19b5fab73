"""Decide whether an edit path may be touched, and where it really is.

Rules, each with its own refusal message naming the path: no empty path, no NUL, no
absolute or home-relative path, no ``..`` component at all (even ``a/../b``: through a
symlinked ``a`` it leads elsewhere), nothing under any ``.git`` directory, and no symlink
anywhere in the path (the final file included) that resolves outside the project root.

Invariant: an accepted path is returned as the real location relative to the resolved
root (symlinks inside the root followed), so two names for one file are one file, and
writes go to the file, never replace the link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_WINDOWS_ABSOLUTE = re.compile(r"^([A-Za-z]:)?[\\/]")


class Resolved(NamedTuple):
    relative: str
    absolute: Path


def resolve_inside(root: Path, raw: str) -> Resolved | str:
    """Where ``raw`` really is inside ``root``, or a refusal naming the path and the rule."""
    problem = _lexical_problem(raw)
    if problem:
        return f"{raw!r} is refused: {problem}"
    try:
        real_root = root.resolve()
        target = (real_root / raw).resolve()
    except (OSError, RuntimeError):
        return f"{raw!r} is refused: it goes through a symlink loop"
    if not target.is_relative_to(real_root):
        return f"{raw!r} is refused: a symlink in it leads outside the project root (to {target})"
    relative = target.relative_to(real_root)
    if _under_git(relative.parts):
        return f"{raw!r} is refused: it leads into .git/ (through a symlink), which is never edited"
    if not relative.parts:
        return f"{raw!r} is refused: it names the project root, not a file"
    return Resolved(relative.as_posix(), target)


def _lexical_problem(raw: str) -> str | None:
    """The rule a path breaks by its spelling alone, if any."""
    if not raw.strip():
        return "the path is empty"
    if "\0" in raw:
        return "it contains a NUL character"
    if _WINDOWS_ABSOLUTE.match(raw) or raw.startswith("/"):
        return "absolute paths are not allowed; give a path relative to the project root"
    if raw.startswith("~"):
        return "home-relative paths are not allowed; give a path relative to the project root"
    parts = raw.split("/")
    if ".." in parts:
        return 'paths may not contain ".." components'
    if _under_git(parts):
        return "files under .git/ are never edited"
    return None


def _under_git(parts: tuple[str, ...] | list[str]) -> bool:
    # casefold: on case-insensitive file systems .GIT is the same directory.
    return any(part.casefold() == ".git" for part in parts)
