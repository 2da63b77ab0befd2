"""The load checksum: the same content and parameters give the same checksum, whatever the
chunk size and whatever widening happened mid-load.

Each column feeds separate streams that do not care where chunks end: the staged row
positions of its non-null values, and the values themselves in an encoding that is the same
for a value however its column was typed at the time (an int later widened to float64 or to
decimal(38,0) hashes the same as the widened value). Rejected rows are hashed as a sorted set
of (row number, row content), never their reasons: a reason names the type the column had when
the value came, which depends on what the table already holds (a re-run after the first load
widened the column reads "not a number (type float64)" where the first read "not an integer
(type int64)"), and the checksum depends only on the input and the load's parameters.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa, pc = lazy("pyarrow"), lazy("pyarrow.compute")

from . import _types as T
from ._columns import Columns
from ._intake import Reject

_EXACT = 2**53


class Checksum:
    def __init__(self, seed: Any) -> None:
        self._seed = seed  # a hashlib object already fed with the load's parameters
        self._columns: dict[str, dict[str, Any]] = {}
        self._rejects: list[bytes] = []
        self._rows = 0

    def add(self, table: pa.Table | Columns, rejects: list[Reject]) -> None:
        if isinstance(table, Columns):
            for name, vals in table.data.items():
                self._add_values(self._columns.setdefault(name, {}), vals, table.types[name])
        else:
            self._add_table(table)
        self._rows += table.num_rows
        self._add_rejects(rejects)

    def _add_table(self, table: pa.Table) -> None:
        for name in table.column_names:
            streams = self._columns.setdefault(name, {})
            at = self._rows
            for arr in table.column(name).chunks:
                self._add_array(streams, arr, at)
                at += len(arr)

    def _add_rejects(self, rejects: list[Reject]) -> None:
        for r in rejects:
            try:  # the row's content, not its key order
                row = orjson.dumps(r.row, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
            except TypeError:
                row = repr(r.row).encode()
            self._rejects.append(hashlib.sha256(f"{r.row_number}\x1f".encode() + row).digest())

    def _feed(self, streams: dict[str, Any], key: str, data: Any) -> None:
        h = streams.get(key)
        if h is None:
            h = streams[key] = hashlib.blake2b(digest_size=32)
        h.update(data)

    def _type(self, streams: dict[str, Any], kind: bytes) -> None:
        """A fixed-width column's type, hashed once per type it takes, not once per chunk
        (where chunks end never shows)."""
        kinds = streams.setdefault("_kinds", set())
        if kind not in kinds:
            kinds.add(kind)
            self._feed(streams, "type", kind)

    def _pad(self, streams: dict[str, Any], upto: int) -> None:
        """Rows where the column was absent count as NULL: where chunks end never shows."""
        covered = streams.get("covered", 0)
        if covered < upto:
            self._feed(streams, "valid", bytes(upto - covered))
        streams["covered"] = max(covered, upto)

    def _add_array(self, streams: dict[str, Any], arr: pa.Array, at: int) -> None:
        if not len(arr):  # however a zero-row chunk's columns are laid out, they add nothing
            return
        self._pad(streams, at)
        streams["covered"] = at + len(arr)
        if arr.null_count == len(arr):  # one validity byte per staged row
            self._feed(streams, "valid", bytes(len(arr)))
            return
        if arr.null_count:
            valid = arr.is_valid()
            self._feed(streams, "valid", _bytes(valid.cast(pa.uint8())))
            arr = arr.filter(valid)
        else:
            self._feed(streams, "valid", b"\x01" * len(arr))
        t = arr.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            self._add_numbers(streams, arr)
        elif pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t):
            self._feed(streams, "len", _bytes(pc.binary_length(arr).cast(pa.int64())))
            self._feed(streams, "data", _value_bytes(arr))
        else:
            self._type(streams, str(t).encode())
            self._feed(streams, "data", _bytes(_fixed(arr)))

    def _add_values(self, streams: dict[str, Any], vals: list[Any], t: str) -> None:
        """``_add_array`` for a ``Columns`` column: the same bytes from Python values."""
        at = self._rows
        n = len(vals)
        if not n:
            return
        self._pad(streams, at)
        streams["covered"] = at + n
        present = [v for v in vals if v is not None]
        if not present:
            self._feed(streams, "valid", bytes(n))
            return
        if len(present) < n:
            self._feed(streams, "valid", bytes(v is not None for v in vals))
        else:
            self._feed(streams, "valid", b"\x01" * n)
        if t == T.FLOAT64:
            self._feed(streams, "exact", b"\x01" * len(present))
            self._feed(streams, "f", array("d", present).tobytes())
        elif t == T.INT64:
            self._add_ints(streams, present)
        elif t in (T.STRING, T.JSON):
            self._add_text(streams, "data", present)
        elif t == T.BINARY:
            self._add_bytes(streams, "data", present)
        elif (pd := T.parse_decimal(t)) is not None:
            self._add_decimals(streams, present, pd[1])
        else:
            kind, encode = _FIXED[t]
            self._type(streams, kind)
            self._feed(streams, "data", encode(present))

    def _add_text(self, streams: dict[str, Any], key: str, texts: list[str]) -> None:
        self._add_bytes(streams, key, [v.encode() for v in texts])

    def _add_bytes(self, streams: dict[str, Any], key: str, values: list[bytes]) -> None:
        self._feed(streams, "len", array("q", map(len, values)).tobytes())
        self._feed(streams, key, b"".join(values))

    def _add_ints(self, streams: dict[str, Any], ints: list[int]) -> None:
        """``_add_numbers`` for integers (an int64 column, a ``decimal(p,0)`` one): those a
        float holds exactly as float64 bytes, the others as their digits."""
        if min(ints) >= -_EXACT and max(ints) <= _EXACT:
            self._feed(streams, "exact", b"\x01" * len(ints))
            self._feed(streams, "f", array("d", ints).tobytes())
            return
        exact = [_float_exact(v) for v in ints]
        self._feed(streams, "exact", bytes(exact))
        floats = [v for v, e in zip(ints, exact, strict=True) if e]
        if floats:
            self._feed(streams, "f", array("d", floats).tobytes())
        rest = [str(v) for v, e in zip(ints, exact, strict=True) if not e]
        if rest:
            self._add_text(streams, "text", rest)

    def _add_decimals(self, streams: dict[str, Any], present: list[Decimal], scale: int) -> None:
        """``_add_numbers`` for a decimal column of Python values: none exact as a float
        when the column has a scale, every value's plain digits hashed."""
        if not scale:
            self._add_ints(streams, [int(d) for d in present])
            return
        self._feed(streams, "exact", bytes(len(present)))
        self._add_text(streams, "text", [_plain(d) for d in present])

    def _add_numbers(self, streams: dict[str, Any], arr: pa.Array) -> None:
        """Numbers exact as a float hash as float64 bytes, the others as canonical text, so a
        column that widened mid-load hashes like one typed wide from the start."""
        t = arr.type
        n = len(arr)
        if pa.types.is_floating(t):
            self._feed(streams, "exact", b"\x01" * n)
            self._feed(streams, "f", _bytes(arr.cast(pa.float64())))
            return
        if pa.types.is_decimal(t) and t.scale > 0:
            exact = pa.nulls(n, pa.bool_()).fill_null(False)
        else:  # integers, and decimal(p,0) that an integer column may have widened into
            mm = pc.min_max(arr)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            if lo >= -_EXACT and hi <= _EXACT:
                self._feed(streams, "exact", b"\x01" * n)
                self._feed(streams, "f", _bytes(arr.cast(pa.float64())))
                return
            # (rare) integers beyond 2**53: those a float still holds exactly (9007199254740994,
            # 2**60) hash as the float they equal, so an integral float beyond 2**53 hashes
            # alike whether it went into an int64 column or a float64 one
            exact = pa.array([_float_exact(int(v)) for v in arr.to_pylist()], pa.bool_())
        self._feed(streams, "exact", _bytes(exact.cast(pa.uint8())))
        floats = arr.filter(exact)
        if len(floats):
            self._feed(streams, "f", _bytes(floats.cast(pa.float64(), safe=False)))
        rest = arr.filter(pc.invert(exact))
        if len(rest):
            text = rest.cast(pa.string())
            if pa.types.is_decimal(t) and t.scale > 0:  # "1.50" and "1.5" are the same value
                if pc.any(pc.match_substring(text, "E")).as_py():
                    # Arrow writes tiny values at a large scale as 0E-7, 1.5E-8: in plain
                    # digits, as they hash at a smaller scale (before a widening)
                    text = pa.array([_plain(Decimal(v)) for v in text.to_pylist()], pa.string())
                else:
                    text = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")
            self._feed(streams, "len", _bytes(pc.binary_length(text).cast(pa.int64())))
            self._feed(streams, "text", _value_bytes(text))

    def hexdigest(self) -> str:
        h = self._seed.copy()
        for name in sorted(self._columns):
            streams = self._columns[name]
            self._pad(streams, self._rows)
            h.update(f"\x1e{name}\x1f".encode())
            for key in sorted(k for k in streams if k not in ("covered", "_kinds")):
                h.update(key.encode() + streams[key].digest())
        h.update(b"\x1drows%d" % self._rows)
        for d in sorted(self._rejects):
            h.update(d)
        return str(h.hexdigest())


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.toordinal()
_US = timedelta(microseconds=1)


