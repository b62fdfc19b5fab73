"""Spans, comments and error messages of muxc.syntax.toml, and properties checked with hypothesis.

Spans are what diagnostics point at, so they are asserted as the source text they cover.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
import pickle
import string
import tomllib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import muxc.syntax.toml
from muxc.diagnostics.span import Span
from muxc.lang.document import Array, Document, Scalar, Str, Table
from muxc.syntax.toml import TOMLError


def covered(doc: Document, span: Span) -> str:
    return doc.text[span.start : span.end]


def entry_at(doc: Document, *path: str):
    table = doc.root
    for key in path[:-1]:
        value = table.entries[key].value
        table = value.items[-1] if isinstance(value, Array) else value
    return table.entries[path[-1]]


# ---------------------------------------------------------------------- keys and values


def test_key_and_value_spans_cover_the_text_as_written() -> None:
    doc = muxc.syntax.toml.parse('name = "muxc"\n"quoted key" = 1\n\'lit\' = 2.5\nwhen = 1979-05-27T07:32:00Z\n')
    assert covered(doc, entry_at(doc, "name").key_span) == "name"
    assert covered(doc, entry_at(doc, "name").value.span) == '"muxc"'
    assert covered(doc, entry_at(doc, "quoted key").key_span) == '"quoted key"'
    assert covered(doc, entry_at(doc, "lit").key_span) == "'lit'"
    assert covered(doc, entry_at(doc, "lit").value.span) == "2.5"
    assert covered(doc, entry_at(doc, "when").value.span) == "1979-05-27T07:32:00Z"


def test_arrays_and_inline_tables_span_their_brackets() -> None:
    doc = muxc.syntax.toml.parse("a = [ 1, [2, 3],\n  # a comment\n  {x = 'y'} ]\n")
    array = entry_at(doc, "a").value
    assert isinstance(array, Array)
    assert covered(doc, array.span) == "[ 1, [2, 3],\n  # a comment\n  {x = 'y'} ]"
    assert [covered(doc, item.span) for item in array.items] == ["1", "[2, 3]", "{x = 'y'}"]
    inline = array.items[2]
    assert isinstance(inline, Table) and inline.kind == "inline"
    assert covered(doc, inline.entries["x"].value.span) == "'y'"


def test_dotted_keys_make_dotted_tables_spanning_their_key_part() -> None:
    doc = muxc.syntax.toml.parse("a.b.c = 1\na.d = 2\n")
    a = entry_at(doc, "a")
    assert isinstance(a.value, Table) and a.value.kind == "dotted"
    assert covered(doc, a.key_span) == "a" and a.key_span == a.value.span == Span(0, 1)
    b = a.value.entries["b"]
    assert b.value.kind == "dotted" and b.key_span == Span(2, 3)
    assert covered(doc, b.value.entries["c"].key_span) == "c"
    assert list(a.value.entries) == ["b", "d"]


def test_headers_span_the_header_and_their_entry_the_last_key_part() -> None:
    doc = muxc.syntax.toml.parse('[server."main host"]\nport = 80\n')
    server = entry_at(doc, "server")
    assert server.value.kind == "implicit" and covered(doc, server.value.span) == "server"
    main = entry_at(doc, "server", "main host")
    assert main.value.kind == "header"
    assert covered(doc, main.value.span) == '[server."main host"]'
    assert covered(doc, main.key_span) == '"main host"'


def test_an_implied_table_defined_later_takes_the_defining_header() -> None:
    doc = muxc.syntax.toml.parse("[a.b]\nx = 1\n\n[a]\ny = 2\n")
    a = entry_at(doc, "a")
    assert a.value.kind == "header"
    assert a.value.span == Span(13, 16) and covered(doc, a.value.span) == "[a]"
    assert a.key_span == Span(14, 15)
    assert list(a.value.entries) == ["b", "y"]


def test_arrays_of_tables_span_each_element_header() -> None:
    doc = muxc.syntax.toml.parse("[[steps]]\nid = 1\n\n# second step\n[[ steps ]]  # again\nid = 2\n")
    steps = entry_at(doc, "steps")
    assert isinstance(steps.value, Array)
    assert covered(doc, steps.key_span) == "steps" and steps.key_span == Span(2, 7)
    assert steps.value.span == Span(0, 9)
    first, second = steps.value.items
    assert (first.kind, second.kind) == ("array-element", "array-element")
    assert covered(doc, first.span) == "[[steps]]"
    assert covered(doc, second.span) == "[[ steps ]]"
    assert second.comments == (" second step", " again")
    assert covered(doc, second.entries["id"].value.span) == "2"


def test_the_root_spans_the_whole_text() -> None:
    text = "a = 1\n# end\n"
    doc = muxc.syntax.toml.parse(text)
    assert doc.root.kind == "root" and doc.root.span == Span(0, len(text)) and doc.text == text


# ---------------------------------------------------------------------- comments


def test_comments_go_to_the_next_statement_and_trailing_ones_to_the_document() -> None:
    doc = muxc.syntax.toml.parse(
        "# one\n#two\n\nname = 'x' # same line\nother = 1\n#  header comment\n[table] # on header\n"
        "key = 2\n# last\n#\n"
    )
    assert entry_at(doc, "name").comments == (" one", "two", " same line")
    assert entry_at(doc, "other").comments == ()
    assert entry_at(doc, "table").value.comments == ("  header comment", " on header")
    assert entry_at(doc, "table", "key").comments == ()
    assert doc.trailing_comments == (" last", "")


def test_comments_inside_arrays_go_to_their_key_in_source_order() -> None:
    doc = muxc.syntax.toml.parse(
        "# above\nglobs = [ # opening\n  'a', # after a\n  [ 'b', # nested\n  ],\n  # alone\n] # closing\n"
        "next = [1, 2]\n"
    )
    assert entry_at(doc, "globs").comments == (" above", " opening", " after a", " nested", " alone", " closing")
    assert entry_at(doc, "next").comments == ()


def test_comments_keep_their_text_exactly_and_lose_the_crlf() -> None:
    doc = muxc.syntax.toml.parse("#\tTabbed  #inner\r\na = 1 #x\r\n")
    assert entry_at(doc, "a").comments == ("\tTabbed  #inner", "x")


def test_a_dotted_key_line_gives_its_comments_to_the_last_part() -> None:
    doc = muxc.syntax.toml.parse("# above\na.b = 1 # after\n")
    assert entry_at(doc, "a").comments == ()
    assert entry_at(doc, "a", "b").comments == (" above", " after")


# ---------------------------------------------------------------------- string pieces


def test_a_plain_string_has_one_piece_at_its_first_character() -> None:
    doc = muxc.syntax.toml.parse('key_name = "abc"')
    value = entry_at(doc, "key_name").value
    assert isinstance(value, Str) and value.span == Span(11, 16)
    assert value.pieces == ((0, 12),)
    assert [value.source_offset(i) for i in range(4)] == [12, 13, 14, 15]


def test_escapes_map_to_their_backslash_and_the_next_character_after_them() -> None:
    text = 's = "a\\nb\\u00e9c\\U0001F600d"'
    value = entry_at(muxc.syntax.toml.parse(text), "s").value
    assert value.value == "a\nb\u00e9c\U0001f600d"
    assert [text[value.source_offset(i)] for i in range(len(value.value))] == list("a\\b\\c\\d")
    assert value.source_offset(len(value.value)) == len(text) - 1  # the closing quote


def test_multiline_strings_skip_the_first_newline_and_line_continuations() -> None:
    text = 's = """\nfirst \\\n    second\\\r\n\r\n  third"""'
    value = entry_at(muxc.syntax.toml.parse(text), "s").value
    assert value.value == "first secondthird"
    for i, char in enumerate(value.value):
        assert text[value.source_offset(i)] == char


def test_crlf_in_a_multiline_string_decodes_to_lf_like_tomllib() -> None:
    text = "s = '''\r\none\r\ntwo\r\n'''\r\nt = \"\"\"a\r\nb\"\"\""
    doc = muxc.syntax.toml.parse(text)
    assert muxc.syntax.toml.loads(text) == tomllib.loads(text) == {"s": "one\ntwo\n", "t": "a\nb"}
    for name in ("s", "t"):
        value = entry_at(doc, name).value
        assert [text[value.source_offset(i)] for i in range(len(value.value))] == list(value.value)


def test_quotes_closing_a_multiline_string_belong_to_it() -> None:
    text = 'q = """say ""hi"""""'
    value = entry_at(muxc.syntax.toml.parse(text), "q").value
    assert value.value == 'say ""hi""'
    assert text[value.source_offset(len(value.value) - 1)] == '"'


# ---------------------------------------------------------------------- errors users make

MISTAKES = [
    ("name Tom = 1", 1, 6, "expected '=' after the key"),
    ("a = 1\nb = \nc = 2", 2, 5, "expected a value after '='"),
    ("a = 1\nb = 2\na = 3", 3, 1, "duplicate key 'a' (first defined at line 1)"),
    ('s = "a\\qb"', 1, 7, "invalid escape sequence '\\q'"),
    (
        's = "abc\nt = 1',
        1,
        5,
        'unterminated string: no closing " on this line (use triple quotes for a multi-line string)',
    ),
    ("[a]\nx = 1\n\n[a]\ny = 2", 4, 1, "table [a] is defined twice (first at line 1)"),
    ("a = {b = 1}\na.c = 2", 2, 1, "cannot add a key to inline table 'a' after it is closed (line 1)"),
    ("n = 9223372036854775808", 1, 5, "integer 9223372036854775808 does not fit in 64 bits"),
    ("a = 1 # bell\x07", 1, 13, "control character U+0007 is not allowed in a comment"),
    ("t = {a = 1,}", 1, 12, "trailing comma is not allowed in an inline table"),
    ("t = {a = 1,\nb = 2}", 1, 12, "expected '}': inline tables must be on one line"),
    ("a = [1 2]", 1, 8, "expected ',' or ']' after the value in the array"),
    ("a = 012", 1, 5, "invalid number '012': leading zeros are not allowed"),
    ("name = Tom", 1, 8, "invalid value 'Tom': strings must be quoted"),
    ("[a.b\nx = 1", 1, 5, "expected ']' to close the table header"),
    ("d = 2021-02-30", 1, 5, "invalid date '2021-02-30': day is out of range for month"),
    ("[a] x = 1", 1, 5, "expected the end of the line after the table header"),
    ("a = 1 b = 2", 1, 7, "expected the end of the line after the value"),
    ("a = [1]\na.b = 2", 2, 1, "cannot add a key to 'a': it is an array (line 1), not a table"),
    ('s = "\\uD800"', 1, 6, "invalid escape sequence '\\uD800': surrogate code points are not allowed"),
    ("[[a]]\n[a]", 2, 1, "cannot define table [a]: 'a' is already an array of tables (line 1)"),
    (
        "a@b = 1",
        1,
        2,
        "invalid character '@' in a bare key: bare keys use only A-Z, a-z, 0-9, '_' and '-' "
        "(quote the key to use other characters)",
    ),
    ("x = '''\nnever closed", 1, 5, "unterminated multi-line string: no closing '''"),
    (
        "a = 1\r2",
        1,
        6,
        "a carriage return (U+000D) must be followed by a line feed (a bare carriage return is not a line break)",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "message"), MISTAKES, ids=[m[3][:40] for m in MISTAKES])
def test_typical_mistakes_are_reported_where_they_are(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.parse(text)
    error = raised.value
    assert (error.line, error.column, error.msg) == (line, column, message)
    assert str(error) == f"{message} (at line {line}, column {column})"
    assert error.offset == error.span.start and 0 <= error.span.start <= error.span.end <= len(text)


def test_a_duplicate_points_back_at_the_first_definition() -> None:
    text = "[a]\nkey = 1\n[b]\n[a]\n"
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.parse(text)
    assert raised.value.span == Span(16, 19) and raised.value.related == Span(0, 3)
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.parse("x = 1\n'x' = 2")
    assert raised.value.related == Span(0, 1) and raised.value.span == Span(6, 9)


def test_columns_count_characters_not_bytes() -> None:
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.parse('"ééé" = "ü" 2')
    assert (raised.value.line, raised.value.column, raised.value.offset) == (1, 13, 12)


def test_invalid_utf8_is_reported_at_the_bad_byte() -> None:
    with pytest.raises(TOMLError) as raised:
        muxc.syntax.toml.load(io.BytesIO(b'a = 1\nb = "\xc3\xa9\xff"'))
    error = raised.value
    assert (error.line, error.column) == (2, 7)
    assert error.msg.startswith("the text is not valid UTF-8")


def test_an_error_is_a_value_error_that_survives_pickling() -> None:
    with pytest.raises(ValueError) as raised:
        muxc.syntax.toml.loads("a = ")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert isinstance(copy, TOMLError) and str(copy) == str(raised.value) and copy.span == raised.value.span


def test_nesting_is_limited_instead_of_exhausting_the_stack() -> None:
    # the key is one level, each array another: 100 in all is the limit
    assert muxc.syntax.toml.loads("a = " + "[" * 99 + "]" * 99)["a"] is not None
    for text in ("a = " + "[" * 100 + "]" * 100, "a = " + "[" * 5000, "[" + ".".join("k" * 101) + "]"):
        with pytest.raises(TOMLError, match="nested too deeply"):
            muxc.syntax.toml.loads(text)


def test_a_byte_order_mark_at_the_start_is_skipped() -> None:
    assert muxc.syntax.toml.loads("\ufeffa = 1") == {"a": 1}
    assert muxc.syntax.toml.load(io.BytesIO(b"\xef\xbb\xbfa = 1")) == {"a": 1}


# ---------------------------------------------------------------------- properties

_KEYS = st.text(min_size=0, max_size=8)
_SCALARS = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.dates(),
    st.times(),
    st.datetimes(),
    st.datetimes(
        timezones=st.builds(
            datetime.timezone, st.integers(-1439, 1439).map(lambda m: datetime.timedelta(minutes=m))
        )
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_DOCUMENTS = st.dictionaries(_KEYS, _VALUES, max_size=6)


def dump(document: dict) -> str:
    """A small TOML writer: [tables] and [[arrays of tables]] for nested data, inline values else."""
    lines: list[str] = []
    _dump_table(document, (), lines)
    return "\n".join(lines) + "\n"


def _dump_table(table: dict, path: tuple[str, ...], lines: list[str]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, dict) or _is_table_array(v)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        header = ".".join(_key(part) for part in (*path, key))
        if isinstance(value, dict):
            lines.append(f"[{header}]")
            _dump_table(value, (*path, key), lines)
        else:
            for item in value:
                lines.append(f"[[{header}]]")
                _dump_table(item, (*path, key), lines)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _key(key: str) -> str:
    return key if key and all(c in string.ascii_letters + string.digits + "_-" for c in key) else _string(key)


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif (ord(char) < 0x20 and char != "\t") or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: object) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if value == math.inf else "-inf" if value == -math.inf else repr(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_what_a_dumper_writes_reads_back_the_same(document: dict) -> None:
    text = dump(document)
    assert muxc.syntax.toml.loads(text) == tomllib.loads(text) == document


_TOML_CHARACTERS = st.sampled_from(
    [*"[]{}=.,\"'#\n\r\t \\abtfnrue0129:-+_xoTZ.", "é", "\x00", "\x7f", "\ufeff"]
)
_TOMLISH = st.lists(_TOML_CHARACTERS, max_size=40).map("".join)


@settings(max_examples=1000)
@given(st.one_of(st.text(max_size=60), _TOMLISH))
def test_any_text_parses_or_raises_a_toml_error_exactly_when_tomllib_does(text: str) -> None:
    try:
        reference = tomllib.loads(text.removeprefix("\ufeff"))  # TOML allows a BOM; tomllib does not
    except tomllib.TOMLDecodeError:
        reference = None
    try:
        value = muxc.syntax.toml.loads(text)
    except TOMLError as error:
        assert 0 <= error.span.start <= error.span.end <= len(text)
        assert error.line >= 1 and error.column >= 1
        assert reference is None or "does not fit in 64 bits" in error.msg
        return
    assert reference is not None
    assert value == reference or _has_nan(reference)


@settings(max_examples=300)
@given(st.binary(max_size=60))
def test_any_bytes_load_or_raise_a_toml_error(data: bytes) -> None:
    with contextlib.suppress(TOMLError):  # anything else fails the test
        muxc.syntax.toml.load(io.BytesIO(data))


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


@given(st.text(max_size=30))
def test_unescaped_characters_map_to_themselves_and_escapes_to_their_backslash(content: str) -> None:
    literal = _string(content)
    text = f"k = {literal}"
    value = entry_at(muxc.syntax.toml.parse(text), "k").value
    assert value.value == content
    raw = iter(_source_chars(content))
    for i, char in enumerate(content):
        assert text[value.source_offset(i)] == next(raw)
        assert text[value.source_offset(i)] in (char, "\\")


def _source_chars(content: str) -> list[str]:
    """What each character of ``content`` starts with in ``_string(content)``."""
    return [_string(char)[1] for char in content]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="'\r"), max_size=30))
def test_literal_and_multiline_strings_map_every_character_to_itself(content: str) -> None:
    assume(all(ord(c) >= 0x20 or c in "\t\n" for c in content) and "\x7f" not in content)
    for crlf in (False, True):
        body = content.replace("\n", "\r\n") if crlf else content
        text = f"a = '''\n{body}'''\nb = \"\"\"\n{body.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}\"\"\""
        doc = muxc.syntax.toml.parse(text)
        a = entry_at(doc, "a").value
        assert a.value == content
        assert [text[a.source_offset(i)] for i in range(len(content))] == list(content)
        b = entry_at(doc, "b").value
        assert b.value == content
        for i, char in enumerate(content):
            assert text[b.source_offset(i)] in (char, "\\")
        if "\n" not in content:
            single = f"c = '{content}'"
            c = entry_at(muxc.syntax.toml.parse(single), "c").value
            assert [single[c.source_offset(i)] for i in range(len(content))] == list(content)


def test_scalar_values_equal_tomllibs_exactly() -> None:
    text = (
        "i = [0xDEAD_beef, 0o17, 0b101, -0, +1_000]\n"
        "f = [1e10, -2.5E-3, 6.02_2e23, inf, -inf, 0.1]\n"
        "d = [1979-05-27T07:32:00.999999999-07:00, 1979-05-27 07:32:00Z, 1979-05-27t07:32:00.1, 1979-05-27]\n"
        "t = [07:32:00, 00:32:00.5, 23:59:59.1234567]\n"
    )
    ours, theirs = muxc.syntax.toml.loads(text), tomllib.loads(text)
    assert ours == theirs
    for got, want in zip(ours["d"][:2], theirs["d"][:2], strict=True):
        assert got.utcoffset() == want.utcoffset() and got.tzinfo == want.tzinfo
    assert isinstance(ours["i"][0], int) and isinstance(ours["f"][0], float)
    assert math.isnan(muxc.syntax.toml.loads("n = -nan")["n"])


def test_scalar_nodes_keep_their_python_types() -> None:
    doc = muxc.syntax.toml.parse("b = true\nd = 2024-01-02\n")
    assert isinstance(entry_at(doc, "b").value, Scalar) and entry_at(doc, "b").value.value is True
    assert type(entry_at(doc, "d").value.value) is datetime.date
