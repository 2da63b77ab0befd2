"""The load checksum: the same content and parameters give the same checksum, whatever the
chunk size and whatever widening happened mid-load.

Each column feeds separate streams that do not care where chunks end: the staged row
positions of its non-null values, and the values themselves in an encoding that is the same
for a value however its column was typed at the time (an int later widened to float64 or to
decimal(38,0) hashes the same as the widened value). Rejected rows are hashed as a sorted set.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ._intake import Reject

_EXACT = 2**53


class Checksum:
    def __init__(self, seed: Any) -> None:
        self._seed = seed  # a hashlib object already fed with the load's parameters
        self._columns: dict[str, dict[str, Any]] = {}
        self._rejects: list[bytes] = []
        self._rows = 0

    def add(self, table: pa.Table, rejects: list[Reject]) -> None:
        for name in table.column_names:
            streams = self._columns.setdefault(name, {})
            for arr in table.column(name).chunks:
                self._add_array(streams, arr)
        self._rows += table.num_rows
        for r in rejects:
            self._rejects.append(
                hashlib.sha256(f"{r.row_number}\x1f{r.reason}\x1f{r.row!r}".encode()).digest()
            )

    def _feed(self, streams: dict[str, Any], key: str, data: Any) -> None:
        h = streams.get(key)
        if h is None:
            h = streams[key] = hashlib.sha256()
        h.update(data)

    def _add_array(self, streams: dict[str, Any], arr: pa.Array) -> None:
        if arr.null_count == len(arr):
            return  # nothing but NULLs: as if the column were absent for these rows
        if arr.null_count:
            valid = arr.is_valid()
            self._runs(streams, pc.add(pc.indices_nonzero(valid), self._rows))
            arr = arr.filter(valid)
        else:
            self._run(streams, self._rows, self._rows + len(arr))
        t = arr.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            self._add_numbers(streams, arr)
        elif pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t):
            self._feed(streams, "len", _bytes(pc.binary_length(arr).cast(pa.int64())))
            self._feed(streams, "data", _value_bytes(arr))
        else:
            self._feed(streams, "type", str(t).encode())
            self._feed(streams, "data", _bytes(_fixed(arr)))

    def _runs(self, streams: dict[str, Any], positions: pa.Array) -> None:
        """Record the staged positions of non-null values as runs [start, end)."""
        p = positions.to_pylist() if len(positions) < 64 else None
        if p is None:
            steps = pc.subtract(positions.slice(1), positions.slice(0, len(positions) - 1))
            breaks = pc.indices_nonzero(pc.not_equal(steps, 1)).to_pylist()
            starts = [0] + [b + 1 for b in breaks]
            ends = [*breaks, len(positions) - 1]
            for a, b in zip(starts, ends, strict=True):
                self._run(streams, positions[a].as_py(), positions[b].as_py() + 1)
            return
        start = prev = p[0]
        for x in p[1:]:
            if x != prev + 1:
                self._run(streams, start, prev + 1)
                start = x
            prev = x
        self._run(streams, start, prev + 1)

    def _run(self, streams: dict[str, Any], start: int, end: int) -> None:
        pending = streams.get("run")
        if pending and pending[1] == start:
            streams["run"] = (pending[0], end)
            return
        if pending:
            self._feed(streams, "pos", b"%d-%d," % pending)
        streams["run"] = (start, end)

    def _add_numbers(self, streams: dict[str, Any], arr: pa.Array) -> None:
        """Numbers exact as a float hash as float64 bytes, the others as canonical text, so a
        column that widened mid-load hashes like one typed wide from the start."""
        t = arr.type
        if pa.types.is_floating(t):
            exact = pa.nulls(len(arr), pa.bool_()).fill_null(True)
        elif pa.types.is_decimal(t) and t.scale > 0:
            exact = pa.nulls(len(arr), pa.bool_()).fill_null(False)
        else:  # integers, and decimal(p,0) that an integer column may have widened into
            lo, hi = (
                (pa.scalar(-_EXACT, t), pa.scalar(_EXACT, t))
                if pa.types.is_decimal(t)
                else (-_EXACT, _EXACT)
            )
            exact = pc.and_(pc.greater_equal(arr, lo), pc.less_equal(arr, hi))
        self._feed(streams, "exact", _bytes(exact.cast(pa.uint8())))
        floats = arr.filter(exact)
        if len(floats):
            self._feed(streams, "f", _bytes(floats.cast(pa.float64())))
        rest = arr.filter(pc.invert(exact))
        if len(rest):
            text = rest.cast(pa.string())
            if pa.types.is_decimal(t) and t.scale > 0:  # "1.50" and "1.5" are the same value
                text = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")
            self._feed(streams, "len", _bytes(pc.binary_length(text).cast(pa.int64())))
            self._feed(streams, "text", _value_bytes(text))

    def hexdigest(self) -> str:
        h = self._seed.copy()
        for name in sorted(self._columns):
            streams = dict(self._columns[name])
            run = streams.pop("run", None)
            h.update(f"\x1e{name}\x1f{run}".encode())
            for key in sorted(streams):
                h.update(key.encode() + streams[key].digest())
        h.update(b"\x1drows%d" % self._rows)
        for d in sorted(self._rejects):
            h.update(d)
        return str(h.hexdigest())


def _fixed(arr: pa.Array) -> pa.Array:
    """A fixed-width view of temporal, boolean and UUID values."""
    t = arr.type
    if pa.types.is_boolean(t):
        return arr.cast(pa.uint8())
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return arr.cast(pa.int32())
    if pa.types.is_timestamp(t) or pa.types.is_time64(t) or pa.types.is_date64(t):
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
