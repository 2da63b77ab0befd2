"""Helpers shared by the conformance suite (tests/test_conformance_*.py, test_state_machine.py).

Everything here works on any destination: it goes through the public API where it can, and
through the destination's own catalogue (DuckDB's ``duckdb_tables()``, PostgreSQL's
``pg_tables``) only to look for objects a load must not leave behind.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import freight

COUNTERS = ("inserted", "updated", "unchanged", "deleted", "skipped", "deduplicated", "rejected")
PG_URL = os.environ.get("FREIGHT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def assert_accounted(r: freight.LoadResult) -> None:
    """Every input row is counted in exactly one input counter."""
    total = sum(getattr(r, c) for c in COUNTERS)
    assert total == r.rows_in, f"counters add up to {total}, rows_in is {r.rows_in}: {r}"
    for c in (*COUNTERS, "removed", "rows_in"):
        assert getattr(r, c) >= 0, f"{c} is negative: {r}"


def counts(r: Any) -> dict[str, int]:
    """The input counters of a LoadResult or LoadRecord, zeros left out."""
    return {c: getattr(r, c) for c in COUNTERS if getattr(r, c)}


def rows(ds: freight.Dataset, table: str, order: str | list[str] | None = None) -> list[dict]:
    """The table's rows as dicts, sorted by ``order`` (a column or columns) when given;
    an empty list when the table does not exist."""
    if table not in ds.tables():
        return []
    out = ds.read(table).to_pylist()
    if order is not None:
        cols = [order] if isinstance(order, str) else order
        out.sort(key=lambda r: tuple((r[c] is None, r[c]) for c in cols))
    return out


def raw_rows(ds: freight.Dataset, table: str) -> list[dict]:
    """Rows including freight's ``_freight_load_id`` column, read from the destination."""
    return ds.destination.read(table, None, True).to_pylist()  # type: ignore[call-arg]


def kind(ds: freight.Dataset) -> str:
    return ds.destination.capabilities.name


def raw_sql(ds: freight.Dataset, url: str, sql: str) -> None:
    """Run ``sql`` through the destination's own driver, outside freight (a table made by
    plain SQL, a row written behind freight's back). PostgreSQL runs it in the URL's schema."""
    if kind(ds) == "duckdb":
        ds.destination.connection().execute(sql)  # type: ignore[attr-defined]
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{_pg_schema(url)}"')
        conn.execute(sql)  # type: ignore[arg-type]


def _pg_schema(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query)).get("schema", "public")


def stored_objects(ds: freight.Dataset, url: str) -> set[tuple[str, ...]]:
    """Every table, view and schema the destination holds, temporary ones included for DuckDB
    (temporary objects there live on the dataset's own connection). For PostgreSQL the
    relations and schemas outside ``pg_temp*`` (temporary tables die with their session)."""
    if kind(ds) == "duckdb":
        conn = ds.destination.conn  # type: ignore[attr-defined]
        if conn is None:  # the file is not made yet: it holds nothing
            return set()
        tables = conn.execute(
            "SELECT 'table', database_name, schema_name, table_name, temporary::VARCHAR "
            "FROM duckdb_tables()"
        ).fetchall()
        views = conn.execute(
            "SELECT 'view', database_name, schema_name, view_name, temporary::VARCHAR "
            "FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        schemas = conn.execute(
            "SELECT 'schema', database_name, schema_name FROM duckdb_schemas() WHERE NOT internal"
        ).fetchall()
        return {tuple(r) for r in (*tables, *views, *schemas)}
    import psycopg

    ours = _pg_schema(url)
    # our schema and anything that looks like a side schema for staging; not the rest of the
    # server's schemas, which other runs create and drop concurrently
    visible = "(n.nspname = %s OR n.nspname LIKE %s OR n.nspname ILIKE '%%stag%%')"
    params = [ours, ours + "\\_%"]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rels = conn.execute(
            "SELECT 'rel', n.nspname, c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND {visible}",
            params,
        ).fetchall()
        schemas = conn.execute(
            f"SELECT 'schema', n.nspname FROM pg_namespace n WHERE {visible}", params
        ).fetchall()
    return {tuple(r) for r in (*rels, *schemas)}


def user_objects(objs: set[tuple[str, ...]], table: str) -> set[tuple[str, ...]]:
    """The objects naming ``table`` itself."""
    return {o for o in objs if o[0] in ("table", "rel") and table in o}
