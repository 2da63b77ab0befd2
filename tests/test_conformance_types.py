"""Conformance: values round-trip exactly, schema evolution, contracts (evolve / freeze /
discard_columns), quarantine of values that do not fit, explicit ``columns=`` types and
identifiers. Runs on every destination."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import freight
from _conformance import assert_accounted, counts, kind, rows

UTC = dt.UTC
PLUS5 = dt.timezone(dt.timedelta(hours=5, minutes=30))

HOW = {"append": {}, "merge": {"strategy": "merge", "key": "id"}}


@pytest.fixture(params=sorted(HOW))
def how(request: pytest.FixtureRequest) -> dict:
    """The same schema rules hold for appends (direct path) and keyed loads (staged path)."""
    return HOW[request.param]


hsettings = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def roundtrip(ds: freight.Dataset, values: list, table: str | None = None) -> list:
    """Load ``values`` as column ``v`` (with an ordering column) and read them back."""
    table = table or f"rt_{uuid.uuid4().hex[:10]}"
    r = ds.load([{"i": i, "v": v} for i, v in enumerate(values)], table)
    assert_accounted(r)
    assert counts(r) == {"inserted": len(values)}, r
    return [x.get("v") for x in rows(ds, table, "i")]


# --------------------------------------------------------------------------- round trips

CASES = {
    "bool": ([True, False, None], "bool"),
    "int": ([0, 1, -1, 2**63 - 1, -(2**63), None], "int64"),
    "float": ([0.0, 1.5, -2.25, 1e308, 5e-324, 0.1, None], "float64"),
    "str": (["", "a", "x" * 100_000, "naïve ☃ 名前 🚀 e\u0301", "tab\tnew\nline", None], "string"),
    "bytes": ([b"", b"\x00\x01\xff", bytes(range(256)) * 40, None], "binary"),
    "date": ([dt.date(1, 1, 1), dt.date(2024, 2, 29), dt.date(9999, 12, 31), None], "date"),
    "time": ([dt.time(0, 0), dt.time(23, 59, 59, 999_999), dt.time(12, 0, 0, 1), None], "time"),
    "datetime": (
        [
            dt.datetime(2024, 1, 1, 12, 30, 45, 123456),
            dt.datetime(1970, 1, 1),
            dt.datetime(1900, 3, 1),
            None,
        ],
        "timestamp",
    ),
    "uuid": ([uuid.UUID(int=0), uuid.UUID("12345678-1234-5678-1234-567812345678"), None], "uuid"),
    "interval": (
        [
            dt.timedelta(0),
            dt.timedelta(days=1, microseconds=5),
            dt.timedelta(seconds=-1),
            dt.timedelta(days=-(10**6), microseconds=1),
            dt.timedelta(microseconds=2**62),
            None,
        ],
        "interval",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_round_trip_exactly(ds: freight.Dataset, case: str) -> None:
    values, logical = CASES[case]
    table = f"rt_{case}"
    got = roundtrip(ds, values, table)
    assert got == values
    assert [type(g) for g in got] == [type(v) for v in values]
    assert ds.schema(table)["v"] == logical


def test_aware_datetimes_keep_the_same_instant(ds: freight.Dataset) -> None:
    values = [
        dt.datetime(2024, 1, 1, 12, 0, tzinfo=UTC),
        dt.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=PLUS5),
        dt.datetime(1999, 12, 31, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    ]
    got = roundtrip(ds, values, "tz")
    assert ds.schema("tz")["v"] == "timestamptz"
    assert all(g.tzinfo is not None and g.utcoffset() is not None for g in got)
    assert got == values  # aware datetimes compare as instants
    assert [g.timestamp() for g in got] == [v.timestamp() for v in values]


def test_special_floats_are_kept(ds: freight.Dataset) -> None:
    got = roundtrip(ds, [math.nan, math.inf, -math.inf, -0.0, 0.0], "sf")
    assert math.isnan(got[0])
    assert got[1] == math.inf and got[2] == -math.inf
    assert got[3] == 0.0 and math.copysign(1.0, got[3]) == -1.0
    assert got[4] == 0.0 and math.copysign(1.0, got[4]) == 1.0


def test_ints_beyond_int64_are_kept_exactly_as_decimal(ds: freight.Dataset) -> None:
    values = [2**63, -(2**63) - 1, 10**37, -(10**38 - 1), 5]
    got = roundtrip(ds, values, "big")
    assert ds.schema("big")["v"] == "decimal(38,0)"
    assert all(isinstance(g, Decimal) for g in got)
    assert got == [Decimal(v) for v in values]
    assert [int(g) for g in got] == values


def test_int_beyond_38_digits_is_rejected_not_rounded(ds: freight.Dataset) -> None:
    r = ds.load([{"i": 0, "v": 1}, {"i": 1, "v": 10**40}], "huge")
    assert counts(r) == {"inserted": 1, "rejected": 1}
    assert rows(ds, "huge") == [{"i": 0, "v": 1}] or [int(x["v"]) for x in rows(ds, "huge")] == [1]
    (q,) = ds.rejected("huge")
    assert "v" in q.reason
    assert q.row["i"] == 1


def test_decimals_keep_precision(ds: freight.Dataset) -> None:
    values = [
        Decimal("1.10"),
        Decimal("12345678901234567890.123456789"),
        Decimal("-0.000000001"),
        Decimal("0"),
    ]
    got = roundtrip(ds, values, "dec")
    assert got == values
    assert all(isinstance(g, Decimal) for g in got)
    assert ds.schema("dec")["v"].startswith("decimal(")
    got1 = roundtrip(ds, [Decimal("1.10")], "dec1")
    assert str(got1[0]) == "1.10"


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1, 2.5, None, "x"]},
        [1, "two", {"three": 3}],
        {},
        [],
        {"ünï": "☃", "n": {"d": True}},
    ],
    ids=["dict", "list", "empty-dict", "empty-list", "unicode"],
)
def test_dicts_and_lists_round_trip_as_json(ds: freight.Dataset, value) -> None:
    got = roundtrip(ds, [value, None], "j")
    assert ds.schema("j")["v"] == "json"
    assert isinstance(got[0], str)
    assert orjson.loads(got[0]) == value
    assert got[1] is None


def test_nan_inside_json_is_not_silently_nulled(ds: freight.Dataset) -> None:
    r = ds.load([{"i": 0, "v": {"x": 1.0}}, {"i": 1, "v": {"x": math.nan}}], "jn")
    assert_accounted(r)
    stored = {x["i"]: x["v"] for x in rows(ds, "jn")}
    # JSON has no NaN: the row is quarantined (storing null would lose the value)
    assert counts(r) == {"inserted": 1, "rejected": 1}
    assert list(stored) == [0]
    assert "v" in ds.rejected("jn")[0].reason


def test_nan_in_pandas_is_null_but_nan_in_dicts_stays_nan(ds: freight.Dataset) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"i": [0, 1], "v": [1.5, math.nan]})
    ds.load(df, "p")
    assert [x["v"] for x in rows(ds, "p", "i")] == [1.5, None]
    got = roundtrip(ds, [1.5, math.nan], "d")
    assert got[0] == 1.5 and got[1] is not None and math.isnan(got[1])


def test_text_with_nul_is_kept_or_quarantined_never_stripped(ds: freight.Dataset) -> None:
    r = ds.load([{"i": 0, "v": "a\x00b"}, {"i": 1, "v": "ok"}], "nul")
    assert_accounted(r)
    stored = {x["i"]: x["v"] for x in rows(ds, "nul")}
    assert stored[1] == "ok"
    # DuckDB text holds NUL; PostgreSQL text cannot (Capabilities.text_allows_nul)
    assert ds.destination.capabilities.text_allows_nul == (kind(ds) == "duckdb")
    if kind(ds) == "duckdb":
        assert (counts(r), stored[0]) == ({"inserted": 2}, "a\x00b")
    else:
        assert (counts(r), sorted(stored)) == ({"inserted": 1, "rejected": 1}, [1])
        assert "v" in ds.rejected("nul")[0].reason


def test_minus_zero_merged_over_zero_is_unchanged(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "x": 0.0}], "z", strategy="merge", key="id")
    r = ds.load([{"id": 1, "x": -0.0}], "z", strategy="merge", key="id")
    assert counts(r) == {"unchanged": 1}


def test_nan_merged_over_nan_is_unchanged(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "x": math.nan}], "n", strategy="merge", key="id")
    r = ds.load([{"id": 1, "x": math.nan}, {"id": 2, "x": 1.0}], "n", strategy="merge", key="id")
    assert counts(r) == {"unchanged": 1, "inserted": 1}


# --------------------------------------------------------------------------- hypothesis round trips


@hsettings
@given(values=st.lists(st.integers(-(10**38) + 1, 10**38 - 1) | st.none(), min_size=1, max_size=8))
def test_any_int_round_trips(ds: freight.Dataset, values) -> None:
    got = roundtrip(ds, values)
    assert [None if g is None else int(g) for g in got] == values
    assert all(g is None or int(g) == g for g in got)


@hsettings
@given(values=st.lists(st.floats(allow_nan=False) | st.none(), min_size=1, max_size=8))
def test_any_float_round_trips(ds: freight.Dataset, values) -> None:
    got = roundtrip(ds, values)
    assert got == values
    assert [math.copysign(1, g) if g is not None else None for g in got] == [
        math.copysign(1, v) if v is not None else None for v in values
    ]


def _surrogate(v: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in v)


# text, and text with lone surrogates and NUL (st.text() never makes a surrogate, whatever
# its alphabet: a string of them is joined from characters)
ANY_TEXT = st.text(st.characters()) | st.lists(
    st.characters() | st.integers(0xD800, 0xDFFF).map(chr) | st.just("\x00"), max_size=6
).map("".join)


@hsettings
@given(values=st.lists(ANY_TEXT | st.none(), min_size=1, max_size=8))
def test_any_text_round_trips_or_is_quarantined(ds: freight.Dataset, values) -> None:
    table = f"tx_{uuid.uuid4().hex[:10]}"
    r = ds.load([{"i": i, "v": v} for i, v in enumerate(values)], table)
    assert_accounted(r)
    stored = {x["i"]: x.get("v") for x in rows(ds, table)}
    nul_ok = ds.destination.capabilities.text_allows_nul
    # only text a destination cannot hold (lone surrogates; NUL where text cannot hold it)
    # is refused, and it always is
    refused = [v is not None and (_surrogate(v) or ("\x00" in v and not nul_ok)) for v in values]
    event(f"lone surrogate: {any(v is not None and _surrogate(v) for v in values)}")
    event(f"NUL: {any(v is not None and chr(0) in v for v in values)}")
    assert sorted(stored) == [i for i, no in enumerate(refused) if not no]
    assert [stored[i] for i in sorted(stored)] == [
        v for v, no in zip(values, refused, strict=True) if not no
    ]
    assert r.rejected == sum(refused)


@hsettings
@given(
    values=st.lists(
        st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
        | st.none(),
        min_size=1,
        max_size=6,
    )
)
def test_any_naive_datetime_round_trips(ds: freight.Dataset, values) -> None:
    assert roundtrip(ds, values) == values


@hsettings
@given(
    values=st.lists(
        # mixed scales in one column (the decimal type widens its scale and precision)
        st.none()
        | st.integers(0, 10).flatmap(
            lambda places: st.decimals(places=places, min_value=-(10**20), max_value=10**20)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_decimal_round_trips(ds: freight.Dataset, values) -> None:
    got = roundtrip(ds, values)
    assert got == values
    event(f"scales: {len({v.as_tuple().exponent for v in values if v is not None})}")


@hsettings
@given(values=st.lists(st.binary() | st.none(), min_size=1, max_size=6))
def test_any_bytes_round_trip(ds: freight.Dataset, values) -> None:
    assert roundtrip(ds, values) == values


# --------------------------------------------------------------------------- explicit types


def test_columns_override_inference(ds: freight.Dataset) -> None:
    r = ds.load(
        [{"score": 1, "payload": {"a": [1, 2]}}, {"score": 2, "payload": {"b": None}}],
        "h",
        columns={"score": "float64", "payload": "json"},
    )
    assert counts(r) == {"inserted": 2}
    assert ds.schema("h") == {"score": "float64", "payload": "json"}
    got = rows(ds, "h", "score")
    assert [type(x["score"]) for x in got] == [float, float]
    assert [x["score"] for x in got] == [1.0, 2.0]
    assert [orjson.loads(x["payload"]) for x in got] == [{"a": [1, 2]}, {"b": None}]


def test_columns_type_a_column_that_is_only_null(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "n": None}], "hn", columns={"n": "int64"})
    assert ds.schema("hn")["n"] == "int64"
    r = ds.load([{"id": 2, "n": 5}], "hn")
    assert r.schema_changes == []
    assert ds.schema("hn")["n"] == "int64"


def test_unknown_column_type_is_refused(ds: freight.Dataset) -> None:
    with pytest.raises(freight.FreightError):
        ds.load([{"x": 1}], "bad", columns={"x": "no-such-type"})
    assert "bad" not in ds.tables()


# --------------------------------------------------------------------------- evolution


def test_new_columns_are_added_nullable(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "a": "x"}], "e", **how)
    r = ds.load([{"id": 2, "a": "y", "b": 2.5, "c": True}], "e", **how)
    assert counts(r) == {"inserted": 1}
    assert ds.schema("e") == {"id": "int64", "a": "string", "b": "float64", "c": "bool"}
    assert any("b" in c for c in r.schema_changes) and any("c" in c for c in r.schema_changes)
    assert rows(ds, "e", "id") == [
        {"id": 1, "a": "x", "b": None, "c": None},
        {"id": 2, "a": "y", "b": 2.5, "c": True},
    ]
    r = ds.load([{"id": 3}], "e", **how)
    assert r.schema_changes == []
    assert rows(ds, "e", "id")[2] == {"id": 3, "a": None, "b": None, "c": None}


def test_int_column_widens_to_decimal_for_big_ints(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "n": 7}], "w", **how)
    r = ds.load([{"id": 2, "n": 2**64}], "w", **how)
    assert counts(r) == {"inserted": 1}
    assert r.schema_changes
    assert ds.schema("w")["n"] == "decimal(38,0)"
    assert [int(x["n"]) for x in rows(ds, "w", "id")] == [7, 2**64]
    assert [x["n"] for x in rows(ds, "w", "id")] == [Decimal(7), Decimal(2**64)]


def test_int_column_widens_to_float_when_a_fraction_arrives(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "n": 7}], "wf", **how)
    r = ds.load([{"id": 2, "n": 2.5}], "wf", **how)
    assert counts(r) == {"inserted": 1}
    assert r.schema_changes
    assert ds.schema("wf")["n"] == "float64"
    assert [x["n"] for x in rows(ds, "wf", "id")] == [7.0, 2.5]


def test_int_column_holding_big_ints_does_not_round_into_float(
    ds: freight.Dataset, how: dict
) -> None:
    ds.load([{"id": 1, "n": 2**60 + 1}], "wb", **how)
    r = ds.load([{"id": 2, "n": 2.5}], "wb", **how)
    assert_accounted(r)
    got = {x["id"]: x["n"] for x in rows(ds, "wb")}
    assert got[1] == 2**60 + 1 and int(got[1]) == 2**60 + 1  # never rounded
    # the column cannot become float64 without rounding 2**60+1: 2.5 is quarantined
    assert counts(r) == {"rejected": 1}
    assert sorted(got) == [1] and ds.schema("wb")["n"] == "int64"


def test_decimal_column_widens_for_more_scale(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "d": Decimal("12.50")}], "wd", **how)
    r = ds.load([{"id": 2, "d": Decimal("1.125")}], "wd", **how)
    assert_accounted(r)
    assert [x["d"] for x in rows(ds, "wd", "id")] == [Decimal("12.50"), Decimal("1.125")]


def test_value_that_does_not_fit_is_quarantined_with_a_reason(
    ds: freight.Dataset, how: dict
) -> None:
    ds.load([{"id": 1, "n": 5}], "q", **how)
    r = ds.load([{"id": 2, "n": 6}, {"id": 3, "n": "N/A"}, {"id": 4, "n": None}], "q", **how)
    assert counts(r) == {"inserted": 2, "rejected": 1}
    assert ds.schema("q")["n"] == "int64"
    assert rows(ds, "q", "id") == [{"id": 1, "n": 5}, {"id": 2, "n": 6}, {"id": 4, "n": None}]
    (q,) = ds.rejected("q")
    assert q.load_id == r.load_id and q.table == "q"
    assert q.row == {"id": 3, "n": "N/A"}
    assert q.row_number == 2
    assert "n" in q.reason and "N/A" in q.reason


def _coercion(first, second, kept: bool):
    """A case of the test below: ``kept`` when ``second`` is stored as given into the column
    ``first`` made."""
    return pytest.param(first, second, kept)


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        _coercion(5, True, False),
        _coercion(True, 1, False),
        _coercion("text", {"a": 1}, False),
        _coercion(dt.date(2024, 1, 1), "not a date", False),
        _coercion(1.5, "x", False),
        _coercion(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, tzinfo=PLUS5), False),
        _coercion(dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1), False),
        _coercion(dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 12, 30), False),
        _coercion(5, Decimal("1.5"), True),  # the column widens to decimal: kept exactly
        _coercion(b"bytes", "text", False),
        _coercion(uuid.UUID(int=1), "not-a-uuid", False),
        _coercion(5, " 42", False),
        _coercion(True, " TRUE ", False),
        _coercion(1.5, "1.50", False),
    ],
    ids=[
        "bool-into-int",
        "int-into-bool",
        "dict-into-text",
        "text-into-date",
        "text-into-float",
        "aware-into-naive",
        "naive-into-aware",
        "datetime-into-date",
        "decimal-into-int",
        "text-into-bytes",
        "text-into-uuid",
        "padded-text-into-int",
        "padded-text-into-bool",
        "zero-padded-text-into-float",
    ],
)
def test_values_are_never_coerced_into_another_type(
    ds: freight.Dataset, how: dict, first, second, kept: bool
) -> None:
    ds.load([{"id": 1, "v": first}], "nc", **how)
    schema = ds.schema("nc")
    r = ds.load([{"id": 2, "v": second}], "nc", **how)
    assert_accounted(r)
    stored = {x["id"]: x["v"] for x in rows(ds, "nc")}
    assert stored[1] == first
    if kept:  # only acceptable if it reads back as what was given
        assert counts(r) == {"inserted": 1}
        assert stored[2] == second and type(stored[2]) is type(second)
    else:
        assert counts(r) == {"rejected": 1}
        assert sorted(stored) == [1] and ds.schema("nc") == schema


def test_int_beyond_float_precision_into_float_column_is_not_rounded(
    ds: freight.Dataset, how: dict
) -> None:
    ds.load([{"id": 1, "x": 1.5}], "fl", **how)
    r = ds.load([{"id": 2, "x": 2**60 + 1}], "fl", **how)
    assert_accounted(r)
    stored = {x["id"]: x["x"] for x in rows(ds, "fl")}
    # a float64 column cannot hold 2**60+1 exactly: quarantined, the column stays float64
    assert counts(r) == {"rejected": 1}
    assert stored == {1: 1.5} and ds.schema("fl")["x"] == "float64"


# --------------------------------------------------------------------------- contracts


def test_freeze_refuses_a_new_column(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "a": "x"}], "f", **how)
    with pytest.raises(freight.SchemaContractError):
        ds.load([{"id": 2, "a": "y", "b": 1}], "f", contract="freeze", **how)
    assert ds.schema("f") == {"id": "int64", "a": "string"}
    assert rows(ds, "f") == [{"id": 1, "a": "x"}]


def test_freeze_refuses_a_widening(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "n": 1}], "fw", **how)
    for value in (2.5, 2**64):
        with pytest.raises(freight.SchemaContractError):
            ds.load([{"id": 2, "n": value}], "fw", contract="freeze", **how)
    assert ds.schema("fw") == {"id": "int64", "n": "int64"}
    assert rows(ds, "fw") == [{"id": 1, "n": 1}]


def test_freeze_accepts_loads_that_fit(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "a": "x", "n": 1.5}], "fa", **how)
    r = ds.load([{"id": 2, "a": None}, {"id": 3, "n": 2.0}], "fa", contract="freeze", **how)
    assert r.status == "committed" and counts(r) == {"inserted": 2}
    assert r.schema_changes == []


def test_freeze_still_quarantines_values_that_do_not_fit(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "n": 1}], "fq", **how)
    r = ds.load([{"id": 2, "n": "N/A"}, {"id": 3, "n": 3}], "fq", contract="freeze", **how)
    assert counts(r) == {"inserted": 1, "rejected": 1}


def test_discard_columns_drops_unknown_columns_and_reports_them(
    ds: freight.Dataset, how: dict
) -> None:
    ds.load([{"id": 1, "a": "x"}], "dc", **how)
    r = ds.load(
        [{"id": 2, "a": "y", "extra": 1, "more": "m"}], "dc", contract="discard_columns", **how
    )
    assert counts(r) == {"inserted": 1}
    assert ds.schema("dc") == {"id": "int64", "a": "string"}
    assert rows(ds, "dc", "id") == [{"id": 1, "a": "x"}, {"id": 2, "a": "y"}]
    text = " ".join(r.schema_changes)
    assert "extra" in text and "more" in text
    assert ds.history("dc")[0].schema_changes == r.schema_changes


def test_discard_columns_never_widens(ds: freight.Dataset, how: dict) -> None:
    ds.load([{"id": 1, "n": 1}], "dw", **how)
    r = ds.load([{"id": 2, "n": 2.5}, {"id": 3, "n": 3}], "dw", contract="discard_columns", **how)
    assert_accounted(r)
    assert ds.schema("dw")["n"] == "int64"
    assert counts(r) == {"inserted": 1, "rejected": 1}


# --------------------------------------------------------------------------- identifiers

WEIRD = [
    "with space",
    'double"quote',
    "single'quote",
    "ünïcødé 名前 🚀",
    "select",
    "order",
    '"; DROP TABLE x; --',
    "MixedCase",
    "semi;colon",
    "percent%s",
    "question?",
    "dollar$1",
]


@pytest.mark.parametrize("name", WEIRD)
def test_identifiers_are_kept_exactly_and_quoted(ds: freight.Dataset, name: str) -> None:
    ds.load([{"keep": 1}], "x")
    r = ds.load([{name: 1, "v": "a"}, {name: 2, "v": "b"}], name, strategy="merge", key=name)
    assert counts(r) == {"inserted": 2}
    r = ds.load([{name: 2, "v": "B", "x y": 1}], name, strategy="merge", key=name)
    assert counts(r) == {"updated": 1}
    assert name in ds.tables()
    assert list(ds.schema(name)) == [name, "v", "x y"]
    assert ds.read(name).column_names == [name, "v", "x y"]
    assert rows(ds, name, name) == [{name: 1, "v": "a", "x y": None}, {name: 2, "v": "B", "x y": 1}]
    assert [h.table for h in ds.history(name)] == [name, name]
    ds.load([{name: None}], name, strategy="merge", key=name)
    assert ds.rejected(name)[0].table == name
    assert rows(ds, "x") == [{"keep": 1}]  # nothing was injected
    assert sorted(ds.tables()) == sorted([name, "x"])


def test_columns_differing_only_by_case_follow_the_destinations_folding(
    ds: freight.Dataset,
) -> None:
    """Where names fold case (DuckDB) ``Name`` and ``name`` would be one column: refused,
    saying so. Where quoted names keep their case (PostgreSQL) they are two columns."""
    if ds.destination.capabilities.case_insensitive_identifiers:
        with pytest.raises(freight.InvalidIdentifierError, match="folds the case of names"):
            ds.load([{"Name": 1, "name": 2}], "cs")
        assert "cs" not in ds.tables()
        with pytest.raises(freight.InvalidIdentifierError, match="folds the case of names"):
            ds.load([{"id": 1, "Name": "a"}, {"id": 2, "name": "b"}], "cs")
        assert "cs" not in ds.tables()
        return
    ds.load([{"Name": 1, "name": 2}], "cs")
    ds.load([{"id": 1, "Name": 3}, {"id": 2, "name": 4}], "cs")
    assert rows(ds, "cs") == [
        {"Name": 1, "name": 2, "id": None},
        {"Name": 3, "name": None, "id": 1},
        {"Name": None, "name": 4, "id": 2},
    ]
    assert ds.schema("cs") == {"Name": "int64", "name": "int64", "id": "int64"}


def test_a_column_differing_by_case_from_a_stored_one(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "Name": "a"}], "cs2")
    if ds.destination.capabilities.case_insensitive_identifiers:
        with pytest.raises(freight.InvalidIdentifierError, match="folds the case of names"):
            ds.load([{"id": 2, "name": "b"}], "cs2")
        assert rows(ds, "cs2") == [{"id": 1, "Name": "a"}]
        return
    ds.load([{"id": 2, "name": "b"}], "cs2", strategy="merge", key="id")
    assert rows(ds, "cs2", "id") == [
        {"id": 1, "Name": "a", "name": None},
        {"id": 2, "Name": None, "name": "b"},
    ]


@pytest.mark.parametrize("where", ["column", "table", "key"])
@pytest.mark.parametrize("prefix", ["_freight_", "_FREIGHT_", "_Freight_"])
def test_reserved_prefix_is_refused_in_any_case(
    ds: freight.Dataset, where: str, prefix: str
) -> None:
    with pytest.raises(freight.InvalidIdentifierError, match="reserved prefix"):
        if where == "column":
            ds.load([{f"{prefix}x": 1}], "t")
        elif where == "table":
            ds.load([{"x": 1}], f"{prefix}loads")
        else:
            name = f"{prefix}load_id"
            ds.load([{name: 1}], "t", strategy="merge", key=name)
    assert ds.tables() == []
    assert all(not h.table.lower().startswith("_freight_") for h in ds.history())


@pytest.mark.parametrize("bad", ["", " lead", "trail ", "nul\x00"])
def test_unusable_table_names_are_refused(ds: freight.Dataset, bad: str) -> None:
    with pytest.raises(freight.InvalidIdentifierError):
        ds.load([{"x": 1}], bad)
    assert ds.tables() == []


def test_a_column_given_only_as_none_reads_back_as_none(ds: freight.Dataset) -> None:
    given_rows = [{"id": 1, "v": None}, {"id": 2, "v": None}]
    ds.load(given_rows, "alln")
    assert rows(ds, "alln", "id") == given_rows
    assert "v" in ds.schema("alln")


# --------------------------------------------------------------------------- frames and Arrow


def test_pandas_dtypes_round_trip(ds: freight.Dataset) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "i": [0, 1, 2],
            "nullable_int": pd.array([1, None, 3], dtype="Int64"),
            "text": ["a", None, "c"],
            "flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(
                ["2024-01-01 12:00", None, "1999-12-31 23:59:59.123456"], format="ISO8601"
            ),
            "at": pd.to_datetime(["2024-01-01 12:00", "2024-06-01 00:00", None]).tz_localize("UTC"),
            "cat": pd.Categorical(["x", "y", "x"]),
        }
    )
    r = ds.load(df, "pdt")
    assert counts(r) == {"inserted": 3}
    got = rows(ds, "pdt", "i")
    assert [x["nullable_int"] for x in got] == [1, None, 3]
    assert [x["text"] for x in got] == ["a", None, "c"]
    assert [x["flag"] for x in got] == [True, None, False]
    assert [x["when"] for x in got] == [
        dt.datetime(2024, 1, 1, 12),
        None,
        dt.datetime(1999, 12, 31, 23, 59, 59, 123456),
    ]
    assert got[0]["at"] == dt.datetime(2024, 1, 1, 12, tzinfo=UTC) and got[2]["at"] is None
    assert [x["cat"] for x in got] == ["x", "y", "x"]
    schema = ds.schema("pdt")
    assert (schema["nullable_int"], schema["flag"], schema["when"], schema["at"]) == (
        "int64",
        "bool",
        "timestamp",
        "timestamptz",
    )


def test_polars_nulls_round_trip(ds: freight.Dataset) -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame(
        {"i": [0, 1, 2], "n": [1, None, 3], "s": ["a", "b", None], "f": [1.5, None, math.nan]}
    )
    ds.load(df, "pl")
    got = rows(ds, "pl", "i")
    assert [x["n"] for x in got] == [1, None, 3]
    assert [x["s"] for x in got] == ["a", "b", None]
    assert got[0]["f"] == 1.5 and got[1]["f"] is None and math.isnan(got[2]["f"])


def test_arrow_uint64_beyond_int64_is_kept_exactly(ds: freight.Dataset) -> None:
    import pyarrow as pa

    t = pa.table({"i": [0, 1], "u": pa.array([2**64 - 1, 5], pa.uint64())})
    r = ds.load(t, "u64")
    assert counts(r) == {"inserted": 2}
    assert [int(x["u"]) for x in rows(ds, "u64", "i")] == [2**64 - 1, 5]


def test_arrow_nanoseconds_are_never_truncated(ds: freight.Dataset) -> None:
    import pyarrow as pa

    t = pa.table({"i": [0, 1, 2], "ts": pa.array([1_000, 1_001, None], pa.timestamp("ns"))})
    r = ds.load(t, "ns")
    assert_accounted(r)
    got = {x["i"]: x["ts"] for x in rows(ds, "ns")}
    assert got[0] == dt.datetime(1970, 1, 1, 0, 0, 0, 1) and got[2] is None
    # 1001 ns cannot be held in microseconds: quarantined, never truncated
    assert sorted(got) == [0, 2]
    assert counts(r) == {"inserted": 2, "rejected": 1}
    assert ds.rejected("ns")[0].row_number == 2


def test_arrow_nested_values_become_json(ds: freight.Dataset) -> None:
    import pyarrow as pa

    t = pa.table(
        {
            "i": [0, 1],
            "s": pa.array(
                [{"a": 1, "b": "x"}, None], pa.struct([("a", pa.int64()), ("b", pa.string())])
            ),
            "l": pa.array([[1, 2], []], pa.list_(pa.int64())),
        }
    )
    ds.load(t, "nest")
    assert ds.schema("nest")["s"] == "json" and ds.schema("nest")["l"] == "json"
    got = rows(ds, "nest", "i")
    assert orjson.loads(got[0]["s"]) == {"a": 1, "b": "x"} and got[1]["s"] is None
    assert [orjson.loads(x["l"]) for x in got] == [[1, 2], []]


def test_columns_hint_conflicting_with_the_stored_type_is_refused(
    ds: freight.Dataset, how: dict
) -> None:
    ds.load([{"id": 1, "n": "text"}], "hc", **how)
    with pytest.raises(freight.SchemaContractError):
        ds.load([{"id": 2, "n": "5"}], "hc", columns={"n": "int64"}, **how)
    assert ds.schema("hc") == {"id": "int64", "n": "string"}
    assert rows(ds, "hc") == [{"id": 1, "n": "text"}]


def test_rejected_lists_every_table_or_one(ds: freight.Dataset) -> None:
    ra = ds.load([{"id": 1, "n": 1}, {"id": None, "n": 2}], "qa", strategy="merge", key="id")
    rb = ds.load([{"n": 1}, {"n": "x"}], "qb")
    assert {(q.table, q.load_id) for q in ds.rejected()} == {("qa", ra.load_id), ("qb", rb.load_id)}
    assert [q.row for q in ds.rejected("qb")] == [{"n": "x"}]
    assert ds.rejected("nope") == []


# --------------------------------------------------------------------------- generated rows

typed_columns = {
    "i": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=False),
    "s": st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    "b": st.booleans(),
    "d": st.dates(),
    "ts": st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    "by": st.binary(max_size=20),
}


@hsettings
@given(
    data=st.lists(
        st.fixed_dictionaries({k: v | st.none() for k, v in typed_columns.items()}),
        min_size=1,
        max_size=10,
    ),
    as_arrow=st.booleans(),
)
def test_generated_rows_round_trip(ds: freight.Dataset, data, as_arrow: bool) -> None:
    import pyarrow as pa

    table = f"gr_{uuid.uuid4().hex[:10]}"
    given_rows = [{"n": n, **r} for n, r in enumerate(data)]
    r = ds.load(pa.Table.from_pylist(given_rows) if as_arrow else given_rows, table)
    assert counts(r) == {"inserted": len(data)}
    got = rows(ds, table, "n")
    assert [{k: x.get(k) for k in given_rows[0]} for x in got] == given_rows


@pytest.mark.parametrize("later", [0, dt.date(2024, 1, 1), {"a": 1}], ids=["int", "date", "dict"])
def test_a_column_first_seen_only_as_none_takes_the_type_of_later_values(
    ds: freight.Dataset, how: dict, later
) -> None:
    ds.load([{"id": 0, "v": None}], "ln", **how)
    r = ds.load([{"id": 1, "v": later}], "ln", **how)
    assert counts(r) == {"inserted": 1}
    got = rows(ds, "ln", "id")
    assert got[0]["v"] is None
    if isinstance(later, dict):
        assert orjson.loads(got[1]["v"]) == later
    else:
        assert got[1]["v"] == later and type(got[1]["v"]) is type(later)


@pytest.mark.parametrize(
    ("hint", "value", "widened"),
    [
        # the hint is the column's first type; under `evolve` it widens like an inferred one
        ("decimal(10,2)", Decimal("1.234"), "decimal(11,3)"),
        ("float64", 2**60 + 1, None),  # no float holds it: quarantined
        ("int64", 2.5, "float64"),
    ],
    ids=["decimal-scale", "float-precision", "int-fraction"],
)
def test_values_beyond_an_explicit_type_are_never_rounded(
    ds: freight.Dataset, hint, value, widened
) -> None:
    r = ds.load([{"id": 1, "x": value}, {"id": 2, "x": None}], "hx", columns={"x": hint})
    assert_accounted(r)
    stored = {x["id"]: x["x"] for x in rows(ds, "hx")}
    assert stored[2] is None
    if widened is None:
        assert (counts(r), sorted(stored)) == ({"inserted": 1, "rejected": 1}, [2])
        assert "x" in ds.rejected("hx")[0].reason
    else:
        assert counts(r) == {"inserted": 2}
        assert stored[1] == value and type(stored[1]) is type(value)
        assert ds.schema("hx")["x"] == widened


def test_very_long_text_round_trips(ds: freight.Dataset) -> None:
    big = "é🚀" * 1_500_000 + "end"
    assert roundtrip(ds, [big, "small"], "long") == [big, "small"]


SAME_VALUES = {
    "bool": (True, True),
    "int": (2**62, 2**62),
    "bigint": (2**70, 2**70),
    "float": (0.1, 0.1),
    "nan": (math.nan, math.nan),
    "decimal": (Decimal("1.10"), Decimal("1.10")),
    "text": ("naïve 🚀", "naïve 🚀"),
    "bytes": (b"\x00\xff", b"\x00\xff"),
    "date": (dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    "time": (dt.time(1, 2, 3, 4), dt.time(1, 2, 3, 4)),
    "naive": (dt.datetime(2024, 1, 1, 1), dt.datetime(2024, 1, 1, 1)),
    "same-instant": (
        dt.datetime(2024, 1, 1, 12, tzinfo=UTC),
        dt.datetime(2024, 1, 1, 17, 30, tzinfo=PLUS5),
    ),
    "uuid": (uuid.UUID(int=7), uuid.UUID(int=7)),
    "json": ({"a": [1, {"b": None}], "c": "ü"}, {"a": [1, {"b": None}], "c": "ü"}),
    "interval": (dt.timedelta(days=1), dt.timedelta(hours=24)),
}


@pytest.mark.parametrize(
    ("strategy", "extra"), [("merge", {}), ("update_only", {}), ("incremental", {"cursor": "n"})]
)
@pytest.mark.parametrize(("stored", "given"), [(-0.0, 0.0), (0.0, -0.0)])
def test_an_updated_row_takes_the_batchs_sign_of_zero(
    ds: freight.Dataset, strategy: str, extra: dict, stored: float, given: float
) -> None:
    """Row 1 changes another column too: it is updated and stores the batch's zero (DuckDB
    kept the stored one). Row 2 changes only the sign of zero, which SQL equality does not
    see (-0.0 = 0.0): unchanged on every destination, the stored zero kept."""
    ds.load(
        [{"k": 1, "f": stored, "n": 1}, {"k": 2, "f": stored, "n": 1}],
        "z",
        strategy="merge",
        key="k",
    )
    r = ds.load(
        [{"k": 1, "f": given, "n": 2}, {"k": 2, "f": given, "n": 1}],
        "z",
        strategy=strategy,
        key="k",
        **extra,
    )
    assert counts(r) == {"updated": 1, "unchanged": 1}
    signs = {x["k"]: math.copysign(1.0, x["f"]) for x in rows(ds, "z")}
    assert signs == {1: math.copysign(1.0, given), 2: math.copysign(1.0, stored)}


@pytest.mark.parametrize("case", sorted(SAME_VALUES))
def test_merging_an_equal_value_is_unchanged(ds: freight.Dataset, case: str) -> None:
    first, again = SAME_VALUES[case]
    ds.load([{"id": 1, "v": first}, {"id": 2, "v": None}], "eq", strategy="merge", key="id")
    r = ds.load(
        [{"id": 1, "v": again}, {"id": 2, "v": None}, {"id": 3, "v": None}],
        "eq",
        strategy="merge",
        key="id",
    )
    assert counts(r) == {"unchanged": 2, "inserted": 1}, r


@pytest.mark.parametrize("where", ["table", "column"])
def test_long_identifiers_are_kept_exactly_or_refused_never_truncated(
    ds: freight.Dataset, where: str
) -> None:
    long = "n" * 60 + "_é_" + "x" * 60
    table, col = (long, "c") if where == "table" else ("t", long)
    limit = ds.destination.capabilities.max_identifier_bytes
    if kind(ds) == "postgres":  # 63 bytes: refused, never truncated
        assert limit == 63
        with pytest.raises(freight.InvalidIdentifierError, match="63"):
            ds.load([{col: 1}], table)
        assert ds.tables() == []
        return
    assert limit is None or limit >= len(long.encode())
    ds.load([{col: 1}], table)
    assert ds.tables() == [table]
    assert list(ds.schema(table)) == [col]
    assert ds.read(table).column_names == [col]


# A keyed load that fits one chunk is read in place (DuckDB: a view of the Arrow chunk;
# PostgreSQL: a JSON document read by jsonb_to_recordset); a bigger one goes through a real
# stage (temporary table). Both must store every value exactly alike.
MERGED = {
    **{case: values for case, (values, _) in CASES.items()},
    "special floats": [math.nan, math.inf, -math.inf, -0.0, 5e-324, None],
    "decimal": [Decimal("123456789012345678901234567890.12345678"), Decimal("-0.00000001"), None],
    "big int": [2**100, -(10**37), 0, None],
    "aware": [dt.datetime(2024, 5, 1, 12, tzinfo=PLUS5), dt.datetime(1, 1, 2, tzinfo=UTC), None],
    "json": [{"a": [1, 2.5, None], "é": {"n": "x"}}, [1, "two"], "s", 3, None],
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@pytest.mark.parametrize("case", sorted(MERGED))
def test_in_place_and_staged_keyed_loads_store_the_same_values(url: str, case: str) -> None:
    values = MERGED[case]
    batch = [{"id": i, "v": v} for i, v in enumerate(values)]
    got = {}
    for path, options in (("in place", {}), ("staged", {"chunk_rows": 2})):
        with freight.connect(url, **options) as ds:
            table = f"m_{uuid.uuid4().hex[:10]}"
            r = ds.load(batch, table, strategy="merge", key="id")
            assert counts(r) == {"inserted": len(values)}, r
            got[path] = [x.get("v") for x in rows(ds, table, "id")]
            again = ds.load(batch, table, strategy="merge", key="id", force=True)
            assert counts(again) == {"unchanged": len(values)}, (path, again)
    for path, stored in got.items():
        if case == "aware":
            expected = [None if v is None else v.astimezone(UTC) for v in values]
            stored = [None if v is None else v.astimezone(UTC) for v in stored]
        elif case == "json":
            expected = [None if v is None else orjson.dumps(v) for v in values]
            stored = [None if v is None else orjson.dumps(orjson.loads(v)) for v in stored]
        else:
            expected = values
        assert len(stored) == len(expected)
        assert all(_same(a, b) for a, b in zip(expected, stored, strict=True)), (path, stored)


def test_lone_surrogate_is_quarantined_as_its_escape(ds: freight.Dataset) -> None:
    """Text that is not valid Unicode cannot be stored anywhere; the quarantine keeps the
    row with the string as its escape (JSON cannot hold the character itself)."""
    r = ds.load([{"i": 0, "v": "ok"}, {"i": 1, "v": "bad \ud800 text"}], "sur")
    assert_accounted(r)
    assert (r.inserted, r.rejected) == (1, 1)
    (rej,) = ds.rejected("sur")
    assert rej.row_number == 2 and rej.row == {"i": 1, "v": "bad \\ud800 text"}
    assert "column 'v'" in rej.reason


# --------------------------------------------------------------------------- the checksum


def test_a_rerun_that_widened_and_rejected_is_skipped(ds: freight.Dataset) -> None:
    """The first run rejects 'N/A' as "not an integer (type int64)", the second (the table
    now holds float64) as "not a number (type float64)": reasons hashed into the checksum
    made the re-run a new load, and an append stored its rows twice."""
    batch = [{"a": 1}, {"a": "N/A"}, {"a": 2.5}]
    first = ds.load(batch, "ck")
    again = ds.load(batch, "ck")
    assert (first.status, again.status) == ("committed", "skipped")
    assert again.checksum == first.checksum
    assert [r["a"] for r in rows(ds, "ck")] == [1.0, 2.5]
    reasons = [r.reason for r in ds.rejected("ck")]
    assert len(reasons) == 1 and "(type int64)" in reasons[0]


checksum_values = st.one_of(
    st.sampled_from([None, 1, "N/A", 2.5, 2**60, Decimal("1.25"), "7"]),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.decimals(places=2, min_value=-(10**6), max_value=10**6),
    st.sampled_from(["N/A", "7", "1.5", "true"]),
    st.booleans(),
)


@settings(hsettings, max_examples=40)
@given(values=st.lists(checksum_values, min_size=1, max_size=6))
def test_the_checksum_depends_on_the_input_not_on_what_the_table_holds(
    ds: freight.Dataset, values: list
) -> None:
    """Hashed in a fresh table and in the table the same load filled (its columns created,
    widened, its rejects worded against the widened type): the same input, the same checksum,
    so the re-run is skipped."""
    batch = [{"a": v} for v in values]
    table = f"ck_{uuid.uuid4().hex[:8]}"
    first = ds.load(batch, table)
    assert ds.load(batch, table).status == "skipped"
    assert ds.load(batch, table, force=True).checksum == first.checksum
    assert ds.load(batch, table, force=True).checksum == first.checksum


# --------------------------------------------------------------------------- values freight refuses


def _nested(depth: int) -> dict:
    top: dict = {}
    cur = top
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return top


def test_a_value_nested_too_deeply_is_quarantined_whole(ds: freight.Dataset) -> None:
    """A dict nested 1,000 deep raised RecursionError; it is quarantined, kept as JSON text."""
    r = ds.load([{"i": 1, "x": _nested(1000)}, {"i": 2, "x": {"a": 1}}], "deep")
    assert counts(r) == {"inserted": 1, "rejected": 1}
    (q,) = ds.rejected("deep")
    assert q.row_number == 1 and "nested too deeply" in q.reason
    assert isinstance(q.row, str) and q.row.startswith('{"i":1,"x":{"a":{"a":')
    assert q.row.count("{") == 1002 and q.row.endswith("}" * 1002)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
        dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
    ids=["after-9999", "before-1"],
)
@pytest.mark.parametrize("stored", [False, True])
def test_an_instant_beyond_the_years_1_to_9999_in_utc_is_quarantined(
    ds: freight.Dataset, value: dt.datetime, stored: bool
) -> None:
    """Stored in UTC, such a value raised OverflowError on PostgreSQL and was stored on
    DuckDB as the year 10000, which read() then failed on."""
    if stored:
        ds.load([{"i": 0, "at": dt.datetime(2024, 1, 1, tzinfo=UTC)}], "far")
    r = ds.load([{"i": 1, "at": value}, {"i": 2, "at": None}], "far")
    assert_accounted(r)
    assert r.rejected == 1
    (q,) = ds.rejected("far")
    assert "outside the years 1 to 9999 in UTC" in q.reason and q.row_number == 1
    assert ds.read("far").num_rows == (2 if stored else 1)


@pytest.mark.parametrize("where", ["column", "table", "key"])
def test_an_identifier_with_a_lone_surrogate_is_refused(ds: freight.Dataset, where: str) -> None:
    name = "a\ud800"
    with pytest.raises(freight.InvalidIdentifierError, match="not valid unicode"):
        if where == "column":
            ds.load([{name: 1}], "sur")
        elif where == "table":
            ds.load([{"a": 1}], name)
        else:
            ds.load([{"a": 1}], "sur", strategy="merge", key=name)


def test_numpy_float32_is_stored_exactly_as_float64(ds: freight.Dataset) -> None:
    """float32 -> float64 is exact: such a value is a number, not 'not a number'."""
    import numpy

    r = ds.load([{"i": 1, "x": 1.5}, {"i": 2, "x": numpy.float32(0.1)}], "f32")
    assert counts(r) == {"inserted": 2}
    r = ds.load([{"i": 3, "x": numpy.float16(0.2)}, {"i": 4, "x": numpy.float32("nan")}], "f32")
    assert counts(r) == {"inserted": 2}
    got = [x["x"] for x in rows(ds, "f32", "i")]
    assert got[:3] == [1.5, float(numpy.float32(0.1)), float(numpy.float16(0.2))]
    assert math.isnan(got[3])


def test_nanoseconds_are_shown_in_the_reason_as_given(ds: freight.Dataset) -> None:
    """The reason named a private class and hid the nanoseconds:
    "value datetime.datetime(2020, 1, 1, 0, 0) (_NanoTime) has nanoseconds"."""
    import pandas as pd

    df = pd.DataFrame(
        {"i": [1, 2], "at": [pd.Timestamp("2020-01-01 00:00:00.000000001"), pd.Timestamp(0)]}
    )
    r = ds.load(df, "nano")
    assert counts(r) == {"inserted": 1, "rejected": 1}
    (q,) = ds.rejected("nano")
    assert q.reason == (
        "column 'at': value '2020-01-01 00:00:00.000000001' (Arrow timestamp[ns]) has "
        "nanoseconds, which freight would have to truncate (type timestamp)"
    )


def test_a_value_freight_cannot_type_says_what_it_is_and_what_to_do(ds: freight.Dataset) -> None:
    r = ds.load([{"i": 1, "x": 1 + 2j}], "odd")
    assert r.rejected == 1
    (q,) = ds.rejected("odd")
    assert "is a complex, which freight has no column type for" in q.reason
    assert "columns={...}" in q.reason and "has no type yet" not in q.reason


# --------------------------------------------------------------------------- text into typed columns

TEXT_RULE = {  # column type: (a first value, texts taken as the value, texts refused)
    "int64": (1, {"42": 42, "-7": -7}, [" 42", "042", "+42", "1_000", "42 ", "-0"]),
    # (the reason says how it would read back: "... would not read back as given but as '42'")
    "float64": (1.25, {"1.5": 1.5, "7": 7.0, "1e+16": 1e16}, ["1.50", "1e3", " 1.5", "NaN"]),
    "bool": (True, {"true": True, "False": False}, [" TRUE ", "TRUE", "t", "1"]),
    "decimal": (Decimal("1.25"), {"1.50": Decimal("1.50")}, [" 1.5", "1e-1", "+1.5"]),
    "date": (
        dt.date(2024, 1, 1),
        {"2024-02-29": dt.date(2024, 2, 29)},
        ["20240229", " 2024-02-29"],
    ),
    "timestamp": (
        dt.datetime(2024, 1, 1),
        {"2024-01-02 03:04:05": dt.datetime(2024, 1, 2, 3, 4, 5)},
        ["2024-01-02T03:04", "2024-01-02 03:04:05 "],
    ),
    "uuid": (
        uuid.UUID(int=1),
        {str(uuid.UUID(int=0xAB)): uuid.UUID(int=0xAB)},
        [str(uuid.UUID(int=0xAB)).upper()],
    ),
}


@pytest.mark.parametrize("arrow", [False, True], ids=["dicts", "arrow"])
@pytest.mark.parametrize("case", sorted(TEXT_RULE))
def test_text_goes_into_a_typed_column_only_as_it_reads_back(
    ds: freight.Dataset, case: str, arrow: bool
) -> None:
    """ " 42" was stored as 42, " TRUE " as true, "1.50" as 1.5: text is taken into a typed
    column only when it is the value's own text; otherwise it is quarantined, saying so."""
    import pyarrow as pa

    first, taken, refused = TEXT_RULE[case]
    ds.load([{"i": 0, "v": first}], "txt")
    schema = ds.schema("txt")
    texts = [*taken, *refused]
    batch = [{"i": i, "v": s} for i, s in enumerate(texts, start=1)]
    r = ds.load(pa.Table.from_pylist(batch) if arrow else batch, "txt")
    assert counts(r) == {"inserted": len(taken), "rejected": len(refused)}
    assert ds.schema("txt") == schema
    got = [x["v"] for x in rows(ds, "txt", "i")][1:]
    assert got == list(taken.values())
    assert all(type(g) is type(w) for g, w in zip(got, taken.values(), strict=True))
    reasons = {q.row["v"]: q.reason for q in ds.rejected("txt")}
    assert sorted(reasons) == sorted(refused)
    for text, why in reasons.items():
        assert why.startswith(f"column 'v': value {text!r} (str) ")
        assert "would not read back as given but as '" in why or " is not " in why


