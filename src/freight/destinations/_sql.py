"""What SQL destinations truly share: quoting, the journal and quarantine tables, and the
set-based strategy statements run from a temporary stage inside the load's transaction.

A subclass supplies the driver: ``_exec`` (a statement, returning its row count), ``_query``
(rows as dicts), ``stage_insert`` (the bulk path) and the type mapping in its ``Dialect``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .. import _types as T
from .._errors import DestinationError, SchemaContractError
from .._intake import Reject
from .._plan import LOAD_ID_COLUMN, Plan
from .._result import LoadRecord, RejectedRow, outcome
from ._base import Mark

LOADS = "_freight_loads"
REJECTED = "_freight_rejected"
STAGE = "_freight_stage"
SEQ = "_freight_seq"

LOAD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("load_id", "text"),
    ("table_name", "text"),
    ("strategy", "text"),
    ("status", "text"),
    ("rows_in", "int"),
    ("inserted", "int"),
    ("updated", "int"),
    ("unchanged", "int"),
    ("deleted", "int"),
    ("skipped", "int"),
    ("deduplicated", "int"),
    ("rejected", "int"),
    ("removed", "int"),
    ("checksum", "text"),
    ("schema_version", "int"),
    ("cursor_column", "text"),
    ("cursor_value", "text"),
    ("started_at", "ts"),
    ("finished_at", "ts"),
    ("error", "text"),
    ("schema_changes", "text"),
    ("params", "text"),
)
REJECTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("load_id", "text"),
    ("table_name", "text"),
    ("row_number", "int"),
    ("row", "text"),
    ("reason", "text"),
    ("rejected_at", "ts"),
)


#: the comment marking a column that has held only NULLs (no type yet)
UNTYPED = "freight:untyped"


def merged_types(existing: dict[str, str], types: dict[str, str]) -> dict[str, str]:
    """The table's columns after a load of ``types``: an all-NULL chunk never narrows a type."""
    out = dict(existing)
    for c, t in types.items():
        if t != T.NULL or c not in out:
            out[c] = t
    return out


def same_table(capabilities: Any, param: str) -> str:
    """The journal's or quarantine's condition on ``table_name``: where names fold case
    (DuckDB), ``events``, ``Events`` and ``EVENTS`` are one table, and so one history."""
    if capabilities.case_insensitive_identifiers:
        return f"lower(table_name) = lower({param})"
    return f"table_name = {param}"


