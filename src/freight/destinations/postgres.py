"""PostgreSQL (and Supabase): ``postgresql://user:pass@host:port/db?schema=raw`` (also
``postgres://``; the schema defaults to ``public``).

Everything freight keeps lives in that one schema: the tables, ``_freight_loads`` and
``_freight_rejected``. A load is one transaction on a pooled connection: chunks go by
``COPY`` into a temporary ``ON COMMIT DROP`` stage (or, for ``append``, straight into the
table), then the shared set-based SQL runs from the stage; merges use
``INSERT ... ON CONFLICT``. Concurrent loads into one table take a transaction-level advisory
lock before they touch it, so schema changes and merges never race. See docs/postgres.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg.types.string import TextLoader

from .. import _types as T
from .._columns import Columns
from .._errors import ConfigurationError, DestinationError, FreightError
from .._lazy import lazy
from .._plan import LOAD_ID_COLUMN, RESERVED_PREFIX, Plan
from .._result import Health, LoadRecord, RejectedRow
from .._url import mask_text, mask_url
from ._base import Capabilities
from ._pg_catalog import (
    DIALECT,
    Catalog,
    known_type,
    logical_type,
    native_type,
    send_catalog,
    without_typmod,
)
from ._pg_copy import (
    binary_encoder,
    binary_ready,
    columns_json,
    for_binary,
    to_arrow,
    to_csv,
    to_json,
)
from ._pg_pool import Pool
from ._sql import (
    LOAD_COLUMNS,
    LOADS,
    REJECTED,
    REJECTED_COLUMNS,
    SEQ,
    STAGE,
    UNTYPED,
    SqlSession,
    _record_values,
    journal_ddl,
    q,
    record_from_row,
    rejected_from_row,
    stored_duplicates_error,
)

if TYPE_CHECKING:
    import pyarrow as pa
else:
    pa = lazy("pyarrow")

CAPABILITIES = Capabilities(
    name="postgres",
    max_identifier_bytes=63,
    case_insensitive_identifiers=False,
    text_allows_nul=False,
    direct_append=True,
    light_rows=True,
    retries=6,  # serialization failures and deadlocks under concurrent writers
    drivers=("psycopg", "pgpq"),
    extra="postgres",
)

#: a load of one chunk up to this size is read from a JSON setting, not a temporary table
VIEW_ROWS = 1_000
VIEW_BYTES = 1 << 20

#: column types without an equality operator: a merge compares their values as text
_NO_EQUALITY = frozenset(
    {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
)


def _cast(expr: str, column_type: str) -> str:
    """``expr`` cast to a column's own type (as the catalogue spells it) without its typmod,
    which the assignment into the column then applies: an over-long value is an error, where
    an explicit cast to ``varchar(20)`` would cut it (see ``without_typmod``)."""
    return f"CAST({expr} AS {without_typmod(column_type).replace('%', '%%')})"


#: one row per load id in the journal: a load never has two outcomes
JOURNAL_KEY = "_freight_loads_load_id"

#: settings of each load's transaction (``set_config(..., true)``, sent with its first
#: statements: no round trip of its own) so a load whose client is gone lets go of its
#: locks soon: the backend checks every second, even while running a statement, that the
#: client is still there (PostgreSQL 14+), and TCP keepalives (seconds) find a client that
#: vanished without closing its socket within ~11 s, not the operating system's two hours
SESSION_SETTINGS = {
    "client_connection_check_interval": "1s",
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}
#: libpq's TCP keepalives, so the client notices a server that vanished
CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}

#: sqlstates a retry of the whole load may get past
_TRANSIENT = {"40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03", "42P07", "42701"}
#: connect failures no retry can cure; "no such database/user" is how PgBouncer (and so
#: Supabase's pooler) words what PostgreSQL calls "does not exist"
_PERMANENT_CONNECT = (
    "authentication",
    "password",
    "does not exist",
    "no such database",
    "no such user",
    "pg_hba.conf",
    "permission",
)


def parse_url(url: str) -> tuple[str, str | None, list[str]]:
    """-> (libpq URL without freight's own ``schema`` parameter, schema, secrets to mask).

    An unencoded ``@`` in the user or password is refused: libpq would cut the password at
    its first ``@`` and take the rest for the host name (showing it in its errors)."""
    parts = urlsplit(url)
    if parts.netloc.count("@") > 1:
        raise ConfigurationError(
            f"the PostgreSQL URL {mask_url(url)} has an '@' in its user or password: "
            "percent-encode it as %40 (e.g. urllib.parse.quote(password, safe=''))"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    secrets = [s for s in (parts.password, unquote(parts.password or "")) if s]
    secrets += [v for k, v in query if k == "password" and v]
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")), schema, secrets


def _scrub(e: BaseException, secrets: Sequence[str]) -> None:
    """Detach a driver error (and those it chains) from its connection, whose ``info``
    holds the password, and mask the password in its message (a malformed URL is quoted
    in it): the freight error raised in its place keeps it as ``__context__`` (``from
    None`` only hides it). Its traceback goes too (its frames hold the connection); the
    freight error carries the message and sqlstate."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:
        x = todo.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, psycopg.Error):
            x._pgconn = None
        x.args = tuple(mask_text(a, *secrets) if isinstance(a, str) else a for a in x.args)
        x.__traceback__ = None
        todo += [x.__cause__, x.__context__]


