"""The edits an LLM asked for, as data: what ``parse_edits`` returns and ``plan`` consumes.

Invariants: every value is a frozen ``msgspec.Struct`` and encodes to JSON (the edit kinds
are a tagged union on ``kind``), so an ``EditSet`` can be logged, hashed for the cache and
replayed. Paths are exactly as the LLM wrote them; nothing here has looked at a file yet,
so safety checks and matching belong to ``muxc.edits.apply``.
"""

from __future__ import annotations

import msgspec


class Replace(msgspec.Struct, frozen=True, tag_field="kind", tag="replace"):
    """Replace the one occurrence of ``old`` with ``new``; an empty ``old`` creates the file."""

    path: str
    old: str
    new: str


class Write(msgspec.Struct, frozen=True, tag_field="kind", tag="write"):
    """Write the whole file: create it, or overwrite it."""

    path: str
    content: str


class Append(msgspec.Struct, frozen=True, tag_field="kind", tag="append"):
    """Aider's empty SEARCH section: create the file with ``text``, or append ``text`` to it."""

    path: str
    text: str


class Delete(msgspec.Struct, frozen=True, tag_field="kind", tag="delete"):
    """Delete the file (only a unified diff with ``+++ /dev/null`` asks for this)."""

    path: str


class Hunk(msgspec.Struct, frozen=True):
    """One ``@@`` hunk: its lines keep their diff prefix (``" "``, ``"-"`` or ``"+"``).

    ``old_start`` is the 1-based line the header claims (None when the header had no
    numbers); it is only a hint, because LLMs rarely count right.
    """

    lines: tuple[str, ...]
    old_start: int | None = None
    header: str = "@@"
    old_no_eol: bool = False
    new_no_eol: bool = False

    @property
    def old_lines(self) -> tuple[str, ...]:
        """The lines the hunk expects to find: context and removed lines."""
        return tuple(line[1:] for line in self.lines if line[0] in " -")

    @property
    def new_lines(self) -> tuple[str, ...]:
        """The lines the hunk leaves behind: context and added lines."""
        return tuple(line[1:] for line in self.lines if line[0] in " +")


class DiffHunks(msgspec.Struct, frozen=True, tag_field="kind", tag="diff"):
    """Hunks of a unified diff for one file; ``creates`` when the old side was ``/dev/null``."""

    path: str
    hunks: tuple[Hunk, ...]
    creates: bool = False


Edit = Replace | Write | Append | Delete | DiffHunks


class EditSet(msgspec.Struct, frozen=True):
    """Every edit found in one LLM output, in order, and the format they were written in."""

    edits: tuple[Edit, ...]
    format: str
    summary: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths the edits touch, as written, first occurrence first."""
        return tuple(dict.fromkeys(edit.path for edit in self.edits))


class ParseFailure(msgspec.Struct, frozen=True):
    """No usable edits: ``message`` is written for the LLM that has to try again.

    ``tried`` names every format considered, ``problems`` what was wrong with the ones
    that were recognised, and ``excerpt`` is the start of the output.
    """

    message: str
    tried: tuple[str, ...]
    problems: tuple[str, ...] = ()
    excerpt: str = ""


class Found(msgspec.Struct, frozen=True):
    """What one format's parser saw: where its first sign is, the edits, and what was wrong.

    ``position`` (a character offset into the output) lets ``parse_edits`` trust the
    format that starts first, so a diff quoted inside a JSON string is never applied.
    """

    format: str
    position: int
    edits: tuple[Edit, ...] = ()
    problems: tuple[str, ...] = ()
    summary: str | None = None
