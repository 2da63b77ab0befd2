"""PostgreSQL-specific behaviour: one schema and nothing else, native types, keys and
constraints, identifier limits, NUL bytes, atomic replace for readers, retries that apply a
load exactly once, error classification, credentials never shown, connection reuse.

Against the real server at FREIGHT_TEST_POSTGRES; each test works in its own schema."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import secrets
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

import freight
from _pg_net import FakeServer
from conftest import PG_URL, pg_admin, pg_url
from freight.destinations import postgres as pgdest

pytestmark = pytest.mark.postgres

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def admin(pg_schema: str) -> Iterator[Any]:
    conn = pg_admin()
    yield conn
    conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def pg(pg_schema: str) -> Iterator[freight.Dataset]:
    with freight.connect(pg_url(pg_schema)) as ds:
        yield ds


def scalar(admin: Any, sql: str, *params: Any) -> Any:
    return admin.execute(sql, params).fetchone()[0]


# --------------------------------------------------------------------------- one schema only


@pytest.fixture
def private_db(admin: Any) -> Iterator[str]:
    """A database of its own, so listing everything in it sees only this test's doing
    (other test runs may share the server)."""
    name = f"freight_iso_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def everything(url: str) -> set[tuple[str, ...]]:
    """Every schema and every relation (tables, indexes, sequences, views) in the database,
    except PostgreSQL's own per-session temporary schemas and toast storage."""
    with psycopg.connect(url, autocommit=True) as conn:
        rels = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace"
        ).fetchall()
        schemas = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
    out = {("rel", *r) for r in rels} | {("schema", s) for (s,) in schemas}
    internal = ("pg_temp_", "pg_toast_temp_", "pg_toast")
    return {o for o in out if not o[1].startswith(internal)}


def test_loads_create_nothing_outside_their_schema(private_db: str) -> None:
    with freight.connect(private_db + "?schema=raw", chunk_rows=50) as ds:
        ds.load([{"id": 0, "v": "seed"}], "t", strategy="merge", key="id")
        with psycopg.connect(private_db, autocommit=True) as conn:
            conn.execute("ALTER TABLE raw.t ADD CONSTRAINT v_is_not_bad CHECK (v <> 'bad')")
        before = everything(private_db)
        rows = [{"id": i, "v": f"v{i}"} for i in range(500)]
        for strategy in ("merge", "replace", "insert_only", "update_only", "delete"):
            ds.load(rows, "t", strategy=strategy, key="id", force=True)
        ds.load([{"id": 10_000 + i, "v": "new"} for i in range(500)], "t")  # direct append
        assert everything(private_db) == before

        def failing() -> Iterator[dict]:
            yield from rows[:300]
            raise RuntimeError("source broke")

        for strategy in ("merge", "append", "replace"):
            with pytest.raises(RuntimeError):
                ds.load(failing(), "t", strategy=strategy, key="id")
            with pytest.raises(freight.DestinationError, match="v_is_not_bad"):  # on the server
                ds.load([*rows, {"id": 9999, "v": "bad"}], "t", strategy=strategy, key="id")
        with pytest.raises(RuntimeError):
            ds.load(failing(), "new_table", strategy="merge", key="id")
        assert everything(private_db) == before

        ds.load(rows, "u", strategy="merge", key="id")
        added = everything(private_db) - before
        assert added and all(o[1] == "raw" for o in added), added
        assert everything(private_db) >= before


def test_freights_tables_live_in_the_named_schema(
    pg: freight.Dataset, pg_schema: str, admin: Any
) -> None:
    pg.load([{"a": 1}], "t")
    rels = admin.execute(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1",
        [pg_schema],
    ).fetchall()
    assert [r[0] for r in rels] == ["_freight_loads", "_freight_rejected", "t"]
    assert pg.tables() == ["t"]


