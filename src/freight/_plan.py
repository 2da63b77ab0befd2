"""The load plan: strategy semantics as a typed value, checked before any I/O. Pure."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from . import _types as T
from ._errors import InvalidIdentifierError, InvalidStrategyError, MissingKeyError

Strategy = Literal[
    "append", "replace", "merge", "upsert", "insert_only", "update_only", "delete", "incremental"
]
Contract = Literal["evolve", "freeze", "discard_columns"]
OnReject = Literal["quarantine", "fail"]

STRATEGIES: tuple[str, ...] = get_args(Strategy)
CONTRACTS: tuple[str, ...] = get_args(Contract)
ON_REJECT: tuple[str, ...] = get_args(OnReject)
KEYED = ("merge", "insert_only", "update_only", "delete")

#: Prefix of freight's own tables and columns; user names may not start with it.
RESERVED_PREFIX = "_freight_"
LOAD_ID_COLUMN = "_freight_load_id"


def reserved(name: str) -> bool:
    """Whether ``name`` starts with freight's prefix, in any case (``_FREIGHT_LOADS`` is
    ``_freight_loads`` where names fold case)."""
    return name.lower().startswith(RESERVED_PREFIX)


@dataclass(frozen=True, slots=True)
class Plan:
    """What a load will do, independent of the destination."""

    table: str
    strategy: str  # canonical: "upsert" is stored as "merge"
    key: tuple[str, ...]
    cursor: str | None
    contract: str
    on_reject: str
    force: bool
    hints: dict[str, str]

    @property
    def keyed(self) -> bool:
        """Whether rows are matched on ``key`` (and deduplicated by it)."""
        return bool(self.key) and self.strategy != "append"

    @property
    def apply_as(self) -> str:
        """The strategy the destination runs after incremental filtering."""
        if self.strategy == "incremental":
            return "merge" if self.key else "append"
        return self.strategy

    @property
    def not_null(self) -> tuple[str, ...]:
        """Columns a row must have a value in: the key (for ``append`` too, where it is the
        primary key of a table the load creates), and an incremental load's cursor."""
        cols = self.key
        if self.cursor and self.strategy == "incremental":
            cols = (*cols, self.cursor)
        return cols

    def fingerprint(self) -> hashlib._Hash:
        """A hash seeded with the parameters that make two loads 'the same load'."""
        h = hashlib.sha256()
        h.update(
            orjson.dumps(
                {
                    "strategy": self.strategy,
                    "key": list(self.key),
                    "cursor": self.cursor,
                    "contract": self.contract,
                    "columns": self.hints,
                },
                option=orjson.OPT_SORT_KEYS,
            )
        )
        return h


def check_identifier(name: Any, what: str = "column") -> str:
    if not isinstance(name, str) or not name:
        raise InvalidIdentifierError(f"{what} name must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise InvalidIdentifierError(f"{what} name {name!r} contains a NUL character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidIdentifierError(
            f"{what} name {name!r} is not valid unicode (it holds a lone surrogate)"
        ) from None
    if name.strip() != name:
        raise InvalidIdentifierError(f"{what} name {name!r} has leading or trailing spaces")
    return name


def make_plan(
    table: str,
    *,
    strategy: str = "append",
    key: str | list[str] | tuple[str, ...] | None = None,
    cursor: str | None = None,
    contract: str = "evolve",
    on_reject: str = "quarantine",
    force: bool = False,
    columns: dict[str, str] | None = None,
) -> Plan:
    """Validate the arguments of a load and return its plan; raises before any I/O."""
    check_identifier(table, "table")
    if reserved(table):
        raise InvalidIdentifierError(
            f"table name {table!r} uses freight's reserved prefix {RESERVED_PREFIX!r}"
        )
    if strategy not in STRATEGIES:
        raise InvalidStrategyError(
            f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
    if strategy == "upsert":
        strategy = "merge"
    if contract not in CONTRACTS:
        raise InvalidStrategyError(
            f"unknown contract {contract!r}; use one of {', '.join(CONTRACTS)}"
        )
    if on_reject not in ON_REJECT:
        raise InvalidStrategyError(f"unknown on_reject {on_reject!r}; use 'quarantine' or 'fail'")
    if key is None:
        keys: tuple[str, ...] = ()
    elif isinstance(key, str):
        keys = (key,)
    else:
        keys = tuple(key)
    for k in keys:
        check_identifier(k, "key column")
    if len(set(keys)) != len(keys):
        raise InvalidStrategyError(f"key {list(keys)!r} names a column twice")
    if strategy in KEYED and not keys:
        raise MissingKeyError(
            f"strategy {strategy!r} needs key=... (the column(s) that identify a row)", table=table
        )
    if strategy == "incremental" and not cursor:
        raise MissingKeyError(
            "strategy 'incremental' needs cursor=... (the column that only grows)", table=table
        )
    if cursor is not None:
        check_identifier(cursor, "cursor column")
    hints: dict[str, str] = {}
    for name, t in (columns or {}).items():
        check_identifier(name)
        try:
            hints[name] = T.normalize(t)
        except ValueError as e:
            raise InvalidStrategyError(
                f"columns[{name!r}]: {e}", table=table, column=name
            ) from None
    return Plan(table, strategy, keys, cursor, contract, on_reject, bool(force), hints)


def check_max_rejected(value: float | None) -> float | None:
    """``max_rejected``: a number of rows (an integer >= 0) or a share of the rows (a float
    0 <= f < 1); raises before any I/O."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        valid = False
    elif isinstance(value, int):
        valid = value >= 0
    else:
        valid = 0 <= value < 1
    if not valid:
        raise InvalidStrategyError(
            f"max_rejected must be a number of rows (an integer >= 0) or a fraction of the rows "
            f"(0 <= f < 1, e.g. 0.1), not {value!r}"
        )
    return value


def too_many_rejected(limit: float | None, rejected: int, rows_in: int) -> bool:
    """Whether ``rejected`` of ``rows_in`` rows exceed ``max_rejected``."""
    if limit is None:
        return False
    if isinstance(limit, int):
        return rejected > limit
    return rejected > limit * rows_in


def absent_columns(plan: Plan, seen: Sequence[str]) -> MissingKeyError | None:
    """The error for key (or cursor) columns that no input row has, naming the columns the
    input does have and the closest one (a match ignoring case first), else None."""
    absent = [c for c in plan.not_null if c not in seen]
    if not absent:
        return None
    what = "key" if absent[0] in plan.key else "cursor"
    hint = ""
    lower = {c.lower(): c for c in seen}
    close = lower.get(absent[0].lower()) or next(
        iter(difflib.get_close_matches(absent[0], list(seen), n=1)), None
    )
    if close is not None:
        hint = f"; did you mean {close!r}?"
    has = ", ".join(repr(c) for c in list(seen)[:20]) if seen else "no columns"
    if len(seen) > 20:
        has += f" and {len(seen) - 20} more"
    names = ", ".join(repr(c) for c in absent)
    return MissingKeyError(
        f"no input row has the {what} column {names}; the input has {has}{hint}",
        table=plan.table,
        column=absent[0],
    )
