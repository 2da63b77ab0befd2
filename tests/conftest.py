"""Shared fixtures. ``dataset`` is parametrised over every destination: the conformance suite.

PostgreSQL and Redis are real servers on loopback (``FREIGHT_TEST_POSTGRES``,
``FREIGHT_TEST_REDIS``). Outside CI an unreachable server skips its tests with the reason;
with ``CI=true`` it fails the run. Each test gets its own DuckDB file / PostgreSQL schema.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

import freight

PG_URL = os.environ.get("FREIGHT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

DESTINATIONS = ["duckdb", "postgres"]


def unavailable(what: str, reason: str) -> None:
    """Skip (or, in CI, fail) a test whose server is unreachable."""
    if IN_CI:
        pytest.fail(f"{what} unavailable in CI: {reason}")
    pytest.skip(f"{what} unavailable: {reason}")


def pg_admin() -> object:
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover
        unavailable("PostgreSQL", f"psycopg not installed ({e})")
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception as e:
        unavailable("PostgreSQL", f"cannot connect to {PG_URL}: {type(e).__name__}")
    raise AssertionError  # unreachable


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    conn = pg_admin()
    name = f"freight_test_{secrets.token_hex(4)}"
    conn.execute(f'CREATE SCHEMA "{name}"')  # type: ignore[attr-defined]
    try:
        yield name
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


def pg_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}schema={schema}"


@pytest.fixture(params=DESTINATIONS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty dataset on each destination."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'test.duckdb'}"
    schema = request.getfixturevalue("pg_schema")
    try:
        import freight.destinations.postgres  # noqa: F401
    except ImportError as e:
        unavailable("PostgreSQL destination", str(e))
    return pg_url(schema)


@pytest.fixture
def ds(url: str) -> Iterator[freight.Dataset]:
    with freight.connect(url) as d:
        yield d


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[freight.Dataset]:
    """DuckDB only (for tests of the embedded default)."""
    with freight.connect(f"duckdb:///{tmp_path / 'test.duckdb'}") as d:
        yield d
