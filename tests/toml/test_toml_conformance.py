"""muxc.syntax.toml against the toml-test suite (TOML 1.0.0 cases), with tomllib as the oracle.

Every valid case must decode to what tomllib decodes (and to the suite's own JSON answer);
every invalid case must raise ``TOMLError`` and nothing else. The cases live in
``tests/toml/toml-test/`` so a clean clone has them; when the upstream copy is around
(``$MUXC_TOML_TEST_DIR``, else ``../shared/conformance/toml-test/tests`` beside the checkout),
a test checks that our copy still matches it.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import re
import tomllib
from pathlib import Path

import pytest

import muxc.syntax.toml
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Node, Str, Table
from muxc.syntax.toml import TOMLError

SUITE = Path(__file__).parent / "toml-test"
REPO = Path(__file__).resolve().parents[2]
UPSTREAM = Path(
    os.environ.get("MUXC_TOML_TEST_DIR") or REPO.parent / "shared" / "conformance" / "toml-test" / "tests"
)

CASES = [line.strip() for line in (SUITE / "files-toml-1.0.0").read_text().splitlines() if line.strip()]
VALID = [case for case in CASES if case.startswith("valid/") and case.endswith(".toml")]
INVALID = [case for case in CASES if case.startswith("invalid/") and case.endswith(".toml")]


def same(a: object, b: object, *, ordered: bool = True) -> bool:
    """Equal, with types (and key order), NaN equal to NaN, time zones compared by offset."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        keys_match = list(a) == list(b) if ordered else sorted(a) == sorted(b)  # type: ignore[arg-type]
        return keys_match and all(same(a[k], b[k], ordered=ordered) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        pairs = zip(a, b, strict=False)  # type: ignore[call-overload]
        return len(a) == len(b) and all(same(x, y, ordered=ordered) for x, y in pairs)  # type: ignore[arg-type]
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b  # type: ignore[arg-type]
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a == b and a.utcoffset() == b.utcoffset()  # type: ignore[union-attr]
    return a == b


def test_the_suite_has_the_expected_size() -> None:
    assert (len(VALID), len(INVALID)) == (210, 499)


@pytest.mark.parametrize("case", VALID)
def test_valid(case: str) -> None:
    data = (SUITE / case).read_bytes()
    text = data.decode("utf-8")
    # tomllib does not skip a byte order mark; TOML (and toml-test) allow one at the start
    expected = tomllib.loads(text.removeprefix("\ufeff"))
    assert same(muxc.syntax.toml.loads(text), expected)
    assert same(muxc.syntax.toml.load(io.BytesIO(data)), expected)
    answer = json.loads((SUITE / case).with_suffix(".json").read_text(encoding="utf-8"))
    assert same(muxc.syntax.toml.loads(text), untag(answer), ordered=False)  # the JSON is sorted


@pytest.mark.parametrize("case", VALID)
def test_spans_of_valid_cases_cover_what_they_claim(case: str) -> None:
    doc = muxc.syntax.toml.parse((SUITE / case).read_bytes().decode("utf-8"))
    assert doc.root.span == Span(0, len(doc.text))
    check_table(doc.text, doc.root)


def check_table(text: str, table: Table) -> None:
    covered = text[table.span.start : table.span.end]
    opening, closing = {"inline": ("{", "}"), "header": ("[", "]"), "array-element": ("[[", "]]")}.get(
        table.kind, ("", "")
    )
    assert covered.startswith(opening) and covered.endswith(closing)
    for key, entry in table.entries.items():
        written = text[entry.key_span.start : entry.key_span.end]
        assert written == key or muxc.syntax.toml.loads(f"k = {written}")["k"] == key
        if isinstance(entry.value, Table) and entry.value.kind in ("dotted", "implicit"):
            assert text[entry.value.span.start : entry.value.span.end] == written
        check_node(text, entry.value)


def check_node(text: str, node: Node) -> None:
    assert 0 <= node.span.start < node.span.end <= len(text)
    covered = text[node.span.start : node.span.end]
    if isinstance(node, Table):
        check_table(text, node)
    elif isinstance(node, Array):
        assert covered.startswith("[") and covered.endswith("]")
        for item in node.items:
            check_node(text, item)
    elif isinstance(node, Str):
        assert covered[0] in "\"'" and covered[-1] == covered[0]
        for i, char in enumerate(node.value):
            assert text[node.source_offset(i)] in (char, "\\")
    else:
        assert covered == covered.strip() and "=" not in covered


@pytest.mark.parametrize("case", INVALID)
def test_invalid(case: str) -> None:
    data = (SUITE / case).read_bytes()
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.load(io.BytesIO(data))
    error = raised.value
    assert error.line >= 1 and error.column >= 1
    assert str(error) == f"{error.msg} (at line {error.line}, column {error.column})"
    assert not re.search(r"__ANON|\$END|[A-Z]{2,}_[A-Z]{2,}|Unexpected", error.msg), error.msg
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    with pytest.raises(TOMLError):
        muxc.syntax.toml.loads(text)
    assert 0 <= error.span.start <= error.span.end <= len(text)


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="the upstream toml-test copy is not here")
def test_the_copy_matches_upstream() -> None:
    stale = [case for case in CASES if (SUITE / case).read_bytes() != (UPSTREAM / case).read_bytes()]
    assert (SUITE / "files-toml-1.0.0").read_bytes() == (UPSTREAM / "files-toml-1.0.0").read_bytes()
    assert not stale


# ---------------------------------------------------------------------- toml-test's JSON answers

_FRACTION = re.compile(r"(\.\d{6})\d+")


def untag(node: object) -> object:
    """toml-test's tagged JSON ({"type": ..., "value": ...} for scalars) as Python values."""
    if isinstance(node, list):
        return [untag(item) for item in node]
    assert isinstance(node, dict)
    if set(node) == {"type", "value"} and isinstance(node["value"], str):
        return _scalar(node["type"], node["value"])
    return {key: untag(value) for key, value in node.items()}


def _scalar(kind: str, value: str) -> object:
    if kind == "string":
        return value
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return value == "true"
    if kind == "time-local":
        return datetime.time.fromisoformat(_FRACTION.sub(r"\1", value))
    if kind == "date-local":
        return datetime.date.fromisoformat(value)
    iso = _FRACTION.sub(r"\1", value.upper().replace(" ", "T"))
    return datetime.datetime.fromisoformat(iso)
