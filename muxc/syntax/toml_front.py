"""The TOML front-end: an llm-mux workflow file to the spanned document, with errors as diagnostics."""

from __future__ import annotations

from muxc.diagnostics.model import Label
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.span import Span
from muxc.lang.document import Document


def parse(text: str, file: str, sink: DiagnosticSink) -> Document | None:
    """The spanned document, or None after reporting a TOML syntax error."""
    from muxc.syntax import toml

    try:
        return toml.parse(text)
    except toml.TOMLError as error:
        span = error.span if error.span is not None and len(error.span) else Span(error.offset, error.offset + 1)
        span = Span(min(span.start, len(text)), min(max(span.end, span.start), len(text)))
        related = [Label(file, error.related, "first defined here", primary=False)] if error.related else []
        sink.report("toml-syntax", error.msg, file, span, "", secondary=related)
        return None
