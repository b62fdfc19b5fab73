"""One cached result as an object in the remote: addressed by its key, proven whole by a digest.

An entry is a header line and a JSON payload (an index, below, is sealed the same way)::

    muxc-result 1 <sha256 of the payload, hex> <payload length>\n{"record": ..., ...}

The payload holds exactly what the local ``results`` table holds for the key (the record, the
workflow that built it, its output digest, the key's components and the rendered texts): never
an LLM log row, never a credential (keys and records name backends by identity, not by secret).
``decode`` refuses anything that is not exactly such an entry for the key asked for: a truncated
upload, a flipped byte, an entry copied under another key. A refused entry is never served.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from muxc.store.results import StepRecord

MAGIC = b"muxc-result"
FORMAT = 1
PREFIX = "v1/results"  # under the remote's URL; a new entry format gets a new prefix


class Entry(msgspec.Struct, frozen=True):
    """What the local cache keeps for one key (``ResultStore.put``'s arguments)."""

    record: StepRecord
    workflow: str
    output_digest: str
    components: dict[str, Any] = {}
    rendered: dict[str, str] = {}


class BadEntry(ValueError):
    """An entry that must not be served: the message says what is wrong with it."""


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Entry)


def path_of(key: str) -> str:
    """The entry's path under the remote root: fanned out by the key's first two characters so
    no directory (or object-store prefix listing) holds millions of names."""
    if not key or not all(c.isalnum() or c in "-_" for c in key):
        raise BadEntry(f"{key!r} is not a cache key")
    return f"{PREFIX}/{key[:2]}/{key}"


def encode(entry: Entry) -> bytes:
    return _sealed(MAGIC, _ENCODER.encode(entry))


def _sealed(magic: bytes, payload: bytes) -> bytes:
    header = b"%s %d %s %d\n" % (magic, FORMAT, hashlib.sha256(payload).hexdigest().encode(), len(payload))
    return header + payload


def _verified(data: bytes, magic: bytes) -> bytes:
    """The payload of sealed ``data``, whole and unaltered; else ``BadEntry``."""
    header, newline, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if not newline or len(fields) != 4 or fields[0] != magic:
        raise BadEntry("it is not a muxc cache entry")
    if fields[1] != b"%d" % FORMAT:
        raise BadEntry(f"its format {fields[1].decode(errors='replace')} is not one this muxc reads")
    if not fields[3].isdigit() or int(fields[3]) != len(payload):
        raise BadEntry(f"it is truncated ({len(payload)} of {fields[3].decode(errors='replace')} bytes)")
    if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
        raise BadEntry("its content does not match its digest (corrupt)")
    return payload


# --- the index: what a build of one workflow found, so the next one need not render ------------

INDEX_MAGIC = b"muxc-index"
INDEX_PREFIX = "v1/index"
_INDEX = msgspec.json.Decoder(dict[str, str])


def index_path(invocation: str) -> str:
    """Where the index of one invocation (a workflow with its arguments and salt) lives."""
    return f"{INDEX_PREFIX}/{path_of(invocation).rsplit('/', 1)[-1]}"


def encode_index(memo: dict[str, str]) -> bytes:
    """pre-key -> key for the steps of one invocation (``store.results``' memo, shared)."""
    return _sealed(INDEX_MAGIC, _ENCODER.encode(dict(sorted(memo.items()))))


def decode_index(data: bytes) -> dict[str, str]:
    try:
        memo = _INDEX.decode(_verified(data, INDEX_MAGIC))
    except msgspec.DecodeError as error:
        raise BadEntry(f"its content is not an index ({error})") from None
    for value in (*memo, *memo.values()):
        path_of(value)  # keys only: nothing that could name a path elsewhere
    return memo


def decode(key: str, data: bytes) -> Entry:
    """The entry for ``key`` in ``data``; ``BadEntry`` when it is damaged or not that key's."""
    payload = _verified(data, MAGIC)
    try:
        entry = _DECODER.decode(payload)
    except msgspec.DecodeError as error:  # a ValidationError is one too
        raise BadEntry(f"its content is not a result ({error})") from None
    if entry.record.key != key:
        raise BadEntry(f"it holds the result of another key ({entry.record.key[:12]}…)")
    return entry