def test_a_row_refused_for_its_key_does_not_decide_a_type(ds: freight.Dataset) -> None:
    """The NULL-key row's 'N/A' made b a text column, so the next row's True was refused."""
    r = ds.load([{"id": None, "b": "N/A"}, {"id": 1, "b": True}], "nk", strategy="merge", key="id")
    assert counts(r) == {"inserted": 1, "rejected": 1}
    assert ds.schema("nk")["b"] == "bool"
    assert rows(ds, "nk") == [{"id": 1, "b": True}]
    (q,) = ds.rejected("nk")
    assert (q.row_number, q.reason) == (1, "key column 'id' is null or missing")


def test_decimal_zero_sign_and_floats_in_a_decimal_column_are_as_documented(
    ds: freight.Dataset,
) -> None:
    """docs/types.md: neither destination keeps the sign of a decimal zero (equal values);
    a float after a Decimal is stored as its shortest text, which converts back to it."""
    r = ds.load([{"i": 1, "d": Decimal("-0.0")}, {"i": 2, "d": 0.1}, {"i": 3, "d": 0.25}], "dz")
    assert counts(r) == {"inserted": 2, "rejected": 1}  # 0.25 needs 2 places, the column 1
    assert ds.schema("dz")["d"] == "decimal(2,1)"
    got = [x["d"] for x in rows(ds, "dz", "i")]
    assert got == [Decimal("0.0"), Decimal("0.1")] and float(got[1]) == 0.1


