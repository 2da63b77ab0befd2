"""``Columns``: a small chunk held as Python lists, for loads that never need Arrow.

A load of up to ``LIGHT_ROWS`` Python rows into a destination that can read them as they
are (PostgreSQL's JSON stage) is typed, checked, hashed and sent without importing pyarrow:
in a short-lived process that import, with numpy and pandas behind it, costs several times
the load. The values are exactly those the Arrow path would have put in its arrays (the
same converters make them), so ``to_arrow`` gives the same table, the checksum is the same,
and the destination stores the same values; tests hold both paths to that.

Every logical type takes this path; a chunk holding a value of a Python type the light
path does not type itself (numpy or pandas scalars, ``bytearray``, subclasses ...) goes the
Arrow way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _types as T

if TYPE_CHECKING:
    import pyarrow as pa

#: the largest list of rows typed without Arrow
LIGHT_ROWS = 1_000

#: the logical types a ``Columns`` chunk may hold (and every ``decimal(p,s)``)
LIGHT_TYPES = frozenset(
    {
        T.NULL,
        T.BOOL,
        T.INT64,
        T.FLOAT64,
        T.STRING,
        T.JSON,
        T.DATE,
        T.TIMESTAMP,
        T.TIMESTAMPTZ,
        T.BINARY,
        T.UUID,
        T.TIME,
        T.INTERVAL,
    }
)


def light_type(t: str) -> bool:
    """Whether a ``Columns`` chunk may hold a column of logical type ``t``."""
    return t in LIGHT_TYPES or T.parse_decimal(t) is not None


class Columns:
    """Named columns of equal length, each a list of converted values (None: NULL), with
    their logical types. The small part of ``pyarrow.Table``'s interface the loader uses."""

    __slots__ = ("data", "types")

    def __init__(self, data: dict[str, list[Any]], types: dict[str, str]) -> None:
        self.data = data
        self.types = types

    @property
    def column_names(self) -> list[str]:
        return list(self.data)

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def column(self, name: str) -> list[Any]:
        return self.data[name]

    def select(self, names: Sequence[str]) -> Columns:
        return Columns({n: self.data[n] for n in names}, {n: self.types[n] for n in names})

    def drop_rows(self, positions: set[int]) -> Columns:
        if not positions:
            return self
        keep = [i for i in range(self.num_rows) if i not in positions]
        return Columns({n: [v[i] for i in keep] for n, v in self.data.items()}, self.types)

    def to_arrow(self) -> pa.Table:
        """The Arrow table the Arrow path would have made of the same rows."""
        import pyarrow as pa

        return pa.table(
            {n: pa.array(v, type=T.to_arrow(self.types[n])) for n, v in self.data.items()}
        )

    def __repr__(self) -> str:
        return f"Columns({self.num_rows} rows: {', '.join(self.data)})"


#: types whose Python equality is the destination's (not floats: NaN; not JSON: key order)
EXACT_EQUALITY = frozenset(
    {
        T.INT64,
        T.STRING,
        T.BOOL,
        T.DATE,
        T.TIMESTAMP,
        T.TIMESTAMPTZ,
        T.UUID,
        T.BINARY,
        T.TIME,
        T.INTERVAL,
    }
)


def distinct_keys(cols: Columns, key: Sequence[str]) -> int | None:
    """How many distinct keys the chunk holds, or None when Python's equality might differ
    from the destination's."""
    if any(cols.types.get(k) not in EXACT_EQUALITY for k in key):
        return None
    if len(key) == 1:
        return len(set(cols.data[key[0]]))
    return len(set(zip(*(cols.data[k] for k in key), strict=True)))
