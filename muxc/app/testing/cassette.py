"""Cassettes: the recorded answers of a test file's query steps, keyed by each step's cache key.

``NAME.test.toml`` records into ``NAME.cassette.toml`` beside it (commit both). Each entry holds
the test, the step, the step's cache key, the prompt it was asked (and its system prompt, if
any) and the answer. Replay answers a query whose key is recorded, or else one whose test, step
and prompts are exactly the recorded ones (the key also names the backends' config, which a
muxc upgrade or another machine's defaults may change; the model would still read the same
text). Otherwise the step changed, and the recorded prompt of the same step lets the failure
show what changed. Parsed with the spanned TOML parser, so a damaged cassette is a diagnostic at
the spot. Pure, but for nothing: the runner reads and writes the files.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import msgspec

from muxc.app.testing.parse import FieldReader
from muxc.diagnostics.sink import DiagnosticSink
from muxc.syntax.emit_values import string
from muxc.syntax.toml_front import parse as parse_document

FIELDS = ("test", "step", "key", "prompt", "answer")
OPTIONAL = ("system",)  # written only when the step has a system prompt
HEADER = ("# Recorded by `muxc test --record`: the answers of {test}'s query steps, by cache key.\n"
          "# Replayed by `muxc test` with no backend; `muxc test --record` refreshes it. Commit it.\n")


class Recorded(msgspec.Struct, frozen=True):
    test: str
    step: str
    key: str
    prompt: str
    answer: str
    system: str = ""


def cassette_path(test_path: str) -> str:
    """``NAME.cassette.toml`` for ``NAME.test.toml``, ``NAME.test.mux`` and a workflow ``NAME.mux``'s own tests."""
    stem = test_path
    for suffix in (".test.toml", ".test.mux", ".mux"):
        if test_path.endswith(suffix):
            stem = test_path[: -len(suffix)]
            break
    return stem + ".cassette.toml"


def parse_cassette(text: str, path: str, sink: DiagnosticSink) -> tuple[Recorded, ...] | None:
    """The entries, or None after reporting why the cassette cannot be used."""
    errors = sink.error_count
    document = parse_document(text, path, sink)
    if document is None:
        return None
    reader = FieldReader(path, sink)
    reader.fields(document.root, ("answer",), "a cassette")
    entries = []
    for table in reader.tables(document.root.get("answer"), "answer"):
        reader.fields(table, FIELDS + OPTIONAL, "an [[answer]]")
        values = {name: reader.string(table.get(name), f"`{name}`") for name in FIELDS}
        system = reader.string(table.get("system"), "`system`")
        for name, value in values.items():
            if value is None and table.get(name) is None:
                reader.error("missing-field", f"this recorded answer has no `{name}`", table.span,
                             help="re-record it with `muxc test --record`")
        if all(value is not None for value in values.values()):
            texts = {name: str(value.value) for name, value in values.items()}  # type: ignore[union-attr]
            entries.append(Recorded(**texts, system=str(system.value) if system is not None else ""))
    return tuple(entries) if sink.error_count == errors else None


def dump_cassette(test: str, entries: Iterable[Recorded]) -> str:
    blocks = [HEADER.format(test=test)]
    for entry in sorted(entries, key=lambda e: (e.test, e.step, e.key)):
        names = FIELDS + tuple(name for name in OPTIONAL if getattr(entry, name))
        blocks.append("[[answer]]\n" + "".join(f"{name} = {string(getattr(entry, name))}\n" for name in names))
    return "\n".join(blocks)


def prompt_diff(recorded: str, asked: str, what: str = "prompt") -> str:
    lines = difflib.unified_diff(recorded.splitlines(), asked.splitlines(), f"recorded {what}", f"{what} now",
                                 lineterm="", n=1)
    return "\n".join(lines)


