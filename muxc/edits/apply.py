"""Plan and apply an ``EditSet`` on a project tree, all or nothing.

``plan`` reads every file an edit touches, checks every edit and computes each file's new
bytes in memory; it writes nothing. ``apply`` writes a plan's files atomically.

Invariants:

- A plan exists only if every edit is valid; otherwise the failure lists every problem
  (each edit numbered, its path, what to do), and no file has been touched.
- Paths obey ``muxc.confine`` (inside the root, no ``..``, nothing under ``.git``, ``.muxc`` or
  ``.llm-mux``, no symlink out, tool files that run code only when the step allows them).
- Binary or non-UTF-8 files are refused. ``old`` must match exactly once (see ``locate``).
- Several edits to one file apply in order to the evolving text.
- What the user did not ask to change stays: line endings (inserted text takes the file's
  dominant ending), the presence of a final newline (unless a diff's ``\\ No newline``
  marker says otherwise), the BOM and the permission bits.
- ``apply`` refuses a plan whose files changed since it was made, and if a write fails
  half-way it puts back what it already wrote, so the tree is never left half-edited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from muxc.base.confine import resolve_inside
from muxc.edits.files import FileState, atomic_write, make_parents, read_state, remove_empty_dirs
from muxc.edits.locate import find_unique
from muxc.edits.model import Append, Delete, DiffHunks, Edit, EditSet, Replace, Write
from muxc.edits.patch import apply_hunks
from muxc.edits.render import summary_line, unified_diff
from muxc.edits.text import BOM, decode, dominant_eol, encode, to_eol, with_final_newline


class FileChange(msgspec.Struct, frozen=True):
    """One touched file: its bytes before and after (None: absent) and its permission bits."""

    path: str  # relative to the plan's root, symlinks resolved, '/'-separated
    before: bytes | None
    after: bytes | None
    mode: int | None = None  # the bits before, kept on write; None for a new file (umask)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def created(self) -> bool:
        return self.before is None and self.after is not None

    @property
    def deleted(self) -> bool:
        return self.before is not None and self.after is None


class Plan(msgspec.Struct, frozen=True):
    """Every touched file's new bytes, computed and checked; nothing written yet."""

    root: str  # resolved
    edit_set: EditSet
    changes: tuple[FileChange, ...]
    allow_tool_files: bool = False  # the rule the plan was checked under, asked again by ``apply``

    @property
    def paths(self) -> tuple[str, ...]:
        """Every file the plan touches: what ``Snapshot.take`` should record."""
        return tuple(change.path for change in self.changes)


class EditProblem(msgspec.Struct, frozen=True):
    edit: int  # 1-based position in the edit set
    path: str  # as the LLM wrote it
    message: str


class ApplyFailure(msgspec.Struct, frozen=True):
    """Nothing was applied; ``message`` says why and what to do, for the user and the LLM."""

    message: str
    problems: tuple[EditProblem, ...] = ()


class Applied(msgspec.Struct, frozen=True):
    changes: tuple[FileChange, ...]  # only files whose bytes changed
    created_dirs: tuple[str, ...]  # shallowest first
    diff: str
    summary: str


@dataclass
class _Draft:
    """A file's evolving text while a plan is being made."""

    path: str
    absolute: Path
    before: FileState | None
    text: str | None  # None: the file does not exist (or no longer)
    bom: bool = False
    eol: str = "\n"
    final_newline: bool | None = None  # what the file must end with; None: as the edits leave it
    broken: bool = False
    last_edit: int = 0  # for problems found when encoding: the last edit that touched the file
    last_path: str = ""


def plan(root: Path, edit_set: EditSet, allow_tool_files: bool = False) -> Plan | ApplyFailure:
    """Check every edit against the files under ``root`` and compute the new bytes.

    ``allow_tool_files``: the step allows files that make tools run code (``muxc.confine``)."""
    drafts: dict[str, _Draft] = {}
    problems = []
    for number, edit in enumerate(edit_set.edits, 1):
        problem = _plan_edit(root, drafts, edit, number, allow_tool_files)
        if problem:
            problems.append(EditProblem(number, edit.path, problem))
    changes = _changes(drafts, problems)
    if problems:
        return _plan_failure(problems, len(edit_set.edits))
    return Plan(str(root.resolve()), edit_set, changes, allow_tool_files)


