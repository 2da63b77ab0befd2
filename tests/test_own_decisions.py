"""Decisions freight makes itself, tested where they are made rather than through a safety net
that happens to catch the same case:

- a row whose key has a NULL or missing part is rejected by intake (both the light path and
  the Arrow path), not only by the table's NOT NULL primary key refusing it later;
- the journal's "last committed load" ignores failed and skipped records even when no cache
  answers first (DuckDB keeps the last mark in ``_Known``: a reconnect starts without it).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import freight
from _conformance import kind
from freight._intake import Intake

KEY = ("a", "b")
ROWS = [
    {"a": 1, "b": 1, "v": "ok"},
    {"a": 1, "b": None, "v": "b is null"},
    {"a": None, "b": 2, "v": "a is null"},
    {"a": 2, "v": "b is missing"},
    {"a": None, "b": None, "v": "both null"},
    {"a": 3, "b": 3, "v": "ok too"},
]
EXPECTED = [
    (2, "key column 'b' is null or missing"),
    (3, "key column 'a' is null or missing"),
    (4, "key column 'b' is null or missing"),
    (5, "key column 'a', 'b' is null or missing"),
]


def _intake(data, **kw) -> tuple[list[dict], list[tuple[int | None, str]]]:
    intake = Intake(data, not_null=KEY, **kw)
    kept: list[dict] = []
    rejects: list[tuple[int | None, str]] = []
    for chunk in intake.chunks():
        table = chunk.table if isinstance(chunk.table, pa.Table) else chunk.table.to_arrow()
        kept += table.to_pylist()
        rejects += [(r.row_number, r.reason) for r in chunk.rejects]
    return kept, rejects


@pytest.mark.parametrize("chunk_rows", [1, 4, 100])
@pytest.mark.parametrize("path", ["light", "rows", "arrow"])
def test_intake_rejects_a_composite_key_with_a_null_part(path: str, chunk_rows: int) -> None:
    """Intake itself quarantines the rows; no destination is involved."""
    if path == "arrow":
        data: object = pa.Table.from_pylist([{"a": None, "b": None, "v": None}, *ROWS]).slice(1)
    else:
        data = [dict(r) for r in ROWS]
    kept, rejects = _intake(data, light=path == "light", chunk_rows=chunk_rows)
    assert [r["v"] for r in kept] == ["ok", "ok too"]
    assert sorted(rejects) == EXPECTED


def test_the_light_path_is_the_one_taken() -> None:
    """(the light case above would prove nothing if intake fell back to Arrow)"""
    chunks = list(Intake([dict(r) for r in ROWS], not_null=KEY, light=True).chunks())
    assert [type(c.table).__name__ for c in chunks] == ["Columns"]


def test_a_key_column_unknown_to_the_batch_rejects_every_row() -> None:
    kept, rejects = _intake([{"a": 1, "v": "x"}, {"a": 2, "v": "y"}], light=True)
    assert kept == []
    assert rejects == [
        (1, "key column 'b' is null or missing"),
        (2, "key column 'b' is null or missing"),
    ]


def test_last_committed_ignores_failed_and_skipped_loads_without_a_cache(url: str) -> None:
    with freight.connect(url) as ds:
        ds.load([{"id": 1}], "t", strategy="merge", key="id")  # schema version 1
        ds.load([{"id": 2, "b": 1}], "t", strategy="merge", key="id")  # 2
        ds.load([{"id": 2, "b": 1}], "t", strategy="merge", key="id")  # skipped
        with pytest.raises(freight.RejectedRowsError):  # failed: version 0, no checksum
            ds.load([{"id": 3, "b": "N/A"}], "t", strategy="merge", key="id", on_reject="fail")
        statuses = [h.status for h in ds.history("t")]
        assert statuses == ["failed", "skipped", "committed", "committed"]
    with freight.connect(url) as ds:  # the only Dataset on the file was closed: nothing cached
        if kind(ds) == "duckdb":
            assert ds.destination.known.marks == {}  # type: ignore[attr-defined]
        # the last committed load is the second one: the same content again is skipped ...
        assert ds.load([{"id": 2, "b": 1}], "t", strategy="merge", key="id").status == "skipped"
        assert ds.history("t")[0].schema_version == 2
    with freight.connect(url) as ds:
        # ... and a change of schema counts on from its version (not from the failed load's 0)
        r = ds.load([{"id": 4, "c": 1}], "t", strategy="merge", key="id")
        assert r.status == "committed" and r.schema_changes
        assert ds.history("t")[0].schema_version == 3
