"""Arrow <-> PostgreSQL for the PostgreSQL destination: chunks go in through
``COPY ... FROM STDIN (FORMAT binary)`` encoded by pgpq (Rust, Arrow -> PostgreSQL's wire
formats) when every column has exactly the type freight creates for its values, else through
``COPY ... (FORMAT csv)`` written by pyarrow's CSV writer (a user's ``integer``, ``varchar``,
``inet`` ... column parses text); small keyed loads go as JSON (``to_json``); rows come back
as Arrow. Measurements: docs/postgres.md.

What CSV needs to be exact:

- strings are always quoted by pyarrow, so ``""`` is the empty string and an unquoted empty
  field is NULL (PostgreSQL's CSV default); a NUL byte cannot reach here (the loader
  quarantines such rows, ``text_allows_nul=False``);
- floats are written in shortest round-trip form, ``nan`` / ``inf`` / ``-inf`` included,
  which ``float8`` reads back bit for bit;
- ``bytea`` goes as hex text (``\\x0aff``), uuids as 32 hex digits;
- timestamps are ISO with microseconds (``...Z`` for timestamptz), decimals exact text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from .._lazy import lazy

if TYPE_CHECKING:
    import pgpq
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    from pgpq import encoders as pgpq_encoders
    from pgpq import schema as pgpq_schema
else:
    pa, pc, pcsv = lazy("pyarrow"), lazy("pyarrow.compute"), lazy("pyarrow.csv")
    pgpq, pgpq_encoders, pgpq_schema = lazy("pgpq"), lazy("pgpq.encoders"), lazy("pgpq.schema")

from .. import _types as T
from .._columns import Columns


def _hex_column(col: pa.Array, prefix: str) -> pa.Array:
    """binary / fixed_size_binary -> hex text with ``prefix`` (NULL stays NULL)."""
    return pa.array(
        [None if b is None else prefix + b.hex() for b in col.to_pylist()], pa.large_string()
    )


def _for_csv(col: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    t = col.type
    if isinstance(t, pa.BaseExtensionType):  # arrow.uuid and friends: their bytes, as hex
        storage = pa.chunked_array([c.storage for c in col.chunks], t.storage_type)
        return pa.chunked_array([_hex_column(c, "") for c in storage.chunks], pa.large_string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.chunked_array([_hex_column(c, "\\x") for c in col.chunks], pa.large_string())
    if pa.types.is_dictionary(t):
        return _for_csv(pa.chunked_array([c.dictionary_decode() for c in col.chunks]))
    if pa.types.is_duration(t):  # "86400000000 microseconds": interval's input reads it exactly
        micros = pc.cast(col, pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(micros, " microseconds", "")
    return col


def binary_ready(table: pa.Table, native: dict[str, str]) -> bool:
    """Whether every column of ``table`` holds exactly the Arrow type of the logical type its
    target column natively stores (``native``: column -> logical type, only the columns whose
    SQL type is the one freight creates). Otherwise the chunk goes as CSV."""
    for field in table.schema:
        lt = native.get(field.name)
        if lt is None:
            return False
        if not pa.types.is_null(field.type) and field.type != T.to_arrow(lt):
            return False
    return True


def for_binary(table: pa.Table) -> pa.Table:
    """What pgpq encodes: an all-NULL column as text NULLs, a uuid as its 16 bytes (uuid's
    wire format is exactly those bytes)."""
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_null(t):
            col = pa.nulls(len(col), pa.string())
        elif isinstance(t, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], t.storage_type)
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def binary_encoder(schema: pa.Schema, json_columns: set[str]) -> Any:
    """A pgpq encoder for ``schema``; JSON columns get jsonb's wire format (a version byte,
    then the text)."""
    encoders = {
        f.name: (
            pgpq_encoders.StringEncoderBuilder.new_with_output(f, pgpq_schema.Jsonb())
            if f.name in json_columns
            else pgpq.ArrowToPostgresBinaryEncoder.infer_encoder(f)
        )
        for f in schema
    }
    return pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(schema, encoders)


def to_json(table: pa.Table, types: dict[str, str]) -> bytes:
    """A small chunk as a JSON array of row objects for ``jsonb_to_recordset``, each value in
    the text form the column's input function reads exactly (the same as the CSV path):
    numbers other than int64 and bool, temporals, bytes and uuids as strings; a JSON column
    as its JSON value."""
    names = table.column_names
    columns: list[list[Any]] = []
    for i, name in enumerate(names):
        col = table.column(i)
        if types.get(name) == T.JSON:
            columns.append([None if v is None else orjson.Fragment(v) for v in col.to_pylist()])
            continue
        col = _for_csv(col)
        t = col.type
        if not (
            pa.types.is_integer(t)
            or pa.types.is_boolean(t)
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_null(t)
        ):
            col = col.cast(pa.string())
        columns.append(col.to_pylist())
    return _records(names, columns)


def columns_json(cols: Columns, types: dict[str, str]) -> bytes:
    """``to_json`` for a ``Columns`` chunk, without Arrow: the same text forms (floats in
    shortest round-trip form with ``nan`` / ``inf``, timestamptz in UTC)."""
    names = cols.column_names
    columns: list[list[Any]] = []
    for name in names:
        vals = cols.column(name)
        t = types.get(name, cols.types[name])
        encode = _JSON_FORMS.get(t) or (_decimal_json if T.parse_decimal(t) else None)
        columns.append(vals if encode is None else [None if v is None else encode(v) for v in vals])
    return _records(names, columns)


def _records(names: Sequence[str], columns: list[list[Any]]) -> bytes:
    """Columns of JSON-ready values as a JSON array of row objects."""
    return orjson.dumps([dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)])


def _decimal_json(d: Any) -> str:
    return format(d, "f")  # exact digits, never an exponent


#: logical type -> its value as ``columns_json`` writes it (other types go as they are;
#: decimals as ``_decimal_json``)
_JSON_FORMS: dict[str, Any] = {
    T.FLOAT64: repr,
    T.JSON: orjson.Fragment,
    T.DATE: lambda v: v.isoformat(),
    T.TIME: lambda v: v.isoformat(),
    T.TIMESTAMP: lambda v: v.isoformat(),
    T.TIMESTAMPTZ: lambda v: v.astimezone(UTC).isoformat(),
    T.UUID: str,
    T.BINARY: lambda v: "\\x" + v.hex(),
    T.INTERVAL: lambda v: f"{v // timedelta(microseconds=1)} microseconds",
}


def to_csv(table: pa.Table) -> memoryview:
    """One chunk as the body of ``COPY ... (FORMAT csv)``, columns in the table's order."""
    cols = [_for_csv(table.column(i)) for i in range(table.num_columns)]
    buf = io.BytesIO()
    options = pcsv.WriteOptions(include_header=False, batch_size=8192)
    pcsv.write_csv(pa.table(cols, names=table.column_names), buf, options)
    return buf.getbuffer()


# --------------------------------------------------------------------------- reading


def to_arrow(
    names: Sequence[str], ltypes: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> pa.Table:
    """Rows fetched by psycopg (json/jsonb loaded as text) -> a table in freight's Arrow types."""
    arrays = []
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    for values, lt in zip(columns, ltypes, strict=True):
        arrays.append(pa.array(values, T.to_arrow(lt) if lt != T.NULL else pa.string()))
    return pa.Table.from_arrays(arrays, names=list(names))
