"""Read a workflow or config file as text, turning every way that can fail into a diagnostic.

Files must be UTF-8 (a BOM is accepted and dropped), non-empty and at most 16 MB. The path a
diagnostic shows is the one the user gave (relative stays relative).
"""

from __future__ import annotations

from pathlib import Path

from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile
from muxc.diagnostics.span import Span

MAX_BYTES = 16 * 1024 * 1024


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_source(path: Path, sink: DiagnosticSink, sources: dict[str, SourceFile] | None = None, *,
                allow_empty: bool = True) -> SourceFile | None:
    """The file's text, or None after reporting why it cannot be used.

    The text is added to ``sources`` (when given) even when it is unusable, so the diagnostic
    about it can show the offending line."""
    shown = display_path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            sink.report("file-too-large", f"{shown} is larger than 16 MB", shown, Span(0, 0), "")
            return None
        data = path.read_bytes()
    except OSError as error:
        sink.report("unreadable-file", f"cannot read {shown}: {error.strerror or error}", shown, Span(0, 0), "")
        return None
    source, ok = decode_source(data, shown, sink, allow_empty=allow_empty)
    if sources is not None:
        sources[shown] = source
    return source if ok else None


def decode_source(data: bytes, shown: str, sink: DiagnosticSink, *, allow_empty: bool = True
                  ) -> tuple[SourceFile, bool]:
    """(the text, usable?) — an unusable text is still returned for display, with replacements."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8")
        sink.report("invalid-utf8", f"{shown} is not UTF-8 (byte 0x{data[error.start]:02x})", shown,
                    Span(len(good), len(good) + 1), "not UTF-8", help="re-save the file as UTF-8")
        return SourceFile(shown, data.decode("utf-8", errors="replace")), False
    text = text.removeprefix("\ufeff")
    if not allow_empty and not text.strip():
        sink.report("empty-file", f"{shown} is empty", shown, Span(0, 0), "",
                    help='start with `workflow NAME "what it does"` (or name = "..." in TOML) and add steps')
        return SourceFile(shown, text), False
    return SourceFile(shown, text), True