def _plan_edit(
    root: Path, drafts: dict[str, _Draft], edit: Edit, number: int, allow_tool_files: bool
) -> str | None:
    draft = _draft(root, drafts, edit.path, allow_tool_files)
    if isinstance(draft, str):
        return draft
    if draft.broken:
        return f"not checked: an earlier edit of {draft.path} failed"
    problem = _EDITORS[type(edit)](draft, edit)
    draft.broken = problem is not None
    draft.last_edit, draft.last_path = number, edit.path
    return problem


def _draft(root: Path, drafts: dict[str, _Draft], raw: str, allow_tool_files: bool) -> _Draft | str:
    """The draft of the file ``raw`` names, loaded on first use."""
    resolved = resolve_inside(root, raw, allow_tool_files)
    if isinstance(resolved, str):
        return resolved
    if resolved.relative not in drafts:
        loaded = _load(resolved.relative, resolved.absolute)
        if isinstance(loaded, str):
            return loaded
        drafts[resolved.relative] = loaded
    return drafts[resolved.relative]


def _load(path: str, absolute: Path) -> _Draft | str:
    try:
        state = read_state(absolute)
    except OSError as error:
        return f"{path} cannot be edited: {error.strerror or error}"
    if state is None:
        return _Draft(path, absolute, None, None)
    decoded = decode(state.content)
    if isinstance(decoded, str):
        return f"{path} is refused: {decoded}"
    final_newline = decoded.text.endswith("\n") if decoded.text else None
    return _Draft(path, absolute, state, decoded.text, decoded.bom, decoded.eol, final_newline)


def _missing(draft: _Draft) -> str:
    return f"{draft.path} does not exist (to create a file, give its whole content or diff it from /dev/null)"


def _create(draft: _Draft, text: str, final_newline: bool | None = None) -> str | None:
    for parent in reversed(draft.absolute.parents):
        if parent.exists() and not parent.is_dir():
            return f"cannot create {draft.path}: {parent.name} is a file, not a directory"
    draft.text, draft.eol, draft.final_newline = text, dominant_eol(text), final_newline
    return None


def _replace(draft: _Draft, edit: Replace) -> str | None:
    if not edit.old:
        if draft.text is not None:
            return f"old is empty but {draft.path} exists; use content to overwrite it"
        return _create(draft, edit.new)
    if draft.text is None:
        return _missing(draft)
    span = find_unique(draft.text, edit.old, draft.path)
    if isinstance(span, str):
        return span
    draft.text = draft.text[: span.start] + to_eol(edit.new, draft.eol) + draft.text[span.end :]
    return None


def _write(draft: _Draft, edit: Write) -> str | None:
    if draft.text is None:
        return _create(draft, edit.content)
    # The file's BOM is kept anyway; one the LLM copied into the content would double it.
    content = edit.content.removeprefix(BOM) if draft.bom else edit.content
    draft.text = to_eol(content, draft.eol)
    return None


def _append(draft: _Draft, edit: Append) -> str | None:
    if draft.text is None:
        return _create(draft, edit.text)
    # Appending to a last line without its newline would glue two lines together.
    separator = "" if not draft.text or draft.text.endswith("\n") else draft.eol
    draft.text += separator + to_eol(edit.text, draft.eol)
    return None


def _delete(draft: _Draft, edit: Delete) -> str | None:
    if draft.text is None:
        return f"{draft.path} cannot be deleted: it does not exist"
    draft.text = None
    return None


def _diff(draft: _Draft, edit: DiffHunks) -> str | None:
    if draft.text is None and all(not hunk.old_lines for hunk in edit.hunks):
        # Only added lines for a missing file: a creation whose "--- /dev/null" the LLM forgot.
        edit = DiffHunks(edit.path, edit.hunks, creates=True)
    if edit.creates and draft.text is not None:
        return (
            f"the diff creates {draft.path} (--- /dev/null) but it exists; diff against its content instead"
        )
    if not edit.creates and draft.text is None:
        return _missing(draft)
    patched = apply_hunks(draft.text or "", edit.hunks, draft.path, draft.eol)
    if isinstance(patched, str):
        return patched
    if edit.creates:
        return _create(draft, patched.text, patched.final_newline)
    draft.text = patched.text
    if patched.final_newline is not None:
        draft.final_newline = patched.final_newline
    return None


