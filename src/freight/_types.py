"""Logical column types: names, Arrow mapping, widening and lossless value conversion.

A logical type is a short string: ``bool``, ``int64``, ``float64``, ``decimal(p,s)``
(``decimal(38,0)`` holds integers beyond int64), ``string``, ``binary``, ``date``, ``time``,
``timestamp`` (naive), ``timestamptz`` (an instant, stored in UTC), ``interval`` (a
``timedelta``, exact to the microsecond), ``uuid``, ``json`` and ``null`` (no non-null value seen yet). Destinations map them to native types.

Everything here is pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = lazy("pyarrow")

NULL = "null"
BOOL = "bool"
INT64 = "int64"
FLOAT64 = "float64"
STRING = "string"
BINARY = "binary"
DATE = "date"
TIME = "time"
TIMESTAMP = "timestamp"
TIMESTAMPTZ = "timestamptz"
INTERVAL = "interval"
UUID = "uuid"
JSON = "json"
BIGINT = "decimal(38,0)"  # integers beyond int64

MAX_DECIMAL_PRECISION = 38
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT_EXACT_INT = 2**53

SIMPLE_TYPES = (
    BOOL,
    INT64,
    FLOAT64,
    STRING,
    BINARY,
    DATE,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    INTERVAL,
    UUID,
    JSON,
)

_DECIMAL_RE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")

#: Names users may give in ``columns=`` and what they mean.
ALIASES = {
    "boolean": BOOL,
    "int": INT64,
    "integer": INT64,
    "bigint": INT64,
    "long": INT64,
    "float": FLOAT64,
    "double": FLOAT64,
    "text": STRING,
    "str": STRING,
    "varchar": STRING,
    "bytes": BINARY,
    "blob": BINARY,
    "datetime": TIMESTAMP,
    "timestamp_tz": TIMESTAMPTZ,
    "jsonb": JSON,
    "hugeint": BIGINT,
    "duration": INTERVAL,
    "timedelta": INTERVAL,
}


def parse_decimal(t: str) -> tuple[int, int] | None:
    m = _DECIMAL_RE.match(t)
    return (int(m.group(1)), int(m.group(2))) if m else None


def decimal_type(precision: int, scale: int) -> str:
    return f"decimal({precision},{scale})"


def normalize(name: str) -> str:
    """Return the canonical logical type for a user-given name, or raise ``ValueError``."""
    t = name.strip().lower().replace(" ", "")
    t = ALIASES.get(t, t)
    if t in SIMPLE_TYPES:
        return t
    if t == "decimal" or t == "numeric":
        return decimal_type(MAX_DECIMAL_PRECISION, 9)
    t = t.replace("numeric", "decimal")
    pd = parse_decimal(t)
    if pd and 0 < pd[0] <= MAX_DECIMAL_PRECISION and 0 <= pd[1] <= pd[0]:
        return decimal_type(*pd)
    raise ValueError(f"unknown column type {name!r}")


# --------------------------------------------------------------------------- Arrow mapping


def to_arrow(t: str) -> pa.DataType:
    if t == NULL:
        return pa.null()
    if t == BOOL:
        return pa.bool_()
    if t == INT64:
        return pa.int64()
    if t == FLOAT64:
        return pa.float64()
    if t in (STRING, JSON):
        return pa.string()
    if t == BINARY:
        return pa.binary()
    if t == DATE:
        return pa.date32()
    if t == TIME:
        return pa.time64("us")
    if t == TIMESTAMP:
        return pa.timestamp("us")
    if t == TIMESTAMPTZ:
        return pa.timestamp("us", tz="UTC")
    if t == INTERVAL:
        return pa.duration("us")
    if t == UUID:
        return pa.uuid()
    pd = parse_decimal(t)
    if pd:
        return pa.decimal128(*pd)
    raise ValueError(f"no Arrow type for {t!r}")


def from_arrow(at: pa.DataType) -> str | None:
    """The logical type an Arrow column maps to, or None when it needs per-value handling
    (nested types become JSON through Python values)."""
    if pa.types.is_null(at):
        return NULL
    if pa.types.is_boolean(at):
        return BOOL
    if pa.types.is_integer(at):
        return INT64 if at != pa.uint64() else None
    if pa.types.is_floating(at):
        return FLOAT64
    if pa.types.is_decimal(at):
        if at.precision <= MAX_DECIMAL_PRECISION:
            return decimal_type(at.precision, at.scale)
        return None
    if pa.types.is_string(at) or pa.types.is_large_string(at) or pa.types.is_string_view(at):
        return STRING
    if (
        pa.types.is_binary(at)
        or pa.types.is_large_binary(at)
        or pa.types.is_fixed_size_binary(at)
        or pa.types.is_binary_view(at)
    ):
        return BINARY
    if pa.types.is_date(at):
        return DATE
    if pa.types.is_time(at):
        return TIME if at.unit in ("s", "ms", "us") else None
    if pa.types.is_timestamp(at):
        if at.unit == "ns":
            return None
        return TIMESTAMPTZ if at.tz else TIMESTAMP
    if pa.types.is_duration(at):
        return INTERVAL if at.unit != "ns" else None
    if isinstance(at, pa.UuidType) or str(at) == "extension<arrow.uuid>":
        return UUID
    if pa.types.is_dictionary(at):
        return from_arrow(at.value_type)
    return None


# --------------------------------------------------------------------------- Python values


def _decimal_digits(d: Decimal) -> tuple[int, int]:
    """(integer digits, scale) of a finite Decimal."""
    _sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    n = len(digits)
    scale = max(0, -exp)
    int_digits = max(n + exp, 1) if n + exp > 0 else 1
    return int_digits, scale


def value_type(v: Any) -> str | None:
    """The natural logical type of one Python value, or None if freight cannot store it."""
    t = type(v)
    if t is str:
        return STRING
    if t is int:
        return INT64 if INT64_MIN <= v <= INT64_MAX else BIGINT
    if t is float:
        return FLOAT64
    if t is bool:
        return BOOL
    if v is None:
        return NULL
    if t is dt.datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            return TIMESTAMP
        return TIMESTAMPTZ if _utc_in_range(v) else None
    if t is dt.date:
        return DATE
    if t is Decimal:
        if not v.is_finite():
            return None
        i, s = _decimal_digits(v)
        if i + s > MAX_DECIMAL_PRECISION:
            return None
        return decimal_type(max(i + s, 1), s)
    if t in (dict, list, tuple):
        return JSON
    if t is bytes:
        return BINARY
    if t is uuid.UUID:
        return UUID
    if t is dt.timedelta:
        return INTERVAL
    if t is dt.time:
        return TIME if v.tzinfo is None else None
    # subclasses and foreign scalars (numpy, pandas)
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return value_type(int(v))
    if isinstance(v, float):
        return FLOAT64
    if isinstance(v, str):
        return STRING
    if isinstance(v, dt.datetime):
        return value_type(dt.datetime.fromisoformat(v.isoformat()))
    if isinstance(v, dt.date):
        return DATE
    if isinstance(v, dt.timedelta):  # pandas' Timedelta
        return INTERVAL
    if isinstance(v, (bytearray, memoryview)):
        return BINARY
    if isinstance(v, (dict, list, tuple)):
        return JSON
    item = getattr(v, "item", None)
    if callable(item):
        try:
            py = item()
        except Exception:
            return None
        if type(py) is int and _numpy_temporal(v):  # in nanoseconds: numpy gives a bare int
            return None
        return value_type(py)
    return None


def widen(a: str, b: str) -> str | None:
    """The narrowest type holding every value of both ``a`` and ``b`` exactly, or None.

    Only genuine widenings are listed: int64 -> decimal -> ...; int64 -> float64; decimal
    precision growth; null -> anything; anything JSON-representable -> json is NOT a widening
    of an existing non-json column (text would be reinterpreted), so it is not here.
    """
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    da, db = parse_decimal(a), parse_decimal(b)
    if a == INT64 and db:
        da = (19, 0)
    if b == INT64 and da:
        db = (19, 0)
    if da and db:
        scale = max(da[1], db[1])
        ints = max(da[0] - da[1], db[0] - db[1])
        if ints + scale > MAX_DECIMAL_PRECISION:
            return None
        return decimal_type(ints + scale, scale)
    if {a, b} == {INT64, FLOAT64}:
        return FLOAT64
    return None


# --------------------------------------------------------------------------- text

#: ``from_text``'s target for any decimal type (the column's precision and scale are checked
#: by its converter)
DECIMAL = "decimal"
_BOOL_TEXT = {"true": True, "false": False, "True": True, "False": False}


def from_text(s: str, target: str) -> Any:
    """The value of type ``target`` the text ``s`` stands for, when ``s`` is exactly how that
    value reads back (its canonical text), else ``Unfit`` saying how it would read back.

    The one rule for text into a typed column, whatever brought it (dicts, JSON, a
    DataFrame, a CSV file): nothing in the text is dropped or rewritten, so ``" 42"``,
    ``"042"``, ``"+42"``, ``"1.50"``, ``"1e3"`` and ``" TRUE "`` stay text. Integers read back
    as ``str(n)``; floats as ``repr(f)`` (an integer's own text is taken too, as the int is);
    booleans as ``true``/``false`` (SQL, JSON) or ``True``/``False`` (Python); decimals as
    ``str(Decimal)``, scale kept; dates, times and timestamps in their ISO form (``T`` or a
    space between date and time, ``Z`` for UTC); UUIDs in lower-case hyphenated form.
    """
    parse = _TEXT_PARSERS[target]
    try:
        value, canonical = parse(s)
    except (ValueError, ArithmeticError, LookupError):
        raise Unfit(f"is not {_TEXT_KIND[target]}") from None
    if s not in canonical:
        raise Unfit(f"would not read back as given but as {canonical[0]!r}")
    return value


def _int_text(s: str) -> tuple[int, tuple[str, ...]]:
    n = int(s)
    return n, (str(n),)


def _float_text(s: str) -> tuple[float, tuple[str, ...]]:
    f = float(s)
    forms = [repr(f)]
    if math.isfinite(f) and f.is_integer() and abs(f) <= FLOAT_EXACT_INT:
        forms.append(str(int(f)))
    return f, tuple(forms)


def _bool_text(s: str) -> tuple[bool, tuple[str, ...]]:
    b = _BOOL_TEXT[s] if s in _BOOL_TEXT else _BOOL_TEXT[s.strip().lower()]
    return b, ("true" if b else "false", "True" if b else "False")


def _decimal_text(s: str) -> tuple[Decimal, tuple[str, ...]]:
    d = Decimal(s)
    return d, (str(d),)


def _date_text(s: str) -> tuple[dt.date, tuple[str, ...]]:
    d = dt.date.fromisoformat(s.strip())
    return d, (d.isoformat(),)


def _time_text(s: str) -> tuple[dt.time, tuple[str, ...]]:
    t = dt.time.fromisoformat(s.strip())
    return t, _short_fractions(t.microsecond, (t.isoformat(),))


def _timestamp_text(s: str) -> tuple[dt.datetime, tuple[str, ...]]:
    v = dt.datetime.fromisoformat(s.strip())
    return v, _short_fractions(v.microsecond, (v.isoformat(), v.isoformat(" ")))


def _timestamptz_text(s: str) -> tuple[dt.datetime, tuple[str, ...]]:
    stripped = s.strip()
    v = dt.datetime.fromisoformat(stripped[:-1] + "+00:00" if stripped.endswith("Z") else stripped)
    forms: tuple[str, ...] = (v.isoformat(), v.isoformat(" "))
    if v.utcoffset() == dt.timedelta(0):
        forms += tuple(f[: -len("+00:00")] + "Z" for f in forms if f.endswith("+00:00"))
    return v, _short_fractions(v.microsecond, forms)


def _short_fractions(micros: int, forms: tuple[str, ...]) -> tuple[str, ...]:
    """``forms`` and the same with the fraction of a second written as SQL writes it,
    without trailing zeros (``00:00:00.4`` for ``00:00:00.400000``)."""
    full = f".{micros:06d}"
    if not micros or not full.endswith("0"):
        return forms
    return forms + tuple(f.replace(full, full.rstrip("0"), 1) for f in forms)


def _uuid_text(s: str) -> tuple[uuid.UUID, tuple[str, ...]]:
    u = uuid.UUID(s.strip())
    return u, (str(u),)


_TEXT_PARSERS: dict[str, Callable[[str], tuple[Any, tuple[str, ...]]]] = {
    INT64: _int_text,
    FLOAT64: _float_text,
    BOOL: _bool_text,
    DECIMAL: _decimal_text,
    DATE: _date_text,
    TIME: _time_text,
    TIMESTAMP: _timestamp_text,
    TIMESTAMPTZ: _timestamptz_text,
    UUID: _uuid_text,
}
_TEXT_KIND = {
    INT64: "an integer",
    FLOAT64: "a number",
    BOOL: "a boolean",
    DECIMAL: "a decimal number",
    DATE: "an ISO date",
    TIME: "an ISO time",
    TIMESTAMP: "an ISO timestamp",
    TIMESTAMPTZ: "an ISO timestamp",
    UUID: "a UUID",
}


# --------------------------------------------------------------------------- conversion

Converter = Callable[[Any], Any]


class Unfit(Exception):
    """A value cannot be stored losslessly in the target type."""


def describe(v: Any) -> str:
    try:
        r = repr(v)
    except RecursionError:
        r = f"<a {type(v).__name__} nested too deeply to show>"
    if len(r) > 60:
        r = r[:57] + "..."
    return f"{r} ({type(v).__name__})"


def _json_safe(v: Any) -> bool:
    """True unless the value holds a float orjson would silently turn into null."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_json_safe(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return all(_json_safe(x) for x in v)
    return True


def to_json_text(v: Any) -> str:
    try:
        b = orjson.dumps(v)
    except TypeError as e:
        if "Recursion limit" in str(e):
            raise Unfit("is nested too deeply to be stored as JSON") from None
        raise Unfit(f"not representable as JSON: {e}") from None
    if b"null" in b and not _json_safe(v):
        raise Unfit("NaN or infinity inside a JSON value cannot be stored exactly")
    return b.decode()


def converter(target: str) -> Converter:
    """A function mapping one Python value into a value Arrow accepts for ``target``,
    raising ``Unfit`` when the value cannot be stored there without loss."""
    if target == JSON:
        return to_json_text
    pd = parse_decimal(target)
    if pd:
        return _decimal_converter(*pd)
    return _CONVERTERS[target]


def _to_int64(v: Any) -> int:
    t = type(v)
    if t is bool:
        raise Unfit("bool is not an integer")
    if isinstance(v, int):
        v = int(v)
    elif isinstance(v, float):
        if not v.is_integer():
            raise Unfit("has a fractional part")
        v = int(v)
    elif isinstance(v, Decimal):
        if not v.is_finite() or v != v.to_integral_value():
            raise Unfit("has a fractional part")
        v = int(v)
    elif isinstance(v, str):
        v = from_text(v, INT64)
    else:
        raise Unfit("is not an integer")
    if not INT64_MIN <= v <= INT64_MAX:
        raise Unfit("is out of the int64 range")
    return v


def _exact_float(v: Any) -> float | None:
    """``v`` as a float when it is one: a ``float`` (numpy's float64 is one), or a numpy
    float16/float32, which a float64 holds exactly; else None."""
    if isinstance(v, float):
        return float(v)
    dtype = getattr(v, "dtype", None)
    if getattr(dtype, "kind", None) == "f" and getattr(dtype, "itemsize", 16) <= 8:
        return float(v)
    return None


def _to_float(v: Any) -> float:
    t = type(v)
    if t is float:
        return v
    if t is bool:
        raise Unfit("bool is not a number")
    if isinstance(v, int):
        if abs(v) > FLOAT_EXACT_INT:
            raise Unfit("is an integer beyond 2**53, which a float cannot hold exactly")
        return float(v)
    if (f := _exact_float(v)) is not None:
        return f
    if isinstance(v, Decimal):
        if v.is_snan():  # float() and comparisons raise on a signaling NaN
            raise Unfit("is a signaling NaN")
        f = float(v)
        if Decimal(f) != v:
            raise Unfit("cannot be held exactly by a float")
        return f
    if isinstance(v, str):
        return from_text(v, FLOAT64)
    raise Unfit("is not a number")


def _decimal_converter(precision: int, scale: int) -> Converter:
    max_int_digits = precision - scale

    def conv(v: Any) -> Decimal:
        if type(v) is bool:
            raise Unfit("bool is not a number")
        if isinstance(v, int):
            d = Decimal(int(v))
        elif isinstance(v, Decimal):
            d = v
        elif isinstance(v, str):
            d = from_text(v, DECIMAL)
        elif (f := _exact_float(v)) is not None:
            v = f  # numpy's float64 repr is "np.float64(...)"
            if not math.isfinite(v):
                raise Unfit("is not finite")
            d = Decimal(repr(v))
            if float(d) != v:
                raise Unfit("cannot be held exactly")
        else:
            raise Unfit("is not a decimal number")
        if not d.is_finite():
            raise Unfit("is not finite")
        i, s = _decimal_digits(d)
        if s > scale:
            raise Unfit(f"needs {s} decimal places, the column keeps {scale}")
        if i > max_int_digits and d != 0:
            raise Unfit(f"needs {i} integer digits, the column keeps {max_int_digits}")
        return d

    return conv


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return str(v)
    if type(v) is not bool and isinstance(v, (int, float, Decimal)):
        # float(v): numpy's float64 repr is "np.float64(...)", not the number
        return str(v) if not isinstance(v, float) else repr(float(v))
    raise Unfit("is not text")


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, str):
        return from_text(v, BOOL)
    raise Unfit("is not a boolean")


