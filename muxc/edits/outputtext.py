"""Small helpers shared by the edit parsers for reading LLM output line by line.

Invariant: the parsers see output with ``\\n`` line endings only (``normalise`` runs first),
so a CRLF-speaking CLI backend parses exactly like an HTTP one.
"""

from __future__ import annotations

import re

# A Markdown code fence: ``` or ~~~ (three or more), any info string after it.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def normalise(output: str) -> str:
    """The output with CRLF and lone CR line endings turned into LF."""
    return output.replace("\r\n", "\n").replace("\r", "\n")


def is_fence(line: str) -> bool:
    return FENCE.match(line) is not None


def line_offsets(lines: list[str]) -> list[int]:
    """The character offset where each line starts, for ``Found.position``."""
    offsets, total = [], 0
    for line in lines:
        offsets.append(total)
        total += len(line) + 1
    return offsets


def line_number(text: str, offset: int) -> int:
    """The 1-based line that holds character ``offset``."""
    return text.count("\n", 0, offset) + 1
