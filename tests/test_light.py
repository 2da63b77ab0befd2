"""The light path: a small list of Python rows typed, checked, hashed and (on PostgreSQL)
stored without pyarrow. It must be indistinguishable from the Arrow path: the same types,
the same rejects with the same words, the same values, the same checksum, the same stored
rows. And it must really leave pyarrow unimported, which is what it is for."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import struct
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import freight
from conftest import pg_admin, pg_url
from freight import _types as T
from freight._checksum import _FIXED, Checksum
from freight._columns import LIGHT_TYPES, Columns, light_type
from freight._intake import Intake

NAMES = ["a", "b", "c", "k"]
ZONES = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=8)),
]

_COLUMN_KINDS = {
    1: st.none() | st.integers(-(2**54), 2**54) | st.floats(allow_nan=False),  # may widen
    2: st.none()
    | st.integers(0, 6).flatmap(
        lambda places: st.decimals(places=places, min_value=-(10**12), max_value=10**12)
    ),
    3: st.none() | st.text(max_size=4) | st.sampled_from(["12", "N/A", "1.5", "a\x00b"]),
}

light_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.integers(-(2**54), 2**54),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(
        [
            *("a\x00b", "\ud800", "12", "1.5", "true", "2024-01-02", "2024-01-02T03:04:05+02:00"),
            *("é", " 42", "042", "1.50", " TRUE ", "True", "2024-01-02 03:04:05.5"),
        ]
    ),
    st.dates(),
    st.datetimes(min_value=dt.datetime(1, 1, 2)),
    st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.sampled_from(ZONES)),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(-5, 5) | st.text(max_size=3)),
    st.lists(st.integers(-5, 5) | st.floats(), max_size=3),
    # mixed scales in one column: the decimal type widens its scale and precision
    st.integers(0, 8).flatmap(
        lambda places: st.decimals(places=places, min_value=-(10**20), max_value=10**20)
    ),
    st.decimals(places=0, min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("-0.00"), Decimal("1E+2"), Decimal("0.10"), Decimal("9" * 38)]),
    st.binary(max_size=4),
    st.uuids(),
    st.times(),
    st.times(timezones=st.sampled_from(ZONES)),
    st.timedeltas(),
)
# values whose Python type the light path leaves to Arrow (and so the whole chunk): in about
# one example in five, so that most examples reach the light path's comparison
arrow_values = st.one_of(
    st.binary(max_size=3).map(bytearray),
    st.integers(-5, 5).map(numpy.int64),
    st.floats(allow_nan=False).map(numpy.float64),
)
sometimes_arrow = st.integers(0, 4).flatmap(lambda i: arrow_values if i == 4 else st.none())
# in most batches a column keeps to one kind of value (0: any value), so columns get a type
# and widen (int -> float, decimal scales) instead of rejecting most rows


def _rows_of(kinds: dict[str, int]) -> st.SearchStrategy[list[dict]]:
    values = {n: light_values if k == 0 else _COLUMN_KINDS[k] for n, k in kinds.items()}
    one = st.sets(st.sampled_from(NAMES), min_size=1).flatmap(
        lambda names: st.fixed_dictionaries({n: values[n] for n in sorted(names)})
    )
    return st.integers(1, 12).flatmap(lambda n: st.lists(one, min_size=n, max_size=n))


row = st.dictionaries(st.sampled_from(NAMES), light_values, min_size=1, max_size=4)
batch = st.integers(0, 9).flatmap(
    lambda i: (
        st.fixed_dictionaries({n: st.sampled_from([0, 1, 2, 3]) for n in NAMES}).flatmap(_rows_of)
        if i < 6
        else st.lists(row, min_size=1, max_size=12)
        if i < 9
        else st.lists(row | st.just({}), min_size=1, max_size=12)
    )  # an empty row: left to Arrow
)
stored = st.dictionaries(
    st.sampled_from(NAMES),
    st.sampled_from([*sorted(LIGHT_TYPES), "decimal(10,2)", "decimal(38,0)", "decimal(5,5)"]),
    max_size=3,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and -0.0 apart from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _intake(rows: list[dict], light: bool, **kw: Any) -> tuple[Intake, list[Any]]:
    intake = Intake([dict(r) for r in rows], light=light, **kw)
    return intake, list(intake.chunks())


def _checksum(chunks: list[Any]) -> str:
    h = Checksum(hashlib.sha256(b"seed"))
    for c in chunks:
        h.add(c.table, c.rejects)
    return h.hexdigest()


@settings(max_examples=300, deadline=None)
@given(
    rows=batch,
    known=stored,
    key=st.sampled_from([(), ("k",), ("k", "a")]),
    nul_ok=st.booleans(),
    fits=st.booleans(),
    keep=st.none() | st.sets(st.sampled_from(NAMES), min_size=1),
    extra=sometimes_arrow,
)
def test_light_intake_is_the_arrow_intake(
    rows: list[dict],
    known: dict[str, str],
    key: tuple[str, ...],
    nul_ok: bool,
    fits: bool,
    keep: set[str] | None,
    extra: Any,
) -> None:
    if extra is not None:  # one value no light type holds
        rows = [*rows[:-1], {**rows[-1], "a": extra}]
    kw = {
        "known": known,
        "not_null": key,
        "nul_ok": nul_ok,
        "keep": keep,
        "allow_widen": keep is None,
        "probe": lambda column: fits,
    }
    try:
        heavy, want = _intake(rows, light=False, **kw)
    except freight.FreightError as e:  # the light path raises the same, or leaves it to Arrow
        with pytest.raises(type(e)):
            _intake(rows, light=True, **kw)
        return
    light, got = _intake(rows, light=True, **kw)
    assert len(got) == len(want) == 1
    g, w = got[0], want[0]
    assert (g.types, g.widened, g.rows_in, g.first_row) == (w.types, w.widened, w.rows_in, 1)
    assert (light.types, light.dropped, light._big) == (heavy.types, heavy.dropped, heavy._big)
    assert [(r.row_number, r.reason, repr(r.row)) for r in g.rejects] == [
        (r.row_number, r.reason, repr(r.row)) for r in w.rejects
    ]
    if not isinstance(g.table, Columns):
        assert isinstance(g.table, pa.Table)
        why = (  # why the light path left the chunk to Arrow
            extra is not None,
            not w.table.column_names,
            not all(rows),
        )
        assert any(why)
        return
    assert all(light_type(t) for t in g.table.types.values())
    assert g.table.column_names == w.table.column_names
    assert g.table.num_rows == w.table.num_rows
    back = g.table.to_arrow()
    for name in w.table.column_names:
        mine, theirs = back.column(name).to_pylist(), w.table.column(name).to_pylist()
        assert all(_same(a, b) for a, b in zip(mine, theirs, strict=True)), name
    assert _checksum(got) == _checksum(want)


def test_light_path_is_taken_for_plain_rows_and_left_for_others() -> None:
    """The hypothesis test above compares only what the light path took: it must take
    the usual rows, and leave a chunk with a decimal to Arrow with nothing changed."""
    rows = [
        {"id": 1, "x": 1.5, "s": "a", "ok": True, "at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},
        {"id": 2, "x": None, "s": "b", "ok": False, "j": {"a": [1]}, "d": dt.date(2024, 1, 2)},
    ]
    _, chunks = _intake(rows, light=True)
    assert isinstance(chunks[0].table, Columns)
    assert chunks[0].types == {
        "id": T.INT64,
        "x": T.FLOAT64,
        "s": T.STRING,
        "ok": T.BOOL,
        "at": T.TIMESTAMPTZ,
        "j": T.JSON,
        "d": T.DATE,
    }
    rows = [
        {"id": 1, "p": Decimal("1.5"), "u": uuid.UUID(int=1), "b": b"\x00", "t": dt.time(1)},
    ]
    _, chunks = _intake(rows, light=True)
    assert isinstance(chunks[0].table, Columns)
    assert chunks[0].types == {
        "id": T.INT64,
        "p": "decimal(2,1)",
        "u": T.UUID,
        "b": T.BINARY,
        "t": T.TIME,
    }
    intake, chunks = _intake([{"id": 1, "s": "a"}, {"id": 2, "n": numpy.int64(5)}], light=True)
    assert isinstance(chunks[0].table, pa.Table)
    assert intake.types == {"id": T.INT64, "s": T.STRING, "n": T.INT64}
    assert chunks[0].widened == []


@pytest.mark.parametrize("light", [True, False])
def test_a_row_with_nul_in_two_columns_names_the_first_by_name(light: bool) -> None:
    rows = [{"k": 1, "b": "x\x00", "a": "y\x00"}, {"k": 2, "b": "ok", "a": "ok"}]
    _, chunks = _intake(rows, light=light, nul_ok=False)
    assert isinstance(chunks[0].table, Columns) is light
    assert [(r.row_number, r.reason) for r in chunks[0].rejects] == [
        (1, "column 'a': text contains a NUL character, which this destination cannot store")
    ]
    assert chunks[0].table.num_rows == 1


def test_numpy_floats_convert_as_their_number() -> None:
    """Found by the comparison above: numpy's float64 (a float subclass) has the repr
    ``np.float64(1.5)``, which went into a text column as that text and failed a decimal
    column with a traceback."""
    rows = [{"s": numpy.float64(1.5), "d": numpy.float64(0.25)}]
    _, chunks = _intake(rows, light=False, known={"s": T.STRING, "d": "decimal(10,2)"})
    assert chunks[0].rejects == []
    assert chunks[0].table.to_pylist() == [{"s": "1.5", "d": Decimal("0.25")}]


_TINY = [Decimal(0), Decimal("-0.0"), Decimal("1E-7"), Decimal("0.0000010"), Decimal("-1E-10")]


@pytest.mark.parametrize("light", [True, False])
def test_decimal_checksum_does_not_depend_on_the_scale_at_the_time(light: bool) -> None:
    """Arrow writes tiny values at a large scale in scientific form (``0E-7``): hashed as
    such, a decimal column that widened its scale mid-load hashed its zeros one way before
    the widening and another after, so the checksum depended on where chunks ended."""
    rows = [{"d": Decimal("1.5")}, *({"d": v} for v in _TINY), {"d": Decimal("123.456")}]
    sums = set()
    for size in (1, 2, 50_000):
        intake = Intake([dict(r) for r in rows], chunk_rows=size, light=light and size > 1)
        sums.add(_checksum(list(intake.chunks())))
    assert len(sums) == 1


def test_fixed_width_checksum_names_are_arrows() -> None:
    """The light checksum feeds the same type names Arrow's ``str(type)`` gives."""
    for t, (name, _encode) in _FIXED.items():
        assert name.decode() == str(T.to_arrow(t)), t


