"""DuckDB, the embedded default: ``duckdb:///relative.duckdb``, ``duckdb:////abs/path.duckdb``,
``duckdb:///:memory:``. Arrow batches go into a temporary stage by Arrow scan; everything
else is the shared set-based SQL, inside one transaction on the Dataset's connection."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .. import _types as T
from .._errors import ConfigurationError, DestinationError, LockedError
from .._plan import LOAD_ID_COLUMN, RESERVED_PREFIX, Plan
from .._result import Health, LoadRecord, RejectedRow
from .._url import mask_url
from ._base import Capabilities, Mark
from ._sql import (
    LOAD_COLUMNS,
    LOADS,
    REJECTED,
    REJECTED_COLUMNS,
    SEQ,
    STAGE,
    UNTYPED,
    Dialect,
    SqlSession,
    _record_values,
    journal_ddl,
    q,
    record_from_row,
    rejected_from_row,
    same_table,
)

DIALECT = Dialect(
    param="?",
    types={
        T.BOOL: "BOOLEAN",
        T.INT64: "BIGINT",
        T.FLOAT64: "DOUBLE",
        T.STRING: "VARCHAR",
        T.BINARY: "BLOB",
        T.DATE: "DATE",
        T.TIME: "TIME",
        T.TIMESTAMP: "TIMESTAMP",
        T.TIMESTAMPTZ: "TIMESTAMPTZ",
        T.INTERVAL: "INTERVAL",
        T.UUID: "UUID",
        T.JSON: "JSON",
    },
    text="VARCHAR",
    int_type="BIGINT",
    ts_type="TIMESTAMPTZ",
)

_REVERSE = {
    "BOOLEAN": T.BOOL,
    "TINYINT": T.INT64,
    "SMALLINT": T.INT64,
    "INTEGER": T.INT64,
    "BIGINT": T.INT64,
    "UTINYINT": T.INT64,
    "USMALLINT": T.INT64,
    "UINTEGER": T.INT64,
    "UBIGINT": "decimal(20,0)",
    "HUGEINT": T.BIGINT,
    "FLOAT": T.FLOAT64,
    "DOUBLE": T.FLOAT64,
    "VARCHAR": T.STRING,
    "BLOB": T.BINARY,
    "DATE": T.DATE,
    "TIME": T.TIME,
    "TIMESTAMP": T.TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": T.TIMESTAMPTZ,
    "INTERVAL": T.INTERVAL,
    "UUID": T.UUID,
    "JSON": T.JSON,
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


class _Known:
    """What this process knows of one DuckDB database from freight's own loads, so a small
    load does not pay the catalogue and journal queries (~3 ms of a ~12 ms merge).

    Sound because every writer of a DuckDB file is in this process (DuckDB locks the file
    against other processes) and every freight load on the same file shares this object:
    ``marks`` (a table's last committed checksum and schema version) is set when a load
    commits; ``columns`` (a table's logical columns, with the signature of its stored
    names and types) is checked against the table on every use (``SELECT * ... LIMIT 0``)
    and forgotten when a freight load changes the table's columns.
    """

    def __init__(self, key: str = "") -> None:
        self.key = key  # the file's real path, taken once (a later chdir must not change it)
        #: table (lower case) -> ((started_at, load_id) of its latest committed load, its mark)
        self.marks: dict[str, tuple[tuple[Any, str] | None, Mark]] = {}
        self.columns: dict[str, tuple[tuple[tuple[str, str], ...], dict[str, str]]] = {}
        #: table -> (its columns' signature, its primary key and unique column sets)
        self.keys: dict[str, tuple[tuple[tuple[str, str], ...], list[tuple[str, ...]]]] = {}
        self.users = 0  # open destinations on the file; at 0 the entry is dropped
        #: held by a load (or a journal write) for its whole transaction: writers of one file
        #: in this process take turns instead of failing on DuckDB's write conflicts
        self.write = threading.RLock()
        self.prepared = False  # freight's journal and quarantine tables are known to exist


_KNOWN: dict[str, _Known] = {}
_KNOWN_LOCK = threading.Lock()


def _acquire_known(path: str) -> _Known:
    """The shared state of the database at ``path`` for one more open destination. It lives
    only while some destination has the file open (as DuckDB's own database instance does):
    a file deleted and made again afterwards starts with nothing remembered."""
    if path == ":memory:":  # every in-memory connection is a database of its own
        return _Known()
    key = os.path.realpath(path)
    with _KNOWN_LOCK:
        known = _KNOWN.setdefault(key, _Known(key))
        known.users += 1
        return known


def _release_known(known: _Known) -> None:
    if not known.key:  # an in-memory database's own
        return
    with _KNOWN_LOCK:
        known.users -= 1
        if known.users <= 0 and _KNOWN.get(known.key) is known:
            del _KNOWN[known.key]


CAPABILITIES = Capabilities(
    name="duckdb",
    max_identifier_bytes=None,
    case_insensitive_identifiers=True,
    text_allows_nul=True,
    direct_append=True,
)


def logical_type(sql_type: str) -> str:
    m = _DECIMAL.match(sql_type)
    if m:
        return T.decimal_type(int(m.group(1)), int(m.group(2)))
    return _REVERSE.get(sql_type, T.STRING)


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """``duckdb:///rel.duckdb`` -> ``rel.duckdb``; ``duckdb:////abs`` -> ``/abs``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigurationError(
            f"a DuckDB URL has no host: use duckdb:///relative/path.duckdb or "
            f"duckdb:////absolute/path.duckdb (got {mask_url(url)!r})"
        )
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigurationError(f"a DuckDB URL needs a path or :memory: (got {mask_url(url)!r})")
    return path, dict(parse_qsl(parts.query))


def _durations(table: pa.Table, names: Sequence[str]) -> pa.Table:
    """The ``interval`` columns ``names``, selected as their microseconds (``epoch_us``: Arrow's
    month_day_nano_interval overflows its nanoseconds beyond 292 years), as ``duration[us]``."""
    for name in names:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(i).cast(pa.duration("us")))
    return table


