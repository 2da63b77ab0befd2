"""Readers: any input -> pieces for intake: Arrow tables, or lists of Python rows with the
rejects a reader found (a broken JSON line, a CSV line with the wrong number of fields).

Files (JSON lines, JSON, CSV, Parquet, optionally compressed) are read here; the values are
typed by intake (``_intake.py``).
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import tempfile
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
from ._csv import CsvFile, csv_pieces
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


DEFAULT_CHUNK_ROWS = 50_000
#: an input already held in memory (Arrow table, DataFrame) is cut into pieces of about this
#: many bytes when no ``chunk_rows`` is given: each piece costs the destination one statement
#: (DuckDB: one INSERT, and a commit that tidies many small appends), while cutting it finer
#: saves no memory, the whole input being held anyway
HELD_CHUNK_BYTES = 256 * 2**20


def held_rows(nbytes: int, num_rows: int) -> int:
    """Rows per piece of an in-memory input of ``nbytes`` over ``num_rows`` rows."""
    per_row = max(1, nbytes // max(num_rows, 1))
    return max(DEFAULT_CHUNK_ROWS, HELD_CHUNK_BYTES // per_row)


def pieces(data: Any, chunk_rows: int | None, progress: Reading) -> Iterator[Rows | pa.Table]:
    """``data`` in pieces of at most ``chunk_rows`` rows (default ``DEFAULT_CHUNK_ROWS``, an
    in-memory Arrow table or DataFrame ``held_rows``); a file's reading goes into
    ``progress``."""
    if isinstance(data, (list, tuple)):  # first: a list of rows never needs pyarrow here
        rows = chunk_rows or DEFAULT_CHUNK_ROWS
        for s in range(0, len(data), rows):
            yield Rows(list(data[s : s + rows]))
        return
    if _is_frame(data, "polars"):
        data = data.to_arrow()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        for b in data:
            rows = chunk_rows or held_rows(b.nbytes, b.num_rows)
            for s in range(0, b.num_rows, rows):
                yield pa.Table.from_batches([b.slice(s, rows)])
        return
    if chunk_rows is None:
        if isinstance(data, pa.Table):
            chunk_rows = held_rows(data.nbytes, data.num_rows)
        elif _is_frame(data, "pandas"):
            chunk_rows = held_rows(_frame_bytes(data), len(data))
        else:
            chunk_rows = DEFAULT_CHUNK_ROWS
    if isinstance(data, (str, Path)):
        yield from _file_pieces(Path(data), chunk_rows, progress)
        return
    if isinstance(data, CsvFile):
        yield from _csv_file_pieces(data, chunk_rows, progress)
        return
    if isinstance(data, pa.Table):
        for b in data.to_batches(max_chunksize=chunk_rows):
            yield pa.Table.from_batches([b], schema=data.schema)
        return
    if _is_frame(data, "pandas"):
        yield from _pandas_pieces(data, chunk_rows)
        return
    if isinstance(data, Mapping):
        yield Rows([data])
        return
    if isinstance(data, (io.BufferedIOBase, io.RawIOBase)):  # JSON lines, e.g. sys.stdin.buffer
        name = getattr(data, "name", "<stream>")
        yield from _jsonl_pieces(
            data, Path(name if isinstance(name, str) else "<stream>"), chunk_rows, progress
        )
        return
    if isinstance(data, (bytes, bytearray)) or not isinstance(data, Iterable):
        raise InputError(
            f"cannot load a {type(data).__name__}: give dicts, a DataFrame, an Arrow table "
            "or a path to a .jsonl/.json/.csv/.tsv/.parquet file (or freight.csv(...))"
        )
    it = iter(data)
    while True:
        batch = list(itertools.islice(it, chunk_rows))
        if not batch:
            return
        yield Rows(batch)


def _is_frame(data: Any, library: str) -> bool:
    return type(data).__module__.startswith(library) and type(data).__name__ == "DataFrame"


def _frame_bytes(df: Any) -> int:
    """A DataFrame's size as Arrow will hold it, from its first 1,000 rows' deep size (a
    string column's shallow size counts only its pointers)."""
    sample = df.iloc[:1000]
    per_row = int(sample.memory_usage(index=False, deep=True).sum()) / max(len(sample), 1)
    return int(per_row * len(df))


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
_FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")


@dataclass(slots=True)
class Reading:
    """What reading a file has done so far: bytes of the file consumed (compressed, over
    every pass: a CSV is read twice), the bytes it will consume in all (None for a stream),
    and notes for the result (a detected delimiter, an empty file)."""

    bytes_read: int = 0
    bytes_total: int | None = None
    notes: list[str] = field(default_factory=list)


def file_format(path: Path) -> tuple[str, str | None]:
    """The format suffix and compression of a file freight can read, else InputError."""
    _check_file(path)
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    fmt = suffixes[-2] if compression and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    if fmt not in _FORMATS:
        raise InputError(
            f"{path}: unknown file type; freight reads .jsonl, .ndjson, .json, .csv, .tsv and "
            ".parquet, optionally compressed .gz, .bz2, .zst or .lz4 (freight.csv() reads "
            "a CSV file of any name)"
        )
    return fmt, compression


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied (the file is not readable)")


class _Counted(io.RawIOBase):
    """A file's bytes, counted into ``Reading.bytes_read`` as they are consumed."""

    def __init__(self, path: Path, progress: Reading) -> None:
        super().__init__()
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with this object)
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._f.seek(pos, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b) or 0
        self._progress.bytes_read += n
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def _open(path: Path, compression: str | None, progress: Reading) -> io.BufferedReader:
    """``path``'s bytes, decompressed, counting what is read of the file."""
    raw: Any = _Counted(path, progress)
    if compression:
        raw = pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), compression)
    return io.BufferedReader(raw, buffer_size=1 << 20)


