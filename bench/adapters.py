"""One adapter per (tool, destination): freight, the raw driver path, and dlt.

Every adapter has the same five steps, so a case times them the same way for all tools:
``load_modules()`` (the imports), ``connect()``, ``append(rows)`` / ``merge(rows)``, ``close()``.
Heavy libraries are imported only inside ``load_modules()``, so a cold child can time its
imports. ``count()`` (untimed) reads the target back to check that the load really happened.

A *target* is a plain dict (it crosses a process boundary as JSON)::

    {"dest": "duckdb", "path": "/tmp/x.duckdb", "table": "t", "workdir": "/tmp/..."}
    {"dest": "postgres", "url": "postgresql://...", "schema": "bench_1_raw", "table": "t", ...}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bench.data import COLUMNS

TOOLS = ("freight", "raw", "dlt")

# The raw path's table: the same eight columns, ``id`` the primary key (what upserts need).
DUCKDB_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, title VARCHAR, score DOUBLE, "
    "n BIGINT, category VARCHAR, flag BOOLEAN, note VARCHAR, created_at VARCHAR)"
)
POSTGRES_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (id BIGINT PRIMARY KEY, title TEXT, score DOUBLE PRECISION, "
    "n BIGINT, category TEXT, flag BOOLEAN, note TEXT, created_at TEXT)"
)
POSTGRES_TYPES = ("int8", "text", "float8", "int8", "text", "bool", "text", "text")


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def freight_url(target: dict) -> str:
    if target["dest"] == "duckdb":
        # "duckdb:///" + absolute path: the path keeps its own leading slash.
        return "duckdb:///" + target["path"]
    return with_query(target["url"], schema=target["schema"])


class Adapter:
    tool = ""

    def __init__(self, target: dict) -> None:
        self.target = target
        self.dest = target["dest"]
        self.table = target["table"]

    def load_modules(self) -> None:
        raise NotImplementedError

    def connect(self) -> None:
        raise NotImplementedError

    def append(self, rows: Iterable[dict]) -> dict[str, Any]:
        raise NotImplementedError

    def merge(self, rows: Iterable[dict]) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def warmup(self) -> None:
        """Two small untimed merges into a side table, so one-time costs (lazy imports such
        as pyarrow's of pandas, first statements) are paid before a timed bulk load: 10 rows,
        and 2,000 rows, which is above freight's light path (no pyarrow up to 1,000 rows),
        so its Arrow path is imported too."""
        from bench.data import make_rows

        main = self.table
        self.table = main + "_warmup"
        try:
            self.merge(make_rows(0, 10))
            self.merge(make_rows(0, 2_000))
        finally:
            self.table = main

    # -- untimed checks --------------------------------------------------------------------
    def duckdb_connection(self) -> Any:
        """The open DuckDB connection, for diagnostics (None where there is none)."""
        return None

    def duckdb_buffer_mb(self) -> float | None:
        """Memory DuckDB's buffer manager holds now (mostly cached table blocks), in MiB."""
        con = self.duckdb_connection()
        if con is None:
            return None
        try:
            row = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
            return (row[0] or 0) / 2**20
        except Exception:
            return None

    def location(self) -> tuple[str | None, str]:
        """(schema, table) where this tool keeps the target table."""
        return self.target.get("schema"), self.table

    def count(self) -> int:
        schema, table = self.location()
        name = (qident(schema) + "." if schema else "") + qident(table)
        if self.dest == "duckdb":
            import duckdb

            con = duckdb.connect(self.target["path"], read_only=True)
            try:
                return con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.target["url"]) as conn:
            return conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