# --------------------------------------------------------------------------- no pyarrow


_NO_ARROW = textwrap.dedent(
    """
    import datetime, decimal, sys, uuid, freight
    assert "pyarrow" not in sys.modules, "import freight imported pyarrow"
    rows = [{"id": i, "s": f"v{i}", "x": i / 3, "at": "2024-01-01T00:00:00+00:00",
             "p": decimal.Decimal(i) / 8, "u": uuid.UUID(int=i), "b": bytes([i]),
             "t": datetime.time(i % 24), "j": {"i": [i]}} for i in range(100)]
    import psycopg
    url, schema = sys.argv[1], sys.argv[2]
    with psycopg.connect(url.split("?")[0], autocommit=True) as c:
        sch = '"' + schema + '"'
        c.execute("CREATE TYPE " + sch + ".mood AS ENUM ('ok', 'sad')")
        c.execute("CREATE TABLE " + sch + ".own (n integer, name varchar(9), addr inet, "
                  "mood " + sch + ".mood, meta json, x real, gone text)")
    with freight.connect(url) as ds:
        own = [{"n": i, "name": f"n{i}", "addr": f"10.0.0.{i}", "mood": "sad",
                "meta": {"i": i}, "x": 0.5, "gone": None} for i in range(10)]
        assert ds.load(own, "own").inserted == 10
        ds.load(rows, "m", strategy="merge", key="id")
        ds.load(rows[:50] + [{"id": 1000, "s": "new"}], "m", strategy="merge", key="id")
        ds.load(rows, "a")
        assert ds.load(rows, "a").status == "skipped"
        ds.load([{**r, "id": r["id"] + 100} for r in rows], "a")
        r = ds.load([{"id": 1, "s": None}], "m", strategy="update_only", key="id")
        assert r.updated == 1, r
        r = ds.load(rows, "inc", strategy="incremental", cursor="id", key="id")
        assert r.inserted == 100, r
        r = ds.load(rows[90:] + [{"id": 500}], "inc", strategy="incremental", cursor="id", key="id")
        assert (r.inserted, r.skipped) == (1, 10), r
        big = [{"id": i, "text": "x" * 3000} for i in range(500)]  # 1.5 MB of JSON
        assert ds.load(big, "big", strategy="merge", key="id").inserted == 500
        assert ds.load(big, "big_append").inserted == 500
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyarrow", "numpy", "pandas"))
    print("heavy:", loaded)
    """
)


