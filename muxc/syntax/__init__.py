"""Stage 1, pure: workflow text (TOML or the muxc language) to the validated AST."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the AST imports config.schema, which imports syntax.origin: keep this package light
    from muxc.diagnostics.sink import DiagnosticSink
    from muxc.lang.document import Document
    from muxc.syntax.ast import Workflow


def detect_format(path: str) -> str:
    """``mux`` for ``.mux`` files, ``toml`` otherwise."""
    return "mux" if path.endswith(".mux") else "toml"


def parse_document(text: str, file: str, fmt: str, sink: DiagnosticSink) -> Document | None:
    if fmt == "mux":
        from muxc.syntax import mux

        return mux.parse(text, file, sink)
    from muxc.syntax import toml_front

    return toml_front.parse(text, file, sink)


def parse_workflow(text: str, file: str, sink: DiagnosticSink, fmt: str | None = None) -> Workflow | None:
    """The workflow AST for a file's text; problems go to ``sink``."""
    from muxc.syntax.workflow import build_workflow

    fmt = fmt or detect_format(file)
    document = parse_document(text, file, fmt, sink)
    if document is None:
        return None
    return build_workflow(document.root, file, fmt, sink, document.trailing_comments)
