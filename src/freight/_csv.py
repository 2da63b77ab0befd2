"""CSV files: the dialect, each column's type decided over the whole file, then the rows.

A CSV is read twice by pyarrow's streaming reader. The first pass reads every field as text
and decides each column's type (``_csv_types.Column``), so the outcome never depends on block
boundaries or chunk size; the second pass parses each column straight into that type. Every
value is kept exactly: integers beyond int64 make the column ``decimal(38,0)`` (a value of
more than 38 digits rejects its row); numbers with a fraction or exponent make it ``float64``
only when a double holds each one exactly (``_csv_types``), else the column stays text.
"""

from __future__ import annotations

import csv as pycsv
import io
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
else:
    pa, pc, pcsv = lazy("pyarrow"), lazy("pyarrow.compute"), lazy("pyarrow.csv")

from . import _types as T
from ._csv_types import Column, all_of
from ._errors import InputError

#: delimiters freight detects on its own (others must be given)
SNIFFED = (",", "\t", ";", "|")
#: the first pass's block size; grown (up to MAX_BLOCK) when one record is larger
BLOCK = 8 << 20
MAX_BLOCK = 1 << 30
MAX_HEADER = 16 << 20


@dataclass(frozen=True, slots=True)
class CsvFile:
    """A CSV input with the options to read it; made by ``freight.csv()``."""

    source: Path | BinaryIO
    delimiter: str | None = None
    null_values: tuple[str, ...] = ("",)
    date_format: str | None = None
    rename_columns: bool = False

    @property
    def name(self) -> str:
        if isinstance(self.source, Path):
            return self.source.name
        name = getattr(self.source, "name", None)
        return name if isinstance(name, str) else "<stream>"


def csv(
    source: str | Path | BinaryIO,
    *,
    delimiter: str | None = None,
    null_values: Sequence[str] = ("",),
    date_format: str | None = None,
    rename_columns: bool = False,
) -> CsvFile:
    """A CSV file (any name; ``.gz``/``.bz2``/``.zst``/``.lz4`` decompressed) or a binary
    stream (e.g. ``sys.stdin.buffer``), to give to ``Dataset.load``.

    ``delimiter``: one character; by default ``.tsv`` files are tab-separated and others
    are detected among ``, TAB ; |``. ``null_values``: the fields that mean NULL (default:
    only an unquoted empty field). ``date_format``: a ``strptime`` format (``"%d/%m/%Y"``)
    for date or timestamp columns written that way. ``rename_columns``: rename a repeated
    or empty header name (``v``, ``v`` -> ``v``, ``v_2``; empty -> ``column_3``) instead of
    refusing the file.
    """
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise InputError(f"delimiter {delimiter!r} is not one character other than a quote")
    if isinstance(null_values, str):
        raise InputError("null_values is a list of strings, not one string")
    return CsvFile(
        Path(source) if isinstance(source, str | Path) else source,
        delimiter,
        tuple(null_values),
        date_format,
        rename_columns,
    )


# ---------------------------------------------------------------------- reading


def sniff(sample: bytes, given: str | None, name: str) -> tuple[str, bool]:
    """The delimiter: ``given``, else the one among ``SNIFFED`` that splits the header into
    most fields and every complete line of ``sample`` into as many; (delimiter, detected)."""
    if given is not None:
        return given, False
    text = sample.decode("utf-8-sig", "replace")
    cut = len(sample) >= 1 << 16  # the sample's last record may be cut short
    best, fields = ",", 1
    for d in SNIFFED:
        try:
            records = [r for r in pycsv.reader(io.StringIO(text), delimiter=d) if r]
        except pycsv.Error:
            continue
        if cut and len(records) > 1:
            records.pop()
        if not records:
            continue
        n = len(records[0])
        if n > fields and all(len(r) == n for r in records):
            best, fields = d, n
    if fields == 1:
        header = text.split("\n", 1)[0]
        for d, word in (("\t", "a tab"), (";", "a semicolon")):
            if d in header:
                raise InputError(
                    f"{name}: the header is one column holding {word}; freight could not tell "
                    f"the delimiter: give it (delimiter={d!r}, or --delimiter / --tsv)"
                )
    return best, best != ","


def header_names(names: list[str], spec: CsvFile) -> tuple[list[str], list[str]]:
    """The column names to load and the renames made (``old -> new``); a repeated or empty
    name is refused unless ``rename_columns``."""
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    repeated = [n for n, c in seen.items() if c > 1 and n != ""]
    empty = [i + 1 for i, n in enumerate(names) if n == ""]
    if not repeated and not empty:
        return names, []
    if not spec.rename_columns:
        parts = []
        if repeated:
            parts.append(f"repeated column name(s) {', '.join(repr(n) for n in repeated)}")
        if empty:
            parts.append(f"empty column name(s) at position(s) {', '.join(map(str, empty))}")
        raise InputError(
            f"{spec.name}: the header has {' and '.join(parts)}; rename them in the file or "
            "load with rename_columns=True (--rename-columns)"
        )
    out: list[str] = []
    renames = []
    taken = set(names)
    count: dict[str, int] = {}
    for i, n in enumerate(names, start=1):
        count[n] = count.get(n, 0) + 1
        if n != "" and count[n] == 1:
            out.append(n)
            continue
        base, k = (f"{n}_", count[n]) if n else ("column_", i)
        new = f"{base}{k}"
        while new in taken:
            k += 1
            new = f"{base}{k}"
        taken.add(new)
        out.append(new)
        renames.append(f"{n!r} (column {i}) -> {new!r}")
    return out, renames


