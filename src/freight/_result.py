"""Frozen result objects: ``LoadResult`` (what one load did), ``LoadRecord`` (a journal row),
``Progress`` (how far a running load is)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["committed", "skipped", "failed", "dry_run"]

#: The input counters: every input row is counted in exactly one of them.
INPUT_COUNTERS = (
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "skipped",
    "deduplicated",
    "rejected",
)


def outcome(**values: Any) -> dict[str, Any]:
    """What a destination reports for a load: counters (zero unless given), rows a replace
    removed, the schema changes it made and the incremental high-water mark."""
    out: dict[str, Any] = dict.fromkeys(INPUT_COUNTERS[:-1], 0)
    out.update(removed=0, schema_changes=[], cursor_value=None)
    out.update(values)
    return out


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one call to ``Dataset.load`` did.

    ``inserted + updated + unchanged + deleted + skipped + deduplicated + rejected == rows_in``
    always holds. ``removed`` counts stored rows a ``replace`` dropped; it is not an input
    counter.
    """

    load_id: str
    table: str
    strategy: str
    status: Status
    rows_in: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    deduplicated: int = 0
    rejected: int = 0
    removed: int = 0
    schema_changes: list[str] = field(default_factory=list)
    checksum: str = ""
    seconds: float = 0.0
    cursor_value: Any = None
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in INPUT_COUNTERS}

    def __str__(self) -> str:
        shown = [f"{n} {v}" for n, v in self.counts.items() if v]
        if self.removed:
            shown.append(f"removed {self.removed}")
        body = ", ".join(shown) if shown else "no rows"
        changes = f"; schema: {'; '.join(self.schema_changes)}" if self.schema_changes else ""
        line = (
            f"{self.status} {self.strategy} into {self.table}: {self.rows_in} rows in "
            f"({body}){changes} in {self.seconds:.3f}s [load {self.load_id}]"
        )
        return line.replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever the names


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running load is, handed to ``load(..., progress=callback)`` after each chunk.

    ``bytes_read`` is known when the input is a file the reader counts; ``total_bytes`` is the
    file's size on disk (so for a compressed file both count compressed bytes, when the reader
    counts them so)."""

    rows: int  # input rows read so far (loaded and rejected)
    seconds: float  # since the load started
    bytes_read: int | None = None
    total_bytes: int | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """The share of the input read, 0..1, when the input's size is known."""
        if self.bytes_read is None or not self.total_bytes:
            return None
        return min(1.0, self.bytes_read / self.total_bytes)

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far, when the input's size is known."""
        done = self.fraction
        if done is None or done <= 0 or self.seconds <= 0:
            return None
        return self.seconds * (1 - done) / done


@dataclass(frozen=True, slots=True)
class LoadRecord:
    """One row of the ``_freight_loads`` journal."""

    load_id: str
    table: str
    strategy: str
    status: Status
    rows_in: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    skipped: int
    deduplicated: int
    rejected: int
    removed: int
    checksum: str
    schema_version: int
    cursor_column: str | None
    cursor_value: Any
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    schema_changes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        if self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A quarantined input row: the row as it was given and why it was rejected."""

    load_id: str
    table: str
    row_number: int | None
    row: Any
    reason: str
    rejected_at: datetime


@dataclass(frozen=True, slots=True)
class Health:
    """What ``Dataset.health()`` reports."""

    ok: bool
    destination: str
    url: str
    version: str
    tables: int
    loads: int
    failed_loads: int
    rejected_rows: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
