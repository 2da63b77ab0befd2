"""CSV column types: the narrowest type that holds every value of a column exactly, folded
block by block over the whole file (``Column.see``), so it never depends on block boundaries.

Cheap regex checks come before any cast: a cast that fails is slow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa, pc = lazy("pyarrow"), lazy("pyarrow.compute")

from . import _types as T

_INT = r"^(0|-?[1-9][0-9]*)$"
_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$|^(?i:[+-]?(nan|inf|infinity))$"
_NAMED = r"^(?i:[+-]?(nan|inf|infinity))$"
_ZERO = r"^-?[0.]*([eE].*)?$"
_OFFSET = r"(Z|[+-]\d\d:?\d\d)$"
_DATE = r"^\d{4}-\d\d-\d\d$"
_STAMP = r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d|$)"
#: a double holds every decimal number of up to 15 significant digits exactly (as text)
FLOAT_DIGITS = 15


class Column:
    """What the first pass knows of one column: the narrowest type every value so far
    reads back from exactly."""

    __slots__ = ("big", "digits", "fmt_time", "ints", "kind", "unsafe")

    def __init__(self) -> None:
        self.kind = T.NULL  # NULL, "number", BOOL, DATE, TIMESTAMP, TIMESTAMPTZ, "format", STRING
        self.ints = True  # every number so far is an integer
        self.big = False  # an integer beyond int64 (the column is decimal(38,0))
        self.unsafe = False  # an integer a double cannot hold (beyond 2**53)
        self.digits = 0  # most digits of an integer beyond int64
        self.fmt_time = False  # date_format values with a time of day

    def see(self, vals: pa.Array, date_format: str | None) -> None:
        if self.kind == T.STRING or len(vals) == 0:
            return
        if self.kind == T.NULL:
            probe = Column()
            if probe._numbers(vals):
                self.ints, self.big, self.unsafe = probe.ints, probe.big, probe.unsafe
                self.digits, self.kind = probe.digits, "number"
            else:
                self.kind = _first_kind(self, vals, date_format)
        elif self.kind == "number":
            if not self._numbers(vals):
                self.kind = T.STRING
        elif self.kind == T.DATE and not _dates(vals):
            self.kind = T.TIMESTAMP if _timestamps(vals, tz=False) else T.STRING
        elif self.kind in (T.TIMESTAMP, T.TIMESTAMPTZ):
            if not _timestamps(vals, tz=self.kind == T.TIMESTAMPTZ):
                self.kind = T.STRING
        elif (self.kind == T.BOOL and not _bools(vals)) or (
            self.kind == "format" and not _formatted(vals, date_format, self)
        ):
            self.kind = T.STRING

    def _numbers(self, vals: pa.Array) -> bool:
        """Fold a block into the column's numbers; False when some value is not a number
        or the column's type could not hold every value so far exactly."""
        if self.ints:
            if all_of(pc.match_substring_regex(vals, _INT)):
                try:
                    mm = pc.min_max(vals.cast(pa.int64()))
                except pa.ArrowInvalid:  # beyond int64: decimal(38,0)
                    self.big = self.unsafe = True
                    digits = pc.max(pc.utf8_length(pc.utf8_ltrim(vals, "-"))).as_py()
                    self.digits = max(self.digits, digits)
                    return True
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                self.unsafe |= lo < -T.FLOAT_EXACT_INT or hi > T.FLOAT_EXACT_INT
                return True
            if self.big or self.unsafe:
                return False  # integers a double cannot hold, then a fraction: text
            self.ints = False
        return _exact_floats(vals, self.kind == "number")

    def type(self) -> str:
        """The column's logical type (``null`` for a column of NULLs only)."""
        if self.kind == "number":
            if self.ints:
                return T.BIGINT if self.big else T.INT64
            return T.FLOAT64
        if self.kind == "format":
            return T.TIMESTAMP if self.fmt_time else T.DATE
        return self.kind