def csv_pieces(
    spec: CsvFile, open_stream: Callable[[], BinaryIO], chunk_rows: int, notes: list[str]
) -> Iterator[pa.Table | list[Bad]]:
    """The file's rows as Arrow tables of at most ``chunk_rows`` rows in their decided
    types, and lists of rejected lines (wrong number of fields, a value no type holds)."""
    with open_stream() as stream:
        sample = stream.read(1 << 16)
        while b"\n" not in sample and len(sample) < MAX_HEADER:  # a long header line
            more = stream.read(1 << 20)
            if not more:
                break
            sample += more
    if not sample.strip():
        notes.append(f"{spec.name} is empty: no rows")
        return
    delimiter, detected = sniff(sample, spec.delimiter, spec.name)
    if detected:
        notes.append(f"read {spec.name} as CSV delimited by {_DELIMITER_NAMES[delimiter]}")
    text = sample.decode("utf-8-sig", "replace")
    try:
        first = next(pycsv.reader(io.StringIO(text), delimiter=delimiter), [])
    except pycsv.Error as e:  # e.g. a header name over the csv module's 128 KiB field limit
        raise InputError(f"{spec.name}: cannot read the CSV header ({e})") from None
    if not first:
        raise InputError(f"{spec.name}: the first line of a CSV file must be its header")
    names, renames = header_names(first, spec)
    if renames:
        notes.append(f"renamed CSV column(s) of {spec.name}: {', '.join(renames)}")
    cols, block, invalid = _decide(spec, open_stream, delimiter, first)
    types = [c.type() for c in cols]
    yield from _typed(
        spec, open_stream, delimiter, first, names, types, cols, block, chunk_rows, invalid
    )


#: a rejected line: (line number, the line or row as given, why)
Bad = tuple[int | None, Any, str]

_DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "vertical bars"}


def _reader(
    stream: Any,
    spec: CsvFile,
    delimiter: str,
    names: list[str],
    block: int,
    types: dict[str, pa.DataType],
    on_invalid: Callable[[Any], str],
    threads: bool,
    include: list[str] | None = None,
) -> Any:
    """pyarrow's streaming reader: the columns of ``types`` parsed into their type, the
    others text; only ``include`` when given."""
    return pcsv.open_csv(
        stream,
        read_options=pcsv.ReadOptions(block_size=block, use_threads=threads),
        parse_options=pcsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pcsv.ConvertOptions(
            column_types={n: types.get(n, pa.string()) for n in names},
            strings_can_be_null=True,
            null_values=list(spec.null_values),
            quoted_strings_can_be_null=False,
            include_columns=include or [],
        ),
    )


def _decide(
    spec: CsvFile, open_stream: Callable[[], BinaryIO], delimiter: str, names: list[str]
) -> tuple[list[Column], int, bool]:
    """The first pass: every column's type over the whole file; the block size that holds
    the largest record; whether some record has the wrong number of fields."""
    block = BLOCK
    while True:
        try:
            return _first_pass(spec, open_stream, delimiter, names, block)
        except pa.ArrowInvalid as e:
            if not _straddles(e):
                raise InputError(f"{spec.name}: cannot read CSV ({e})") from None
            if block >= MAX_BLOCK:
                raise InputError(
                    f"{spec.name}: a CSV record is larger than {MAX_BLOCK >> 20} MiB, the "
                    "most freight reads as one piece"
                ) from None
            block *= 4


def _first_pass(
    spec: CsvFile, open_stream: Callable[[], BinaryIO], delimiter: str, names: list[str], block: int
) -> tuple[list[Column], int, bool]:
    cols = [Column() for _ in names]
    invalid: list[int] = []

    def count(row: Any) -> str:
        invalid.append(1)
        return "skip"

    def read(include: list[int] | None) -> Generator[pa.RecordBatch, None, None]:
        wanted = [names[i] for i in include] if include is not None else None
        with open_stream() as stream:
            yield from _reader(stream, spec, delimiter, names, block, {}, count, True, wanted)

    batches = read(None)
    first = next(batches, None)
    if first is not None:
        for col, arr in zip(cols, first.columns, strict=True):
            col.see(arr.drop_null(), spec.date_format)
    # text after the first block stays text: the rest of the pass parses only the other
    # columns (from the start again: seeing the first block twice changes nothing)
    rest = [i for i, c in enumerate(cols) if c.kind != T.STRING]
    if first is not None and len(rest) < len(names) and len(set(names)) == len(names):
        batches.close()
        batches = read(rest or [0])
    else:
        rest = list(range(len(names)))
    for batch in batches:
        for i, arr in zip(rest, batch.columns, strict=False):
            cols[i].see(arr.drop_null(), spec.date_format)
    return cols, block, bool(invalid)