def _translate(e: Exception, what: str) -> DestinationError:
    msg = str(e).split("\n")[0]
    transient = isinstance(e, duckdb.TransactionException) or "Conflict" in msg
    if isinstance(e, duckdb.IOException) and "lock" in msg.lower():
        return LockedError(
            f"the DuckDB file is in use by another process ({msg})", destination="duckdb"
        )
    if isinstance(e, duckdb.ConstraintException) and "Duplicate key" in msg:
        transient = True  # another writer inserted the same key first: retry the load
    return DestinationError(
        f"DuckDB failed while {what}: {msg}", destination="duckdb", transient=transient
    )


def _fetch(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]
) -> list[dict[str, Any]]:
    """Rows as dicts. Plain fetchall is fastest; DuckDB's own conversion of TIMESTAMPTZ needs
    pytz, so such results go through Arrow."""
    res = conn.execute(sql, list(params) if params else None)
    desc = res.description or ()
    if not any("TIME ZONE" in str(d[1]) for d in desc):
        names = [d[0] for d in desc]
        return [dict(zip(names, r, strict=True)) for r in res.fetchall()]
    res.abort()  # the connection must be free before the Arrow path runs the query again
    rel = conn.sql(sql, params=list(params) if params else None)
    return rel.to_arrow_table().to_pylist() if rel is not None else []


