"""The exception tree. Every error freight raises is a ``FreightError``::

    FreightError
    ├── ConfigurationError         bad URL, unknown scheme, bad option values
    ├── InvalidStrategyError       unknown strategy / contract / on_reject value
    ├── MissingKeyError            a strategy that needs ``key`` (or ``cursor``) got none,
    │                              or no input row has the key (or cursor) column
    ├── InvalidIdentifierError     a table or column name the destination cannot hold
    ├── SchemaContractError        the contract forbids a schema change the load needs
    ├── RejectedRowsError          ``on_reject="fail"`` and some rows were rejected, or more
    │                              than ``max_rejected`` were
    ├── InputError                 the input itself cannot be read (missing file, bad format)
    └── DestinationError           the destination failed; ``transient`` says if a retry may help
        └── LockedError            another process holds the database (DuckDB file lock)

Errors carry what the user knows: ``table``, ``column``, ``load_id``, ``destination`` and,
where it makes sense, the row number. ``transient`` is ``True`` only when retrying the same
call may succeed (connection reset, serialization failure, deadlock, lock held elsewhere).
Messages never contain credentials: destinations mask them before raising.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigurationError",
    "DestinationError",
    "FreightError",
    "InputError",
    "InvalidIdentifierError",
    "InvalidStrategyError",
    "LockedError",
    "MissingKeyError",
    "RejectedRowsError",
    "SchemaContractError",
]


class FreightError(Exception):
    """Base of every error freight raises."""

    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        load_id: str | None = None,
        destination: str | None = None,
        transient: bool | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.table = table
        self.column = column
        self.load_id = load_id
        self.destination = destination
        if transient is not None:
            self.transient = transient
        self.context = context

    def __str__(self) -> str:
        parts = []
        if self.destination:
            parts.append(self.destination)
        if self.table and repr(self.table) not in self.message:
            parts.append(f"table {self.table!r}")
        if self.load_id:
            parts.append(f"load {self.load_id}")
        where = f" [{', '.join(parts)}]" if parts else ""
        return f"{self.message}{where}"


class ConfigurationError(FreightError):
    """A URL, option or argument is not usable."""


class InvalidStrategyError(ConfigurationError):
    """An unknown strategy, contract or on_reject value."""


class MissingKeyError(ConfigurationError):
    """The strategy needs a key (or a cursor) and none was given, or no input row has it."""


class InvalidIdentifierError(FreightError):
    """A table or column name the destination cannot hold exactly as given."""


class SchemaContractError(FreightError):
    """The schema contract forbids a change this load needs; nothing was committed."""


class RejectedRowsError(FreightError):
    """``on_reject="fail"`` and at least one row was rejected, or more rows than
    ``max_rejected`` allows; nothing was committed. ``rejected`` and ``rows_in`` count the
    rows read until the load stopped; ``reasons`` holds the first reasons."""

    def __init__(
        self,
        message: str,
        *,
        reasons: list[str] | None = None,
        rejected: int | None = None,
        rows_in: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.reasons = reasons or []
        self.rejected = rejected
        self.rows_in = rows_in


class InputError(FreightError):
    """The input cannot be read at all (missing file, unknown format, wrong object)."""


class DestinationError(FreightError):
    """The destination failed. ``transient`` tells whether a retry may succeed."""


class LockedError(DestinationError):
    """Another process holds the database (e.g. a DuckDB file opened for writing)."""

    transient = True