# --------------------------------------------------------------------------- intervals


def test_timedeltas_are_intervals_on_every_path(ds: freight.Dataset, how: dict) -> None:
    """Every row with a timedelta was rejected: "the column has no type yet (type null)"."""
    import pandas as pd
    import pyarrow as pa

    day = dt.timedelta(days=1)
    r = ds.load([{"id": 1, "d": day}, {"id": 2, "d": None}], "iv", **how)
    assert counts(r) == {"inserted": 2}
    assert ds.schema("iv")["d"] == "interval"
    frame = pd.DataFrame({"id": [3, 4], "d": pd.to_timedelta(["1s", "-2h"])})  # timedelta64[ns]
    assert counts(ds.load(frame, "iv", **how)) == {"inserted": 2}
    arrow = pa.table({"id": [5], "d": pa.array([90], pa.duration("s"))})
    assert counts(ds.load(arrow, "iv", **how)) == {"inserted": 1}
    got = {x["id"]: x["d"] for x in rows(ds, "iv")}
    seconds = dt.timedelta(seconds=1)
    assert got == {1: day, 2: None, 3: seconds, 4: dt.timedelta(hours=-2), 5: 90 * seconds}
    assert all(type(v) is dt.timedelta for v in got.values() if v is not None)


def test_an_interval_freight_would_round_is_quarantined(ds: freight.Dataset) -> None:
    import pandas as pd

    frame = pd.DataFrame({"i": [1, 2], "d": pd.to_timedelta([1, 1000], unit="ns")})
    r = ds.load(frame, "ivn")
    assert counts(r) == {"inserted": 1, "rejected": 1}
    (q,) = ds.rejected("ivn")
    assert q.row_number == 1 and "has nanoseconds" in q.reason and "duration[ns]" in q.reason
    r = ds.load([{"i": 3, "d": dt.timedelta(days=999_999_999)}], "ivn")
    assert r.rejected == 1
    assert [x["d"] for x in rows(ds, "ivn", "i")] == [dt.timedelta(microseconds=1)]