_EDITORS: dict[type, Callable[[_Draft, Edit], str | None]] = {
    Replace: _replace,  # type: ignore[dict-item]
    Write: _write,  # type: ignore[dict-item]
    Append: _append,  # type: ignore[dict-item]
    Delete: _delete,  # type: ignore[dict-item]
    DiffHunks: _diff,  # type: ignore[dict-item]
}


def _changes(drafts: dict[str, _Draft], problems: list[EditProblem]) -> tuple[FileChange, ...]:
    """The drafts that had no problem as changes; encoding problems are added to ``problems``."""
    changes = []
    for draft in drafts.values():
        change = None if draft.broken else _change(draft)
        if isinstance(change, str):
            problems.append(EditProblem(draft.last_edit, draft.last_path, change))
        elif change is not None:
            changes.append(change)
    return tuple(changes)


def _change(draft: _Draft) -> FileChange | str:
    """The draft as a ``FileChange``, or why its new text cannot be written."""
    before = draft.before
    after = None
    if draft.text is not None:
        text = draft.text
        if draft.final_newline is not None:
            text = with_final_newline(text, draft.final_newline, draft.eol)
        try:
            after = encode(text, draft.bom)
        except UnicodeEncodeError:
            return f"{draft.path}: the new text is not valid Unicode (a lone surrogate such as \\ud800)"
    if before is None:
        return FileChange(draft.path, None, after)
    return FileChange(draft.path, before.content, after, before.mode)


def _plan_failure(problems: list[EditProblem], total: int) -> ApplyFailure:
    failing = len({problem.edit for problem in problems if not problem.message.startswith("not checked")})
    lines = [f"{failing} of {total} edits cannot be applied, so none was applied (no file was written):"]
    lines += [f"  - edit {p.edit} ({p.path}): {p.message}" for p in problems]
    return ApplyFailure("\n".join(lines), tuple(problems))


def apply(plan: Plan) -> Applied | ApplyFailure:
    """Write the plan's changed files; on any failure, put back what was written."""
    root = Path(plan.root)
    pending = [change for change in plan.changes if change.changed]
    stale = [message for change in pending if (message := _stale(root, change, plan.allow_tool_files))]
    if stale:
        return ApplyFailure("nothing was applied: " + "; ".join(stale) + "; make a new plan")
    written: list[FileChange] = []
    created_dirs: list[str] = []
    for change in pending:
        try:
            _write_change(root, change, created_dirs)
        except OSError as error:
            return _write_failure(root, change, error, written, created_dirs)
        written.append(change)
    return Applied(tuple(pending), tuple(created_dirs), unified_diff(pending), summary_line(pending))


def _stale(root: Path, change: FileChange, allow_tool_files: bool) -> str | None:
    """Why the file no longer is as the plan found it (the user may be editing it)."""
    resolved = resolve_inside(root, change.path, allow_tool_files)
    if isinstance(resolved, str) or resolved.relative != change.path:
        return f"{change.path} now resolves elsewhere"
    try:
        state = read_state(resolved.absolute)
    except OSError as error:
        return f"{change.path} cannot be read ({error.strerror or error})"
    if (None if state is None else state.content) != change.before:
        return f"{change.path} changed since the plan was made"
    return None


def _write_change(root: Path, change: FileChange, created_dirs: list[str]) -> None:
    path = root / change.path
    if change.after is None:
        path.unlink()
        return
    if change.before is None:
        make_parents(root, change.path, created_dirs)
    atomic_write(path, change.after, change.mode)


def _write_failure(
    root: Path, change: FileChange, error: OSError, written: list[FileChange], created_dirs: list[str]
) -> ApplyFailure:
    problems = _undo(root, written, created_dirs)
    outcome = (
        "the files written before it were put back"
        if not problems
        else "putting back failed: " + "; ".join(problems)
    )
    return ApplyFailure(f"writing {change.path} failed ({error.strerror or error}); {outcome}")


def _undo(root: Path, written: list[FileChange], created_dirs: list[str]) -> list[str]:
    problems = []
    for change in reversed(written):
        try:
            if change.before is None:
                (root / change.path).unlink(missing_ok=True)
            else:
                atomic_write(root / change.path, change.before, change.mode)
        except OSError as error:
            problems.append(f"{change.path}: {error.strerror or error}")
    remove_empty_dirs(root, created_dirs)
    return problems