def test_missing_schema_is_created(admin: Any) -> None:
    name = f"freight_test_{secrets.token_hex(4)}"
    try:
        with freight.connect(pg_url(name)) as ds:
            ds.load([{"a": 1}], "t")
        assert scalar(admin, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", name) == 1
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_postgres_scheme_alias_and_masked_repr(pg_schema: str) -> None:
    url = pg_url(pg_schema).replace("postgresql://", "postgres://", 1)
    with freight.connect(url) as ds:
        assert ds.destination.capabilities.name == "postgres"
        ds.load([{"a": 1}], "t")
        assert ds.read("t").to_pylist() == [{"a": 1}]


def test_schema_defaults_to_public(private_db: str) -> None:
    with freight.connect(private_db) as ds:
        ds.load([{"a": 1}], "t")
        assert ds.destination.pg_schema == "public"  # type: ignore[attr-defined]
    with psycopg.connect(private_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.t").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM public._freight_loads").fetchone()[0] == 1


# --------------------------------------------------------------------------- types


ROW = {
    "i": 2**62,
    "big": 2**70,
    "f": 1.5,
    "nan": float("nan"),
    "inf": float("inf"),
    "ninf": float("-inf"),
    "dec": Decimal("1234.5600"),
    "s": 'text, "quoted"\nnew line \\ back',
    "empty": "",
    "b": b"\x00\x01\xff",
    "ok": True,
    "d": dt.date(2024, 2, 29),
    "t": dt.time(23, 59, 59, 999999),
    "ts": dt.datetime(2024, 1, 2, 3, 4, 5, 678901),
    "tz": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "j": {"b": [1, 2.5, None], "a": "x"},
    "none": None,
}
NATIVE = {
    "i": "bigint",
    "big": "numeric(38,0)",
    "f": "double precision",
    "nan": "double precision",
    "dec": "numeric(8,4)",
    "s": "text",
    "empty": "text",
    "b": "bytea",
    "ok": "boolean",
    "d": "date",
    "t": "time without time zone",
    "ts": "timestamp without time zone",
    "tz": "timestamp with time zone",
    "u": "uuid",
    "j": "jsonb",
    "_freight_load_id": "text",
}


@pytest.mark.parametrize("strategy", ["append", "merge"])
def test_native_types_and_exact_round_trip(
    pg: freight.Dataset, pg_schema: str, admin: Any, strategy: str
) -> None:
    pg.load([ROW, {**ROW, "i": 1, "none": None}], "t", strategy=strategy, key="i")
    cols = dict(
        admin.execute(
            "SELECT column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns c "
            "JOIN pg_attribute a ON a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass "
            "AND a.attname = c.column_name WHERE table_schema = %s AND table_name = 't'",
            [pg_schema],
        ).fetchall()
    )
    assert {c: cols[c] for c in NATIVE} == NATIVE
    assert cols["none"] == "text"  # a column never given a value has no type yet
    assert pg.schema("t")["none"] == "null"
    back = sorted(pg.read("t").to_pylist(), key=lambda r: r["i"])[1]
    assert math.isnan(back.pop("nan"))
    assert back.pop("j") in ('{"a": "x", "b": [1, 2.5, null]}', '{"a":"x","b":[1,2.5,null]}')
    assert back.pop("tz") == ROW["tz"]  # the same instant
    want = {k: v for k, v in ROW.items() if k not in ("nan", "j", "tz")}
    assert back == want
    # stored natively: the server itself sees the values
    assert admin.execute(
        f'SELECT "inf" = \'Infinity\'::float8, "big" = 2^70::numeric, "j"->>\'a\', "u"::text, '
        f'"tz" = \'2024-01-02 08:04:05.000006+00\'::timestamptz, length("b") FROM "{pg_schema}".t WHERE i = 1'
    ).fetchone() == (True, True, "x", str(ROW["u"]), True, 3)


def test_schema_of_tables_freight_did_not_create(
    pg: freight.Dataset, pg_schema: str, admin: Any
) -> None:
    admin.execute(
        f'CREATE TABLE "{pg_schema}".ext (a integer, b smallint, c varchar(20), d character(3), '
        "e real, f numeric, g numeric(10,3), h json, k time(3), l inet, m integer[])"
    )
    admin.execute(
        f"INSERT INTO \"{pg_schema}\".ext VALUES (1, 2, 'x', 'y', 1.5, 2.25, 3.125, '{{\"a\":1}}', '01:02:03', '10.0.0.1', '{{1,2}}')"
    )
    assert pg.schema("ext") == {
        "a": "int64",
        "b": "int64",
        "c": "string",
        "d": "string",
        "e": "float64",
        "f": "decimal(38,9)",
        "g": "decimal(10,3)",
        "h": "json",
        "k": "time",
        "l": "string",
        "m": "string",
    }
    row = pg.read("ext").to_pylist()[0]
    assert row["l"] == "10.0.0.1/32" and row["m"] == "{1,2}" and row["h"] == '{"a":1}'
    r = pg.load([{"a": 7, "c": "z", "f": Decimal("1.5")}], "ext")
    assert r.inserted == 1
    # columns of types freight does not create get their values as text (CSV COPY), which
    # their own input functions parse; binary COPY would send the wrong wire format
    row = {"a": 8, "b": 9, "c": "v", "d": "abc", "e": 2.5, "g": Decimal("1.250")}
    row |= {"h": {"b": [1, 2]}, "k": dt.time(4, 5, 6, 789000), "l": "192.168.0.1"}
    assert pg.load([row], "ext").inserted == 1
    assert admin.execute(
        f"SELECT a, b, c, d, e, g, h->'b', k, l = '192.168.0.1'::inet "
        f'FROM "{pg_schema}".ext WHERE a = 8'
    ).fetchone() == (
        8,
        9,
        "v",
        "abc",
        2.5,
        Decimal("1.250"),
        [1, 2],
        dt.time(4, 5, 6, 789000),
        True,
    )


def test_nul_byte_in_text_is_quarantined_never_stripped(pg: freight.Dataset) -> None:
    rows = [{"id": 1, "s": "fine"}, {"id": 2, "s": "bad\x00byte"}, {"id": 3, "s": "also fine"}]
    r = pg.load(rows, "t", strategy="merge", key="id")
    assert (r.inserted, r.rejected) == (2, 1)
    assert sorted(x["id"] for x in pg.read("t").to_pylist()) == [1, 3]
    (rej,) = pg.rejected("t")
    assert rej.row == {"id": 2, "s": "bad\x00byte"}
    assert "NUL" in rej.reason and "'s'" in rej.reason


@pytest.mark.parametrize("chunk_rows", [None, 1])
def test_nul_rows_are_quarantined_as_given_with_their_number(
    pg_schema: str, chunk_rows: int | None
) -> None:
    """The quarantined row is the input row (no columns other rows brought), with its number,
    whatever the chunk size; JSON holding NUL too, but not a backslash before 'u0000'."""
    rows = [
        {"id": 1, "s": "ok", "extra": 5},
        {"id": 2, "s": "bad\x00"},
        {"id": 3, "j": {"deep": ["x\x00y"]}},
        {"id": 4, "j": {"text": "\\u0000 is six characters"}, "s": "back\\slash"},
        {"s": "\x00", "id": 5, "t": "\x00"},
    ]
    options = {"chunk_rows": chunk_rows} if chunk_rows else {}
    with freight.connect(pg_url(pg_schema), **options) as ds:
        r = ds.load([dict(x) for x in rows], "t", strategy="merge", key="id")
        assert (r.inserted, r.rejected) == (2, 3)
        got = {q.row_number: (q.row, q.reason) for q in ds.rejected("t")}
        assert sorted(got) == [2, 3, 5]
        assert got[2][0] == {"id": 2, "s": "bad\x00"}
        assert got[3][0] == {"id": 3, "j": {"deep": ["x\x00y"]}}
        assert got[5][0] == {"s": "\x00", "id": 5, "t": "\x00"}
        assert "column 's'" in got[2][1] and "column 'j'" in got[3][1] and "column 's'" in got[5][1]
        stored = {x["id"]: x for x in ds.read("t").to_pylist()}
        assert sorted(stored) == [1, 4]
        assert json.loads(stored[4]["j"]) == {"text": "\\u0000 is six characters"}
        assert stored[4]["s"] == "back\\slash"


# --------------------------------------------------------------------------- keys


def primary_key(admin: Any, schema: str, table: str) -> list[str]:
    rows = admin.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
        "ORDER BY a.attname",
        [f'"{schema}"."{table}"'],
    ).fetchall()
    return [r[0] for r in rows]