def q(name: str) -> str:
    """Quote an identifier (standard SQL double quotes)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """The small differences between SQL destinations, as data plus a type map."""

    param: str  # placeholder for one parameter: "?" or "%s"
    types: dict[str, str]  # logical simple type -> SQL type
    text: str
    int_type: str
    ts_type: str
    decimal_fmt: str = "DECIMAL({p},{s})"
    alter_fmt: str = "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty}"

    def sql_type(self, ltype: str) -> str:
        if ltype == T.NULL:
            return self.text
        pd = T.parse_decimal(ltype)
        if pd:
            return self.decimal_fmt.format(p=pd[0], s=pd[1])
        return self.types[ltype]

    def ident(self, name: str) -> str:
        quoted = q(name)
        return quoted.replace("%", "%%") if self.param == "%s" else quoted

    def meta_type(self, kind: str) -> str:
        return {"text": self.text, "int": self.int_type, "ts": self.ts_type}[kind]


def _json(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


class SqlSession:
    """A load's transaction on a SQL destination (subclasses add the driver calls)."""

    dialect: Dialect

    def __init__(self, dest: Any) -> None:
        self.dest = dest
        self._stage_types: dict[str, str] = {}
        #: what the loader already knows of the stage (saves a query): rows staged, and the
        #: number of distinct keys when the whole load fitted one chunk
        self.staged_rows: int | None = None
        self.distinct_keys: int | None = None
        #: tables whose columns this load created, added, typed or widened (a destination
        #: that caches columns forgets these when the load ends)
        self.altered: set[str] = set()
        # the lazy stage (see stage_create): its types and first chunk, not yet written
        self._pending_types: dict[str, str] | None = None
        self._pending: list[tuple[Any, int]] = []
        self._view = False  # the stage is the one chunk, read in place

    # --------------------------------------------------------------- driver hooks

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def columns(self, table: str) -> dict[str, str] | None:
        raise NotImplementedError

    def key_columns(self, table: str) -> tuple[str, ...] | None:
        return None

    def unique_keys(self, table: str) -> list[tuple[str, ...]]:
        """The column sets of the table's primary key and unique constraints."""
        key = self.key_columns(table)
        return [key] if key else []

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    # --------------------------------------------------------------- helpers

    def _i(self, name: str) -> str:
        return self.dialect.ident(name)

    @property
    def _p(self) -> str:
        return self.dialect.param

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def _table_ref(self, table: str) -> str:
        return self._i(table)

    def _quoted(self, table: str) -> str:
        """The table's name as a user would type it into SQL (in messages)."""
        return q(table)

    def _src(self, column: str) -> str:
        """The stage's ``column`` (alias ``s``) as the strategy statements write it into the
        table (a destination may cast it to the column's own type)."""
        return f"s.{self._i(column)}"

    def _comparable(self, column: str, expr: str) -> str:
        """``expr`` (a value of ``column``) in a form ``IS DISTINCT FROM`` can compare."""
        return expr

    # --------------------------------------------------------------- journal

    def _same_table(self) -> str:
        """The journal's condition on ``table_name`` (one parameter: the table)."""
        return same_table(self.dest.capabilities, self._p)

    def _mark_sql(self) -> str:
        """The journal's last committed load of a table (one parameter: the table)."""
        return (
            f"SELECT checksum, schema_version, started_at, load_id FROM {self._table_ref(LOADS)} "
            f"WHERE {self._same_table()} "
            "AND status = 'committed' ORDER BY started_at DESC, load_id DESC LIMIT 1"
        )

    def _mark_rows(self, table: str) -> list[dict[str, Any]]:
        return self._query(self._mark_sql(), [table])

    def last_committed(self, table: str, cursor: str | None) -> Mark:
        p = self._p
        rows = self._mark_rows(table)
        mark = Mark(rows[0]["checksum"], int(rows[0]["schema_version"] or 0)) if rows else Mark()
        if cursor is None:
            return mark
        rows = self._query(
            f"SELECT cursor_value FROM {self._table_ref(LOADS)} WHERE {self._same_table()} AND status = "
            f"'committed' AND strategy = 'incremental' AND cursor_column = {p} "
            f"ORDER BY started_at DESC, load_id DESC LIMIT 1",
            [table, cursor],
        )
        value = rows[0]["cursor_value"] if rows else None
        return Mark(mark.checksum, mark.schema_version, value)

    def journal(self, record: LoadRecord, params: dict[str, Any]) -> None:
        values = _record_values(record, params)
        cols = ", ".join(self._i(c) for c, _ in LOAD_COLUMNS)
        marks = ", ".join([self._p] * len(values))
        self._exec(f"INSERT INTO {self._table_ref(LOADS)} ({cols}) VALUES ({marks})", values)

    def quarantine(self, load_id: str, table: str, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        now = datetime.now(UTC)
        rows = [
            [load_id, table, r.row_number, _json(r.row), r.reason.replace("\x00", "\\x00"), now]
            for r in rejects
        ]
        cols = ", ".join(self._i(c) for c, _ in REJECTED_COLUMNS)
        marks = ", ".join([self._p] * len(REJECTED_COLUMNS))
        self._executemany(
            f"INSERT INTO {self._table_ref(REJECTED)} ({cols}) VALUES ({marks})", rows
        )

    def _executemany(self, sql: str, rows: list[list[Any]]) -> None:
        for r in rows:
            self._exec(sql, r)

    # --------------------------------------------------------------- stage
    # The stage is created lazily: a load that fits one chunk and needs no deletes from its
    # stage (no duplicate keys, not incremental) may have its destination read that chunk
    # in place (``_open_view``), saving the temporary table's create, insert and drop that
    # dominate a small load. Otherwise the first chunk goes into a real stage like the rest.

    def _stage_ref(self) -> str:
        return self._i(STAGE)

    def stage_create(self, types: dict[str, str]) -> None:
        self._pending_types = dict(types)
        self._pending = []
        self._view = False

    def stage_insert(self, data: Any, first_seq: int) -> None:
        if self._pending_types is not None and not self._pending and self._may_view(data):
            self._pending.append((data, first_seq))
            return
        self._materialize()
        self._insert(data, first_seq)

    def stage_add(self, name: str, ltype: str) -> None:
        self._materialize()
        self._exec(
            f"ALTER TABLE {self._stage_ref()} ADD COLUMN {self._i(name)} {self.dialect.sql_type(ltype)}"
        )
        self._stage_types[name] = ltype

    def stage_alter(self, name: str, ltype: str) -> None:
        self._materialize()
        self._exec(self._alter_sql(self._stage_ref(), name, ltype))
        self._stage_types[name] = ltype

    def _materialize(self) -> None:
        if self._pending_types is None:
            return
        types, self._pending_types = self._pending_types, None
        self._create_stage(types)
        for data, seq in self._pending:
            self._insert(data, seq)
        self._pending = []

    def _settle_stage(self, plan: Plan) -> None:
        """Before the strategy runs: the one chunk read in place, or a real stage."""
        single = len(self._pending) == 1 and self._pending_types is not None
        no_deletes = plan.strategy != "incremental" and (
            not plan.keyed or self.distinct_keys == self.staged_rows
        )
        if (
            single
            and no_deletes
            and self._open_view(self._pending[0][0], self._pending_types or {})
        ):
            self._pending, self._pending_types, self._view = [], None, True
        else:
            self._materialize()

    def _create_stage(self, types: dict[str, str]) -> None:
        cols = [f"{self._i(c)} {self.dialect.sql_type(t)}" for c, t in types.items()]
        cols.append(f"{self._i(SEQ)} {self.dialect.int_type}")
        self._exec(f"CREATE TEMPORARY TABLE {self._stage_ref()} ({', '.join(cols)})")
        self._stage_types = dict(types)

    def _insert(self, data: Any, first_seq: int) -> None:
        """Write a chunk into the (real) stage, with its row positions in ``SEQ``."""
        raise NotImplementedError

    def _may_view(self, data: Any) -> bool:
        """Whether ``data``, if it is the load's only chunk, could be read in place; if not,
        the stage is written at once (the server works while the next chunk is made)."""
        return False

    def _open_view(self, data: Any, types: dict[str, str]) -> bool:
        """Let the strategy statements read ``data`` as the stage; False: not here."""
        return False

    def _close_view(self) -> None:
        pass

    def _alter_sql(self, table_ref: str, name: str, ltype: str) -> str:
        return self.dialect.alter_fmt.format(
            t=table_ref, c=self._i(name), ty=self.dialect.sql_type(ltype)
        )

    def stage_drop(self) -> None:
        if self._view:
            self._view = False
            self._close_view()
            return
        self._materialize()
        self._drop_stage()

    def _drop_stage(self) -> None:
        self._exec(f"DROP TABLE IF EXISTS {self._stage_ref()}")

    # --------------------------------------------------------------- apply

    def create_table(self, plan: Plan, types: dict[str, str]) -> None:
        self.altered.add(plan.table)
        cols = [f"{self._i(c)} {self.dialect.sql_type(t)}" for c, t in types.items()]
        cols.append(f"{self._i(LOAD_ID_COLUMN)} {self.dialect.text}")
        if plan.key:  # an append's key too: later keyed loads find the table's key
            cols.append(f"PRIMARY KEY ({', '.join(self._i(k) for k in plan.key)})")
        self._exec(f"CREATE TABLE {self._table_ref(plan.table)} ({', '.join(cols)})")
        for c, t in types.items():
            if t == T.NULL:
                self._mark_untyped(plan.table, c, True)

    def _mark_untyped(self, table: str, column: str, untyped: bool) -> None:
        """A column that has held only NULLs has no type yet: it is stored as text and marked
        with a comment, so a later load gives it its type (``columns()`` reports ``null``)."""
        self.altered.add(table)
        value = f"'{UNTYPED}'" if untyped else "NULL"
        self._exec(f"COMMENT ON COLUMN {self._table_ref(table)}.{self._i(column)} IS {value}")

    def evolve(
        self, plan: Plan, types: dict[str, str], existing: dict[str, str], *, creating: bool = False
    ) -> list[str]:
        """Add new columns and widen changed ones, as the contract allows; return the changes.
        ``creating``: the table is being created by this load, so no contract applies."""
        changes: list[str] = []
        adds = [(c, t) for c, t in types.items() if c not in existing]
        widens = [
            (c, existing[c], t)
            for c, t in types.items()
            if c in existing and t != existing[c] and t != T.NULL
        ]
        if plan.contract == "freeze" and (adds or widens) and not creating:
            what = [f"new column {c!r} ({t})" for c, t in adds] + [
                f"column {c!r} {old} -> {new}" for c, old, new in widens
            ]
            raise SchemaContractError(
                f"contract 'freeze' forbids schema changes: {'; '.join(what)}",
                table=plan.table,
                column=(adds or widens)[0][0],
            )
        ref = self._table_ref(plan.table)
        if adds:
            self.altered.add(plan.table)
        for c, t in adds:
            self._exec(f"ALTER TABLE {ref} ADD COLUMN {self._i(c)} {self.dialect.sql_type(t)}")
            if t == T.NULL:
                self._mark_untyped(plan.table, c, True)
            changes.append(f"added column {c} {t}")
        for c, old, new in widens:
            self._widen_column(plan.table, c, old, new)
            changes.append(f"widened column {c} {old} -> {new}")
        return changes

    def _widen_column(self, table: str, column: str, old: str, new: str) -> None:
        self.altered.add(table)
        ref = self._table_ref(table)
        if old == T.NULL:
            self._exec(self._alter_sql(ref, column, new))
            self._mark_untyped(table, column, False)
            return
        if old == T.INT64 and new == T.FLOAT64:
            big = self._scalar(
                f"SELECT count(*) AS n FROM {ref} WHERE abs({self._i(column)}) > {T.FLOAT_EXACT_INT}"
            )
            if big:
                raise SchemaContractError(
                    f"column {column!r} holds integers beyond 2**53 and cannot widen to float64 "
                    "without rounding them; load those values as integers or give columns={...}",
                    table=table,
                    column=column,
                )
        self._alter_column(table, column, new)

    def _alter_column(self, table: str, column: str, new: str) -> None:
        self._exec(self._alter_sql(self._table_ref(table), column, new))

    def apply(
        self,
        plan: Plan,
        load_id: str,
        types: dict[str, str],
        existing: dict[str, str] | None,
        cursor_mark: Any,
    ) -> dict[str, Any]:
        """Run the strategy from the stage; return the counters and schema changes."""
        self._settle_stage(plan)
        out = outcome(cursor_value=cursor_mark)
        stage = self._stage_ref()
        p = self._p
        strategy = plan.apply_as
        distinct: int | None = None
        if self.staged_rows == 0:
            n, distinct = 0, 0
        elif self.staged_rows is not None and (not plan.keyed or self.distinct_keys is not None):
            n, distinct = self.staged_rows, self.distinct_keys
        elif plan.keyed and len(plan.key) == 1 and plan.strategy != "incremental":
            row = self._query(
                f"SELECT count(*) AS n, count(DISTINCT {self._i(plan.key[0])}) AS d FROM {stage}"
            )[0]
            n, distinct = int(row["n"]), int(row["d"])
        else:
            n = int(self._scalar(f"SELECT count(*) AS n FROM {stage}") or 0)

        if plan.strategy == "incremental" and n:
            cur = self._i(plan.cursor or "")
            if cursor_mark is not None:
                mark = T.converter(types[plan.cursor or ""])(cursor_mark)
                out["skipped"] = self._exec(f"DELETE FROM {stage} WHERE {cur} <= {p}", [mark])
                n -= out["skipped"]
            if n:
                top = self._scalar(f"SELECT max({cur}) AS m FROM {stage}")
                out["cursor_value"] = _cursor_text(top)

        if plan.keyed and n:
            keys = ", ".join(self._i(k) for k in plan.key)
            if distinct is None or plan.strategy == "incremental":
                count = (
                    f"SELECT count(DISTINCT {keys}) AS n FROM {stage}"  # faster on PostgreSQL
                    if len(plan.key) == 1
                    else f"SELECT count(*) AS n FROM (SELECT DISTINCT {keys} FROM {stage}) d"
                )
                distinct = int(self._scalar(count) or 0)
            if distinct < n:
                self._exec(
                    f"DELETE FROM {stage} WHERE {self._i(SEQ)} NOT IN "
                    f"(SELECT max({self._i(SEQ)}) FROM {stage} GROUP BY {keys})"
                )
                out["deduplicated"] = n - distinct
                n = distinct

        stored = existing is not None
        if existing is None:
            if strategy in ("update_only", "delete") or not n:  # nothing to create it for
                out["skipped"] += n
                return out
            created = dict(types)
            self.create_table(plan, created)
            out["schema_changes"].append(
                f"created table {plan.table} ({', '.join(f'{c} {t}' for c, t in created.items())})"
            )
            existing = dict(created)
        elif strategy != "delete":
            out["schema_changes"] += self.evolve(plan, types, existing)
            existing = merged_types(existing, types)

        if plan.keyed:
            missing = [k for k in plan.key if k not in existing]
            if missing:
                raise SchemaContractError(
                    f"table {plan.table!r} has no key column {missing[0]!r} to match rows on",
                    table=plan.table,
                    column=missing[0],
                )
            if stored and n and strategy != "replace":
                self._refuse_stored_duplicates(plan)

        cols = [c for c in types if c in existing]
        ref = self._table_ref(plan.table)
        col_list = ", ".join(self._i(c) for c in cols)
        sel_list = ", ".join(self._src(c) for c in cols)
        lid = self._i(LOAD_ID_COLUMN)
        join = " AND ".join(f"t.{self._i(k)} = {self._src(k)}" for k in plan.key)
        insert_all = f"INSERT INTO {ref} ({col_list}{', ' if cols else ''}{lid}) SELECT {sel_list}{', ' if cols else ''}{p} FROM {stage} s"

        if strategy == "append":
            out["inserted"] = self._exec(insert_all, [load_id]) if n else 0
        elif strategy == "replace":
            out["removed"] = self._exec(f"DELETE FROM {ref}")
            out["inserted"] = self._exec(insert_all, [load_id]) if n else 0
        elif strategy == "delete":
            out["deleted"] = (
                self._exec(f"DELETE FROM {ref} t USING {stage} s WHERE {join}") if n else 0
            )
            out["skipped"] += n - out["deleted"]
        elif strategy in ("merge", "insert_only", "update_only"):
            updated, inserted = self._upsert(plan, cols, load_id, join, insert_all) if n else (0, 0)
            if strategy == "merge":
                out["unchanged"] = n - updated - inserted
            elif strategy == "insert_only":
                out["skipped"] += n - inserted
            else:
                matched = (
                    int(
                        self._scalar(
                            f"SELECT count(*) AS n FROM {stage} s WHERE EXISTS (SELECT 1 FROM {ref} t WHERE {join})"
                        )
                        or 0
                    )
                    if n
                    else 0
                )
                out["unchanged"] = matched - updated
                out["skipped"] += n - matched
            out["updated"], out["inserted"] = updated, inserted
        else:  # pragma: no cover - make_plan rejects others
            raise DestinationError(f"strategy {strategy!r} is not supported here")
        return out

    def _refuse_stored_duplicates(self, plan: Plan) -> None:
        """A keyed strategy matches each stored row by its key: rows stored by a keyless
        append may repeat one, and then one batch row would update, skip or delete several
        (counters going negative, duplicates kept). Refuse before anything changes, unless a
        primary key or unique constraint within the key already rules that out."""
        if any(set(k) <= set(plan.key) for k in self.unique_keys(plan.table)):
            return
        keys = ", ".join(self._i(k) for k in plan.key)
        known = " AND ".join(f"{self._i(k)} IS NOT NULL" for k in plan.key)
        rows = self._query(
            f"SELECT {keys}, count(*) AS _freight_n FROM {self._table_ref(plan.table)} "
            f"WHERE {known} GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
        )
        if rows:
            key = ", ".join(f"{k} = {rows[0][k]!r}" for k in plan.key)
            raise stored_duplicates_error(
                plan, self._quoted(plan.table), f"{key} is stored {rows[0]['_freight_n']} times"
            )

    def append_rows(self, table: str, data: Any, load_id: str) -> None:
        """Append a chunk straight into ``table`` (the direct path for strategy append)."""
        raise NotImplementedError

    def prepare_append(
        self, plan: Plan, types: dict[str, str], existing: dict[str, str] | None, creating: bool
    ) -> tuple[dict[str, str], list[str]]:
        """Create or evolve the target of a direct append for a chunk of ``types``; return the
        table's columns afterwards and the changes made."""
        if existing is None:
            self.create_table(plan, dict(types))
            desc = ", ".join(f"{c} {t}" for c, t in types.items())
            return dict(types), [f"created table {plan.table} ({desc})"]
        changes = self.evolve(plan, types, existing, creating=creating)
        return merged_types(existing, types), changes

    def _upsert(
        self, plan: Plan, cols: list[str], load_id: str, join: str, insert_all: str
    ) -> tuple[int, int]:
        """Update the matching rows (unless insert_only) and insert the new ones (unless
        update_only) from the deduplicated stage; return (updated, inserted)."""
        strategy = plan.apply_as
        updated = inserted = 0
        if strategy != "insert_only":
            updated = self._update(plan, cols, load_id, join)
        if strategy != "update_only":
            ref = self._table_ref(plan.table)
            inserted = self._exec(
                f"{insert_all} WHERE NOT EXISTS (SELECT 1 FROM {ref} t WHERE {join})", [load_id]
            )
        return updated, inserted

    def _before_update(self, plan: Plan, data_cols: list[str], join: str, differs: str) -> None:
        """A destination's own step before the rows matching ``join`` where ``differs`` are
        updated from the stage (``t`` the table, ``s`` the stage)."""

    def _update(self, plan: Plan, cols: list[str], load_id: str, join: str) -> int:
        data_cols = [c for c in cols if c not in plan.key]
        if not data_cols:
            return 0
        sets = ", ".join(f"{self._i(c)} = {self._src(c)}" for c in data_cols)
        differs = " OR ".join(
            f"{self._comparable(c, f't.{self._i(c)}')} IS DISTINCT FROM "
            f"{self._comparable(c, self._src(c))}"
            for c in data_cols
        )
        self._before_update(plan, data_cols, join, differs)
        return self._exec(
            f"UPDATE {self._table_ref(plan.table)} AS t SET {sets}, {self._i(LOAD_ID_COLUMN)} = {self._p} "
            f"FROM {self._stage_ref()} AS s WHERE {join} AND ({differs})",
            [load_id],
        )


def stored_duplicates_error(plan: Plan, quoted_table: str, example: str) -> SchemaContractError:
    """The one wording of a keyed load refused because stored rows repeat a key."""
    keys = ", ".join(plan.key)
    return SchemaContractError(
        f"table {plan.table!r} has no primary key or unique index on ({keys}), which "
        f"{plan.strategy} needs, and freight cannot add one because stored rows repeat a key "
        f"({example}); remove the duplicates, then run: ALTER TABLE {quoted_table} "
        f"ADD PRIMARY KEY ({', '.join(map(q, plan.key))})",
        table=plan.table,
        column=plan.key[0],
    )


# ------------------------------------------------------------------- journal values


def _cursor_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _record_values(r: LoadRecord, params: dict[str, Any]) -> list[Any]:
    return [
        r.load_id,
        r.table,
        r.strategy,
        r.status,
        r.rows_in,
        r.inserted,
        r.updated,
        r.unchanged,
        r.deleted,
        r.skipped,
        r.deduplicated,
        r.rejected,
        r.removed,
        r.checksum,
        r.schema_version,
        r.cursor_column,
        _cursor_text(r.cursor_value),
        r.started_at,
        r.finished_at,
        r.error,
        _json(r.schema_changes),
        _json(params),
    ]


def journal_ddl(dialect: Dialect, table_ref: str, columns: tuple[tuple[str, str], ...]) -> str:
    cols = ", ".join(f"{dialect.ident(c)} {dialect.meta_type(k)}" for c, k in columns)
    return f"CREATE TABLE IF NOT EXISTS {table_ref} ({cols})"


def record_from_row(row: dict[str, Any]) -> LoadRecord:
    return LoadRecord(
        load_id=row["load_id"],
        table=row["table_name"],
        strategy=row["strategy"],
        status=row["status"],
        rows_in=int(row["rows_in"] or 0),
        inserted=int(row["inserted"] or 0),
        updated=int(row["updated"] or 0),
        unchanged=int(row["unchanged"] or 0),
        deleted=int(row["deleted"] or 0),
        skipped=int(row["skipped"] or 0),
        deduplicated=int(row["deduplicated"] or 0),
        rejected=int(row["rejected"] or 0),
        removed=int(row["removed"] or 0),
        checksum=row["checksum"] or "",
        schema_version=int(row["schema_version"] or 0),
        cursor_column=row["cursor_column"],
        cursor_value=row["cursor_value"],
        started_at=_aware(row["started_at"]),
        finished_at=_aware(row["finished_at"]) if row["finished_at"] else None,
        error=row["error"],
        schema_changes=json.loads(row["schema_changes"]) if row["schema_changes"] else [],
    )


def rejected_from_row(row: dict[str, Any]) -> RejectedRow:
    return RejectedRow(
        load_id=row["load_id"],
        table=row["table_name"],
        row_number=row["row_number"],
        row=orjson.loads(row["row"]) if row["row"] is not None else None,
        reason=row["reason"],
        rejected_at=_aware(row["rejected_at"]),
    )


def _aware(v: datetime) -> datetime:
    if v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v.astimezone(UTC)