def _transient(e: psycopg.Error) -> bool:
    state = e.sqlstate
    if state:
        if state == "23505":  # a catalog row raced by concurrent DDL, not the user's data
            return (e.diag.schema_name or "") == "pg_catalog" or (
                e.diag.constraint_name or ""
            ).startswith("pg_")
        return state.startswith("08") or state in _TRANSIENT
    if isinstance(e, psycopg.OperationalError):  # the connection itself failed
        msg = str(e).lower()
        return not any(w in msg for w in _PERMANENT_CONNECT)
    return False


class _OpenCopy:
    """A COPY in progress: what identifies it, its pgpq encoder (None: CSV), its contexts."""

    def __init__(self, key: tuple[str, Any], encoder: Any, what: str) -> None:
        self.key = key
        self.encoder = encoder
        self.what = what
        self.stack = ExitStack()
        self.copy: Any = None


class PostgresSession(SqlSession):
    dialect = DIALECT

    def __init__(self, dest: PostgresDestination, conn: psycopg.Connection) -> None:
        super().__init__(dest)
        self.dest: PostgresDestination = dest
        self.conn = conn
        self._locked: set[str] = set()
        self._no_load_id: set[str] = set()
        self._fresh: set[str] = set()  # keyed tables this load created
        self._keys: dict[str, list[tuple[str, ...]]] = {}
        self._journal: tuple[str, list[Any]] | None = None
        self._settings_sent = False
        self._changes: list[str] = []
        self._view_sql = ""
        self._marks: dict[str, list[dict[str, Any]]] = {}  # sent with the catalogue
        self._open_copy: _OpenCopy | None = None  # kept open between chunks (see _copy)
        #: per table, the columns whose SQL type is the one freight creates (binary COPY)
        self._native: dict[str, dict[str, str]] = {}
        #: per table, each column's SQL type as the catalogue spells it
        self._sql_types: dict[str, dict[str, str]] = {}
        #: the stage columns the running strategy casts to the table's own column type
        self._casts: dict[str, str] = {}
        #: ... and those of them compared as text (their type has no equality: json, xml ...)
        self._as_text: set[str] = set()

    # --------------------------------------------------------------- driver hooks

    def _table_ref(self, table: str) -> str:
        return f"{self._i(self.dest.pg_schema)}.{self._i(table)}"

    def _quoted(self, table: str) -> str:
        """``"schema"."table"`` as a value (``to_regclass``) or in COPY, which take no
        parameters and so no %-doubling."""
        return f"{q(self.dest.pg_schema)}.{q(table)}"

    def _stage_ref(self) -> str:
        if self._view:
            return self._view_sql
        return f"pg_temp.{self._i(STAGE)}"

    def _run(self, sql: str, params: Sequence[Any], what: str = "loading") -> psycopg.Cursor[Any]:
        self._end_copy()
        try:
            return self.conn.cursor(row_factory=dict_row).execute(sql, list(params))
        except psycopg.Error as e:
            raise self.dest.error(e, what) from None

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return max(self._run(sql, params).rowcount, 0)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._run(sql, params).fetchall()

    def _executemany(self, sql: str, rows: list[list[Any]]) -> None:
        self._end_copy()
        try:
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)
        except psycopg.Error as e:
            raise self.dest.error(e, "writing the quarantine") from None

    def columns(self, table: str) -> dict[str, str] | None:
        """The catalogue, with the journal's last mark of the table sent in the same round
        trip (the loader asks for it next)."""
        self._end_copy()
        try:
            with self.conn.pipeline():
                self._send_settings()
                sent = send_catalog(self.conn, self._quoted(table))
                mark = self.conn.cursor(row_factory=dict_row).execute(self._mark_sql(), [table])
            cat = Catalog.of(sent)
            self._marks[table] = mark.fetchall()
        except psycopg.Error as e:
            raise self.dest.error(e, f"reading the columns of {table}") from None
        return self._remember(table, cat)

    def _send_settings(self) -> None:
        """``SESSION_SETTINGS`` for this transaction, once, in the caller's pipeline."""
        if self._settings_sent:
            return
        self._settings_sent = True
        names = [n for n in SESSION_SETTINGS if n != "client_connection_check_interval"]
        if self.conn.info.server_version >= 140000:
            names.append("client_connection_check_interval")
        self.conn.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
            [v for n in names for v in (n, SESSION_SETTINGS[n])],
        )

    def _mark_rows(self, table: str) -> list[dict[str, Any]]:
        rows = self._marks.pop(table, None)
        return rows if rows is not None else super()._mark_rows(table)

    def _remember(self, table: str, cat: Catalog) -> dict[str, str] | None:
        if cat.columns is not None and all(c != LOAD_ID_COLUMN for c, _ in cat.columns):
            self._no_load_id.add(table)  # a table freight did not create
        self._keys[table] = cat.keys
        self._sql_types[table] = dict(cat.columns or ())
        self._native[table] = {
            c: lt for c, t in cat.columns or () if (lt := native_type(t)) is not None
        }
        return self.dest._logical(cat.columns)

    def key_columns(self, table: str) -> tuple[str, ...] | None:
        keys = self.unique_keys(table)
        return keys[0] if keys else None

    def unique_keys(self, table: str) -> list[tuple[str, ...]]:
        if table not in self._keys:
            self.columns(table)
        return list(self._keys[table])

    def journal(self, record: LoadRecord, params: dict[str, Any]) -> None:
        values = _record_values(record, params)
        cols = ", ".join(self._i(c) for c, _ in LOAD_COLUMNS)
        marks = ", ".join(["%s"] * len(values))
        self._journal = (f"INSERT INTO {self._table_ref(LOADS)} ({cols}) VALUES ({marks})", values)

    def commit(self) -> None:
        """Write the journal row and commit in one round trip."""
        self._end_copy()
        try:
            if self._journal is None:
                self.conn.commit()
                return
            with self.conn.pipeline():
                self.conn.execute(*self._journal)
                self.conn.commit()
        except psycopg.Error as e:
            err = self.dest.error(e, "committing")
            if self.conn.broken or (
                e.sqlstate == "23505" and e.diag.constraint_name == JOURNAL_KEY
            ):  # the COMMIT may have taken effect (or another attempt's did): ask the journal
                err.context["in_doubt"] = True
            raise err from None
        finally:
            self._journal = None

    def _drop_stage(self) -> None:
        pass  # the stage is ON COMMIT DROP, and gone with a rollback too

    def rollback(self) -> None:
        self._abort_copy()
        try:
            self.conn.rollback()
        except psycopg.Error:
            pass

    # --------------------------------------------------------------- bulk path

    def _create_stage(self, types: dict[str, str]) -> None:
        cols = [f"{self._i(c)} {self.dialect.sql_type(t)}" for c, t in types.items()]
        cols.append(f"{self._i(SEQ)} bigint")
        self._exec(f"CREATE TEMPORARY TABLE {self._stage_ref()} ({', '.join(cols)}) ON COMMIT DROP")
        self._stage_types = dict(types)

    def _may_view(self, data: pa.Table | Columns) -> bool:
        return data.num_rows <= VIEW_ROWS

    def _open_view(self, data: pa.Table | Columns, types: dict[str, str]) -> bool:
        """A small chunk goes to the server as one JSON document in a transaction-local
        setting and is read back with ``jsonb_to_recordset``: no temporary table to create,
        fill and drop (about half of a 100-row merge's time on the server)."""
        if not types:  # (the row bound is _may_view's: only such a chunk is held back)
            return False
        body = columns_json(data, types) if isinstance(data, Columns) else to_json(data, types)
        if len(body) > VIEW_BYTES:
            return False
        self._exec("SELECT set_config('freight.stage', %s, true)", [body.decode()])
        self._view_sql = (
            f"(SELECT * FROM jsonb_to_recordset(current_setting('freight.stage')::jsonb) "
            f"AS v({self._record_columns(types)}))"
        )
        return True

    def _insert(self, data: pa.Table | Columns, first_seq: int) -> None:
        if isinstance(data, Columns):
            self._insert_json(data, first_seq)
            return
        seq = pa.array(range(first_seq, first_seq + data.num_rows), pa.int64())
        native = {**self._stage_types, SEQ: T.INT64}
        self._copy(f"pg_temp.{q(STAGE)}", data.append_column(SEQ, seq), native, "staging rows")

    def _insert_json(self, data: Columns, first_seq: int) -> None:
        """A ``Columns`` chunk into the real stage (an incremental load's, or one whose JSON
        is too big for the setting) from one JSON parameter, its rows numbered in order."""
        names = ", ".join(self._i(c) for c in data.types)
        alias = ", ".join([*(self._i(c) for c in data.types), "_freight_n"])
        self._exec(
            f"INSERT INTO pg_temp.{self._i(STAGE)} ({names}, {self._i(SEQ)}) "
            f"SELECT {names}, v._freight_n - 1 + %s FROM ROWS FROM "
            f"(jsonb_to_recordset(%s::jsonb) AS ({self._record_columns(data.types)})) "
            f"WITH ORDINALITY AS v({alias})",
            [first_seq, columns_json(data, data.types).decode()],
        )

    def append_rows(self, table: str, data: pa.Table | Columns, load_id: str) -> None:
        if isinstance(data, Columns):
            if self._append_json(table, data, load_id):
                return
            data = data.to_arrow()
        ids = pa.repeat(pa.scalar(load_id, pa.string()), data.num_rows)
        ref = self._quoted(table)
        native = {**self._native.get(table, {}), LOAD_ID_COLUMN: T.STRING}
        self._copy(ref, data.append_column(LOAD_ID_COLUMN, ids), native, f"appending to {table}")

    def _append_json(self, table: str, data: Columns, load_id: str) -> bool:
        """A small chunk of Python rows appended from one JSON parameter (no Arrow, no COPY);
        a column of a type freight did not create takes its value through a cast to that
        type (its input function parses the text, as COPY's would). False: not here."""
        native = self._native.get(table, {})
        sql = self._sql_types.get(table, {})
        values = []
        for c, t in data.types.items():
            ref = f"v.{self._i(c)}"
            if native.get(c) == t or sql.get(c) == UNTYPED:
                values.append(ref)
            elif c in sql:
                values.append(_cast(ref, sql[c]))
            else:
                return False
        names = ", ".join(self._i(c) for c in data.types)
        self._exec(
            f"INSERT INTO {self._table_ref(table)} ({names}, {self._i(LOAD_ID_COLUMN)}) "
            f"SELECT {', '.join(values)}, %s FROM jsonb_to_recordset(%s::jsonb) "
            f"AS v({self._record_columns(data.types)})",
            [load_id, columns_json(data, data.types).decode()],
        )
        return True

    def _record_columns(self, types: dict[str, str]) -> str:
        """The column list ``jsonb_to_recordset`` reads a stage's JSON with."""
        return ", ".join(f"{self._i(c)} {self.dialect.sql_type(t)}" for c, t in types.items())

    def _copy(self, ref: str, data: pa.Table, native: dict[str, str], what: str) -> None:
        """Send a chunk through COPY: binary when every column natively stores the chunk's
        type, else CSV. The COPY stays open for the next chunk of the same columns and types,
        so the server parses one chunk while the next is produced and encoded; any other
        statement (and the commit) ends it first."""
        binary = binary_ready(data, native)
        if binary:
            data = for_binary(data)
        cols = ", ".join(q(c) for c in data.column_names)  # COPY: no %-doubling
        fmt = "binary" if binary else "csv"
        statement = f"COPY {ref} ({cols}) FROM STDIN (FORMAT {fmt})"
        key = (statement, data.schema if binary else None)
        current = self._open_copy
        if current is None or current.key != key:
            self._end_copy()
            json_columns = {c for c in data.column_names if native.get(c) == T.JSON}
            encoder = binary_encoder(data.schema, json_columns) if binary else None
            current = self._open_copy = _OpenCopy(key, encoder, what)
            try:
                cur = current.stack.enter_context(self.conn.cursor())
                current.copy = current.stack.enter_context(cur.copy(statement))
                if encoder is not None:
                    current.copy.write(encoder.write_header())
            except psycopg.Error as e:
                self._abort_copy()
                raise self.dest.error(e, what) from None
        try:
            if current.encoder is None:
                current.copy.write(to_csv(data))
            else:
                for batch in data.to_batches():
                    current.copy.write(current.encoder.write_batch(batch))
        except psycopg.Error as e:
            self._abort_copy()
            raise self.dest.error(e, what) from None

    def _end_copy(self) -> None:
        """Finish the open COPY, if any, and wait for the server to accept its rows."""
        current, self._open_copy = self._open_copy, None
        if current is None:
            return
        try:
            if current.encoder is not None:
                current.copy.write(current.encoder.finish())
            current.stack.close()
        except psycopg.Error as e:
            raise self.dest.error(e, current.what) from None

    def _abort_copy(self) -> None:
        current, self._open_copy = self._open_copy, None
        if current is None:
            return
        try:  # psycopg ends a COPY left by an exception with CopyFail
            current.stack.__exit__(RuntimeError, RuntimeError("load failed"), None)
        except Exception:
            pass  # the transaction is rolled back next anyway

    # --------------------------------------------------------------- concurrency

    def _lock(self, table: str, expected: dict[str, str] | None) -> None:
        """Serialise writers of ``table`` until this transaction ends, then make sure the
        table is still what this load planned against; if another load changed it in the
        meantime, the whole load is retried (transient)."""
        if table in self._locked:
            return
        key = f"freight {self.dest.pg_schema}.{table}"
        self._end_copy()
        try:
            with self.conn.pipeline():  # one round trip; the re-read runs once the lock is ours
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
                sent = send_catalog(self.conn, self._quoted(table))
            now = Catalog.of(sent)
        except psycopg.Error as e:
            raise self.dest.error(e, f"locking {table}") from None
        self._locked.add(table)
        if self._remember(table, now) != expected:
            raise DestinationError(
                f"table {table!r} was created or altered by a concurrent load; retrying",
                table=table,
                destination="postgres",
                transient=True,
            )
        if table in self._no_load_id:
            lid = self._i(LOAD_ID_COLUMN)
            self._exec(f"ALTER TABLE {self._table_ref(table)} ADD COLUMN IF NOT EXISTS {lid} text")
            self._changes.append(f"added column {LOAD_ID_COLUMN} text")

    def prepare_append(
        self, plan: Plan, types: dict[str, str], existing: dict[str, str] | None, creating: bool
    ) -> tuple[dict[str, str], list[str]]:
        if (
            existing is None
            or plan.table in self._no_load_id
            or any(c not in existing or t not in (T.NULL, existing[c]) for c, t in types.items())
        ):
            self._lock(plan.table, existing)
        target, changes = super().prepare_append(plan, types, existing, creating)
        native = self._native.setdefault(plan.table, {})
        for c, t in target.items():  # columns this load created or retyped are freight's own
            if existing is None or existing.get(c) != t:
                native[c] = t
        return target, self._drain() + changes

    def apply(
        self,
        plan: Plan,
        load_id: str,
        types: dict[str, str],
        existing: dict[str, str] | None,
        cursor_mark: Any,
    ) -> dict[str, Any]:
        self._lock(plan.table, existing)
        self._casts = self._stage_casts(plan.table, types, existing)
        self._as_text = {c for c, t in self._casts.items() if without_typmod(t) in _NO_EQUALITY}
        out = super().apply(plan, load_id, types, existing, cursor_mark)
        if plan.table in self._fresh:  # one bulk index build once the rows are in
            keys = ", ".join(self._i(k) for k in plan.key)
            self._exec(f"ALTER TABLE {self._table_ref(plan.table)} ADD PRIMARY KEY ({keys})")
        out["schema_changes"] = out["schema_changes"] + self._drain()
        return out

    def _stage_casts(
        self, table: str, types: dict[str, str], existing: dict[str, str] | None
    ) -> dict[str, str]:
        """Columns of a table freight did not type itself (your ``integer``, ``inet``, enum,
        ``json`` ... columns) take the stage's values through an explicit cast to their own
        type, which parses text by the type's input function as COPY does: without it an
        INSERT from a ``text`` stage column into an ``inet`` or enum column fails. Columns
        this load adds or widens become freight's own types and need none. The cast is to
        the type without its typmod (``varchar``, not ``varchar(20)``), which the assignment
        then applies, refusing an over-long value rather than cutting it."""
        native = self._native.get(table, {})
        sql = self._sql_types.get(table, {})
        return {
            c: sql[c]
            for c, t in types.items()
            if existing and c in sql and c not in native and existing.get(c) == t
        }

    def _comparable(self, column: str, expr: str) -> str:
        return f"({expr})::text" if column in self._as_text else expr

    def _src(self, column: str) -> str:
        cast = self._casts.get(column)
        ref = f"s.{self._i(column)}"
        return _cast(ref, cast) if cast else ref

    def create_table(self, plan: Plan, types: dict[str, str]) -> None:
        """A keyed table is created without its primary key, which ``apply`` adds after the
        insert: nobody else can see the table before the commit, and the stage holds each
        key once, so the rows go in with a plain INSERT. (An append with a key creates its
        table with the primary key: its rows go straight in and may repeat a key.)"""
        if not plan.keyed:
            return super().create_table(plan, types)
        super().create_table(replace(plan, key=()), types)
        self._fresh.add(plan.table)

    def _drain(self) -> list[str]:
        changes, self._changes = self._changes, []
        return changes

    # --------------------------------------------------------------- merge

    def _upsert(
        self, plan: Plan, cols: list[str], load_id: str, join: str, insert_all: str
    ) -> tuple[int, int]:
        """merge / insert_only as one ``INSERT ... ON CONFLICT``: safe against concurrent
        inserts of the same key, and exact about inserted vs updated (``xmax = 0``)."""
        if plan.apply_as == "update_only":
            return super()._upsert(plan, cols, load_id, join, insert_all)
        if plan.table in self._fresh:
            return 0, self._exec(insert_all, [load_id])
        self._ensure_unique_key(plan)
        i = self._i
        keys = ", ".join(i(k) for k in plan.key)
        data = [c for c in cols if c not in plan.key]
        names = ", ".join([*(i(c) for c in cols), i(LOAD_ID_COLUMN)])
        values = ", ".join([*(self._src(c) for c in cols), "%s"])
        head = (
            f"INSERT INTO {self._table_ref(plan.table)} AS t ({names}) "
            f"SELECT {values} FROM {self._stage_ref()} s ON CONFLICT ({keys}) "
        )
        if plan.apply_as == "insert_only" or not data:
            return 0, self._exec(head + "DO NOTHING", [load_id])
        sets = ", ".join(f"{i(c)} = EXCLUDED.{i(c)}" for c in [*data, LOAD_ID_COLUMN])
        old = ", ".join(self._comparable(c, f"t.{i(c)}") for c in data)
        new = ", ".join(self._comparable(c, f"EXCLUDED.{i(c)}") for c in data)
        row = self._query(
            f"WITH m AS ({head}DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new}) "
            "RETURNING (t.xmax = 0) AS ins) "
            "SELECT count(*) FILTER (WHERE ins) AS i, count(*) FILTER (WHERE NOT ins) AS u FROM m",
            [load_id],
        )[0]
        return int(row["u"]), int(row["i"])

    def _ensure_unique_key(self, plan: Plan) -> None:
        """ON CONFLICT needs a unique index on exactly the key. A table freight created has
        its primary key; for another, freight adds a unique index when the rows allow it."""
        if set(plan.key) in (set(k) for k in self._keys.get(plan.table, ())):
            return
        name = (
            "_freight_key_"
            + hashlib.sha256("\0".join((plan.table, *plan.key)).encode()).hexdigest()[:16]
        )
        keys = ", ".join(self._i(k) for k in plan.key)
        try:
            self._exec(
                f"CREATE UNIQUE INDEX {self._i(name)} ON {self._table_ref(plan.table)} ({keys})"
            )
        except DestinationError as e:
            if e.context.get("sqlstate") != "23505":
                raise
            raise stored_duplicates_error(
                plan, self._quoted(plan.table), "a key stored twice"
            ) from None
        self._changes.append(f"added unique index {name} on ({', '.join(plan.key)})")


