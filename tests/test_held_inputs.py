"""An input already held in memory (Arrow table, record batch reader, pandas DataFrame) is
cut into pieces by its size in bytes, not the streamed inputs' 50,000 rows: one statement per
piece instead of one per 50,000 rows, with the same outcome."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import freight
from freight import _readers
from freight._checksum import Checksum
from freight._readers import DEFAULT_CHUNK_ROWS, HELD_CHUNK_BYTES, Reading, Rows, pieces

ROWS = 3 * DEFAULT_CHUNK_ROWS + 7


def sizes(data: object, chunk_rows: int | None = None) -> list[int]:
    got = pieces(data, chunk_rows, Reading())
    return [len(p.rows) if isinstance(p, Rows) else p.num_rows for p in got]


def narrow() -> pa.Table:
    return pa.table({"id": pa.array(range(ROWS), pa.int64()), "flag": [True] * ROWS})


def test_a_held_arrow_table_is_one_piece_while_it_fits_the_byte_budget() -> None:
    assert sizes(narrow()) == [ROWS]


def test_a_given_chunk_rows_still_cuts_a_held_table() -> None:
    assert sizes(narrow(), DEFAULT_CHUNK_ROWS) == [DEFAULT_CHUNK_ROWS] * 3 + [7]


def test_wide_rows_are_cut_by_the_byte_budget_never_below_the_default() -> None:
    wide = pa.table({"id": range(ROWS), "blob": [b"x" * 4096] * ROWS})
    per_row = wide.nbytes // ROWS
    got = sizes(wide)
    assert sum(got) == ROWS
    assert max(got) == max(DEFAULT_CHUNK_ROWS, HELD_CHUNK_BYTES // per_row) < ROWS


def test_a_reader_keeps_its_batches_whole() -> None:
    t = narrow()
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=120_000))
    assert sizes(reader) == [120_000, ROWS - 120_000]


def test_a_held_dataframe_is_one_piece() -> None:
    pd = pytest.importorskip("pandas")
    assert sizes(pd.DataFrame({"id": range(ROWS), "x": [1.5] * ROWS})) == [ROWS]


def test_a_dataframe_of_long_strings_is_cut_by_their_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A string column's shallow size is 8 bytes a row: the budget counts the strings."""
    pd = pytest.importorskip("pandas")
    monkeypatch.setattr(_readers, "HELD_CHUNK_BYTES", 64 * 2**20)
    frame = pd.DataFrame({"s": ["x" * 1000] * ROWS}, dtype=object)
    got = sizes(frame)
    assert sum(got) == ROWS and DEFAULT_CHUNK_ROWS <= max(got) < 64 * 2**20 // 1000


def test_rows_still_come_in_default_chunks() -> None:
    assert sizes([{"id": i} for i in range(ROWS)]) == [DEFAULT_CHUNK_ROWS] * 3 + [7]


def test_a_held_merge_counts_and_hashes_as_in_default_chunks(url: str) -> None:
    """Half updates (one value changed), a quarter unchanged, the rest new: the counters and
    checksum of one piece are those of 50,000-row chunks."""
    base = pa.table({"id": range(ROWS), "v": [i % 7 for i in range(ROWS)]})
    ids = list(range(ROWS // 2, ROWS + ROWS // 2))
    new = sum(1 for i in ids if i >= ROWS)
    changed = sum(1 for i in ids if i < ROWS and i % 2)
    batch = pa.table({"id": ids, "v": [i % 7 + (i % 2) for i in ids]})
    results = []
    for chunk_rows in (None, DEFAULT_CHUNK_ROWS):
        with freight.connect(url, chunk_rows=chunk_rows) as ds:
            table = f"t{chunk_rows or 0}"
            ds.load(base, table=table, strategy="merge", key="id")
            r = ds.load(batch, table=table, strategy="merge", key="id")
            results.append((r.inserted, r.updated, r.unchanged, r.rows_in, r.checksum))
            assert ds.read(table).num_rows == ROWS + new
    assert results[0][:4] == (new, changed, ROWS - new - changed, ROWS)
    assert results[0] == results[1]


def test_a_held_load_run_again_is_skipped(url: str) -> None:
    """The checksum of a held chunk, hashed in a thread while it is written, is complete when
    the load compares it: the same load again is skipped."""
    with freight.connect(url) as ds:
        first = ds.load(narrow(), table="t", strategy="merge", key="id")
        again = ds.load(narrow(), table="t", strategy="merge", key="id")
    assert (first.status, first.inserted) == ("committed", ROWS)
    assert (again.status, again.skipped, again.checksum) == ("skipped", ROWS, first.checksum)


def test_an_error_while_hashing_a_held_chunk_fails_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Checksum, table: object, rejects: object) -> None:
        raise RuntimeError("hash broke")

    with freight.connect(f"duckdb:///{tmp_path / 'x.duckdb'}") as ds:
        monkeypatch.setattr(Checksum, "add", broken)
        with pytest.raises(RuntimeError, match="hash broke"):
            ds.load(narrow(), table="t")
        monkeypatch.undo()
        assert "t" not in ds.tables()
