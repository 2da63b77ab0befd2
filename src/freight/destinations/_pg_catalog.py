"""What PostgreSQL calls things: freight's logical types as PostgreSQL types and back, and
the one catalogue query that tells a table's columns and its unique keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .. import _types as T
from ._sql import UNTYPED, Dialect

DIALECT = Dialect(
    param="%s",
    types={
        T.BOOL: "boolean",
        T.INT64: "bigint",
        T.FLOAT64: "double precision",
        T.STRING: "text",
        T.BINARY: "bytea",
        T.DATE: "date",
        T.TIME: "time",
        T.TIMESTAMP: "timestamp",
        T.TIMESTAMPTZ: "timestamptz",
        T.INTERVAL: "interval",
        T.UUID: "uuid",
        T.JSON: "jsonb",
    },
    text="text",
    int_type="bigint",
    ts_type="timestamptz",
    decimal_fmt="numeric({p},{s})",
    alter_fmt="ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}",
)

#: format_type() of a column, typmod left out -> logical type; anything else reads as text
_REVERSE = {
    "bigint": T.INT64,
    "integer": T.INT64,
    "smallint": T.INT64,
    "double precision": T.FLOAT64,
    "real": T.FLOAT64,
    "text": T.STRING,
    "character varying": T.STRING,
    "character": T.STRING,
    "bytea": T.BINARY,
    "boolean": T.BOOL,
    "date": T.DATE,
    "time without time zone": T.TIME,
    "timestamp without time zone": T.TIMESTAMP,
    "timestamp with time zone": T.TIMESTAMPTZ,
    "interval": T.INTERVAL,
    "uuid": T.UUID,
    "jsonb": T.JSON,
    "json": T.JSON,
}
_TYPMOD = re.compile(r"\((\d+)(?:,(\d+))?\)")


def without_typmod(pg_type: str) -> str:
    """``character varying(20)`` -> ``character varying``; ``timestamp(3) with time zone`` ->
    ``timestamp with time zone``. A value cast to the bare type meets the typmod when it is
    assigned to the column, where an over-long string is an error (an explicit cast to
    ``varchar(20)`` would silently cut it). ``character`` and ``bit`` alone mean length 1,
    so they become ``bpchar`` and ``bit varying``; ``interval day`` and its kin ``interval``."""
    bare = " ".join(_TYPMOD.sub("", pg_type).split())
    base, brackets, rest = bare.partition("[")
    base = _UNBOUNDED.get(base, "interval" if base.startswith("interval") else base)
    return base + brackets + rest


#: bare type names that still bound their values, and the unbounded type to cast to instead
_UNBOUNDED = {"character": "bpchar", "bit": "bit varying"}


def logical_type(pg_type: str) -> str:
    """``numeric(12,2)`` -> ``decimal(12,2)``; bare ``numeric`` -> ``decimal(38,9)``; a type
    freight does not know -> ``string`` (it is read as its text)."""
    if pg_type == UNTYPED:  # held only NULLs so far: stored as text, typed by a later load
        return T.NULL
    if pg_type.startswith("numeric"):
        m = _TYPMOD.search(pg_type)
        if not m:
            return T.normalize("numeric")
        p, s = int(m.group(1)), int(m.group(2) or 0)
        return T.decimal_type(min(p, T.MAX_DECIMAL_PRECISION), min(s, T.MAX_DECIMAL_PRECISION))
    return _REVERSE.get(_TYPMOD.sub("", pg_type), T.STRING)


#: how format_type() spells the SQL types DIALECT writes under a shorter name
_SPELLED = {
    "time": "time without time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
}
#: format_type() of the columns freight itself creates, by logical type
_NATIVE = {_SPELLED.get(sql, sql): lt for lt, sql in DIALECT.types.items()} | {
    UNTYPED: T.STRING  # text, holding only NULLs so far
}
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


def native_type(pg_type: str) -> str | None:
    """The logical type of a column of exactly the SQL type freight would create for it
    (binary COPY sends that type's wire format), else None (``integer``, ``varchar``,
    ``json``, ``inet``, ...: such columns get their values as text)."""
    m = _NUMERIC.match(pg_type)
    if m:
        return T.decimal_type(int(m.group(1)), int(m.group(2)))
    return _NATIVE.get(pg_type)


def known_type(pg_type: str) -> bool:
    return pg_type.startswith("numeric") or _TYPMOD.sub("", pg_type) in _REVERSE


#: a table's columns: name, format_type(), comment (the untyped marker)
ATTRS_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum) "
    "FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attnum"
)
#: the column sets of its usable ON CONFLICT arbiters (unique, immediate, valid, no predicate
#: or expression), primary key first. Two plain queries, sent in one round trip, plan in a
#: third of the time of one query joining both (freight uses no prepared statements).
KEYS_SQL = (
    "SELECT array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS x(attnum, ord) "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = x.attnum ORDER BY x.ord) "
    "FROM pg_index i WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indimmediate "
    "AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL "
    "ORDER BY i.indisprimary DESC, i.indexrelid"
)


def send_catalog(conn: Any, ref: str) -> tuple[Any, Any]:
    """Send the two catalogue queries for the table ``ref`` (quoted, schema-qualified);
    inside a pipeline they share its round trip. ``Catalog.of`` reads the results."""
    return conn.execute(ATTRS_SQL, [ref]), conn.execute(KEYS_SQL, [ref])


@dataclass(frozen=True, slots=True)
class Catalog:
    """What PostgreSQL says about a table: its columns (None: no such table) and key sets."""

    columns: list[tuple[str, str]] | None
    keys: list[tuple[str, ...]]

    @classmethod
    def of(cls, sent: tuple[Any, Any]) -> Catalog:
        """The catalogue from the cursors of ``send_catalog``."""
        attrs, keys = sent[0].fetchall(), sent[1].fetchall()
        if not attrs:
            return cls(None, [])
        cols = [(r[0], UNTYPED if r[2] == UNTYPED else r[1]) for r in attrs]
        return cls(cols, [tuple(r[0]) for r in keys])
