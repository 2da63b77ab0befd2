"""The load checksum of the same content is the same whatever the chunk size, for every
logical type, on the Arrow path (dict rows) and the light path (``Columns``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal

import pytest

from freight._checksum import Checksum
from freight._intake import Intake

VALUES = {
    "bool": [True, False, None, True],
    "int": [1, None, 3, 4],
    "float": [1.5, -0.0, None, 2.0],
    "text": ["a", None, "bc", ""],
    "date": [dt.date(2024, 1, 1), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)],
    "ts": [dt.datetime(2024, 1, 1, 12), None, dt.datetime(2024, 1, 2), dt.datetime(1, 1, 1)],
    "tstz": [
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        None,
        None,
        dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
    ],
    "time": [dt.time(1, 2, 3), dt.time(0), None, dt.time(23, 59, 59, 999999)],
    "uuid": [uuid.UUID(int=1), None, uuid.UUID(int=2), uuid.UUID(int=3)],
    "interval": [dt.timedelta(seconds=1), None, dt.timedelta(days=-2), dt.timedelta(0)],
    "decimal": [Decimal("1.5"), None, Decimal("2.25"), Decimal("0")],
    "bytes": [b"x", None, b"", b"\x00"],
}


def checksum(rows: list[dict], chunk_rows: int, light: bool) -> str:
    h = Checksum(hashlib.sha256(b"seed"))
    for chunk in Intake(rows, chunk_rows=chunk_rows, light=light).chunks():
        h.add(chunk.table, chunk.rejects)
    return h.hexdigest()


@pytest.mark.parametrize("light", [False, True], ids=["arrow", "light"])
@pytest.mark.parametrize("column", list(VALUES))
def test_the_checksum_does_not_see_where_chunks_end(column: str, light: bool) -> None:
    rows = [{"id": i, column: v} for i, v in enumerate(VALUES[column])]
    rows.append({"id": 9})  # a row lacking the column: NULL there
    sums = {n: checksum(rows, n, light) for n in (1, 2, 3, 50_000)}
    assert len(set(sums.values())) == 1, sums


def test_the_checksum_sees_the_content() -> None:
    rows = [{"id": i, "b": v} for i, v in enumerate(VALUES["bool"])]
    changed = [dict(r) for r in rows]
    changed[0]["b"] = False
    assert checksum(rows, 2, False) != checksum(changed, 2, False)


@pytest.mark.parametrize("light", [False, True], ids=["arrow", "light"])
def test_a_row_with_no_fields_is_rejected_whatever_its_neighbours(light: bool) -> None:
    rows: list[dict] = [{"a": 1}, {}, {"a": 2}, {}]
    for n in (1, 2, 4):
        chunks = list(Intake(rows, chunk_rows=n, light=light).chunks())
        rejects = [r for c in chunks for r in c.rejects]
        assert [(r.row_number, r.reason) for r in rejects] == [
            (2, "row 2 has no fields"),
            (4, "row 4 has no fields"),
        ]
        assert sum(c.table.num_rows for c in chunks) == 2
    assert len({checksum(rows, n, light) for n in (1, 2, 4)}) == 1