def test_key_columns_become_the_primary_key(
    pg: freight.Dataset, pg_schema: str, admin: Any
) -> None:
    pg.load([{"a": 1, "b": "x", "v": 1}], "t", strategy="merge", key=["a", "b"])
    assert primary_key(admin, pg_schema, "t") == ["a", "b"]
    pg.load([{"a": 1, "v": 1}], "plain")
    assert primary_key(admin, pg_schema, "plain") == []


def test_merge_into_a_table_without_unique_key_adds_one_and_says_so(
    pg: freight.Dataset, pg_schema: str, admin: Any
) -> None:
    pg.load([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "t")  # append: no key
    r = pg.load([{"id": 2, "v": "B"}, {"id": 3, "v": "c"}], "t", strategy="merge", key="id")
    assert (r.inserted, r.updated) == (1, 1)
    assert any("unique index" in c and "(id)" in c for c in r.schema_changes), r.schema_changes
    assert sorted((x["id"], x["v"]) for x in pg.read("t").to_pylist()) == [
        (1, "a"),
        (2, "B"),
        (3, "c"),
    ]
    # the index is there for the next merge, which adds nothing
    r = pg.load([{"id": 3, "v": "C"}], "t", strategy="merge", key="id")
    assert r.updated == 1 and r.schema_changes == []


def test_merge_into_a_table_with_duplicate_keys_says_how_to_fix_it(
    pg: freight.Dataset, pg_schema: str
) -> None:
    pg.load([{"id": 1, "v": "a"}, {"id": 1, "v": "again"}], "t")
    with pytest.raises(freight.SchemaContractError) as e:
        pg.load([{"id": 2, "v": "b"}], "t", strategy="merge", key="id")
    assert "ADD PRIMARY KEY" in str(e.value) and '"id"' in str(e.value)
    assert len(pg.read("t")) == 2


@pytest.mark.parametrize("size", [3, pgdest.VIEW_ROWS + 10])
def test_keyed_loads_into_columns_of_your_own_types(
    pg: freight.Dataset, pg_schema: str, admin: Any, size: int
) -> None:
    """A table made by your migrations (integer key, varchar, inet, an enum, json, real)
    takes merges, insert_only, update_only and delete, through the JSON stage and through a
    temporary table: each stage column is cast to its column's own type (an INSERT from a
    text stage column into inet or an enum column fails otherwise)."""
    admin.execute(f"CREATE TYPE \"{pg_schema}\".mood AS ENUM ('ok', 'sad')")
    admin.execute(
        f'CREATE TABLE "{pg_schema}".hosts (id integer PRIMARY KEY, name varchar(20), '
        f'addr inet, mood "{pg_schema}".mood, meta json, load real)'
    )

    def row(i: int, mood: str = "ok") -> dict:
        return {
            "id": i,
            "name": f"h{i}",
            "addr": f"10.0.{i // 250}.{i % 250}",
            "mood": mood,
            "meta": {"i": i},
            "load": 0.5,
        }

    r = pg.load([row(i) for i in range(size)], "hosts", strategy="merge", key="id")
    assert (r.inserted, r.rejected) == (size, 0), r
    r = pg.load([row(0, "sad"), row(1), row(size)], "hosts", strategy="merge", key="id")
    assert (r.updated, r.unchanged, r.inserted) == (1, 1, 1)
    r = pg.load([row(1, "sad"), row(size + 1)], "hosts", strategy="insert_only", key="id")
    assert (r.inserted, r.skipped) == (1, 1)
    r = pg.load(
        [{"id": 2, "mood": "sad", "addr": "10.9.9.9"}], "hosts", strategy="update_only", key="id"
    )
    assert r.updated == 1
    assert pg.load([{"id": 3}], "hosts", strategy="delete", key="id").deleted == 1
    got = admin.execute(
        f'SELECT id, name, addr::text, mood::text, meta::jsonb::text, load FROM "{pg_schema}".hosts '
        "WHERE id IN (0, 1, 2, 3) ORDER BY id"
    ).fetchall()
    assert got == [
        (0, "h0", "10.0.0.0/32", "sad", '{"i": 0}', 0.5),
        (1, "h1", "10.0.0.1/32", "ok", '{"i": 1}', 0.5),
        (2, "h2", "10.9.9.9/32", "sad", '{"i": 2}', 0.5),
    ]
    before = scalar(admin, f'SELECT count(*) FROM "{pg_schema}".hosts')
    with pytest.raises(freight.DestinationError) as e:
        pg.load([row(size + 5), row(size + 6, "angry")], "hosts", strategy="merge", key="id")
    assert "angry" in str(e.value)
    assert scalar(admin, f'SELECT count(*) FROM "{pg_schema}".hosts') == before


@pytest.mark.parametrize("size", [1, pgdest.VIEW_ROWS + 10])
@pytest.mark.parametrize("strategy", ["append", "merge"])
def test_a_value_too_long_for_your_varchar_fails_the_load_never_cut(
    pg: freight.Dataset, pg_schema: str, admin: Any, size: int, strategy: str
) -> None:
    """An explicit cast to varchar(5) would cut the value silently: the stage's values are
    cast to varchar without the length, and the column's length is met on assignment."""
    admin.execute(
        f'CREATE TABLE "{pg_schema}".codes (id integer PRIMARY KEY, code varchar(5), '
        "at timestamp(0) with time zone, c char(3), tags varchar(4)[])"
    )
    ok = [
        {"id": i, "code": "abc", "at": "2024-01-01T00:00:00.4+00:00", "c": "ab", "tags": "{x,y}"}
        for i in range(size)
    ]
    kw = {"strategy": "merge", "key": "id"} if strategy == "merge" else {}
    assert pg.load(ok, "codes", **kw).inserted == size
    at = scalar(admin, f'SELECT at FROM "{pg_schema}".codes WHERE id = 0')
    assert at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # timestamp(0): rounded on assignment
    c, tags = admin.execute(f'SELECT c, tags FROM "{pg_schema}".codes WHERE id = 0').fetchone()
    assert (c, tags) == ("ab ", ["x", "y"])
    for too_long in ({"code": "abcdefghi"}, {"c": "abcd"}, {"tags": "{abcdefghi}"}):
        rows = [{"id": size + i, **too_long} for i in range(size)]
        with pytest.raises(freight.DestinationError) as e:
            pg.load(rows, "codes", **kw)
        assert "too long" in str(e.value), too_long
    assert scalar(admin, f'SELECT count(*) FROM "{pg_schema}".codes') == size
    assert scalar(admin, f'SELECT max(length(code)) FROM "{pg_schema}".codes') == 3


def test_update_only_and_delete_need_no_unique_key(pg: freight.Dataset) -> None:
    pg.load([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "t")
    assert pg.load([{"id": 1, "v": "A"}], "t", strategy="update_only", key="id").updated == 1
    assert pg.load([{"id": 2}], "t", strategy="delete", key="id").deleted == 1
    assert pg.read("t").to_pylist() == [{"id": 1, "v": "A"}]


# --------------------------------------------------------------------------- identifiers


def test_identifiers_longer_than_63_bytes_are_refused(
    pg: freight.Dataset, admin: Any, pg_schema: str
) -> None:
    ok_table, ok_col = "t" * 63, "c" * 63
    r = pg.load([{ok_col: 1, '%s and "quotes"': 2}], ok_table, strategy="merge", key=ok_col)
    assert r.inserted == 1
    assert pg.read(ok_table).to_pylist() == [{ok_col: 1, '%s and "quotes"': 2}]
    assert (
        scalar(
            admin,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND relname = %s",
            pg_schema,
            ok_table,
        )
        == 1
    )
    for table, col in (("t" * 64, "c"), ("t", "c" * 64), ("é" * 32, "c"), ("t", "é" * 32)):
        with pytest.raises(freight.InvalidIdentifierError, match="63"):
            pg.load([{col: 1}], table)
    assert pg.tables() == [ok_table]


# --------------------------------------------------------------------------- replace


def test_replace_is_atomic_for_a_concurrent_reader(
    pg_schema: str, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader on another connection counts the table after every statement and COPY chunk
    a replace sends: it sees the old rows until the commit and the new ones after it, never
    an empty or half-filled table. Deterministic: the reader runs at each step, no thread."""
    admin.execute("SET statement_timeout = '10s'")  # a replace that locks readers out fails
    rows = [{"id": i, "v": "x" * 50} for i in range(5000)]
    seen: list[tuple[str, int]] = []

    def count() -> int:
        return int(scalar(admin, f'SELECT count(*) FROM "{pg_schema}".t'))

    def observed(name: str) -> None:
        real = getattr(pgdest.PostgresSession, name)

        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            out = real(self, *args, **kwargs)
            seen.append((name, count()))
            return out

        monkeypatch.setattr(pgdest.PostgresSession, name, hooked)

    with freight.connect(pg_url(pg_schema), chunk_rows=1000) as ds:
        ds.load(rows, "t", strategy="replace")
        for name in ("_run", "_executemany", "_copy", "_end_copy"):
            observed(name)
        previous = 5000
        for size in (4000, 4100, 4200):
            seen.clear()
            ds.load(rows[:size], "t", strategy="replace")
            steps = {name for name, _ in seen}
            assert {"_run", "_copy"} <= steps, seen  # the reader did look mid-load
            assert {n for _, n in seen} == {previous}, seen
            assert count() == size
            previous = size


# --------------------------------------------------------------------------- errors and retries


def server_error(admin: Any, sqlstate: str) -> Any:
    with pytest.raises(psycopg.Error) as e:
        admin.execute(
            f"DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{sqlstate}'; END $$"
        )
    return e.value


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [
        ("40001", True),  # serialization_failure
        ("40P01", True),  # deadlock_detected
        ("57P01", True),  # admin_shutdown
        ("08006", True),  # connection_failure
        ("53300", True),  # too_many_connections
        ("23505", False),  # unique_violation on the user's data
        ("42601", False),  # syntax_error
        ("22P05", False),  # untranslatable_character
        ("42501", False),  # insufficient_privilege
        ("57014", False),  # query_canceled (statement timeout)
    ],
)
def test_transient_and_permanent_errors(admin: Any, sqlstate: str, transient: bool) -> None:
    assert pgdest._transient(server_error(admin, sqlstate)) is transient


@pytest.mark.parametrize(
    ("url", "transient"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", True),  # refused
        (PG_URL.rsplit("/", 1)[0] + "/no_such_database_here", False),
        (PG_URL.replace("://postgres@", "://no_such_role_here@"), False),
    ],
)
def test_connection_failures_are_one_line_destination_errors(
    admin: Any, url: str, transient: bool
) -> None:
    with pytest.raises(freight.DestinationError) as e:
        freight.connect(url, wait=0)  # (waiting out a refused connection: test_connect)
    assert e.value.transient is transient
    assert "\n" not in str(e.value) and "PostgreSQL failed while connecting" in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_permanent_error_is_not_retried(
    pg: freight.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.load([{"id": 1}], "t", strategy="merge", key="id")
    calls = []
    real = pgdest.PostgresSession.apply

    def counting(self: Any, *a: Any) -> Any:
        calls.append(1)
        return real(self, *a)

    monkeypatch.setattr(pgdest.PostgresSession, "apply", counting)
    with pytest.raises(freight.DestinationError) as e:  # a duplicate primary key on replace
        pg.load([{"id": 1}, {"id": 1}], "t", strategy="replace")
    assert not e.value.transient and len(calls) == 1


def inject_once(monkeypatch: pytest.MonkeyPatch, what: str) -> list[int]:
    """Make the first attempt's apply fail for real on the server: its backend is killed
    (57P01) or it raises a serialization failure (40001)."""
    attempts: list[int] = []
    real = pgdest.PostgresSession.apply

    def flaky(self: Any, *a: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            if what == "terminate":
                self._exec("SELECT pg_terminate_backend(pg_backend_pid())")
            else:
                self._exec(
                    "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure'; END $$"
                )
        return real(self, *a)

    monkeypatch.setattr(pgdest.PostgresSession, "apply", flaky)
    return attempts


@pytest.mark.parametrize("what", ["terminate", "serialization"])
def test_transient_failure_is_retried_and_applied_exactly_once(
    pg: freight.Dataset, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    pg.load([{"id": i, "v": 0} for i in range(100)], "t", strategy="merge", key="id")
    attempts = inject_once(monkeypatch, what)
    r = pg.load([{"id": i, "v": 1} for i in range(50, 150)], "t", strategy="merge", key="id")
    assert len(attempts) == 2
    assert (r.status, r.inserted, r.updated) == ("committed", 50, 50)
    rows = pg.read("t").to_pylist()
    assert len(rows) == 150 == len({x["id"] for x in rows})
    assert [h.status for h in pg.history("t")] == ["committed", "committed"]


def test_dead_pooled_connection_is_replaced(pg: freight.Dataset, admin: Any) -> None:
    pg.load([{"a": 1}], "t")
    pool = pg.destination._pool  # type: ignore[attr-defined]
    pids = [c.info.backend_pid for c, _ in pool._idle]
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    pool.check_after = 0.0
    assert pg.load([{"a": 2}], "t").inserted == 1


# --------------------------------------------------------------------------- credentials

CANARY = "Canary-Pa55-" + secrets.token_hex(6)


def assert_no_canary(*texts: str) -> None:
    for t in texts:
        assert CANARY not in t, t


def check_masked(e: BaseException, caplog: pytest.LogCaptureFixture, caught: list[Any]) -> None:
    assert isinstance(e, freight.FreightError)
    assert "\n" not in str(e)
    assert_no_canary(
        str(e),
        repr(e),
        "".join(traceback.format_exception(e)),
        *(r.getMessage() for r in caplog.records),
        *(str(w.message) for w in caught),
    )


@pytest.mark.parametrize("case", ["wrong password", "wrong host", "refused", "timeout", "bad url"])
def test_credentials_never_shown_when_connecting(
    case: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer("silent" if case == "timeout" else "password")
    urls = {
        "wrong password": f"postgresql://postgres:{CANARY}@127.0.0.1:{server.port}/test?sslmode=disable",
        "wrong host": f"postgresql://postgres:{CANARY}@no-such-host.invalid:5432/test",
        "refused": f"postgresql://postgres:{CANARY}@127.0.0.1:1/test",
        "timeout": f"postgresql://postgres:{CANARY}@127.0.0.1:{server.port}/test?connect_timeout=1&sslmode=disable",
        "bad url": f"postgresql://postgres:{CANARY}%zz@127.0.0.1:5432/test",
    }
    caplog.set_level(logging.DEBUG)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            pytest.raises(freight.FreightError) as e,
        ):
            warnings.simplefilter("always")
            freight.connect(urls[case], wait=0)
        check_masked(e.value, caplog, caught)
        if case == "wrong password":
            assert CANARY.encode() in server.received  # it really was sent, and still not shown
            assert "password authentication failed" in str(e.value) and not e.value.transient
        if case == "timeout":
            assert "timeout" in str(e.value).lower()
    finally:
        server.close()


def test_credentials_never_shown_by_a_working_dataset(
    pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Trust authentication ignores the password, so a canary in the URL travels everywhere
    a working dataset goes: reprs, results, health, journal, SQL errors."""
    url = pg_url(pg_schema).replace("://postgres@", f"://postgres:{CANARY}@")
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with freight.connect(url) as ds:
            r = ds.load([{"id": 1}], "t", strategy="merge", key="id")
            with pytest.raises(freight.FreightError) as e:  # an SQL error from the server
                ds.load([{"id": 1}, {"id": 1}], "t", strategy="replace")
            assert "duplicate key" in str(e.value)
            check_masked(e.value, caplog, caught)
            texts = [
                repr(ds),
                ds.url,
                repr(ds.destination),
                ds.destination.url,
                str(r),
                repr(ds.health()),
                *(repr(h) for h in ds.history()),
            ]
            assert_no_canary(*texts)
            assert "***" in ds.url


# --------------------------------------------------------------------------- pool


def test_repeated_small_loads_reuse_connections(pg_schema: str, admin: Any) -> None:
    app = f"freight_pool_{secrets.token_hex(3)}"
    with freight.connect(pg_url(pg_schema) + f"&application_name={app}") as ds:
        for i in range(100):
            ds.load(
                [{"id": i * 100 + j, "v": j} for j in range(100)], "t", strategy="merge", key="id"
            )
        pool = ds.destination._pool  # type: ignore[attr-defined]
        assert pool.opened <= 2 and pool.reused >= 99
        backends = scalar(
            admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", app
        )
        assert 1 <= backends <= 2
        assert len(ds.read("t")) == 10_000
    for _ in range(100):  # a closed connection's backend exits a moment later
        left = scalar(
            admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", app
        )
        if not left:
            break
        time.sleep(0.02)
    assert left == 0


def test_a_dataset_can_be_shared_by_threads(pg: freight.Dataset) -> None:
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for r in range(5):
                pg.load(
                    [{"id": i, "w": w, "r": r} for i in range(w * 10, w * 10 + 30)],
                    "t",
                    strategy="merge",
                    key="id",
                )
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    rows = pg.read("t").to_pylist()
    assert len(rows) == len({r["id"] for r in rows}) == 60


def test_streamed_append_whose_columns_change_between_chunks(pg_schema: str) -> None:
    """Chunks of one append share a COPY while their columns and types stay the same; a
    column that appears, gets its first value or widens mid-load starts a new one."""
    rows = [{"id": i, "x": None} for i in range(3)]
    rows += [{"id": i, "x": f"s{i}"} for i in range(3, 7)]
    rows += [{"id": i, "x": f"s{i}", "y": i} for i in range(7, 10)]
    rows += [{"id": i, "x": None, "y": i + 0.5} for i in range(10, 14)]
    with freight.connect(pg_url(pg_schema), chunk_rows=3) as ds:
        r = ds.load(iter(rows), "t")
        assert r.inserted == len(rows)
        back = sorted(ds.read("t").to_pylist(), key=lambda x: x["id"])
    assert [(b["id"], b["x"], b["y"]) for b in back] == [
        (r_["id"], r_.get("x"), r_.get("y")) for r_ in rows
    ]


def test_keyed_loads_on_both_sides_of_the_json_stage_limit(pg: freight.Dataset) -> None:
    """Up to VIEW_ROWS rows a one-chunk keyed load is staged as JSON, above it in a
    temporary table written as soon as the chunk arrives: the outcome is the same."""
    n = pgdest.VIEW_ROWS + 500
    for table, size in (("small", pgdest.VIEW_ROWS), ("big", n)):
        rows = [{"id": i, "v": f"v{i}", "x": i / 7} for i in range(size)]
        assert pg.load(rows, table, strategy="merge", key="id").inserted == size
        changed = [{**r, "v": "changed"} if r["id"] % 2 else r for r in rows]
        r = pg.load(changed, table, strategy="merge", key="id")
        assert (r.updated, r.unchanged, r.inserted) == (size // 2, size - size // 2, 0)
        back = {x["id"]: x for x in pg.read(table).to_pylist()}
        assert len(back) == size and back[1]["v"] == "changed" and back[2]["v"] == "v2"
        assert back[3]["x"] == 3 / 7


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ('connection to server at "h", port 6543 failed: FATAL: no such database: app', False),
        ('connection to server at "h", port 6543 failed: FATAL: no such user: bob', False),
        ('connection to server at "h" failed: FATAL: database "app" does not exist', False),
        ('connection to server at "h" failed: Connection refused', True),
    ],
)
def test_connect_failures_pgbouncer_words_are_classified(message: str, transient: bool) -> None:
    """PgBouncer (Supabase's pooler) says "no such database/user" where PostgreSQL says
    "does not exist": no retry cures either."""
    assert pgdest._transient(pgdest.psycopg.OperationalError(message)) is transient


# --- the two COPY formats store the same values ---------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_copy_rows = st.lists(
    st.fixed_dictionaries(
        {
            "i": st.none() | st.integers(-(2**63), 2**63 - 1),
            "f": st.none() | st.floats(allow_nan=True, allow_infinity=True),
            "s": st.none()
            | st.text(
                st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=20
            ),
            "b": st.none() | st.booleans(),
            "d": st.none() | st.decimals(places=4, min_value=-(10**20), max_value=10**20),
            "t": st.none() | st.datetimes(min_value=dt.datetime(1, 1, 2)),
            "y": st.none() | st.binary(max_size=10),
        }
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=_copy_rows)
def test_binary_and_csv_copy_store_the_same_values(
    pg: freight.Dataset, admin: Any, pg_schema: str, data: list[dict]
) -> None:
    """A table of freight's own types takes binary COPY; the same table with one ``varchar``
    column takes CSV COPY for every column: both store every value alike."""
    cols = (
        "i bigint, f double precision, {s} , b boolean, d numeric(38,4), t timestamp, y bytea, "
        "_freight_load_id text"
    )
    tag = uuid.uuid4().hex[:8]
    native, text = f"n_{tag}", f"c_{tag}"
    admin.execute(f'CREATE TABLE "{pg_schema}".{native} ({cols.format(s="s text")})')
    admin.execute(f'CREATE TABLE "{pg_schema}".{text} ({cols.format(s="s varchar(100)")})')
    rows = [{**r, "d": None if r["d"] is None else r["d"].normalize()} for r in data]
    got = {}
    for table in (native, text):
        r = pg.load([dict(x) for x in rows], table)
        assert r.inserted == len(rows), r
        got[table] = admin.execute(
            f'SELECT i, f::text, s, b, d, t, y FROM "{pg_schema}".{table} ORDER BY ctid'
        ).fetchall()
    assert got[native] == got[text]
    for row, back in zip(rows, got[native], strict=True):
        assert back[0] == row["i"] and back[2] == row["s"] and back[3] == row["b"]
        assert back[5] == row["t"] and (back[6] is None) == (row["y"] is None)
        if row["f"] is not None:
            assert (
                math.isnan(float(back[1])) if math.isnan(row["f"]) else float(back[1]) == row["f"]
            )


def test_a_copy_refused_mid_stream_leaves_nothing(
    pg: freight.Dataset, admin: Any, pg_schema: str
) -> None:
    """One COPY spans the chunks of an append: the server refusing a row in a later chunk
    fails the load with the server's reason, the table keeps nothing, the journal says why,
    and the next load on the pooled connection works."""
    admin.execute(
        f'CREATE TABLE "{pg_schema}".t (id bigint, v text NOT NULL, _freight_load_id text)'
    )
    rows = [{"id": i, "v": f"v{i}"} for i in range(7)] + [{"id": 7, "v": None}]
    rows += [{"id": i, "v": "x"} for i in range(8, 12)]
    with freight.connect(pg_url(pg_schema), chunk_rows=3) as ds:
        with pytest.raises(freight.DestinationError, match="not-null constraint") as e:
            ds.load(iter(rows), "t")
        assert not e.value.transient
        assert scalar(admin, f'SELECT count(*) FROM "{pg_schema}".t') == 0
        (failed,) = ds.history("t")
        assert failed.status == "failed" and "not-null" in (failed.error or "")
        assert ds.load([{"id": 1, "v": "ok"}], "t").inserted == 1
