"""Diagnostics shared by every stage: spans, sources, the model, the sink, codes and renderers."""

from muxc.diagnostics.model import Diagnostic, Label, Severity
from muxc.diagnostics.sink import DiagnosticSink
from muxc.diagnostics.source import SourceFile
from muxc.diagnostics.span import Span

__all__ = ["Diagnostic", "DiagnosticSink", "Label", "Severity", "SourceFile", "Span"]