def test_many_intervals_take_the_bulk_path(ds: freight.Dataset, how: dict) -> None:
    """Beyond the light path's 1,000 rows: Arrow into DuckDB, binary COPY or the Arrow JSON
    stage into PostgreSQL."""
    values = [dt.timedelta(seconds=i, microseconds=i) * (-1) ** i for i in range(2_500)]
    r = ds.load(({"id": i, "d": v} for i, v in enumerate(values)), "ivb", **how)
    assert counts(r) == {"inserted": len(values)}
    assert [x["d"] for x in rows(ds, "ivb", "id")] == values


def test_numpy_temporal_scalars_in_dicts(ds: freight.Dataset) -> None:
    """numpy datetime64/timedelta64 in nanoseconds are bare ints to Python: they typed the
    column int64 and were then rejected as 'not an integer'; in seconds or microseconds they
    were typed right and then rejected as 'not a datetime'."""
    import numpy

    r = ds.load(
        [
            {"i": 1, "d": numpy.timedelta64(3, "s"), "t": numpy.datetime64("2020-01-01T00:00:01")},
            {"i": 2, "d": numpy.timedelta64(1, "ns"), "t": None},
        ],
        "npt",
    )
    assert counts(r) == {"inserted": 1, "rejected": 1}
    assert ds.schema("npt") == {"i": "int64", "d": "interval", "t": "timestamp"}
    assert rows(ds, "npt") == [
        {"i": 1, "d": dt.timedelta(seconds=3), "t": dt.datetime(2020, 1, 1, 0, 0, 1)}
    ]
    (q,) = ds.rejected("npt")
    assert "is in nanoseconds, which freight would have to truncate" in q.reason


