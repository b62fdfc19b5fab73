"""Hashing for cache keys: canonical JSON and blake2b under a versioned prefix.

The prefix is a contract: changing what goes into keys, or how, must change ``KEY_FORMAT`` so
every cache is invalidated at once instead of serving wrong results.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

KEY_FORMAT = "muxc-key-1"
_ENCODER = msgspec.json.Encoder(order="sorted")


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no whitespace: equal values always give equal bytes."""
    return _ENCODER.encode(value)


def digest(*parts: str | bytes) -> str:
    """A 32-hex-digit digest of the parts (length-prefixed, so parts never run together)."""
    hasher = hashlib.blake2b(KEY_FORMAT.encode(), digest_size=16)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


def digest_value(value: Any) -> str:
    return digest(canonical_json(value))


_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Rendered text with cosmetic differences removed: trailing spaces, extra blank lines,
    leading and trailing blank space, and CRLF line endings."""
    text = text.replace("\r\n", "\n")
    # per line, not re.sub(r"[ \t]+$", re.M): that retries from every space of a run, which is
    # quadratic in the run's length (a line of 100,000 spaces took minutes)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()