def _float_exact(n: int) -> bool:
    """Whether a float64 holds the integer ``n`` exactly."""
    return -_EXACT <= n <= _EXACT or float(n) == n


def _plain(d: Decimal) -> str:
    """A decimal in plain digits without trailing zeros: ``1.5``, ``0.00000001``, ``0``."""
    if d.is_zero():
        return "0"
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _micros(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _ints(code: str, values: Iterable[int]) -> bytes:
    return array(code, values).tobytes()


#: logical type -> (Arrow's name of its type, non-null values -> the bytes ``_fixed`` gives
#: for them): what ``_add_array`` hashes for these types, made from Python values
_FIXED: dict[str, tuple[bytes, Callable[[list[Any]], bytes]]] = {
    T.BOOL: (b"bool", bytes),
    T.DATE: (b"date32[day]", lambda vs: _ints("i", (d.toordinal() - _EPOCH_DAY for d in vs))),
    T.TIME: (b"time64[us]", lambda vs: _ints("q", map(_micros, vs))),
    T.TIMESTAMP: (b"timestamp[us]", lambda vs: _ints("q", ((v - _EPOCH) // _US for v in vs))),
    T.TIMESTAMPTZ: (
        b"timestamp[us, tz=UTC]",
        lambda vs: _ints("q", ((v - _EPOCH_UTC) // _US for v in vs)),
    ),
    T.INTERVAL: (b"duration[us]", lambda vs: _ints("q", (v // _US for v in vs))),
    T.UUID: (b"extension<arrow.uuid>", lambda vs: b"".join(u.bytes for u in vs)),
}


def _fixed(arr: pa.Array) -> pa.Array:
    """A fixed-width view of temporal, boolean and UUID values."""
    t = arr.type
    if pa.types.is_boolean(t):
        return arr.cast(pa.uint8())
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return arr.cast(pa.int32())
    if (
        pa.types.is_timestamp(t)
        or pa.types.is_time64(t)
        or pa.types.is_date64(t)
        or pa.types.is_duration(t)
    ):
        return arr.cast(pa.int64())
    if isinstance(t, pa.ExtensionType):
        return arr.storage
    return arr


def _bytes(arr: pa.Array) -> memoryview:
    """The values of a fixed-width array, without offset or padding (no copy)."""
    if arr.offset:
        arr = pa.concat_arrays([arr])
    buf = arr.buffers()[-1]
    if buf is None or len(arr) == 0:
        return memoryview(b"")
    width = max(arr.type.bit_width // 8, 1)
    return memoryview(buf)[: len(arr) * width]


def _value_bytes(arr: pa.Array) -> memoryview:
    """The concatenated bytes of a string/binary array's values (no copy)."""
    if len(arr) == 0:
        return memoryview(b"")
    if arr.offset:
        arr = pa.concat_arrays([arr])
    offsets, data = arr.buffers()[1], arr.buffers()[2]
    if data is None:
        return memoryview(b"")
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    view = memoryview(offsets).cast("q" if large else "i")
    return memoryview(data)[view[0] : view[len(arr)]]