@pytest.fixture
def pg_schema_url(pg_schema: str) -> str:
    pytest.importorskip("psycopg")
    return pg_url(pg_schema)


@pytest.mark.postgres
def test_small_postgres_loads_never_import_pyarrow(pg_schema_url: str, pg_schema: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", _NO_ARROW, pg_schema_url, pg_schema],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "heavy: []" in out.stdout
    conn = pg_admin()
    try:
        n = conn.execute(f'SELECT count(*), count(DISTINCT id) FROM "{pg_schema}".a').fetchone()  # type: ignore[attr-defined]
        assert n == (200, 200)
        m = conn.execute(f'SELECT count(*), max(id) FROM "{pg_schema}".m').fetchone()  # type: ignore[attr-defined]
        assert m == (101, 1000)
        own = conn.execute(  # type: ignore[attr-defined]
            f'SELECT n, name, addr::text, mood::text, meta::jsonb, x, gone FROM "{pg_schema}".own '
            "WHERE n = 3"
        ).fetchone()
        assert own == (3, "n3", "10.0.0.3/32", "sad", {"i": 3}, 0.5, None)
    finally:
        conn.close()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg(pg_schema_url: str) -> Iterator[freight.Dataset]:
    with freight.connect(pg_schema_url) as ds:
        yield ds


pg_row = st.fixed_dictionaries(
    {"k": st.integers(0, 30)},
    optional={
        "i": st.none() | st.integers(-(2**63), 2**63 - 1),
        "f": st.none() | st.floats(allow_nan=True, allow_infinity=True),
        "s": st.none() | st.text(st.characters(blacklist_categories=["Cs"]), max_size=8),
        "b": st.none() | st.booleans(),
        "j": st.none() | st.dictionaries(st.sampled_from(["x", "y"]), st.integers(-3, 3)),
        "d": st.none() | st.dates(),
        "t": st.none() | st.datetimes(min_value=dt.datetime(1, 1, 2)),
        "z": st.none()
        | st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.sampled_from(ZONES)),
        "p": st.none()
        | st.integers(0, 6).flatmap(
            lambda places: st.decimals(places=places, min_value=-(10**12), max_value=10**12)
        ),
        "u": st.none() | st.uuids(),
        "y": st.none() | st.binary(max_size=6),
        "h": st.none() | st.times(),
        "v": st.none() | st.timedeltas(),
    },
)