def _file_pieces(path: Path, chunk_rows: int, progress: Reading) -> Iterator[Rows | pa.Table]:
    fmt, compression = file_format(path)
    passes = 2 if fmt in (".csv", ".tsv") else 1
    progress.bytes_total = path.stat().st_size * passes
    if fmt in (".csv", ".tsv"):
        spec = CsvFile(path, "\t" if fmt == ".tsv" else None)
        yield from _csv_file_pieces(spec, chunk_rows, progress)
        return
    with _open(path, compression, progress) as stream:
        if fmt in (".jsonl", ".ndjson"):
            yield from _jsonl_file_pieces(stream, path, chunk_rows, progress)
        elif fmt == ".json":
            yield from _json_pieces(stream, path, chunk_rows, progress)
        else:
            yield from _parquet_pieces(stream, path, compression, chunk_rows)


def _parquet_pieces(
    stream: io.BufferedReader, path: Path, compression: str | None, chunk_rows: int
) -> Iterator[pa.Table]:
    import pyarrow.parquet as pq

    # Parquet needs random access: a compressed .parquet.gz is decompressed in memory
    source: Any = pa.BufferReader(stream.read()) if compression else stream
    try:
        pf = pq.ParquetFile(source)
    except pa.ArrowException as e:
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    for b in pf.iter_batches(batch_size=chunk_rows):
        yield pa.Table.from_batches([b])


def _csv_file_pieces(
    spec: CsvFile, chunk_rows: int, progress: Reading
) -> Iterator[Rows | pa.Table]:
    if isinstance(spec.source, Path):
        path = spec.source
        _check_file(path)
        compression = _COMPRESSION.get(path.suffix.lower())
        yield from _csv_rows(spec, path, compression, chunk_rows, progress)
        return
    with tempfile.NamedTemporaryFile(prefix="freight-", suffix=".csv") as tmp:
        shutil.copyfileobj(spec.source, tmp, 1 << 20)  # a CSV is read twice
        tmp.flush()
        spooled = Path(tmp.name)
        yield from _csv_rows(spec, spooled, None, chunk_rows, progress)


def _csv_rows(
    spec: CsvFile, path: Path, compression: str | None, chunk_rows: int, progress: Reading
) -> Iterator[Rows | pa.Table]:
    opened = [0]

    def open_stream() -> io.BufferedReader:
        opened[0] += 1  # the first opening only reads a sample (the header, the delimiter)
        return _open(path, compression, progress if opened[0] > 1 else Reading())

    for piece in csv_pieces(spec, open_stream, chunk_rows, progress.notes):
        if isinstance(piece, list):
            yield Rows([], [Reject(*bad) for bad in piece])
        else:
            yield piece


