"""An incremental Server-Sent Events parser.

Bytes arrive in arbitrary chunks (one byte at a time, a split inside ``\\n\\n`` or inside a UTF-8
sequence, CRLF or bare CR line ends); ``SseParser.feed`` returns the events completed so far and
keeps the rest. Comment lines (``: keepalive``) and events without data are dropped. Decoding JSON
is separate (``decode``): ``[DONE]`` is a sentinel, a blank ``data:`` is ``BLANK`` (nothing to
read), and a payload that is not JSON is a ``Malformed`` saying why: the caller fails the stream,
since an answer with a chunk missing is not the answer.
"""

from __future__ import annotations

import codecs
from typing import Any

import msgspec

from muxc.backends.http.protocol import TooDeep, parse_json

DONE = "[DONE]"


class SseEvent(msgspec.Struct, frozen=True):
    data: str
    event: str | None = None

    @property
    def is_done(self) -> bool:
        return self.data.strip() == DONE


class SseParser:
    """Feed bytes, get complete events. One parser per stream; not thread-safe (one reader)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        text = self._decoder.decode(chunk)
        pending_cr = self._buffer.endswith("\r")
        self._buffer += text
        if not pending_cr and "\n" not in text and "\r" not in text:
            return []  # no line ended: skip rescanning a long partial line (1-byte chunks)
        events: list[SseEvent] = []
        for line in self._complete_lines():
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SseEvent]:
        """Flush at end of stream: an unterminated last line still counts, as the spec says."""
        self._buffer += self._decoder.decode(b"", final=True)
        tail = [self._buffer] if self._buffer else []
        self._buffer = ""
        events = [event for line in tail if (event := self._line(line)) is not None]
        final = self._dispatch()
        return events + ([final] if final else [])

    def _complete_lines(self) -> list[str]:
        # A trailing "\r" may be the first half of "\r\n": keep it until the next chunk.
        cut = len(self._buffer) - 1 if self._buffer.endswith("\r") else len(self._buffer)
        text, rest = self._buffer[:cut], self._buffer[cut:]
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop() + rest
        return lines

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], None
        if not data:
            return None
        return SseEvent("\n".join(data), event)


class Malformed:
    """Marker returned by ``decode`` for a payload that cannot be read; ``why`` says how."""

    def __init__(self, why: str) -> None:
        self.why = why


MALFORMED = Malformed("not JSON")
TOO_DEEP = Malformed("JSON nested too deeply to read")


class Blank:
    """Marker returned by ``decode`` for ``data:`` with nothing after it: no content, nothing lost."""


BLANK = Blank()


def decode(event: SseEvent) -> Any:
    """The event's JSON payload, ``DONE`` for ``[DONE]``, ``BLANK``, ``MALFORMED`` or ``TOO_DEEP``."""
    if event.is_done:
        return DONE
    if not event.data.strip():
        return BLANK
    try:
        return parse_json(event.data)
    except TooDeep:
        return TOO_DEEP
    except ValueError:
        return MALFORMED