def _stored(admin: Any, schema: str, table: str) -> list[tuple] | None:
    """The table's rows, or None when no row passed the row checks (no table was made)."""
    if admin.execute("SELECT to_regclass(%s)", [f'"{schema}"."{table}"']).fetchone()[0] is None:
        return None
    cols = "k, i, f::text, s, b, j::text, d, t, z, p, u, y, h, v"
    return admin.execute(f'SELECT {cols} FROM "{schema}"."{table}" ORDER BY k').fetchall()


@pytest.mark.postgres
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(pg_row, min_size=1, max_size=25, unique_by=lambda r: r["k"]),
    strategy=st.sampled_from(["append", "merge"]),
)
def test_light_and_arrow_paths_store_the_same_rows(
    pg: freight.Dataset, pg_schema: str, rows: list[dict], strategy: str
) -> None:
    """The same rows as a list (light: JSON, no Arrow) and as a generator (Arrow: COPY or
    the JSON stage from Arrow) store the same values, and hash alike: the generator's load
    of rows the list already loaded is skipped as the same load."""
    full = dict.fromkeys(["i", "f", "s", "b", "j", "d", "t", "p", "u", "y", "h", "v"])
    rows = [{**full, "z": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), **r} for r in rows]
    assume(any(r["s"] is not None for r in rows))
    kw = {"strategy": "merge", "key": "k"} if strategy == "merge" else {}
    suffix = os.urandom(4).hex()
    light, heavy = f"l_{suffix}", f"h_{suffix}"
    a = pg.load([dict(r) for r in rows], light, **kw)
    b = pg.load((dict(r) for r in rows), heavy, **kw)
    assert (a.inserted, a.rejected) == (b.inserted, b.rejected), (a, b)
    conn = pg_admin()
    try:
        assert _stored(conn, pg_schema, light) == _stored(conn, pg_schema, heavy)
    finally:
        conn.close()  # type: ignore[attr-defined]
    again = pg.load((dict(r) for r in rows), light, **kw)
    assert again.status == "skipped", (a.checksum, again.checksum)