def _jsonl_pieces(stream: Any, path: Path, chunk_rows: int, progress: Reading) -> Iterator[Rows]:
    """JSON lines of a stream, line by line (orjson)."""
    seen = False
    try:
        for piece in _line_rows(enumerate(stream, start=1), path, chunk_rows):
            seen = True
            yield piece
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    if not seen:
        progress.notes.append(f"{path.name} is empty: no rows")


def _line_rows(lines: Iterable[tuple[int, bytes]], path: Path, chunk_rows: int) -> Iterator[Rows]:
    """Numbered JSON lines as rows (a line that is not a JSON object is rejected with its
    number); blank lines are skipped."""
    rows: list[Any] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    for line_no, line in lines:
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
    if rows or rejects:
        yield Rows(rows, rejects, numbers)


#: JSON lines of a file are parsed by pyarrow a block at a time
JSON_BLOCK = 4 << 20
_EMPTY_OBJECT = re.compile(rb"\{\s*\}")


def _jsonl_file_pieces(
    stream: io.BufferedReader, path: Path, chunk_rows: int, progress: Reading
) -> Iterator[Rows | pa.Table]:
    """JSON lines of a file, a block of whole lines at a time: parsed by pyarrow's JSON
    reader where it types the block exactly as reading line by line would (``_arrow_lines``),
    else line by line. Once a blank line has been seen the rest goes line by line (a row's
    number is its line number, and pyarrow does not count blank lines)."""
    line_no = 0
    fast, seen = True, False
    as_text: set[str] = set()
    try:
        while block := stream.read(JSON_BLOCK):
            if not block.endswith(b"\n"):
                block += stream.readline()
            lines = block.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            fast = fast and all(map(bytes.strip, lines))
            table = _arrow_lines(block, as_text) if fast else None
            if table is not None and table.num_rows == len(lines):
                seen = True
                for s in range(0, table.num_rows, chunk_rows):
                    yield table.slice(s, chunk_rows)
            else:
                for piece in _line_rows(enumerate(lines, start=line_no + 1), path, chunk_rows):
                    seen = True
                    yield piece
            line_no += len(lines)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    if not seen:
        progress.notes.append(f"{path.name} is empty: no rows")


def _arrow_lines(block: bytes, as_text: set[str]) -> pa.Table | None:
    """A block of JSON lines (one object each) as pyarrow reads it, or None when only the
    line-by-line reading types it right: pyarrow refuses a line (bad JSON, not an object, a
    key twice), or it would read an empty object as a row of NULLs, a nested value as a
    struct, an integer beyond 2**53 as a rounded double. Strings pyarrow reads as timestamps
    are read again as strings (``as_text``, kept for the next blocks), as JSON has them."""
    import pyarrow.json as pj

    if _EMPTY_OBJECT.search(block):
        return None
    schema = pa.schema([(n, pa.string()) for n in sorted(as_text)]) if as_text else None
    try:
        table = pj.read_json(
            pa.BufferReader(block),
            read_options=pj.ReadOptions(use_threads=True, block_size=1 << 20),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
    except pa.ArrowInvalid:
        return None
    for f in table.schema:
        if f.name not in as_text and pa.types.is_temporal(f.type):
            as_text.add(f.name)
            return _arrow_lines(block, as_text)
        if pa.types.is_nested(f.type):
            return None
        if pa.types.is_floating(f.type):
            col = table.column(f.name)
            whole = pc.and_(
                pc.greater(pc.abs(col), T.FLOAT_EXACT_INT), pc.equal(pc.floor(col), col)
            )
            if pc.any(whole).as_py():
                return None
    return table.select([n for n in table.column_names if n not in as_text or _present(table, n)])


def _present(table: pa.Table, name: str) -> bool:
    return table.column(name).null_count < table.num_rows


def _json_pieces(
    stream: io.BufferedReader, path: Path, chunk_rows: int, progress: Reading
) -> Iterator[Rows]:
    """A JSON array of objects, one row each; or one object, one row."""
    text = stream.read()
    if not text.strip():
        progress.notes.append(f"{path.name} is empty: no rows")
        return
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise InputError(f"{path}: a .json file must hold an array of objects, or one object")
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