def _exact_floats(vals: pa.Array, known: bool) -> bool:
    """Whether every value is a number written plainly (no leading zeros, ``+`` or spaces)
    that a double holds exactly: at most 15 significant digits within a double's normal
    range, or the digits of the double's shortest text (as Python, JavaScript and Java
    print a float)."""
    if not known and not all_of(pc.match_substring_regex(vals, _NUMBER)):
        return False  # (a regex fails faster than a cast)
    try:
        nums = vals.cast(pa.float64())
    except pa.ArrowInvalid:
        return False
    shortest = nums.cast(pa.string())
    same = pc.equal(shortest, vals)
    if all_of(same):
        return True  # each is the double's own shortest text
    differ = pc.invert(same)
    vals, nums, shortest = vals.filter(differ), nums.filter(differ), shortest.filter(differ)
    if known and not all_of(pc.match_substring_regex(vals, _NUMBER)):
        return False
    finite = pc.is_finite(nums)
    if not all_of(finite) and not all_of(
        pc.match_substring_regex(vals.filter(pc.invert(finite)), _NAMED)
    ):
        return False  # beyond a double's range
    zero = pc.equal(nums, 0.0)
    if any_of(zero) and not all_of(pc.match_substring_regex(vals.filter(zero), _ZERO)):
        return False  # too small for a double
    long = pc.greater(pc.utf8_length(vals), FLOAT_DIGITS)
    if not any_of(long):
        return True
    text, nums, shortest = vals.filter(long), nums.filter(long), shortest.filter(long)
    core = _significant(text)
    exact = pc.equal(core, _significant(shortest))
    normal = pc.greater_equal(pc.abs(nums), 2.2250738585072014e-308)
    short = pc.and_(pc.less_equal(pc.utf8_length(core), FLOAT_DIGITS), normal)
    return all_of(pc.or_(pc.or_(exact, short), pc.invert(pc.is_finite(nums))))


def _significant(text: pa.Array) -> pa.Array:
    """The significant digits of numbers as text (no sign, point, exponent, outer zeros)."""
    mantissa = pc.replace_substring_regex(text, r"[eE].*$", "")
    return pc.utf8_trim(pc.replace_substring_regex(mantissa, r"[^0-9]", ""), "0")


def all_of(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py())


def any_of(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def _first_kind(col: Column, vals: pa.Array, date_format: str | None) -> str:
    """The kind of a column's first values that are not numbers."""
    if _bools(vals):
        return T.BOOL
    if date_format is not None and _formatted(vals, date_format, col):
        return "format"
    if _dates(vals):
        return T.DATE
    for tz, kind in ((False, T.TIMESTAMP), (True, T.TIMESTAMPTZ)):
        if _timestamps(vals, tz):
            return kind
    return T.STRING


def _bools(vals: pa.Array) -> bool:
    return all_of(pc.is_in(pc.utf8_lower(vals), pa.array(["true", "false"])))


def _dates(vals: pa.Array) -> bool:
    return all_of(pc.match_substring_regex(vals, _DATE)) and _casts(vals, pa.date32())


def _timestamps(vals: pa.Array, tz: bool) -> bool:
    if not all_of(pc.match_substring_regex(vals, _STAMP)):
        return False  # (a cast that fails is slow)
    offsets = pc.match_substring_regex(vals, _OFFSET)
    if not (all_of(offsets) if tz else not any_of(offsets)):
        return False
    return _casts(vals, T.to_arrow(T.TIMESTAMPTZ if tz else T.TIMESTAMP))


def _formatted(vals: pa.Array, fmt: str | None, col: Column | None) -> bool:
    try:
        ts = pc.strptime(vals, format=fmt, unit="us")
    except (pa.ArrowInvalid, ValueError):
        return False
    if col is not None and not col.fmt_time:
        col.fmt_time = any_of(pc.not_equal(ts.cast(pa.date32()).cast(ts.type), ts))
    return True


def _casts(vals: pa.Array, to: pa.DataType) -> bool:
    try:
        vals.cast(to)
    except (pa.ArrowInvalid, ValueError):
        return False
    return True
