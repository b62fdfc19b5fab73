"""Turn an LLM's output into an ``EditSet``, whatever format it chose to write edits in.

Three formats are understood (see their modules): JSON (``parse_json``), unified diffs
(``parse_diff``) and aider's SEARCH/REPLACE blocks (``parse_blocks``). Each may be fenced
(```` ``` ```` or ``~~~``, any info string) or bare, with prose around it.

Invariants: parsing is pure (no files) and never raises. When several formats appear, the
one that starts first in the output wins, so a diff or a JSON object quoted *inside* another
format's edit is never applied on its own. The winning format's edits are all-or-nothing:
one malformed edit fails the whole parse, because applying half of what the LLM meant is
worse than asking again. A failure says which formats were tried, what each expects, what
was wrong, and shows the start of the output, so it can be handed back to the LLM as is.
"""

from __future__ import annotations

from collections.abc import Callable

from muxc.edits import parse_blocks, parse_diff, parse_json
from muxc.edits.model import EditSet, Found, ParseFailure
from muxc.edits.outputtext import normalise

EXCERPT_CHARS = 300

_FORMATS: tuple[tuple[str, str, Callable[[str], Found | None]], ...] = (
    (parse_json.FORMAT, parse_json.EXPECTED, parse_json.find_json),
    (parse_diff.FORMAT, parse_diff.EXPECTED, parse_diff.find_diff),
    (parse_blocks.FORMAT, parse_blocks.EXPECTED, parse_blocks.find_blocks),
)


def parse_edits(output: str) -> EditSet | ParseFailure:
    """The edits in an LLM's output, or a failure explaining what was expected."""
    text = normalise(output)
    found = [result for _, _, find in _FORMATS if (result := find(text)) is not None]
    if not found:
        return _failure(output, "no edits found in the output", ())
    first = min(found, key=lambda result: result.position)
    if first.problems:
        return _failure(output, f"the {first.format} edits in the output are malformed", first.problems)
    if not first.edits:
        return _failure(output, f"the {first.format} in the output holds no edits", ())
    return EditSet(first.edits, first.format, first.summary)


def _failure(output: str, headline: str, problems: tuple[str, ...]) -> ParseFailure:
    excerpt = output[:EXCERPT_CHARS] + ("…" if len(output) > EXCERPT_CHARS else "")
    sections = [headline + ":" if problems else headline + "."]
    sections += [f"  - {problem}" for problem in problems]
    sections.append("Formats tried, and what each expects:")
    sections += [f"  - {expected}" for _, expected, _ in _FORMATS]
    sections.append(_excerpt_section(excerpt))
    tried = tuple(name for name, _, _ in _FORMATS)
    return ParseFailure("\n".join(sections), tried, problems, excerpt)


def _excerpt_section(excerpt: str) -> str:
    if not excerpt.strip():
        return "The output is empty."
    quoted = "\n".join("    " + line for line in excerpt.split("\n"))
    return "The output starts with:\n" + quoted