def _straddles(e: Exception) -> bool:
    """Whether pyarrow failed because one record is larger than its block."""
    return "straddl" in str(e)


#: column types pyarrow's CSV parser produces directly, exactly as the first pass checked
_DIRECT = (T.INT64, T.FLOAT64, T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ)


def _typed(
    spec: CsvFile,
    open_stream: Callable[[], BinaryIO],
    delimiter: str,
    header: list[str],
    names: list[str],
    types: list[str],
    cols: list[Column],
    block: int,
    chunk_rows: int,
    invalid: bool,
) -> Iterator[pa.Table | list[Bad]]:
    """The second pass: the rows in their types, each record checked once more. In threads
    unless some record has the wrong number of fields (with threads pyarrow does not tell
    the line number of a record)."""
    unique = {n for n in header if header.count(n) == 1}
    direct = {
        h: T.to_arrow(t)
        for h, t, c in zip(header, types, cols, strict=True)
        if h in unique
        and c.kind != "format"
        and (t in _DIRECT or (t == T.BIGINT and c.digits <= 38))
    }
    bad: list[Bad] = []
    skipped = [0]

    def on_invalid(row: Any) -> str:
        bad.append((row.number, row.text, _fields_reason(spec.name, row)))
        skipped[0] += 1
        return "skip"

    seen = 0
    with open_stream() as stream:
        reader = _reader(
            stream, spec, delimiter, header, block, direct, on_invalid, threads=not invalid
        )
        try:
            for batch in reader:
                arrays = []
                keep = None
                for i, arr in enumerate(batch.columns):
                    arr, wide = _cast(arr, types[i], spec.date_format)
                    if wide is not None:
                        keep = wide if keep is None else pc.and_(keep, wide)
                    arrays.append(arr)
                table = pa.table(arrays, names=names)
                if keep is not None:
                    for pos in (i for i, k in enumerate(keep.to_pylist()) if not k):
                        vals = [c[pos].as_py() for c in batch.columns]
                        row = {
                            n: None if v is None else str(v)
                            for n, v in zip(names, vals, strict=True)
                        }
                        line = seen + skipped[0] + pos + 2  # exact unless a field holds a newline
                        bad.append(_too_long(spec.name, line, row, names, types))
                    table = table.filter(keep)
                seen += batch.num_rows
                for s in range(0, table.num_rows, chunk_rows):
                    yield table.slice(s, chunk_rows)
                if bad:
                    yield list(bad)
                    bad.clear()
        except pa.ArrowInvalid as e:
            raise InputError(f"{spec.name}: cannot read CSV ({e})") from None
    if bad:
        yield list(bad)


def _cast(arr: pa.Array, t: str, date_format: str | None) -> tuple[pa.Array, pa.Array | None]:
    """A column in type ``t`` (already so when pyarrow parsed it); with a mask of the rows
    to keep when some value is longer than ``decimal(38,0)`` holds."""
    if t == T.NULL:
        return pa.nulls(len(arr)), None
    if arr.type == T.to_arrow(t):
        return arr, None
    if t == T.BOOL:
        return pc.equal(pc.utf8_lower(arr), "true"), None
    if t in (T.DATE, T.TIMESTAMP) and date_format is not None:
        ts = pc.strptime(arr, format=date_format, unit="us")
        return (ts.cast(pa.date32()) if t == T.DATE else ts), None
    fits = pc.fill_null(
        pc.less_equal(pc.utf8_length(pc.utf8_ltrim(arr, "-")), T.MAX_DECIMAL_PRECISION), True
    )  # (a decimal(38,0) column: every value an integer)
    if all_of(fits):
        return arr.cast(T.to_arrow(t)), None
    return pc.if_else(fits, arr, None).cast(T.to_arrow(t)), fits


def _too_long(name: str, line: int, row: dict[str, Any], names: list[str], types: list[str]) -> Bad:
    for n, t in zip(names, types, strict=True):
        text = row[n]
        if t == T.BIGINT and text is not None and len(text.lstrip("-")) > T.MAX_DECIMAL_PRECISION:
            why = (
                f"{name} line {line}: column {n!r}: value {text} has {len(text.lstrip('-'))} "
                f"digits, more than the {T.MAX_DECIMAL_PRECISION} of its type {T.BIGINT}"
            )
            return (line, row, why)
    raise AssertionError("no value too long")  # pragma: no cover


def _fields_reason(name: str, row: Any) -> str:
    return (
        f"{name} line {row.number}: {row.expected_columns} fields expected, "
        f"{row.actual_columns} found"
    )