def test_arrow_dates_and_timestamps_beyond_the_year_9999_are_quarantined(
    ds: freight.Dataset,
) -> None:
    """Arrow holds them; stored, read() failed on both destinations (OverflowError on DuckDB,
    'timestamp too large' from PostgreSQL)."""
    import pyarrow as pa

    after_9999 = 253_402_300_800_000_000  # 10000-01-01 in microseconds
    table = pa.table(
        {
            "i": [1, 2, 3],
            "at": pa.array([after_9999, 0, None], pa.timestamp("us", tz="UTC")),
            "d": pa.array([0, 2_932_897, 1], pa.date32()),
        }
    )
    r = ds.load(table, "far9")
    assert counts(r) == {"inserted": 1, "rejected": 2}
    assert rows(ds, "far9") == [{"i": 3, "at": None, "d": dt.date(1970, 1, 2)}]
    got = {q.row_number: q for q in ds.rejected("far9")}
    assert got[1].row == {"i": 1, "at": "10000-01-01 00:00:00.000000Z", "d": "1970-01-01"}
    assert got[1].reason.startswith("column 'at': value '10000-01-01 00:00:00.000000Z'")
    assert got[2].reason.startswith("column 'd': value '10000-01-01' (Arrow date32[day])")
    assert all("outside the years 1 to 9999" in q.reason for q in got.values())
