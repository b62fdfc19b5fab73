"""Read a GGUF file's metadata (its key/value header) without loading the model.

Only what muxc checks is kept: scalar values and strings up to ``MAX_KEPT_STRING`` characters
(the chat template is a few KB). Arrays (the tokenizer's vocabulary: 150,000 strings) are skipped
without being kept. The file is hostile until checked: every length is bounded, a truncated or
malformed header raises ``GGUFError`` with what was wrong and where, never a traceback, and
nothing is read past the header.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import IO, Any

MAGIC = b"GGUF"
MAX_KEYS = 100_000
MAX_STRING = 64 * 1024 * 1024
MAX_KEPT_STRING = 1024 * 1024
MAX_ARRAY = 50_000_000
STRING, ARRAY = 8, 9
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
              12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
              32: "BF16"}


class GGUFError(Exception):
    pass


class Skipped:
    """An array's place in the metadata: its element count, not its elements."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __repr__(self) -> str:
        return f"<array of {self.count}>"


def read_metadata(path: Path) -> dict[str, Any]:
    """The file's key/value metadata, plus ``GGUF.version``. Raises ``GGUFError``."""
    try:
        with path.open("rb") as stream:
            return _header(stream)
    except OSError as error:
        raise GGUFError(f"cannot read {path}: {error.strerror or error}") from None
    except GGUFError as error:
        raise GGUFError(f"{path} is not a usable GGUF file: {error}") from None


def file_type_name(code: Any) -> str:
    return FILE_TYPES.get(code, f"type {code}") if isinstance(code, int) else "unknown"


def _header(stream: IO[bytes]) -> dict[str, Any]:
    if stream.read(4) != MAGIC:
        raise GGUFError("it does not start with the GGUF magic bytes")
    version = _unpack(stream, "<I")
    if version not in (2, 3):
        raise GGUFError(f"GGUF version {version} (muxc reads versions 2 and 3)")
    _unpack(stream, "<Q")  # tensor count
    count = _unpack(stream, "<Q")
    if count > MAX_KEYS:
        raise GGUFError(f"it claims {count} metadata keys")
    metadata: dict[str, Any] = {"GGUF.version": version}
    for _ in range(count):
        key = _string(stream, keep=True)
        metadata[key] = _value(stream, _unpack(stream, "<I"), key)
    return metadata


def _value(stream: IO[bytes], kind: int, key: str) -> Any:
    if kind in SCALARS:
        return _unpack(stream, SCALARS[kind])
    if kind == STRING:
        return _string(stream, keep=True)
    if kind == ARRAY:
        return _skip_array(stream, key)
    raise GGUFError(f"key {key!r} has an unknown value type {kind}")


def _skip_array(stream: IO[bytes], key: str) -> Skipped:
    kind, count = _unpack(stream, "<I"), _unpack(stream, "<Q")
    if count > MAX_ARRAY:
        raise GGUFError(f"key {key!r} claims an array of {count} elements")
    if kind in SCALARS:
        stream.seek(struct.calcsize(SCALARS[kind]) * count, 1)
    elif kind == STRING:
        for _ in range(count):
            _string(stream, keep=False)
    else:
        raise GGUFError(f"key {key!r} is an array of type {kind}, which muxc does not read")
    return Skipped(count)


def _string(stream: IO[bytes], keep: bool) -> str:
    length = _unpack(stream, "<Q")
    if length > MAX_STRING:
        raise GGUFError(f"a string claims {length} bytes")
    if not keep or length > MAX_KEPT_STRING:
        stream.seek(length, 1)
        return ""
    data = stream.read(length)
    if len(data) != length:
        raise GGUFError("the header ends inside a string")
    return data.decode("utf-8", "replace")


def _unpack(stream: IO[bytes], layout: str) -> Any:
    size = struct.calcsize(layout)
    data = stream.read(size)
    if len(data) != size:
        raise GGUFError("the header is cut short")
    return struct.unpack(layout, data)[0]
