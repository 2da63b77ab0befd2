"""Hostile input as a table of cases, each with its expected outcome on each destination:
an exact round trip, a quarantined row with its reason, or a typed FreightError before
anything is written. Always: ``rows_in`` equals the sum of the counters, and the catalogue
afterwards holds nothing new but the table and freight's own tables."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import freight
from _conformance import assert_accounted, kind, stored_objects
from reliability._support import FULL, Tally

PARIS = ZoneInfo("Europe/Paris")
ROUND_TRIP = "round trip"


@dataclass(frozen=True)
class Quarantined:
    reason: str  # a part of the reason every rejected row gives
    rows: int = 1


@dataclass(frozen=True)
class Refused:
    error: type[freight.FreightError]
    words: str = ""


@dataclass(frozen=True)
class StoredAs:
    """Stored, and read back as these rows: a documented change (docs/types.md)."""

    rows: Callable[[], list[dict]]


Outcome = str | Quarantined | Refused | StoredAs


@dataclass(frozen=True)
class Case:
    name: str
    rows: Callable[[], list[dict]]
    expect: Outcome | dict[str, Outcome]
    table: str = "t"
    xfail: dict[str, str] = field(default_factory=dict)  # destination -> issue and fix
    full_only: dict[str, str] = field(default_factory=dict)  # destination -> why

    def outcome(self, dest: str) -> Outcome:
        return self.expect[dest] if isinstance(self.expect, dict) else self.expect


def nest(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = {"a": v}
    return v


def value(v: Any) -> Callable[[], list[dict]]:
    return lambda: [{"id": 1, "v": v}]


def column(name: str) -> Callable[[], list[dict]]:
    return lambda: [{name: 1}]


CASES = [
    Case("nan", value(float("nan")), ROUND_TRIP),
    Case("+inf", value(float("inf")), ROUND_TRIP),
    Case("-inf", value(float("-inf")), ROUND_TRIP),
    Case("-0.0", value(-0.0), ROUND_TRIP),
    # neither destination keeps the sign of a decimal zero (docs/types.md): stored as 0.0
    Case("Decimal -0.0", value(Decimal("-0.0")), StoredAs(value(Decimal("0.0")))),
    Case(
        "NUL in text",
        value("a\x00b"),
        {"duckdb": ROUND_TRIP, "postgres": Quarantined("NUL character")},
    ),
    Case("lone surrogate", value("a\ud800b"), Quarantined("not valid unicode")),
    Case("10 MB string", value("x" * 10_000_000), ROUND_TRIP),
    Case("2**63", value(2**63), ROUND_TRIP),
    Case("-2**63 - 1", value(-(2**63) - 1), ROUND_TRIP),
    Case("38 digits", value(10**38 - 1), ROUND_TRIP),
    Case("39 digits", value(10**38), Quarantined("needs 39 integer digits")),
    Case("date year 1", value(date(1, 1, 1)), ROUND_TRIP),
    Case("date year 9999", value(date(9999, 12, 31)), ROUND_TRIP),
    Case("timestamp year 1", value(datetime(1, 1, 1)), ROUND_TRIP),
    Case("timestamp year 9999", value(datetime(9999, 12, 31, 23, 59, 59, 999999)), ROUND_TRIP),
    Case(
        "aware, before year 1 in UTC",
        value(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))),
        Quarantined("year"),
    ),
    Case(
        "aware, after year 9999 in UTC",
        value(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2)))),
        Quarantined("year"),
    ),
    Case("DST gap", value(datetime(2026, 3, 29, 2, 30, tzinfo=PARIS)), ROUND_TRIP),
    Case("DST fold 0", value(datetime(2026, 10, 25, 2, 30, tzinfo=PARIS)), ROUND_TRIP),
    Case("DST fold 1", value(datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS)), ROUND_TRIP),
    Case("nested 50 deep", value(nest(50)), ROUND_TRIP),
    Case(
        "nested 1,000 deep",
        value(nest(1000)),
        Quarantined("deep"),
    ),
    Case("int then text", lambda: [{"v": 1}, {"v": "a"}], Quarantined("is not an integer")),
    Case("bool then int", lambda: [{"v": True}, {"v": 2}], Quarantined("is not a boolean")),
    Case("int then float", lambda: [{"v": 1}, {"v": 2.5}], ROUND_TRIP),
    Case("empty batch", list, ROUND_TRIP),
    Case("empty rows", lambda: [{}, {}], Quarantined("has no fields", rows=2)),
    Case("quotes", value('it\'s "q" `b` [c] \\'), ROUND_TRIP),
    Case("SQL in a value", value("'); drop table t; --"), ROUND_TRIP),
    Case("SQL in a column name", column('"; drop table t; --'), ROUND_TRIP),
    Case("SQL in a table name", value(1), ROUND_TRIP, table='"; drop table _freight_loads; --'),
    Case("keyword column", column("select"), ROUND_TRIP),
    Case("keyword table", value(1), ROUND_TRIP, table="order"),
    Case("quote in a column name", column('a"b'), ROUND_TRIP),
    Case("63-byte column", column("c" * 63), ROUND_TRIP),
    Case(
        "64-byte column",
        column("c" * 64),
        {"duckdb": ROUND_TRIP, "postgres": Refused(freight.InvalidIdentifierError, "64 bytes")},
    ),
    Case("63-byte table", value(1), ROUND_TRIP, table="t" * 63),
    Case(
        "64-byte table",
        value(1),
        {"duckdb": ROUND_TRIP, "postgres": Refused(freight.InvalidIdentifierError, "64 bytes")},
        table="t" * 64,
    ),
    Case("63 bytes of 2-byte letters", column("é" * 31 + "x"), ROUND_TRIP),
    Case(
        "columns differing by case",
        lambda: [{"Id": 1, "id": 2}],
        {"duckdb": Refused(freight.InvalidIdentifierError, "case"), "postgres": ROUND_TRIP},
    ),
    Case("slash in a table name", value(1), ROUND_TRIP, table="a/b"),
    Case("backslash in a table name", value(1), ROUND_TRIP, table="a\\b"),
    Case("dot-dot table name", value(1), ROUND_TRIP, table="../x"),
    Case("dot in a column name", column("a.b"), ROUND_TRIP),
    Case("glob table name", value(1), ROUND_TRIP, table="a*?[b]"),
    Case("empty column name", column(""), Refused(freight.InvalidIdentifierError, "non-empty")),
    Case("blank column name", column(" "), Refused(freight.InvalidIdentifierError, "spaces")),
    Case(
        "surrogate in a column name",
        column("a\ud800"),
        Refused(freight.InvalidIdentifierError, "surrogate"),
    ),
    Case(
        "surrogate in a table name",
        value(1),
        Refused(freight.InvalidIdentifierError, "surrogate"),
        table="a\ud800",
    ),
    Case(
        "_FREIGHT_ table",
        value(1),
        Refused(freight.InvalidIdentifierError, "_freight_"),
        table="_FREIGHT_LOADS",
    ),
    Case(
        "_FREIGHT_ column",
        column("_FREIGHT_LOAD_ID"),
        Refused(freight.InvalidIdentifierError, "_freight_"),
    ),
]


def same(a: Any, b: Any) -> bool:
    """Equal as freight promises to keep them: floats by bits (NaN, -0.0), aware datetimes
    as instants, JSON values read back as JSON text, an int in a widened float column."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a == b and str(a).startswith("-") == str(b).startswith("-")
    if isinstance(a, datetime) and a.tzinfo is not None:
        return (
            isinstance(b, datetime)
            and b.tzinfo is not None
            and a.astimezone(UTC) == b.astimezone(UTC)
        )
    if type(a) is int and isinstance(b, float):  # a column widened to float64, exactly
        return b.is_integer() and int(b) == a
    if isinstance(a, dict | list) and isinstance(b, str):
        return bool(json.loads(b) == a)
    return type(a) is type(b) and a == b


