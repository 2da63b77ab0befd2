"""Readers: any input -> pieces for intake: Arrow tables, or lists of Python rows with the
rejects a reader found (a broken JSON line, a CSV line with the wrong number of fields).

Files (JSON lines, JSON, CSV, Parquet, optionally compressed) are read here; the values are
typed by intake (``_intake.py``).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa, pc = lazy("pyarrow"), lazy("pyarrow.compute")

from . import _types as T
from ._errors import InputError


@dataclass(slots=True)
class Reject:
    """One rejected input row: its number in the input (1-based), the row as given, why."""

    row_number: int | None
    row: Any
    reason: str


@dataclass(slots=True)
class Rows:
    rows: list[Any]
    rejects: list[Reject] = field(default_factory=list)
    numbers: list[int] | None = None


def pieces(data: Any, chunk_rows: int) -> Iterator[Rows | pa.Table]:
    if isinstance(data, (list, tuple)):  # first: a list of rows never needs pyarrow here
        for s in range(0, len(data), chunk_rows):
            yield Rows(list(data[s : s + chunk_rows]))
        return
    if isinstance(data, (str, Path)):
        yield from _file_pieces(Path(data), chunk_rows)
        return
    if isinstance(data, pa.Table):
        for b in data.to_batches(max_chunksize=chunk_rows):
            yield pa.Table.from_batches([b], schema=data.schema)
        if data.num_rows == 0:
            return
        return
    if isinstance(data, pa.RecordBatch):
        yield from pieces(pa.Table.from_batches([data]), chunk_rows)
        return
    if isinstance(data, pa.RecordBatchReader):
        for b in data:
            for s in range(0, max(b.num_rows, 1), chunk_rows):
                if b.num_rows:
                    yield pa.Table.from_batches([b.slice(s, chunk_rows)])
        return
    mod = type(data).__module__
    if mod.startswith("pandas") and type(data).__name__ == "DataFrame":
        yield from _pandas_pieces(data, chunk_rows)
        return
    if mod.startswith("polars") and type(data).__name__ == "DataFrame":
        yield from pieces(data.to_arrow(), chunk_rows)
        return
    if isinstance(data, Mapping):
        yield Rows([data])
        return
    if isinstance(data, (io.BufferedIOBase, io.RawIOBase)):  # JSON lines, e.g. sys.stdin.buffer
        name = getattr(data, "name", "<stream>")
        yield from _jsonl_pieces(
            data, Path(name if isinstance(name, str) else "<stream>"), chunk_rows
        )
        return
    if isinstance(data, (bytes, bytearray)) or not isinstance(data, Iterable):
        raise InputError(
            f"cannot load a {type(data).__name__}: give dicts, a DataFrame, an Arrow table "
            "or a path to a .jsonl/.json/.csv/.parquet file"
        )
    it = iter(data)
    while True:
        batch = list(itertools.islice(it, chunk_rows))
        if not batch:
            return
        yield Rows(batch)


def _pandas_pieces(df: Any, chunk_rows: int) -> Iterator[Rows | pa.Table]:
    for s in range(0, len(df), chunk_rows):
        part = df.iloc[s : s + chunk_rows]
        try:
            yield pa.Table.from_pandas(part, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError):
            # mixed object columns: go value by value (pandas NaN/NaT/NA still mean missing)
            recs = part.astype(object).where(part.notna(), None).to_dict("records")
            yield Rows(recs)


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}


def _open(path: Path) -> tuple[io.BufferedReader, str]:
    """Open ``path`` (decompressing by suffix); return the stream and the format suffix."""
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a file")
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    fmt = suffixes[-2] if compression and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    raw = pa.input_stream(str(path), compression=compression)
    return io.BufferedReader(raw, buffer_size=1 << 20), fmt


def _file_pieces(path: Path, chunk_rows: int) -> Iterator[Rows | pa.Table]:
    stream, fmt = _open(path)
    with stream:
        if fmt in (".jsonl", ".ndjson"):
            yield from _jsonl_pieces(stream, path, chunk_rows)
        elif fmt == ".json":
            yield from _json_pieces(stream, path, chunk_rows)
        elif fmt == ".csv":
            stream.close()
            yield from _csv_pieces(path, chunk_rows)
        elif fmt == ".parquet":
            import pyarrow.parquet as pq

            # Parquet needs random access: a compressed .parquet.gz is decompressed in memory
            source: Any = (
                pa.BufferReader(stream.read()) if path.suffix.lower() in _COMPRESSION else str(path)
            )
            stream.close()
            try:
                pf = pq.ParquetFile(source)
            except pa.ArrowException as e:
                raise InputError(f"{path}: not a readable Parquet file ({e})") from None
            for b in pf.iter_batches(batch_size=chunk_rows):
                yield pa.Table.from_batches([b])
        else:
            raise InputError(
                f"{path}: unknown file type; freight reads .jsonl, .ndjson, .json, .csv and "
                ".parquet, optionally compressed .gz, .bz2, .zst or .lz4"
            )


def _jsonl_pieces(stream: Any, path: Path, chunk_rows: int) -> Iterator[Rows]:
    rows: list[Any] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    line_no = 0
    try:
        for line in stream:
            line_no += 1
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                rejects.append(
                    Reject(line_no, text, f"{path.name} line {line_no}: not valid JSON ({e})")
                )
            else:
                if isinstance(obj, dict):
                    rows.append(obj)
                    numbers.append(line_no)
                else:
                    rejects.append(
                        Reject(line_no, obj, f"{path.name} line {line_no}: not a JSON object")
                    )
            if len(rows) + len(rejects) >= chunk_rows:
                yield Rows(rows, rejects, numbers)
                rows, numbers, rejects = [], [], []
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    if rows or rejects:
        yield Rows(rows, rejects, numbers)


def _json_pieces(stream: io.BufferedReader, path: Path, chunk_rows: int) -> Iterator[Rows]:
    try:
        doc = orjson.loads(stream.read())
    except orjson.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise InputError(f"{path}: a .json file must hold an array of objects")
    for s in range(0, len(doc), chunk_rows):
        part = doc[s : s + chunk_rows]
        rows, numbers, rejects = [], [], []
        for i, obj in enumerate(part, start=s + 1):
            if isinstance(obj, dict):
                rows.append(obj)
                numbers.append(i)
            else:
                rejects.append(Reject(i, obj, f"{path.name} element {i}: not a JSON object"))
        yield Rows(rows, rejects, numbers)


# CSV: every field is text; a column's type is the narrowest one that reads back every
# value of the whole file (first pass), so the result never depends on block boundaries.
_CSV_CANDIDATES = (T.INT64, T.FLOAT64, T.BOOL, T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ)


def _csv_reader(path: Path, chunk_rows: int, bad_rows: list[Reject] | None) -> Any:
    import pyarrow.csv as pcsv

    stream, _ = _open(path)
    header = stream.readline().decode("utf-8-sig").rstrip("\r\n")
    stream.close()
    import csv

    names = next(csv.reader([header])) if header else []
    if not names:
        raise InputError(f"{path}: empty CSV file (no header line)")

    def on_invalid(row: Any) -> str:
        if bad_rows is not None:
            num = row.number if row.number is not None else None
            bad_rows.append(
                Reject(
                    num,
                    row.text,
                    f"{path.name} line {num}: {row.expected_columns} fields expected, "
                    f"{row.actual_columns} found",
                )
            )
        return "skip"

    raw, _ = _open(path)
    return pcsv.open_csv(
        raw,
        read_options=pcsv.ReadOptions(block_size=8 << 20, use_threads=False),
        parse_options=pcsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=False,
        ),
    )


def _csv_types(path: Path, chunk_rows: int) -> dict[str, str]:
    possible: dict[str, list[str]] = {}
    try:
        reader = _csv_reader(path, chunk_rows, None)
        for batch in reader:
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                cands = possible.setdefault(name, list(_CSV_CANDIDATES))
                vals = col.drop_null()
                if len(vals) == 0:
                    continue
                cands[:] = [c for c in cands if _csv_fits(vals, c)]
    except pa.ArrowException as e:
        raise InputError(f"{path}: cannot read CSV ({e})") from None
    return {n: (c[0] if c else T.STRING) for n, c in possible.items()}


def _csv_fits(vals: pa.Array, t: str) -> bool:
    try:
        cast = vals.cast(T.to_arrow(t))
    except (pa.ArrowException, ValueError):
        return False
    if (
        t in (T.INT64, T.FLOAT64)
        and pc.any(pc.match_substring_regex(vals, r"^\s*[+-]?0\d")).as_py()
    ):
        return False  # "007" would read back as 7: keep such columns as text
    if t == T.INT64:
        return bool(pc.all(pc.equal(cast.cast(pa.string()), vals)).as_py())
    if t == T.TIMESTAMPTZ:
        return bool(pc.all(pc.match_substring_regex(vals, r"(Z|[+-]\d\d:?\d\d)$")).as_py())
    if t == T.TIMESTAMP:
        return not bool(pc.any(pc.match_substring_regex(vals, r"(Z|[+-]\d\d:?\d\d)$")).as_py())
    if t == T.BOOL:
        return bool(pc.all(pc.is_in(pc.utf8_lower(vals), pa.array(["true", "false"]))).as_py())
    return True


def _csv_pieces(path: Path, chunk_rows: int) -> Iterator[pa.Table | Rows]:
    types = _csv_types(path, chunk_rows)
    bad: list[Reject] = []
    reader = _csv_reader(path, chunk_rows, bad)
    try:
        for batch in reader:
            cols = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                t = types.get(name, T.STRING)
                cols[name] = col if t == T.STRING else col.cast(T.to_arrow(t))
            table = pa.table(cols)
            for s in range(0, max(table.num_rows, 1), chunk_rows):
                if table.num_rows:
                    yield table.slice(s, chunk_rows)
            if bad:
                yield Rows([], list(bad))
                bad.clear()
    except pa.ArrowException as e:
        raise InputError(f"{path}: cannot read CSV ({e})") from None
    if bad:
        yield Rows([], list(bad))
