"""What each terminal and rule of ``grammar/toml.lark`` turns into while the text is parsed.

Terminal callbacks get the token text and its offsets when the parser shifts the token;
rule callbacks get the per-parse ``Builder`` and the rule's children (as Lark's tree builder
would pass them: filtered tokens dropped, ``[optional]`` items as ``None``). Values become
document nodes at once; statements go to the builder line by line, in source order.

Child conventions: a key part is a ``Str``; a comment is ``(offset, text after #)``; an
opening bracket is its start offset and a closing bracket its end offset.
"""

from __future__ import annotations

from muxc.diagnostics.span import Span
from muxc.lang.document import Str
from muxc.syntax.toml import _scalars, _strings
from muxc.syntax.toml._builder import KEYVAL, TABLE, TABLE_ARRAY, Builder


def _start_offset(token: str, start: int, end: int) -> int:
    return start


def _end_offset(token: str, start: int, end: int) -> int:
    return end


def _bare_key(token: str, start: int, end: int) -> Str:
    return Str(token, Span(start, end), ((0, start),))


def _comment(token: str, start: int, end: int) -> tuple[int, str]:
    text = token[1:]
    bad = _strings.COMMENT_CONTROL.search(text)
    if bad is not None:
        raise _strings.control_problem(bad.group(), start + 1 + bad.start(), "in a comment")
    return start, text


TERMINALS = {
    "BARE_KEY": _bare_key,
    "BASIC_STRING": _strings.basic_string,
    "ML_BASIC_STRING": _strings.multiline_basic_string,
    "LITERAL_STRING": _strings.literal_string,
    "ML_LITERAL_STRING": _strings.multiline_literal_string,
    "DEC_INT": _scalars.decimal_integer,
    "HEX_INT": _scalars.prefixed_integer,
    "OCT_INT": _scalars.prefixed_integer,
    "BIN_INT": _scalars.prefixed_integer,
    "FLOAT": _scalars.float_,
    "BOOLEAN": _scalars.boolean,
    "OFFSET_DATETIME": _scalars.offset_datetime,
    "LOCAL_DATETIME": _scalars.local_datetime,
    "LOCAL_DATE": _scalars.local_date,
    "LOCAL_TIME": _scalars.local_time,
    "INVALID_VALUE": _scalars.invalid_value,
    "COMMENT": _comment,
    "TABLE_OPEN": _start_offset,
    "ARRAY_TABLE_OPEN": _start_offset,
    "ARRAY_OPEN": _start_offset,
    "INLINE_OPEN": _start_offset,
    "TABLE_CLOSE": _end_offset,
    "ARRAY_TABLE_CLOSE": _end_offset,
    "ARRAY_CLOSE": _end_offset,
    "INLINE_CLOSE": _end_offset,
}


def _start(builder: Builder, children: list) -> None:
    return None  # every line already went to the builder


def _line(builder: Builder, children: list) -> None:
    comment = children[1]
    builder.line(children[0], None if comment is None else comment[1])


def _keyval(builder: Builder, children: list) -> tuple:
    return (KEYVAL, children[0], children[1])


def _key(builder: Builder, children: list) -> tuple[Str, ...]:
    return tuple(children)


def _table_header(builder: Builder, children: list) -> tuple:
    start, key, end = children
    return (TABLE, key, Span(start, end))


def _array_table_header(builder: Builder, children: list) -> tuple:
    start, key, end = children
    return (TABLE_ARRAY, key, Span(start, end))


def _array(builder: Builder, children: list):
    inside = children[1:-1]
    items = [child for child in inside if child.__class__ is not tuple]
    comments = [child for child in inside if child.__class__ is tuple] if len(items) != len(inside) else ()
    return builder.array(items, Span(children[0], children[-1]), comments)


def _inline_table(builder: Builder, children: list):
    return builder.inline_table(children[1:-1], Span(children[0], children[-1]))


RULES = {
    "start": _start,
    "line": _line,
    "keyval": _keyval,
    "key": _key,
    "table_header": _table_header,
    "array_table_header": _array_table_header,
    "array": _array,
    "inline_table": _inline_table,
}
