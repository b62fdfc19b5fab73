"""The collector every stage appends to; the caller decides what a problem means.

``DiagnosticSink.report`` takes the code's default severity from the registry in
``codes``, so every code a stage emits is documented (an unknown code is a bug and raises).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from muxc.diagnostics.codes import lookup
from muxc.diagnostics.model import Diagnostic, Label, Severity
from muxc.diagnostics.span import Span


class DiagnosticSink:
    """An append-only list of diagnostics with convenience reporters."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, diagnostic: Diagnostic) -> None:
        self._items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self._items.extend(diagnostics)

    def report(
        self,
        code: str,
        message: str,
        file: str,
        span: Span,
        label: str = "",
        *,
        secondary: Iterable[Label] = (),
        notes: Iterable[str] = (),
        help: str | None = None,
        severity: Severity | None = None,
    ) -> Diagnostic:
        """Record a diagnostic whose primary label is ``span`` in ``file``."""
        primary = Label(file, span, label, primary=True)
        others = tuple(other.secondary() if other.primary else other for other in secondary)
        diagnostic = Diagnostic(
            code=code,
            severity=severity or lookup(code).severity,
            message=message,
            labels=(primary, *others),
            notes=tuple(notes),
            help=help,
        )
        self._items.append(diagnostic)
        return diagnostic

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self._items if d.is_error)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)
