"""Render diagnostics for people and machines: one function per format, all pure.

Formats: ``full`` (a code frame with the narrowest span underlined, in the style of rustc
and miette, ending with where ``muxc explain`` tells more), ``concise`` (``path:line:col:
severity[code]: message (help: ...)``, one line each, no pointer: the code in brackets is the
name ``muxc explain`` takes), ``json`` (an array
with 1-based ``line``/``column`` and exclusive ``end_line``/``end_column``) and ``github``
(workflow-command annotations). Colour is plain ANSI and off unless asked for, so the
snapshot tests see exactly what a user sees in a pipe.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

import msgspec

from muxc.diagnostics.codes import all_codes
from muxc.diagnostics.model import Diagnostic, Label, Severity
from muxc.diagnostics.source import SourceFile

Sources = Mapping[str, SourceFile]

_STYLE = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BOLD, _BLUE, _RESET = "\x1b[1m", "\x1b[1;34m", "\x1b[0m"
TAB_WIDTH = 4


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color and text else text


def _source(sources: Sources, file: str) -> SourceFile:
    return sources.get(file) or SourceFile(file, "")


def _char_width(char: str) -> int:
    if char == "\t":
        return TAB_WIDTH
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _display(line: str) -> str:
    """The line as a terminal shows it: tabs expanded, control characters made visible."""
    out = []
    for char in line:
        if char == "\t":
            out.append(" " * TAB_WIDTH)
        elif unicodedata.category(char) == "Cc":
            out.append("\N{REPLACEMENT CHARACTER}")
        else:
            out.append(char)
    return "".join(out)


def _width(text: str) -> int:
    return sum(_char_width(c) for c in text)


def location(label: Label, sources: Sources) -> tuple[int, int, int, int]:
    """1-based (line, column, end_line, end_column) of a label; the end is exclusive."""
    source = _source(sources, label.file)
    line, column = source.line_col(label.span.start)
    end_line, end_column = source.line_col(label.span.end)
    return line, column, end_line, end_column


# --- full ------------------------------------------------------------------------------


# A longer line is shown clipped around the label (with … at a cut end): a 1 MB line with a
# diagnostic at each of its expressions would otherwise print the whole line for each of them.
FRAME_CHARS = 160
FRAME_CHARS_BEFORE = 40


def _underline(source: SourceFile, label: Label, marker: str) -> tuple[int, str, str]:
    """(line number, display text of the line, underline text) for a label's first line."""
    line, column = source.line_col(label.span.start)
    text = source.line_text(line)
    end_line, end_column = source.line_col(label.span.end)
    last = end_column - 1 if end_line == line else len(text)
    last = max(last, column)  # an empty span still gets one marker
    start, stop = 0, len(text)
    if len(text) > FRAME_CHARS:
        start = max(0, min(column - 1 - FRAME_CHARS_BEFORE, len(text) - FRAME_CHARS))
        stop = start + FRAME_CHARS
    before, after = ("…" if start else ""), ("…" if stop < len(text) else "")
    pad = len(before) + _width(text[start : column - 1])
    width = max(1, _width(text[column - 1 : min(last, stop)]))
    return line, before + _display(text[start:stop]) + after, " " * pad + marker * width


def _frame(source: SourceFile, labels: Sequence[Label], color: bool, style: str, gutter: int) -> list[str]:
    rows = [(*_underline(source, lab, "^" if lab.primary else "-"), lab) for lab in labels]
    rows.sort(key=lambda row: (row[0], not row[3].primary))
    bar = _paint(" " * gutter + " |", _BLUE, color)
    out = [bar]
    previous, shown = None, None
    for number, text, marks, label in rows:
        if previous is not None and number > previous + 1:
            out.append(_paint("...", _BLUE, color))
        if number != previous or text != shown:  # a clipped line may show another part of itself
            out.append(_paint(f"{number:>{gutter}} |", _BLUE, color) + (f" {text}" if text else ""))
        message = f" {label.message}" if label.message else ""
        mark_style = style if label.primary else _BLUE
        out.append(bar + " " + _paint(marks + message, mark_style, color))
        previous, shown = number, text
    return out


def _labels_by_file(diagnostic: Diagnostic) -> list[tuple[str, list[Label]]]:
    groups: dict[str, list[Label]] = {}
    for label in diagnostic.labels:
        groups.setdefault(label.file, []).append(label)
    return list(groups.items())


