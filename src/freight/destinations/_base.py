"""The destination Protocol, capabilities as data, and the registry by URL scheme.

A destination is opened from a URL and hands out ``Session`` objects: one transaction each,
in which the loader stages the input, evolves the table, applies the strategy, writes the
quarantine and the journal, and commits, all or nothing. Driver imports stay inside the
destination modules, which are imported only when their scheme is used.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import ConfigurationError
from .._intake import Reject
from .._plan import Plan
from .._result import Health, LoadRecord, RejectedRow

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a destination can hold, declared as data."""

    name: str
    max_identifier_bytes: int | None = None
    case_insensitive_identifiers: bool = False
    text_allows_nul: bool = True
    #: ``append`` writes chunks straight into the table (no stage) inside the transaction
    direct_append: bool = False
    #: a small list of Python rows may reach the session as ``Columns`` instead of Arrow
    #: (``stage_insert`` / ``append_rows`` take both)
    light_rows: bool = False
    #: attempts of a load when the destination fails transiently (``connect(retries=...)``)
    retries: int = 3
    #: the modules it needs beyond freight's own dependencies (checked when it is opened,
    #: without importing them), and the extra of freight that installs them
    drivers: tuple[str, ...] = ()
    extra: str | None = None
    strategies: tuple[str, ...] = (
        "append",
        "replace",
        "merge",
        "insert_only",
        "update_only",
        "delete",
        "incremental",
    )


@dataclass(frozen=True, slots=True)
class Mark:
    """What the journal says about a table's last committed load."""

    checksum: str | None = None
    schema_version: int = 0
    cursor_value: Any = None


class Session(Protocol):
    """One load's transaction. ``commit`` makes everything visible at once; leaving without
    it (or ``rollback``) leaves the destination exactly as it was."""

    def columns(self, table: str) -> dict[str, str] | None: ...
    def key_columns(self, table: str) -> tuple[str, ...] | None: ...
    def last_committed(self, table: str, cursor: str | None) -> Mark: ...
    def stage_create(self, types: dict[str, str]) -> None: ...
    def stage_add(self, name: str, ltype: str) -> None: ...
    def stage_alter(self, name: str, ltype: str) -> None: ...
    def stage_insert(self, data: pa.Table, first_seq: int) -> None: ...
    def prepare_append(
        self, plan: Plan, types: dict[str, str], existing: dict[str, str] | None, creating: bool
    ) -> tuple[dict[str, str], list[str]]: ...
    def append_rows(self, table: str, data: pa.Table, load_id: str) -> None: ...
    def quarantine(self, load_id: str, table: str, rejects: Sequence[Reject]) -> None: ...
    def apply(
        self,
        plan: Plan,
        load_id: str,
        types: dict[str, str],
        existing: dict[str, str] | None,
        cursor_mark: Any,
    ) -> dict[str, Any]: ...
    def journal(self, record: LoadRecord, params: dict[str, Any]) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class Destination(Protocol):
    capabilities: Capabilities
    url: str  # with credentials masked

    def session(self) -> Any: ...  # a context manager yielding a Session
    def record_outside(self, record: LoadRecord, params: dict[str, Any]) -> None: ...
    def tables(self) -> list[str]: ...
    def schema(self, table: str) -> dict[str, str] | None: ...
    def history(self, table: str | None, limit: int | None) -> list[LoadRecord]: ...
    def rejected(
        self, table: str | None, load_id: str | None, limit: int | None = None
    ) -> list[RejectedRow]: ...
    def read(self, table: str, columns: Sequence[str] | None) -> pa.Table: ...
    def read_batches(self, table: str, batch_rows: int) -> Iterator[pa.RecordBatch]: ...
    def health(self) -> Health: ...
    def close(self) -> None: ...

    # optional: ``stored_fits_float(table, column) -> bool`` on its own connection; without it
    # a stored integer column never widens to float64 (fractional values are rejected)
    # optional: ``find_load(load_id) -> LoadRecord | None``, the journal's record of one load
    # on a new connection; a destination whose commit can go unanswered (a session's
    # ``commit`` raising a DestinationError with ``context["in_doubt"]``) must have it


#: URL scheme -> "module:Class", imported on first use.
REGISTRY: dict[str, str] = {
    "duckdb": "freight.destinations.duckdb:DuckDBDestination",
    "postgresql": "freight.destinations.postgres:PostgresDestination",
    "postgres": "freight.destinations.postgres:PostgresDestination",
}


def register(scheme: str, target: str) -> None:
    """Register a destination class (``"package.module:Class"``) for a URL scheme."""
    REGISTRY[scheme] = target


def open_destination(url: str, options: dict[str, Any]) -> Destination:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    target = REGISTRY.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in sorted(REGISTRY))
        if not scheme:  # (echoed only when it cannot hold a password)
            given = "the URL" if "@" in url or "pass" in url.lower() else repr(url)
            raise ConfigurationError(
                f"{given} is not a dataset URL: a URL starts with its destination, "
                "e.g. duckdb:///path.duckdb or postgresql://user@host/db"
            )
        raise ConfigurationError(f"unknown destination scheme {scheme!r}; freight knows {known}")
    module_name, cls_name = target.split(":")
    extra = "postgres" if scheme.startswith("postgres") else scheme
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigurationError(
            f"the {scheme}:// destination needs {e.name}, which is not installed: "
            f"pip install 'freight[{extra}]'"
        ) from None
    cls = getattr(module, cls_name)
    caps: Capabilities = cls.capabilities
    missing = [m for m in caps.drivers if not _installed(m)]
    if missing:
        raise ConfigurationError(
            f"the {scheme}:// destination needs {', '.join(missing)}, which is not installed: "
            f"pip install 'freight[{caps.extra or extra}]'"
        )
    dest: Destination = cls(url, **options)
    return dest


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (pgpq would import
    pyarrow, which a small load of Python rows never needs)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