class FreightAdapter(Adapter):
    tool = "freight"

    def load_modules(self) -> None:
        global freight
        import freight

    def connect(self) -> None:
        config = self.target.get("duckdb_config")
        self.ds = freight.connect(
            freight_url(self.target), **({"config": config} if config else {})
        )

    def _load(self, rows: Iterable[dict], strategy: str) -> dict[str, Any]:
        # On PostgreSQL the append declares the key, as the raw path's CREATE TABLE does: the
        # table it creates gets its primary key, which a merge's ON CONFLICT needs (rows are
        # appended as given). DuckDB's merge needs no index, and a primary key there would
        # only slow the append and hold every key in memory (the streaming case).
        key = "id" if strategy == "merge" or self.dest == "postgres" else None
        r = self.ds.load(rows, table=self.table, strategy=strategy, key=key)
        if r.status != "committed":
            raise RuntimeError(f"freight load {r.status}: {r.error or r}")
        return {
            "rows_in": r.rows_in,
            "inserted": r.inserted,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "freight_seconds": r.seconds,
        }

    def append(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._load(rows, "append")

    def merge(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._load(rows, "merge")

    def close(self) -> None:
        self.ds.close()

    def duckdb_connection(self) -> Any:
        dest = getattr(self.ds, "destination", None)
        return getattr(dest, "conn", None) if self.dest == "duckdb" else None


class RawDuckDB(Adapter):
    """pyarrow + duckdb: ``pa.Table.from_pylist`` then one INSERT [OR REPLACE] ... SELECT."""

    tool = "raw"

    def load_modules(self) -> None:
        global duckdb, pa
        import duckdb
        import pyarrow as pa

    def connect(self) -> None:
        self.con = duckdb.connect(
            self.target["path"], config=self.target.get("duckdb_config") or {}
        )
        self.ready: set[str] = set()

    def _insert(self, rows: Iterable[dict], verb: str) -> dict[str, Any]:
        if self.table not in self.ready:
            self.con.execute(DUCKDB_DDL.format(table=qident(self.table)))
            self.ready.add(self.table)
        if isinstance(rows, list):
            src = pa.Table.from_pylist(rows)
        else:  # a generator: stream it in batches of 100k rows
            src = pa.RecordBatchReader.from_batches(*_batches(rows))
        self.con.register("_bench_src", src)
        try:
            self.con.execute(f"{verb} INTO {qident(self.table)} BY NAME SELECT * FROM _bench_src")
        finally:
            self.con.unregister("_bench_src")
        return {}

    def append(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._insert(rows, "INSERT")

    def merge(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._insert(rows, "INSERT OR REPLACE")

    def close(self) -> None:
        self.con.close()

    def duckdb_connection(self) -> Any:
        return self.con


def _batches(rows: Iterable[dict], size: int = 100_000):
    import itertools

    it = iter(rows)
    first = pa.RecordBatch.from_pylist(list(itertools.islice(it, size)))

    def gen():
        yield first
        while chunk := list(itertools.islice(it, size)):
            yield pa.RecordBatch.from_pylist(chunk, schema=first.schema)

    return first.schema, gen()


class RawPostgres(Adapter):
    """psycopg 3 binary COPY; a merge is COPY into a temp table + INSERT ... ON CONFLICT, one transaction."""

    tool = "raw"

    def load_modules(self) -> None:
        global psycopg, itemgetter
        from operator import itemgetter

        import psycopg

    def connect(self) -> None:
        self.conn = psycopg.connect(self.target["url"])
        self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(self.target['schema'])}")
        self.conn.commit()
        self.ready: set[str] = set()
        self.cols = ", ".join(qident(c) for c in COLUMNS)
        self.row = itemgetter(*COLUMNS)

    @property
    def qtable(self) -> str:
        return f"{qident(self.target['schema'])}.{qident(self.table)}"

    def _ensure(self, cur) -> None:
        """CREATE TABLE IF NOT EXISTS, once per table, inside the load's transaction."""
        if self.table not in self.ready:
            cur.execute(POSTGRES_DDL.format(table=self.qtable))
            self.ready.add(self.table)

    def _copy(self, cur, table: str, rows: Iterable[dict]) -> None:
        row = self.row
        with cur.copy(f"COPY {table} ({self.cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(POSTGRES_TYPES)
            for r in rows:
                copy.write_row(row(r))

    def append(self, rows: Iterable[dict]) -> dict[str, Any]:
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._ensure(cur)
            self._copy(cur, self.qtable, rows)
        return {}

    def merge(self, rows: Iterable[dict]) -> dict[str, Any]:
        sets = ", ".join(f"{qident(c)} = EXCLUDED.{qident(c)}" for c in COLUMNS if c != "id")
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._ensure(cur)
            cur.execute(f"CREATE TEMP TABLE _bench_stage (LIKE {self.qtable}) ON COMMIT DROP")
            self._copy(cur, "_bench_stage", rows)
            cur.execute(
                f"INSERT INTO {self.qtable} ({self.cols}) SELECT {self.cols} FROM _bench_stage "
                f"ON CONFLICT (id) DO UPDATE SET {sets}"
            )
        return {}

    def close(self) -> None:
        self.conn.close()


class DltAdapter(Adapter):
    """A dlt pipeline with the duckdb or postgres destination, all dlt defaults otherwise."""

    tool = "dlt"

    def load_modules(self) -> None:
        global dlt
        import dlt

    def location(self) -> tuple[str | None, str]:
        return self.dataset, self.table

    @property
    def dataset(self) -> str:
        return self.target.get("schema") or "bench"

    def connect(self) -> None:
        if self.dest == "duckdb":
            destination = dlt.destinations.duckdb(self.target["path"])
        else:
            destination = dlt.destinations.postgres(credentials=_with_password(self.target["url"]))
        self.pipeline = dlt.pipeline(
            pipeline_name=self.target.get("pipeline", "bench_" + self.table),
            pipelines_dir=self.target["workdir"] + "/dlt_pipelines",
            destination=destination,
            dataset_name=self.dataset,
        )

    def _run(self, rows: Iterable[dict], disposition: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"table_name": self.table, "write_disposition": disposition}
        if disposition == "merge":
            kwargs["primary_key"] = "id"
        info = self.pipeline.run(rows, **kwargs)
        info.raise_on_failed_jobs()
        return {}

    def append(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._run(rows, "append")

    def merge(self, rows: Iterable[dict]) -> dict[str, Any]:
        return self._run(rows, "merge")

    def close(self) -> None:
        self.pipeline = None  # dlt opens and closes its destination connection per run


def _with_password(url: str) -> str:
    """dlt insists on a password field; trust auth takes an empty one (``user:@host``)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" not in userinfo:
        return urlunsplit(parts._replace(netloc=f"{userinfo}:@{host}"))
    return url


def make_adapter(tool: str, target: dict) -> Adapter:
    if tool == "freight":
        return FreightAdapter(target)
    if tool == "dlt":
        return DltAdapter(target)
    if tool == "raw":
        return RawDuckDB(target) if target["dest"] == "duckdb" else RawPostgres(target)
    raise ValueError(f"unknown tool {tool!r}")