@pytest.mark.postgres
def test_light_chunk_beyond_the_json_limit_goes_through_a_real_stage(pg: freight.Dataset) -> None:
    """Rows the light path typed but whose JSON is over 1 MiB go through a real stage."""
    rows = [{"id": i, "text": "x" * 3000, "at": dt.date(2024, 1, 1)} for i in range(500)]
    assert pg.load(rows, "big", strategy="merge", key="id").inserted == 500
    changed = [{**r, "text": "y" * 3000} if r["id"] < 100 else r for r in rows]
    r = pg.load(changed, "big", strategy="merge", key="id")
    assert (r.updated, r.unchanged, r.inserted) == (100, 400, 0)
    assert pg.load(rows, "big_append").inserted == 500
    back = pg.read("big").to_pylist()
    assert sum(1 for x in back if x["text"][0] == "y") == 100


@pytest.mark.postgres
def test_light_append_into_columns_of_other_types(pg: freight.Dataset, pg_schema: str) -> None:
    """A table whose columns are not freight's own types (integer, varchar, inet) takes a
    light append through COPY, which parses their text, not the JSON insert."""
    conn = pg_admin()
    try:
        conn.execute(  # type: ignore[attr-defined]
            f'CREATE TABLE "{pg_schema}".hosts (n integer, name varchar(20), addr inet)'
        )
        r = pg.load([{"n": 1, "name": "a", "addr": "10.0.0.1"}], "hosts")
        assert r.inserted == 1
        got = conn.execute(f'SELECT n, name, addr::text FROM "{pg_schema}".hosts').fetchall()  # type: ignore[attr-defined]
        assert got == [(1, "a", "10.0.0.1/32")]
    finally:
        conn.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("light", [True, False])
def test_a_row_the_checks_refuse_does_not_decide_a_type(light: bool) -> None:
    """A row quarantined for its NULL key (or, where text cannot hold NUL, for its text)
    decided a new column's type: the next row's ``True`` was then 'not text'."""
    rows = [{"id": None, "b": "N/A"}, {"id": 1, "b": True}, {"id": 2, "b": False}]
    intake, chunks = _intake(rows, light=light, not_null=("id",))
    (chunk,) = chunks
    assert isinstance(chunk.table, Columns) is light
    assert intake.types == chunk.types == {"id": T.INT64, "b": T.BOOL}
    assert [(r.row_number, r.reason) for r in chunk.rejects] == [
        (1, "key column 'id' is null or missing")
    ]
    assert (chunk.table.num_rows, chunk.rows_in) == (2, 3)
    rows = [{"k": 1, "s": "a\x00", "n": "x"}, {"k": 2, "s": "ok", "n": 5}, {"k": 3, "z": "only"}]
    rows[2]["s"] = "\x00"
    intake, chunks = _intake(rows, light=light, nul_ok=False)
    assert intake.types == {"k": T.INT64, "s": T.STRING, "n": T.INT64}
    assert [r.row_number for r in chunks[0].rejects] == [1, 3]


def test_an_arrow_row_the_checks_refuse_does_not_decide_a_type() -> None:
    """The same on the Arrow path's careful columns (uint64 beyond int64 is decimal(38,0))."""
    table = pa.table(
        {"id": pa.array([None, 1], pa.int64()), "u": pa.array([2**64 - 1, 5], pa.uint64())}
    )
    intake = Intake(table, not_null=("id",))
    (chunk,) = intake.chunks()
    assert intake.types == {"id": T.INT64, "u": T.INT64}
    assert chunk.table.to_pylist() == [{"id": 1, "u": 5}]
    assert [(r.row_number, r.row) for r in chunk.rejects] == [(1, {"id": None, "u": 2**64 - 1})]


@pytest.mark.parametrize("light", [True, False])
def test_an_integer_a_float_holds_exactly_hashes_as_that_float(light: bool) -> None:
    """Beyond 2**53 too: the integral float 2**53 + 2 hashed as float bytes in a float64
    column and as digits once it went (exactly) into an int64 column, so the same input
    hashed differently when the table already had the column as int64."""
    ints, floats = [{"a": 2**53 + 2}, {"a": 2**60}], [{"a": 2.0**53 + 2}, {"a": 2.0**60}]
    as_int = _checksum(_intake(ints, light=light)[1])
    assert _checksum(_intake(floats, light=light)[1]) == as_int
    assert _checksum(_intake(floats, light=light, known={"a": T.INT64})[1]) == as_int
    assert _checksum(_intake([{"a": 2**53 + 1}], light=light)[1]) != _checksum(
        _intake([{"a": 2.0**53}], light=light)[1]
    )