def load(ds: freight.Dataset, rows: list[dict], table: str) -> freight.LoadResult:
    """``ds.load``, where anything but a FreightError fails the test in one line (a deep
    recursion's traceback takes pytest seconds to print)."""
    try:
        return ds.load(rows, table)
    except freight.FreightError:
        raise
    except Exception as e:
        raise AssertionError(f"raw {type(e).__name__}, not a FreightError: {e!s:.200}") from None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(
    ds: freight.Dataset, url: str, case: Case, tally: Tally, request: pytest.FixtureRequest
) -> None:
    dest = kind(ds)
    if dest in case.full_only and not FULL:
        pytest.skip(f"in the full sweep only: {case.full_only[dest]}")
    if dest in case.xfail:
        request.applymarker(pytest.mark.xfail(strict=True, reason=case.xfail[dest]))
    expect = case.outcome(dest)
    rows = case.rows()
    tally["inputs"] += 1
    objects = stored_objects(ds, url)
    if isinstance(expect, Refused):
        with pytest.raises(expect.error, match=expect.words or None):
            load(ds, rows, case.table)
        assert case.table not in ds.tables()
    else:
        r = load(ds, rows, case.table)
        assert_accounted(r)
        if isinstance(expect, Quarantined):
            assert r.rejected == expect.rows
            reasons = [x.reason for x in ds.rejected(case.table)]
            assert len(reasons) == expect.rows
            assert all(expect.reason in why for why in reasons), reasons
        else:
            assert r.rejected == 0 and r.inserted == len(rows)
            back = ds.read(case.table).to_pylist() if rows else []
            tally["rows_checked"] += len(back)
            assert len(back) == len(rows)
            want = expect.rows() if isinstance(expect, StoredAs) else rows
            for given, got in zip(want, back, strict=True):
                for col, v in given.items():
                    assert same(v, got[col]), (col, v, got[col])
    new = stored_objects(ds, url) - objects
    stray = {o for o in new if not {case.table, "_freight_loads", "_freight_rejected"} & set(o)}
    tally["leftovers"] += len(stray)
    assert not stray


def test_tables_differing_by_case_keep_history_and_rows_together(
    ds: freight.Dataset, tally: Tally, request: pytest.FixtureRequest
) -> None:
    """Whatever a destination does with ``events``/``Events``/``EVENTS`` (three tables, one
    table, or a refusal), every table's rows are the rows its own journal says it got."""
    for i, name in enumerate(["events", "Events", "EVENTS"]):
        tally["inputs"] += 1
        try:
            ds.load([{"id": i}], name)
        except freight.InvalidIdentifierError:
            continue
    for name in ds.tables():
        committed = [h for h in ds.history(name) if h.status == "committed"]
        assert len(ds.read(name)) == sum(h.inserted for h in committed), name