def _to_binary(v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise Unfit("is not bytes")


def _numpy_temporal(v: Any) -> bool:
    """Whether ``v`` is a numpy datetime64 or timedelta64."""
    return getattr(getattr(v, "dtype", None), "kind", None) in ("m", "M")


def _from_numpy(v: Any) -> Any:
    """A numpy datetime64/timedelta64 as its Python datetime/timedelta (one in nanoseconds,
    which numpy gives as a bare int, is ``Unfit``), any other value as it is."""
    if not _numpy_temporal(v):
        return v
    py = v.item()
    if type(py) is int:
        raise Unfit(
            "is in nanoseconds, which freight would have to truncate: give it in microseconds "
            "(.astype('datetime64[us]') or 'timedelta64[us]') or in a DataFrame column"
        )
    return py


def _to_date(v: Any) -> dt.date:
    v = _from_numpy(v)
    if type(v) is dt.date or (isinstance(v, dt.date) and not isinstance(v, dt.datetime)):
        return v
    if isinstance(v, str):
        return from_text(v, DATE)
    raise Unfit("is not a date")


def _to_timestamp(v: Any) -> dt.datetime:
    if isinstance(v, str):
        v = from_text(v, TIMESTAMP)
    if not isinstance(v, dt.datetime):
        v = _from_numpy(v)
    if not isinstance(v, dt.datetime):
        raise Unfit("is not a datetime")
    if v.tzinfo is not None and v.utcoffset() is not None:
        raise Unfit("is timezone-aware; the column holds naive timestamps")
    return v


def _to_timestamptz(v: Any) -> dt.datetime:
    if isinstance(v, str):
        v = from_text(v, TIMESTAMPTZ)
    if not isinstance(v, dt.datetime):
        v = _from_numpy(v)
    if not isinstance(v, dt.datetime):
        raise Unfit("is not a datetime")
    if v.tzinfo is None or v.utcoffset() is None:
        raise Unfit("is naive; the column holds timezone-aware instants")
    if not _utc_in_range(v):
        raise Unfit("falls outside the years 1 to 9999 in UTC, where instants are stored")
    return v


def _utc_in_range(v: dt.datetime) -> bool:
    """Whether an aware datetime's instant falls within the years 1..9999 in UTC."""
    try:
        v.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


def _to_time(v: Any) -> dt.time:
    if isinstance(v, str):
        v = from_text(v, TIME)
    if not isinstance(v, dt.time):
        raise Unfit("is not a time")
    if v.tzinfo is not None:
        raise Unfit("is a timezone-aware time, which freight cannot store")
    return v


def _to_uuid(v: Any) -> uuid.UUID:
    if isinstance(v, uuid.UUID):
        return v
    if isinstance(v, str):
        return from_text(v, UUID)
    raise Unfit("is not a UUID")


def _to_interval(v: Any) -> dt.timedelta:
    if not isinstance(v, dt.timedelta):
        v = _from_numpy(v)
    if not isinstance(v, dt.timedelta):
        raise Unfit("is not a timedelta")
    if getattr(v, "nanoseconds", 0):  # pandas' Timedelta
        raise Unfit("has nanoseconds, which freight would have to truncate")
    if not INT64_MIN <= v // _MICROSECOND <= INT64_MAX:
        raise Unfit("is beyond the ±292,000 years an interval holds in microseconds")
    return v if type(v) is dt.timedelta else dt.timedelta(v.days, v.seconds, v.microseconds)


_MICROSECOND = dt.timedelta(microseconds=1)


def _nothing(v: Any) -> Any:
    """The converter of a column with no type: reached only by values freight cannot type
    (``value_type`` is None), so it says why, or what the user can do."""
    if isinstance(v, dt.datetime):
        _to_timestamptz(v)  # an instant beyond the year 9999 in UTC says so
    if isinstance(v, dt.time):
        _to_time(v)
    if isinstance(v, Decimal):
        raise Unfit(f"is not a finite decimal of at most {MAX_DECIMAL_PRECISION} digits")
    _from_numpy(v)  # a numpy datetime64/timedelta64 in nanoseconds says so
    kind = type(v)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    raise Unfit(
        f"is a {name}, which freight has no column type for: convert such values to one of "
        "the types in docs/types.md before loading, or declare the column's type with "
        "columns={...} if they convert to it"
    )


_CONVERTERS: dict[str, Converter] = {
    BOOL: _to_bool,
    INT64: _to_int64,
    FLOAT64: _to_float,
    STRING: _to_string,
    BINARY: _to_binary,
    DATE: _to_date,
    TIME: _to_time,
    TIMESTAMP: _to_timestamp,
    TIMESTAMPTZ: _to_timestamptz,
    INTERVAL: _to_interval,
    UUID: _to_uuid,
    NULL: _nothing,
}

__all__ = [
    "ALIASES",
    "BIGINT",
    "Unfit",
    "converter",
    "describe",
    "from_arrow",
    "from_text",
    "normalize",
    "to_arrow",
    "value_type",
    "widen",
]
