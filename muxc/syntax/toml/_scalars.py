"""Turn number, boolean and date/time tokens into ``Scalar`` nodes, exactly as tomllib does.

The grammar's terminals already guarantee the shape of each token (digits, underscores
between digits, two-digit months, seconds present, ...), so these functions only convert,
check what a regexp cannot (the 64-bit range, the days of a month) and, for a word the
grammar could not classify (``INVALID_VALUE``), say what is wrong with it.

Invariants:
- values equal tomllib's: ints are Python ints, floats come from ``float()`` (so ``nan``,
  ``-nan`` and ``inf`` too), date-times carry ``timezone.utc`` for ``Z`` and a fixed
  ``timezone(timedelta(...))`` for offsets, fractions beyond microseconds are truncated;
- integers outside the signed 64-bit range are rejected (TOML 1.0 requires that), which
  tomllib does not do.
"""

from __future__ import annotations

import datetime
import re
from functools import cache

from muxc.diagnostics.span import Span
from muxc.lang.document import Scalar
from muxc.syntax.toml.errors import Problem

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"[0-9]+")


def decimal_integer(token: str, start: int, end: int) -> Scalar:
    return _integer(int(token), token, start, end)


def prefixed_integer(token: str, start: int, end: int) -> Scalar:
    """Hexadecimal (0x), octal (0o) or binary (0b)."""
    return _integer(int(token, 0), token, start, end)


def _integer(value: int, token: str, start: int, end: int) -> Scalar:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise Problem(f"integer {token} does not fit in 64 bits", Span(start, end))
    return Scalar(value, Span(start, end))


def float_(token: str, start: int, end: int) -> Scalar:
    return Scalar(float(token), Span(start, end))


def boolean(token: str, start: int, end: int) -> Scalar:
    return Scalar(token == "true", Span(start, end))


def offset_datetime(token: str, start: int, end: int) -> Scalar:
    return Scalar(_datetime(token, start, end, _timezone(token)), Span(start, end))


def local_datetime(token: str, start: int, end: int) -> Scalar:
    return Scalar(_datetime(token, start, end, None), Span(start, end))


def local_date(token: str, start: int, end: int) -> Scalar:
    return Scalar(_date(token, start, end), Span(start, end))


def local_time(token: str, start: int, end: int) -> Scalar:
    hour, minute, second = int(token[0:2]), int(token[3:5]), int(token[6:8])
    return Scalar(datetime.time(hour, minute, second, _microseconds(token, 8)), Span(start, end))


def _date(token: str, start: int, end: int) -> datetime.date:
    try:
        return datetime.date(int(token[0:4]), int(token[5:7]), int(token[8:10]))
    except ValueError as error:  # a day the month does not have
        raise Problem(f"invalid date '{token[:10]}': {error}", Span(start, start + 10)) from None


def _datetime(token: str, start: int, end: int, tz: datetime.tzinfo | None) -> datetime.datetime:
    date = _date(token, start, end)
    hour, minute, second = int(token[11:13]), int(token[14:16]), int(token[17:19])
    micros = _microseconds(token, 19)
    return datetime.datetime(date.year, date.month, date.day, hour, minute, second, micros, tzinfo=tz)


def _microseconds(token: str, at: int) -> int:
    """The fraction of a second starting at ``token[at]`` ('.'), truncated to microseconds."""
    if token[at : at + 1] != ".":
        return 0
    digits = _DIGITS.match(token, at + 1).group()  # the grammar requires at least one
    return int(digits[:6].ljust(6, "0"))


def _timezone(token: str) -> datetime.tzinfo:
    if token[-1] in "Zz":
        return datetime.UTC
    return _fixed_offset(token[-6:])


@cache
def _fixed_offset(offset: str) -> datetime.timezone:
    sign = -1 if offset[0] == "-" else 1
    return datetime.timezone(
        datetime.timedelta(hours=sign * int(offset[1:3]), minutes=sign * int(offset[4:6]))
    )


# ---------------------------------------------------------------------- what is wrong with a word

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DATE_LIKE = re.compile(r"[0-9]+-[0-9]+-|[0-9]{1,2}:[0-9]")
_NUMBER_LIKE = re.compile(r"[+-]?(?:[0-9.]|inf|nan)", re.IGNORECASE)
_LEADING_ZERO = re.compile(r"[+-]?0[0-9_]")
_BAD_UNDERSCORE = re.compile(r"__|_$|^[+-]?_|_[.eE]|[.eExob]_|[+-]_")
_BOOLEAN_LIKE = re.compile(r"true|false", re.IGNORECASE)
_SPECIAL_FLOAT_LIKE = re.compile(r"[+-]?(?:inf|nan)", re.IGNORECASE)


def invalid_value(token: str, start: int, end: int) -> Scalar:
    """Always raises: ``token`` sits where a value belongs but is none (INVALID_VALUE)."""
    raise Problem(_why_invalid(token, start), _why_span(token, start, end))


def _why_invalid(token: str, start: int) -> str:
    control = _CONTROL.search(token)
    if control is not None:
        return f"control character U+{ord(control.group()):04X} is not allowed here"
    shown = _shown(token)
    if _DATE_LIKE.match(token):
        return f"invalid date or time '{shown}': expected a form like 1979-05-27, 07:32:00 or 1979-05-27T07:32:00Z"
    if _BOOLEAN_LIKE.fullmatch(token):
        return f"invalid value '{shown}': booleans are lowercase 'true' and 'false'"
    if _SPECIAL_FLOAT_LIKE.fullmatch(token):
        return f"invalid number '{shown}': write inf and nan in lowercase"
    if _NUMBER_LIKE.match(token):
        return _why_invalid_number(token)
    return f"invalid value '{shown}': strings must be quoted"


def _shown(token: str) -> str:
    """The token with invisible characters (a stray byte order mark, say) made visible."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in token)


def _why_invalid_number(token: str) -> str:
    if _LEADING_ZERO.match(token) and not token.lstrip("+-").startswith(("0.", "0e", "0E")):
        return f"invalid number '{token}': leading zeros are not allowed"
    if "_" in token and _BAD_UNDERSCORE.search(token):
        return f"invalid number '{token}': an underscore must sit between two digits"
    return f"invalid number '{token}'"


def _why_span(token: str, start: int, end: int) -> Span:
    control = _CONTROL.search(token)
    if control is not None:
        return Span(start + control.start(), start + control.start() + 1)
    return Span(start, end)