class DuckDBSession(SqlSession):
    dialect = DIALECT

    def __init__(self, dest: DuckDBDestination) -> None:
        super().__init__(dest)
        self.conn = dest.connection()
        self.open = True
        #: this load's journal entry, remembered once it commits: (table, order, mark)
        self._committed: tuple[str, tuple[Any, str], Mark] | None = None
        self._order: tuple[Any, str] | None = None
        self._taken: set[str] = set()  # tables checked for freight's load-id column
        self._types: dict[str, str] = {}  # the running strategy's column types
        self._view_data: pa.Table | None = None  # the one chunk read in place as the stage

    def _mark_rows(self, table: str) -> list[dict[str, Any]]:
        rows = super()._mark_rows(table)
        self._order = (rows[0]["started_at"], rows[0]["load_id"]) if rows else None
        return rows

    def last_committed(self, table: str, cursor: str | None) -> Mark:
        known = self.dest.known.marks
        name = table.lower()  # DuckDB names ignore case: one table, one mark
        if cursor is None and name in known:
            return known[name][1]
        mark = super().last_committed(table, cursor)
        known[name] = (self._order, Mark(mark.checksum, mark.schema_version))
        return mark

    def journal(self, record: LoadRecord, params: dict[str, Any]) -> None:
        super().journal(record, params)
        if record.status == "committed":
            mark = Mark(record.checksum, record.schema_version)
            self._committed = (record.table.lower(), (record.started_at, record.load_id), mark)

    def _take_over(self, table: str, existing: dict[str, str] | None) -> list[str]:
        """A table freight did not create (plain SQL) has no ``_freight_load_id``: add it
        inside the load's transaction, as PostgreSQL does; return the change made."""
        if existing is None or table.lower() in self._taken:
            return []
        self._taken.add(table.lower())
        cached = self.dest.known.columns.get(table.lower())
        names = [n for n, _ in (cached[0] if cached else self.dest._signature(table))]
        if any(n.lower() == LOAD_ID_COLUMN for n in names):
            return []
        self.altered.add(table)
        self._exec(f"ALTER TABLE {q(table)} ADD COLUMN {q(LOAD_ID_COLUMN)} VARCHAR")
        return [f"added column {LOAD_ID_COLUMN} text"]

    def prepare_append(
        self, plan: Plan, types: dict[str, str], existing: dict[str, str] | None, creating: bool
    ) -> tuple[dict[str, str], list[str]]:
        taken = self._take_over(plan.table, existing)
        target, changes = super().prepare_append(plan, types, existing, creating)
        return target, taken + changes

    def apply(
        self,
        plan: Plan,
        load_id: str,
        types: dict[str, str],
        existing: dict[str, str] | None,
        cursor_mark: Any,
    ) -> dict[str, Any]:
        taken = self._take_over(plan.table, existing)
        self._types = types
        out = super().apply(plan, load_id, types, existing, cursor_mark)
        out["schema_changes"] = taken + out["schema_changes"]
        return out

    def _before_update(self, plan: Plan, data_cols: list[str], join: str, differs: str) -> None:
        """DuckDB drops an UPDATE of a float to a zero equal to the stored one, so ``-0.0``
        stored stays when ``0.0`` comes (and the other way round) although the row is
        updated. Rows about to be updated whose float column changes only the sign of zero
        first get that column set to 1.0, which the update then overwrites with the batch's
        zero: the stored value is the batch's, as on PostgreSQL. (A row whose only change is
        the sign of zero is unchanged on both, ``-0.0 = 0.0``.)

        A stage read in place is the batch itself: a column with no zero in it has nothing
        to fix, so that statement (as long as the update, on a small merge) is not sent."""
        for c in data_cols:
            if self._types.get(c) != T.FLOAT64 or not self._may_hold_zero(c):
                continue
            t, src = f"t.{q(c)}", self._src(c)
            self._exec(
                f"UPDATE {q(plan.table)} AS t SET {q(c)} = 1.0 FROM {self._stage_ref()} AS s "
                f"WHERE {join} AND ({differs}) AND {t} = 0 AND {src} = 0 "
                f"AND signbit({t}) <> signbit({src})"
            )

    def _may_hold_zero(self, column: str) -> bool:
        """False only when the stage is the batch read in place and ``column`` has no zero."""
        data = self._view_data if self._view else None
        if data is None or column not in data.column_names:
            return True
        values = data.column(column)
        if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
            return True
        return bool(pc.any(pc.equal(values, 0)).as_py())

    def _keys(self, table: str) -> list[dict[str, Any]]:
        """The table's primary key and unique constraints, primary key first."""
        return self._query(
            "SELECT constraint_column_names AS cols FROM duckdb_constraints() "
            "WHERE schema_name = current_schema() AND lower(table_name) = lower(?) "
            "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
            "ORDER BY constraint_type = 'UNIQUE', constraint_index",
            [table],
        )

    def key_columns(self, table: str) -> tuple[str, ...] | None:
        keys = self._keys(table)
        return tuple(keys[0]["cols"]) if keys else None

    def unique_keys(self, table: str) -> list[tuple[str, ...]]:
        """Remembered with the table's columns (the catalogue query is a few ms of a small
        merge), valid while the columns' signature is the one this load read."""
        name = table.lower()
        cached = self.dest.known.columns.get(name)
        hit = self.dest.known.keys.get(name)
        if cached is not None and hit is not None and hit[0] == cached[0]:
            return list(hit[1])
        keys = [tuple(k["cols"]) for k in self._keys(table)]
        if cached is not None:
            self.dest.known.keys[name] = (cached[0], keys)
        return keys

    def _alter_column(self, table: str, column: str, new: str) -> None:
        """DuckDB cannot change the type of a key column in place: rebuild the table (inside
        the load's transaction) with the wider type, the same keys, rows and markers."""
        keys = self._keys(table)
        if not any(column in k["cols"] for k in keys):
            super()._alter_column(table, column, new)
            return
        cols = self._query(
            "SELECT table_name AS stored, column_name AS name, data_type AS type, comment "
            "FROM duckdb_columns() "
            "WHERE schema_name = current_schema() AND lower(table_name) = lower(?) "
            "ORDER BY column_index",
            [table],
        )
        defs = [
            f"{q(c['name'])} {self.dialect.sql_type(new) if c['name'] == column else c['type']}"
            for c in cols
        ]
        defs += [f"PRIMARY KEY ({', '.join(q(k) for k in keys[0]['cols'])})"]
        tmp = "_freight_rebuild"
        self._exec(f"CREATE TABLE {q(tmp)} ({', '.join(defs)})")
        self._exec(f"INSERT INTO {q(tmp)} SELECT * FROM {q(table)}")
        self._exec(f"DROP TABLE {q(table)}")
        # under the name as stored: a load naming it in other case must not rename it
        self._exec(f"ALTER TABLE {q(tmp)} RENAME TO {q(cols[0]['stored'])}")
        for c in cols:
            if c["comment"] == UNTYPED:
                self._mark_untyped(table, c["name"], True)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            res = self.conn.execute(sql, list(params) if params else None)
            row = res.fetchone() if res.description else None
        except duckdb.Error as e:
            raise _translate(e, "loading") from e
        if row is None or not isinstance(row[0], int):
            return 0
        return int(row[0])

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            return _fetch(self.conn, sql, params)
        except duckdb.Error as e:
            raise _translate(e, "loading") from e

    def _executemany(self, sql: str, rows: list[list[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except duckdb.Error as e:
            raise _translate(e, "writing the quarantine") from e

    def columns(self, table: str) -> dict[str, str] | None:
        return self.dest.columns(table)

    def _insert(self, data: pa.Table, first_seq: int) -> None:
        n = data.num_rows
        data = data.append_column(SEQ, pa.array(range(first_seq, first_seq + n), pa.int64()))
        _freight_chunk = data  # read by name (a replacement scan): see append_rows
        try:
            self.conn.execute(f"INSERT INTO {q(STAGE)} BY NAME SELECT * FROM _freight_chunk")
        except duckdb.Error as e:
            raise _translate(e, "staging rows") from e
        del _freight_chunk

    def _may_view(self, data: pa.Table) -> bool:
        return True

    def _open_view(self, data: pa.Table, types: dict[str, str]) -> bool:
        try:
            self.conn.register(STAGE, data)
        except duckdb.Error as e:
            raise _translate(e, "staging rows") from e
        self._view_data = data
        return True

    def _close_view(self) -> None:
        self._view_data = None
        try:
            self.conn.unregister(STAGE)
        except duckdb.Error as e:
            raise _translate(e, "dropping the stage") from e

    def append_rows(self, table: str, data: pa.Table, load_id: str) -> None:
        # The chunk is read as a local variable (DuckDB's replacement scan), not through
        # conn.register(): a registered view keeps every chunk alive until COMMIT, so a
        # streamed load would grow with its size.
        _freight_chunk = data
        try:
            self.conn.execute(
                f"INSERT INTO {q(table)} BY NAME SELECT *, ? AS {q(LOAD_ID_COLUMN)} FROM _freight_chunk",
                [load_id],
            )
        except duckdb.ConstraintException as e:
            raise DestinationError(  # the input's fault, not a race: no retry will help
                f"append would store a key that {table!r} already holds "
                f"({str(e).splitlines()[0]}); use strategy='merge' or 'insert_only'",
                destination="duckdb",
                transient=False,
                constraint=True,
            ) from e
        except duckdb.Error as e:
            raise _translate(e, f"appending to {table}") from e

    def _forget_altered(self) -> None:
        """Whatever the outcome, columns this load touched are read afresh next time."""
        for table in self.altered:
            self.dest.known.columns.pop(table.lower(), None)
            self.dest.known.keys.pop(table.lower(), None)

    def commit(self) -> None:
        self.open = False
        known = self.dest.known
        self._forget_altered()
        try:
            self.conn.execute("COMMIT")
        except duckdb.Error as e:
            if self._committed:
                known.marks.pop(self._committed[0], None)
            raise _translate(e, "committing") from e
        known.prepared = True
        if self._committed:
            # the journal's "latest" is the latest started (as last_committed reads it), which
            # under concurrent loads need not be the last to commit
            table, order, mark = self._committed
            cached = known.marks.get(table)
            if cached is None:
                pass  # never read here: the next load asks the journal
            elif cached[0] is None or order >= cached[0]:
                known.marks[table] = (order, mark)

    def rollback(self) -> None:
        self.open = False
        self._forget_altered()
        if self._view:
            self._view = False
            try:
                self._close_view()
            except DestinationError:
                pass  # the view goes with the connection anyway
        try:
            self.conn.execute("ROLLBACK")
        except duckdb.Error:
            pass


class DuckDBDestination:
    """An open DuckDB database. Holds one connection; loads on it are serialised."""

    capabilities = CAPABILITIES

    def __init__(
        self, url: str, *, read_only: bool = False, config: dict[str, Any] | None = None
    ) -> None:
        path, query = parse_url(url)
        self.path = path
        self.url = mask_url(url)
        self.known = _Known()  # replaced by the file's shared state once it is open
        self._open = False
        self._in_load = False
        self.read_only = read_only or query.get("read_only", "").lower() in ("1", "true", "yes")
        self._config = dict(config or {})
        self._lock = threading.RLock()
        self.conn: duckdb.DuckDBPyConnection | None = None
        # a missing file is made by the first load that writes (a load refused before any
        # I/O leaves nothing behind); reading finds it empty meanwhile
        if path == ":memory:" or self.read_only or Path(path).exists():
            self._connect()
        self.known = _acquire_known(path)
        self._open = True

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.path != ":memory:" and not self.read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = duckdb.connect(self.path, read_only=self.read_only, config=self._config)
        except duckdb.Error as e:
            raise _translate(e, f"opening {self.path}") from None
        try:
            conn.execute("SET arrow_lossless_conversion = true")
        except duckdb.Error as e:
            conn.close()
            raise _translate(e, "opening the database") from None
        self.conn = conn
        return conn

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection (for SQL of your own beside freight's), the file made if it
        did not exist yet."""
        with self._lock:
            return self.conn if self.conn is not None else self._connect()

    def _reader(self) -> duckdb.DuckDBPyConnection | None:
        """The connection to read with; None while the file does not exist (nothing to read)."""
        if self.conn is None and Path(self.path).exists():
            self._connect()
        return self.conn

    def _prepare(self, conn: duckdb.DuckDBPyConnection) -> None:
        """freight's journal and quarantine tables, made by the first load that commits or
        records (inside its transaction: a rolled-back load takes them with it)."""
        if not self.known.prepared:
            conn.execute(journal_ddl(DIALECT, q(LOADS), LOAD_COLUMNS))
            conn.execute(journal_ddl(DIALECT, q(REJECTED), REJECTED_COLUMNS))

    def _has(self, table: str) -> bool:
        """Whether freight's own ``table`` exists (a file made by plain SQL has none)."""
        if self.known.prepared:
            return True
        rows = self._rows(
            "SELECT 1 AS one FROM duckdb_tables() WHERE schema_name = current_schema() "
            "AND database_name = current_database() AND table_name = ?",
            [table],
        )
        return bool(rows)

    def __repr__(self) -> str:
        return f"DuckDBDestination({self.url!r})"

    # --------------------------------------------------------------- loads

    @contextmanager
    def session(self) -> Iterator[DuckDBSession]:
        with self._lock, self.known.write:
            conn = self.connection()
            s = DuckDBSession(self)
            try:
                conn.execute("BEGIN TRANSACTION")
                self._prepare(conn)
            except duckdb.Error as e:
                s.rollback()
                raise _translate(e, "starting a transaction") from None
            self._in_load = True
            try:
                yield s
            except BaseException:
                s.rollback()
                raise
            else:
                if s.open:  # the loader commits or rolls back itself; never leave one open
                    s.rollback()
            finally:
                self._in_load = False

    def record_outside(self, record: LoadRecord, params: dict[str, Any]) -> None:
        """Journal a failed or skipped load in its own small transaction."""
        values = _record_values(record, params)
        cols = ", ".join(q(c) for c, _ in LOAD_COLUMNS)
        with self._lock, self.known.write:
            conn = self.connection()
            try:
                self._prepare(conn)
                conn.execute(
                    f"INSERT INTO {q(LOADS)} ({cols}) VALUES ({', '.join(['?'] * len(values))})",
                    values,
                )
            except duckdb.Error as e:
                raise _translate(e, "writing the journal") from None
            self.known.prepared = True

    # --------------------------------------------------------------- reading

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            conn = self._reader()
            if conn is None:
                return []
            try:
                return _fetch(conn, sql, params)
            except duckdb.Error as e:
                raise _translate(e, "reading") from None

    def columns(self, table: str) -> dict[str, str] | None:
        cached = self.known.columns.get(table.lower())  # DuckDB names ignore case
        if cached is not None and self._signature(table) == cached[0]:
            return dict(cached[1])
        columns = self._columns(table)
        if columns is None:
            self.known.columns.pop(table.lower(), None)
        else:
            self.known.columns[table.lower()] = (self._signature(table), dict(columns))
        return columns

    def _signature(self, table: str) -> tuple[tuple[str, str], ...]:
        """The table's stored column names and types, from a relation that is bound, never
        run (a third of the time of running ``LIMIT 0``: this is on every load's path)."""
        with self._lock:
            conn = self._reader()
            if conn is None:
                return ()
            try:
                desc = conn.sql(f"SELECT * FROM {q(table)}").description or ()
            except duckdb.Error as e:  # dropped or renamed by someone else since it was seen
                self.known.columns.pop(table.lower(), None)
                if not self._in_load:
                    return ()
                # the failed statement aborted the load's transaction: the retry starts afresh
                raise DestinationError(
                    f"table {table!r} changed outside this load ({str(e).splitlines()[0]})",
                    destination="duckdb",
                    transient=True,
                ) from None
        return tuple((d[0], str(d[1])) for d in desc)

    def _columns(self, table: str) -> dict[str, str] | None:
        sql = (
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = current_schema() AND database_name = current_database() "
            "AND {match} ORDER BY column_index"
        )
        rows = self._rows(sql.format(match="table_name = ?"), [table])
        if not rows:  # DuckDB names are case-insensitive: "Posts" is the table "posts"
            rows = self._rows(sql.format(match="lower(table_name) = lower(?)"), [table])
        if not rows:
            return None
        return {
            r["column_name"]: T.NULL if r["comment"] == UNTYPED else logical_type(r["data_type"])
            for r in rows
            if not r["column_name"].startswith(RESERVED_PREFIX)
        }

    def stored_fits_float(self, table: str, column: str) -> bool:
        """Whether every stored value of an integer column is exact as a float (|v| <= 2**53).
        Runs on its own cursor: intake may ask from its producer thread mid-load."""
        if self.conn is None:  # (asked during a load, which opened the file)
            return False
        cur = self.conn.cursor()
        try:
            rows = cur.execute(
                f"SELECT coalesce(max(abs({q(column)})), 0) <= {2**53} FROM {q(table)}"
            ).fetchall()
            return bool(rows and rows[0][0])
        except duckdb.Error:
            return False
        finally:
            cur.close()

    def tables(self) -> list[str]:
        rows = self._rows(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = current_schema() "
            "AND database_name = current_database() AND NOT temporary ORDER BY table_name"
        )
        return [r["table_name"] for r in rows if not r["table_name"].startswith(RESERVED_PREFIX)]

    def schema(self, table: str) -> dict[str, str] | None:
        return self.columns(table)

    def history(self, table: str | None, limit: int | None) -> list[LoadRecord]:
        if not self._has(LOADS):
            return []
        where, params = (f"WHERE {same_table(CAPABILITIES, '?')}", [table]) if table else ("", [])
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._rows(
            f"SELECT * FROM {q(LOADS)} {where} ORDER BY started_at DESC, load_id DESC{lim}", params
        )
        return [record_from_row(r) for r in rows]

    def rejected(
        self, table: str | None, load_id: str | None, limit: int | None = None
    ) -> list[RejectedRow]:
        if not self._has(REJECTED):
            return []
        conds, params = [], []
        if table:
            conds.append(same_table(CAPABILITIES, "?"))
            params.append(table)
        if load_id:
            conds.append("load_id = ?")
            params.append(load_id)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._rows(
            f"SELECT * FROM {q(REJECTED)} {where} ORDER BY rejected_at, load_id, row_number{lim}",
            params,
        )
        return [rejected_from_row(r) for r in rows]

    def _select(
        self, table: str, columns: Sequence[str] | None, meta: bool
    ) -> tuple[str, list[str]]:
        """The SELECT reading ``table``, and its ``interval`` columns (``_durations``)."""
        have = self.columns(table)
        if have is None:
            from .._errors import FreightError

            raise FreightError(f"no table {table!r}", table=table, destination="duckdb")
        cols = list(columns) if columns else list(have)
        if meta:
            cols.append(LOAD_ID_COLUMN)
        intervals = [c for c in cols if have.get(c) == T.INTERVAL]
        exprs = [f"epoch_us({q(c)}) AS {q(c)}" if c in intervals else q(c) for c in cols]
        return f"SELECT {', '.join(exprs)} FROM {q(table)}", intervals

    def read(
        self, table: str, columns: Sequence[str] | None = None, meta: bool = False
    ) -> pa.Table:
        sql, intervals = self._select(table, columns, meta)
        with self._lock:
            try:
                return _durations(self.connection().sql(sql).to_arrow_table(), intervals)
            except duckdb.Error as e:
                raise _translate(e, f"reading {table}") from None

    def read_batches(self, table: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        sql, intervals = self._select(table, None, False)
        cur = self.connection().cursor()
        try:
            reader = cur.sql(sql).to_arrow_reader(batch_rows)
            for batch in reader:
                yield from _durations(pa.Table.from_batches([batch]), intervals).to_batches()
        finally:
            cur.close()

    def health(self) -> Health:
        t0 = time.perf_counter()
        version = duckdb.__version__
        try:
            stats, rejected = {"loads": 0, "failed": 0}, 0
            if self._has(LOADS):
                stats = self._rows(
                    f"SELECT count(*) AS loads, count(*) FILTER (WHERE status = 'failed') "
                    f"AS failed FROM {q(LOADS)}"
                )[0]
            if self._has(REJECTED):
                rejected = self._rows(f"SELECT count(*) AS n FROM {q(REJECTED)}")[0]["n"]
            tables = len(self.tables())
            ok = True
        except DestinationError:
            stats, rejected, tables, ok = {"loads": 0, "failed": 0}, 0, 0, False
        return Health(
            ok=ok,
            destination="duckdb",
            url=self.url,
            version=f"duckdb {version}",
            tables=tables,
            loads=int(stats["loads"]),
            failed_loads=int(stats["failed"]),
            rejected_rows=int(rejected),
            seconds=time.perf_counter() - t0,
            detail={"path": self.path, "read_only": self.read_only},
        )

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                _release_known(self.known)
            try:
                if self.conn is not None:
                    self.conn.close()
            except duckdb.Error:
                pass