def render_one_full(diagnostic: Diagnostic, sources: Sources, color: bool = False) -> str:
    style = _STYLE[diagnostic.severity]
    head = _paint(f"{diagnostic.severity.value}[{diagnostic.code}]", style, color)
    out = [f"{head}: {_paint(diagnostic.message, _BOLD, color)}"]
    gutter = _gutter(diagnostic, sources)
    for file, labels in _labels_by_file(diagnostic):
        source = _source(sources, file)
        first = next((lab for lab in labels if lab.primary), labels[0])
        line, column = source.line_col(first.span.start)
        out.append(_paint(" " * gutter + "--> ", _BLUE, color) + f"{file}:{line}:{column}")
        out.extend(_frame(source, labels, color, style, gutter))
    pad = " " * (gutter + 1)
    for note in diagnostic.notes:
        out.append(_paint(pad + "= ", _BLUE, color) + _indent_rest(f"note: {note}", pad + "  "))
    if diagnostic.help:
        out.append(_paint(pad + "= ", _BLUE, color) + _indent_rest(f"help: {diagnostic.help}", pad + "  "))
    if explain_pointer(diagnostic.code):
        out.append(_paint(pad + "= ", _BLUE, color) + explain_pointer(diagnostic.code))
    return "\n".join(out)


def explain_pointer(code: str) -> str:
    """Where the long explanation of a code is, or "" for a code ``muxc explain`` does not know."""
    return f"run `muxc explain {code}` for the explanation, an example and the fix" if code in all_codes() else ""


def _gutter(diagnostic: Diagnostic, sources: Sources) -> int:
    """The width of the widest line number the frames show, so every frame lines up."""
    lines = [_source(sources, lab.file).line_col(lab.span.start)[0] for lab in diagnostic.labels]
    return len(str(max(lines, default=1)))


def _indent_rest(text: str, pad: str) -> str:
    first, *rest = text.split("\n")
    return "\n".join([first, *(pad + line for line in rest)])


def render_full(
    diagnostics: Sequence[Diagnostic], sources: Sources, color: bool = False, limit: int | None = None
) -> str:
    shown = list(diagnostics if limit is None else diagnostics[:limit])
    blocks = [render_one_full(d, sources, color) for d in shown]
    if len(shown) < len(diagnostics):
        blocks.append(f"... and {len(diagnostics) - len(shown)} more")
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# --- concise, json, github -------------------------------------------------------------


def render_concise(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    lines = []
    for d in diagnostics:
        label = d.primary
        where = "muxc"
        if label is not None:
            line, column, _, _ = location(label, sources)
            where = f"{label.file}:{line}:{column}"
        lines.append(f"{where}: {d.severity.value}[{d.code}]: {d.message}{_concise_help(d.help)}")
    return "".join(line + "\n" for line in lines)


def _concise_help(help_text: str | None) -> str:
    """The help on the same line (one diagnostic, one line: grep and editors read it so)."""
    if not help_text:
        return ""
    return " (help: " + " ".join(part.strip() for part in help_text.splitlines() if part.strip()) + ")"


def _json_label(label: Label, sources: Sources) -> dict[str, object]:
    line, column, end_line, end_column = location(label, sources)
    return {
        "file": label.file,
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "message": label.message,
    }


def as_json_object(d: Diagnostic, sources: Sources) -> dict[str, object]:
    label = d.primary
    where = _json_label(label, sources) if label else {"file": "", "line": 0, "column": 0, "end_line": 0, "end_column": 0}
    obj: dict[str, object] = {k: v for k, v in where.items() if k != "message"}
    obj.update(severity=d.severity.value, code=d.code, message=d.message)
    if d.help:
        obj["help"] = d.help
    if d.notes:
        obj["notes"] = list(d.notes)
    obj["labels"] = [_json_label(lab, sources) | {"primary": lab.primary} for lab in d.labels]
    return obj


def render_json(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    data = [as_json_object(d, sources) for d in diagnostics]
    return msgspec.json.format(msgspec.json.encode(data), indent=2).decode() + "\n"


def _escape_property(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace(":", "%3A").replace(",", "%2C")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_github(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    kinds = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    lines = []
    for d in diagnostics:
        props = [f"title={_escape_property(d.code)}"]
        label = d.primary
        if label is not None:
            line, column, end_line, end_column = location(label, sources)
            props = [
                f"file={_escape_property(label.file)}",
                f"line={line}",
                f"col={column}",
                f"endLine={end_line}",
                f"endColumn={end_column}",
                *props,
            ]
        message = d.message + (f"\n{d.help}" if d.help else "")
        lines.append(f"::{kinds[d.severity]} {','.join(props)}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


RENDERERS = {"concise": render_concise, "json": render_json, "github": render_github}


def render(fmt: str, diagnostics: Sequence[Diagnostic], sources: Sources, color: bool = False) -> str:
    """Render in one of ``full``, ``concise``, ``json``, ``github``."""
    if fmt == "full":
        return render_full(diagnostics, sources, color)
    return RENDERERS[fmt](diagnostics, sources)