class PostgresDestination:
    """A PostgreSQL database schema. Thread-safe: each load takes its own pooled connection."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 4,
        connect_timeout: int = 10,
        application_name: str = "freight",
    ) -> None:
        self.url = mask_url(url)
        conninfo, url_schema, self._secrets = parse_url(url)
        self.pg_schema = schema or url_schema or "public"
        if len(self.pg_schema.encode()) > 63 or "\0" in self.pg_schema:
            raise ConfigurationError(
                f"schema name {self.pg_schema!r} is not a PostgreSQL identifier"
            )
        try:
            params = psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.Error as e:
            _scrub(e, self._secrets)
            raise ConfigurationError(f"bad PostgreSQL URL {self.url}: {self._mask(e)}") from None
        self._conninfo = conninfo
        self._kwargs: dict[str, Any] = {"client_encoding": "UTF8"}
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = connect_timeout
        if "application_name" not in params:
            self._kwargs["application_name"] = application_name
        self._kwargs.update({k: v for k, v in CLIENT_KEEPALIVES.items() if k not in params})
        self._where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        self._pool = Pool(self._connect, pool_size)
        self._prepare()

    def __repr__(self) -> str:
        return f"PostgresDestination({self.url!r}, schema={self.pg_schema!r})"

    # --------------------------------------------------------------- connections and errors

    def _mask(self, e: BaseException) -> str:
        return mask_text(" ".join(str(e).split()) or type(e).__name__, *self._secrets)

    def error(self, e: psycopg.Error, what: str) -> DestinationError:
        """A driver error as a one-line DestinationError, credentials masked, transient or not;
        the driver error is detached from its connection (see ``_scrub``)."""
        _scrub(e, self._secrets)
        return DestinationError(
            f"PostgreSQL failed while {what}: {self._mask(e)}",
            destination="postgres",
            transient=_transient(e),
            sqlstate=e.sqlstate,
        )

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(
                self._conninfo, autocommit=False, prepare_threshold=None, **self._kwargs
            )
        except psycopg.Error as e:
            raise self.error(e, f"connecting to {self._where}") from None

    @contextmanager
    def _conn(self, what: str = "reading") -> Iterator[psycopg.Connection]:
        conn = self._pool.get()
        try:
            yield conn
            conn.commit()
        except psycopg.Error as e:
            raise self.error(e, what) from None
        finally:
            self._pool.put(conn)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return conn.cursor(row_factory=dict_row).execute(sql, list(params)).fetchall()

    def _ref(self, table: str) -> str:
        return f"{DIALECT.ident(self.pg_schema)}.{DIALECT.ident(table)}"

    def _prepare(self) -> None:
        """Create the schema and freight's tables if missing (serialised across processes),
        and the journal's unique index on the load id. A journal made before that index
        gets it; one that already holds a load id twice (or that this role may not index)
        keeps working without it."""
        names = (LOADS, REJECTED, JOURNAL_KEY)
        loads, rejected, key = (f"{q(self.pg_schema)}.{q(t)}" for t in names)
        with self._conn("preparing freight's tables") as conn:
            have = conn.execute(
                "SELECT to_regnamespace(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL, "
                "to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
                [q(self.pg_schema), loads, rejected, key],
            ).fetchone()
            if have and not all(have):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    [f"freight ddl {self.pg_schema}"],
                )
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {DIALECT.ident(self.pg_schema)}", [])
                conn.execute(journal_ddl(DIALECT, self._ref(LOADS), LOAD_COLUMNS), [])
                conn.execute(journal_ddl(DIALECT, self._ref(REJECTED), REJECTED_COLUMNS), [])
                try:
                    with conn.transaction():  # a savepoint: a refusal leaves the rest
                        conn.execute(
                            f"CREATE UNIQUE INDEX IF NOT EXISTS {DIALECT.ident(JOURNAL_KEY)} "
                            f"ON {self._ref(LOADS)} (load_id)",
                            [],
                        )
                except (psycopg.errors.UniqueViolation, psycopg.errors.InsufficientPrivilege):
                    pass

    # --------------------------------------------------------------- catalogue

    def _catalog(self, conn: psycopg.Connection, table: str) -> Catalog:
        try:
            with conn.pipeline():
                sent = send_catalog(conn, f"{q(self.pg_schema)}.{q(table)}")
            return Catalog.of(sent)
        except psycopg.Error as e:
            raise self.error(e, f"reading the columns of {table}") from None

    @staticmethod
    def _logical(cols: list[tuple[str, str]] | None) -> dict[str, str] | None:
        if cols is None:
            return None
        return {c: logical_type(t) for c, t in cols if not c.startswith(RESERVED_PREFIX)}

    # --------------------------------------------------------------- loads

    @contextmanager
    def session(self) -> Iterator[PostgresSession]:
        conn = self._pool.get()
        s = PostgresSession(self, conn)
        try:
            yield s
        except BaseException:
            s.rollback()
            raise
        finally:
            self._pool.put(conn)  # rolls back whatever the session left open

    def record_outside(self, record: LoadRecord, params: dict[str, Any]) -> None:
        """Journal a failed or skipped load in its own small transaction."""
        values = _record_values(record, params)
        cols = ", ".join(DIALECT.ident(c) for c, _ in LOAD_COLUMNS)
        marks = ", ".join(["%s"] * len(values))
        with self._conn("writing the journal") as conn:
            conn.execute(f"INSERT INTO {self._ref(LOADS)} ({cols}) VALUES ({marks})", values)

    def find_load(self, load_id: str) -> LoadRecord | None:
        """The journal's record of a load (its committed one, if any), on a new connection:
        how the outcome of a COMMIT whose answer was lost is found out."""
        rows = self._rows(
            f"SELECT * FROM {self._ref(LOADS)} WHERE load_id = %s "
            "ORDER BY status = 'committed' DESC LIMIT 1",
            [load_id],
        )
        return record_from_row(rows[0]) if rows else None

    # --------------------------------------------------------------- reading

    def columns(self, table: str) -> dict[str, str] | None:
        with self._conn() as conn:
            return self._logical(self._catalog(conn, table).columns)

    def stored_fits_float(self, table: str, column: str) -> bool:
        """Whether every stored value of an integer column is exact as a float (|v| <= 2**53),
        asked on a connection of its own (intake asks from its producer thread)."""
        try:
            rows = self._rows(
                f"SELECT coalesce(max(abs({DIALECT.ident(column)})), 0) <= {T.FLOAT_EXACT_INT} "
                f"AS ok FROM {self._ref(table)}"
            )
        except DestinationError:
            return False  # e.g. abs(-2**63) overflows: that one does not fit either
        return bool(rows and rows[0]["ok"])

    def tables(self) -> list[str]:
        rows = self._rows(
            "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [self.pg_schema],
        )
        return [r["name"] for r in rows if not r["name"].startswith(RESERVED_PREFIX)]

    def history(self, table: str | None, limit: int | None) -> list[LoadRecord]:
        where, params = ("WHERE table_name = %s", [table]) if table else ("", [])
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._rows(
            f"SELECT * FROM {self._ref(LOADS)} {where} ORDER BY started_at DESC, load_id DESC{lim}",
            params,
        )
        return [record_from_row(r) for r in rows]

    def rejected(
        self, table: str | None, load_id: str | None, limit: int | None = None
    ) -> list[RejectedRow]:
        conds, params = [], []
        for col, v in (("table_name", table), ("load_id", load_id)):
            if v:
                conds.append(f"{col} = %s")
                params.append(v)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._rows(
            f"SELECT * FROM {self._ref(REJECTED)} {where} "
            f"ORDER BY rejected_at, load_id, row_number{lim}",
            params,
        )
        return [rejected_from_row(r) for r in rows]

    def _select(
        self, conn: psycopg.Connection, table: str, columns: Sequence[str] | None, meta: bool
    ) -> tuple[str, list[str], list[str]]:
        have = self._catalog(conn, table).columns
        if have is None:
            raise FreightError(f"no table {table!r}", table=table, destination="postgres")
        pg = dict(have)
        names = (
            list(columns) if columns else [c for c, _ in have if not c.startswith(RESERVED_PREFIX)]
        )
        if meta:
            names.append(LOAD_ID_COLUMN)
        types = [logical_type(pg.get(c, "text")) for c in names]
        exprs = [
            DIALECT.ident(c) + ("" if c not in pg or known_type(pg[c]) else "::text") for c in names
        ]
        return f"SELECT {', '.join(exprs)} FROM {self._ref(table)}", names, types

    def read(
        self, table: str, columns: Sequence[str] | None = None, meta: bool = False
    ) -> pa.Table:
        with self._conn(f"reading {table}") as conn:
            sql, names, types = self._select(conn, table, columns, meta)
            cur = _text_json(conn.cursor())
            return to_arrow(names, types, cur.execute(sql, []).fetchall())

    def read_batches(self, table: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        with self._conn(f"reading {table}") as conn:
            sql, names, types = self._select(conn, table, None, False)
            with _text_json(conn.cursor(name="freight_read")) as cur:
                cur.execute(sql, [])
                while rows := cur.fetchmany(batch_rows):
                    yield from to_arrow(names, types, rows).to_batches()

    def schema(self, table: str) -> dict[str, str] | None:
        return self.columns(table)

    def health(self) -> Health:
        t0 = time.perf_counter()
        version, ok = "", True
        stats: dict[str, Any] = {"loads": 0, "failed": 0, "rejected": 0}
        tables = 0
        try:
            with self._conn() as conn:
                version = f"PostgreSQL {conn.info.server_version // 10000}.{conn.info.server_version % 10000}"
            stats = self._rows(
                f"SELECT count(*) AS loads, count(*) FILTER (WHERE status = 'failed') AS failed, "
                f"(SELECT count(*) FROM {self._ref(REJECTED)}) AS rejected FROM {self._ref(LOADS)}"
            )[0]
            tables = len(self.tables())
        except DestinationError:
            ok = False
        return Health(
            ok=ok,
            destination="postgres",
            url=self.url,
            version=version,
            tables=tables,
            loads=int(stats["loads"]),
            failed_loads=int(stats["failed"]),
            rejected_rows=int(stats["rejected"]),
            seconds=time.perf_counter() - t0,
            detail={
                "schema": self.pg_schema,
                "connections_opened": self._pool.opened,
                "connections_reused": self._pool.reused,
            },
        )

    def close(self) -> None:
        self._pool.close()


def _text_json(cur: Any) -> Any:
    """json / jsonb come back as their text, like every other destination returns them."""
    for name in ("json", "jsonb"):
        cur.adapters.register_loader(name, TextLoader)
    return cur


__all__ = ["CAPABILITIES", "DIALECT", "PostgresDestination", "PostgresSession", "logical_type"]
