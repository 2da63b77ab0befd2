"""``connect`` and ``Dataset``: the one path data takes, intake -> plan -> destination."""

from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from . import _types as T
from ._checksum import Checksum
from ._columns import EXACT_EQUALITY, LIGHT_ROWS, Columns, distinct_keys
from ._errors import (
    ConfigurationError,
    DestinationError,
    FreightError,
    InvalidIdentifierError,
    RejectedRowsError,
    SchemaContractError,
)
from ._intake import Chunk, Intake, Reject
from ._plan import RESERVED_PREFIX, Plan, check_identifier, make_plan
from ._result import Health, LoadRecord, LoadResult, RejectedRow, outcome
from ._url import mask_url
from .destinations._base import Destination, open_destination

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_URL = "duckdb:///freight.duckdb"


def new_load_id() -> str:
    """Time-ordered, unique: ``20261122T035501123-9f3a1c``."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def connect(url: str | None = None, **options: Any) -> Dataset:
    """Open a dataset at ``url`` (default ``duckdb:///freight.duckdb``).

    Keyword options go to the destination (e.g. ``read_only=True`` for DuckDB,
    ``retries=5`` for any destination)."""
    return Dataset(url or DEFAULT_URL, **options)


def _retryable(e: BaseException) -> bool:
    return isinstance(e, DestinationError) and e.transient


class Dataset:
    """An open destination. Use as a context manager, or call ``close()``."""

    def __init__(
        self, url: str, *, retries: int | None = None, chunk_rows: int | None = None, **options: Any
    ) -> None:
        self.url = mask_url(url)
        self._retries = retries
        self.chunk_rows = chunk_rows
        self._dest: Destination = open_destination(url, options)

    def __repr__(self) -> str:
        return f"Dataset({self.url!r})"

    @property
    def retries(self) -> int:
        """How many times a load is attempted when the destination fails transiently."""
        wanted = self._retries if self._retries is not None else self._dest.capabilities.retries
        return max(1, int(wanted))

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._dest.close()

    @property
    def destination(self) -> Destination:
        return self._dest

    # ------------------------------------------------------------------ load

    def load(
        self,
        data: Any,
        table: str,
        *,
        strategy: str = "append",
        key: str | Sequence[str] | None = None,
        cursor: str | None = None,
        contract: str = "evolve",
        on_reject: str = "quarantine",
        force: bool = False,
        columns: dict[str, str] | None = None,
    ) -> LoadResult:
        """Load ``data`` into ``table`` atomically; see the README for the strategies."""
        plan = make_plan(
            table,
            strategy=strategy,
            key=key if key is None or isinstance(key, str) else list(key),
            cursor=cursor,
            contract=contract,
            on_reject=on_reject,
            force=force,
            columns=columns,
        )
        if plan.strategy not in self._dest.capabilities.strategies:
            raise FreightError(f"{self._dest.capabilities.name} does not support {plan.strategy!r}")
        self._check_name(plan.table, "table")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        load_id = new_load_id()
        kind = type(data)
        replayable = (
            isinstance(data, (list, tuple, str, os.PathLike))
            or kind.__name__ == "DataFrame"
            or (kind.__name__ == "Table" and kind.__module__.startswith("pyarrow"))
        )
        attempts = self.retries if replayable else 1  # a consumed generator cannot be replayed
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
                retry=retry_if_exception(_retryable),
                reraise=True,
            ):
                with attempt:
                    return self._load_once(data, plan, load_id, started, t0)
        except FreightError as e:
            e.load_id = e.load_id or load_id
            e.table = e.table or plan.table
            self._record_failure(plan, load_id, started, e)
            raise
        except (
            Exception
        ) as e:  # the input's own error (e.g. a generator raising): journal it, re-raise it
            err = FreightError(f"{type(e).__name__}: {e}", table=plan.table, load_id=load_id)
            self._record_failure(plan, load_id, started, err)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_name(self, name: str, what: str) -> None:
        caps = self._dest.capabilities
        check_identifier(name, what)
        if caps.max_identifier_bytes and len(name.encode()) > caps.max_identifier_bytes:
            raise InvalidIdentifierError(
                f"{what} name {name!r} is {len(name.encode())} bytes; {caps.name} holds at most "
                f"{caps.max_identifier_bytes}",
                column=name if what == "column" else None,
            )

    def _check_columns(self, names: Sequence[str], plan: Plan, stored: Sequence[str] = ()) -> None:
        seen: dict[str, str] = {c.lower(): c for c in stored}
        for c in names:
            self._check_name(c, "column")
            if c.startswith(RESERVED_PREFIX):
                raise InvalidIdentifierError(
                    f"column name {c!r} uses freight's reserved prefix {RESERVED_PREFIX!r}",
                    column=c,
                    table=plan.table,
                )
            low = c.lower()
            if low in seen and seen[low] != c:
                raise InvalidIdentifierError(
                    f"columns {seen[low]!r} and {c!r} differ only by case, which "
                    f"{self._dest.capabilities.name} cannot keep apart",
                    column=c,
                    table=plan.table,
                )
            seen[low] = c

    def _load_once(
        self, data: Any, plan: Plan, load_id: str, started: datetime, t0: float
    ) -> LoadResult:
        hasher = Checksum(plan.fingerprint())
        with self._dest.session() as s:
            existing = s.columns(plan.table)
            mark = s.last_committed(
                plan.table, plan.cursor if plan.strategy == "incremental" else None
            )
            for c, t in plan.hints.items():
                if existing and c in existing and existing[c] != t:
                    raise SchemaContractError(
                        f"columns[{c!r}] asks for {t} but the table stores {existing[c]}",
                        column=c,
                    )
            keep = (
                set(existing)
                if existing is not None and plan.contract == "discard_columns"
                else None
            )
            intake = Intake(
                data,
                known=dict(existing or {}),
                hints=plan.hints,
                allow_widen=plan.contract != "discard_columns",
                keep=keep,
                not_null=plan.not_null,
                nul_ok=self._dest.capabilities.text_allows_nul,
                probe=_float_probe(self._dest, plan.table),
                light=self._dest.capabilities.light_rows
                and isinstance(data, (list, tuple))
                and len(data) <= min(LIGHT_ROWS, self.chunk_rows or LIGHT_ROWS),
                **({"chunk_rows": self.chunk_rows} if self.chunk_rows else {}),
            )
            rows_in = rejected = 0
            staged = False
            stage_types: dict[str, str] = {}
            all_rejects: list[Reject] = []
            seq = 0
            # append writes straight into the table when the destination can: no stage
            direct = plan.strategy == "append" and self._dest.capabilities.direct_append
            target, creating, direct_changes, appended = existing, False, [], 0
            keys = _KeyCount(plan.key) if plan.keyed else None
            for chunk in prefetch(_hashed(intake.chunks(), hasher)):
                rows_in += chunk.rows_in
                table = chunk.table
                rejected += len(chunk.rejects)
                if chunk.rejects:
                    if plan.on_reject == "fail":
                        raise RejectedRowsError(
                            f"{len(chunk.rejects)} row(s) rejected and on_reject='fail': "
                            f"{chunk.rejects[0].reason}",
                            reasons=[r.reason for r in chunk.rejects[:20]],
                        )
                    all_rejects.extend(chunk.rejects)
                    if len(all_rejects) >= 10_000:
                        s.quarantine(load_id, plan.table, all_rejects)
                        all_rejects = []
                if not table.column_names:
                    continue
                self._check_columns(table.column_names, plan, list(existing or ()))
                if direct:
                    ctypes = {c: chunk.types.get(c, T.NULL) for c in table.column_names}
                    creating = creating or target is None
                    target, changes = s.prepare_append(plan, ctypes, target, creating)
                    direct_changes += changes
                    staged = True
                    if table.num_rows:
                        # all-null columns of unknown type are not created yet: nothing to write
                        table = table.select([c for c in table.column_names if c in target])
                        s.append_rows(plan.table, table, load_id)
                        appended += table.num_rows
                    continue
                if not staged:
                    stage_types = {c: chunk.types.get(c, T.NULL) for c in table.column_names}
                    s.stage_create(stage_types)
                    staged = True
                else:
                    for name, _old, new in chunk.widened:
                        if name in stage_types and stage_types[name] != new:
                            s.stage_alter(name, new)
                            stage_types[name] = new
                    for c in table.column_names:
                        if c not in stage_types:
                            stage_types[c] = chunk.types.get(c, T.NULL)
                            s.stage_add(c, stage_types[c])
                if table.num_rows:
                    s.stage_insert(table, seq)
                    seq += table.num_rows
                    if keys is not None:
                        keys.add(table, chunk.types)
            checksum = hasher.hexdigest()
            for k in plan.key if plan.keyed else ():
                self._check_name(k, "column")
            if not plan.force and mark.checksum == checksum:  # the same load again
                s.rollback()
                result = LoadResult(
                    load_id,
                    plan.table,
                    plan.strategy,
                    "skipped",
                    rows_in=rows_in,
                    skipped=rows_in,
                    checksum=checksum,
                    seconds=time.perf_counter() - t0,
                )
                self._dest.record_outside(
                    self._record(result, plan, started, mark.schema_version), self._params(plan)
                )
                return result
            if direct and existing is None and target is not None:
                desc = ", ".join(f"{c} {t}" for c, t in target.items())
                direct_changes = [f"created table {plan.table} ({desc})"]
            if direct:
                out = outcome(inserted=appended, schema_changes=direct_changes)
            else:
                if not staged:
                    s.stage_create({})
                s.staged_rows = seq
                s.distinct_keys = keys.count() if keys is not None else None
                out = self._apply(s, plan, load_id, intake, stage_types, existing, mark)
            changes = list(out["schema_changes"])
            if intake.dropped:
                changes.append(f"discarded unknown column(s) {', '.join(intake.dropped)}")
            changes.extend(intake.progress.notes)
            version = mark.schema_version + (1 if out["schema_changes"] else 0)
            s.quarantine(load_id, plan.table, all_rejects)
            if not direct:
                s.stage_drop()
            result = LoadResult(
                load_id,
                plan.table,
                plan.strategy,
                "committed",
                rows_in=rows_in,
                inserted=out["inserted"],
                updated=out["updated"],
                unchanged=out["unchanged"],
                deleted=out["deleted"],
                skipped=out["skipped"],
                deduplicated=out["deduplicated"],
                rejected=rejected,
                removed=out["removed"],
                schema_changes=changes,
                checksum=checksum,
                seconds=time.perf_counter() - t0,
                cursor_value=out["cursor_value"],
            )
            _check_accounting(result)
            s.journal(self._record(result, plan, started, version), self._params(plan))
            s.commit()
        return result

    def _apply(
        self,
        s: Any,
        plan: Plan,
        load_id: str,
        intake: Intake,
        stage_types: dict[str, str],
        existing: dict[str, str] | None,
        mark: Any,
    ) -> dict[str, Any]:
        types = {c: intake.types.get(c, T.NULL) for c in stage_types}
        for c, t in plan.hints.items():
            if c in types and types[c] == T.NULL:
                types[c] = t
        return dict(s.apply(plan, load_id, types, existing, mark.cursor_value))

    def _params(self, plan: Plan) -> dict[str, Any]:
        return {
            "key": list(plan.key),
            "cursor": plan.cursor,
            "contract": plan.contract,
            "on_reject": plan.on_reject,
            "force": plan.force,
            "columns": plan.hints,
        }

    def _record(
        self, r: LoadResult, plan: Plan, started: datetime, version: int, error: str | None = None
    ) -> LoadRecord:
        return LoadRecord(
            load_id=r.load_id,
            table=r.table,
            strategy=r.strategy,
            status=r.status,
            rows_in=r.rows_in,
            inserted=r.inserted,
            updated=r.updated,
            unchanged=r.unchanged,
            deleted=r.deleted,
            skipped=r.skipped,
            deduplicated=r.deduplicated,
            rejected=r.rejected,
            removed=r.removed,
            checksum=r.checksum,
            schema_version=version,
            cursor_column=plan.cursor if plan.strategy == "incremental" else None,
            cursor_value=r.cursor_value,
            started_at=started,
            finished_at=datetime.now(UTC),
            error=error,
            schema_changes=list(r.schema_changes),
        )

    def _record_failure(self, plan: Plan, load_id: str, started: datetime, e: FreightError) -> None:
        failed = LoadResult(load_id, plan.table, plan.strategy, "failed", error=str(e))
        try:
            self._dest.record_outside(
                self._record(failed, plan, started, 0, error=str(e)), self._params(plan)
            )
        except FreightError:
            pass  # the destination is gone; the original error says why

    # ------------------------------------------------------------------ reading

    def history(self, table: str | None = None, *, limit: int | None = None) -> list[LoadRecord]:
        """Journal records, newest first."""
        return self._dest.history(table, limit)

    def rejected(
        self, table: str | None = None, *, load_id: str | None = None, limit: int | None = None
    ) -> list[RejectedRow]:
        """Quarantined rows with the row as given and the reason, oldest first; at most
        ``limit`` of them when given."""
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigurationError(f"limit must be a positive integer, not {limit!r}")
        return self._dest.rejected(table, load_id, limit)

    def tables(self) -> list[str]:
        """User tables (freight's own ``_freight_*`` tables are not listed)."""
        return self._dest.tables()

    def schema(self, table: str) -> dict[str, str]:
        """Column name -> logical type."""
        cols = self._dest.schema(table)
        if cols is None:
            raise FreightError(f"no table {table!r}", table=table)
        return cols

    def read(self, table: str, columns: Sequence[str] | None = None) -> pa.Table:
        """The table's rows as Arrow (freight's ``_freight_*`` columns left out)."""
        return self._dest.read(table, columns)

    def health(self) -> Health:
        return self._dest.health()


class _KeyCount:
    """The number of distinct keys among the staged rows, counted here (no query) from the
    chunks' key columns, kept while the load has at most ``limit`` rows, and only for key
    types whose equality here is the destination's (``EXACT_EQUALITY``: not floats, where
    ``-0.0 = 0.0`` and NaN differ, nor JSON text, whose key order jsonb ignores)."""

    def __init__(self, key: tuple[str, ...], limit: int = 1_000_000) -> None:
        self.key = key
        self.limit = limit
        self.parts: list[Any] | None = []
        self.rows = 0

    def add(self, table: pa.Table | Columns, types: dict[str, str]) -> None:
        if self.parts is None:
            return
        self.rows += table.num_rows
        if self.rows > self.limit or any(types.get(k) not in EXACT_EQUALITY for k in self.key):
            self.parts = None
            return
        if any(k not in table.column_names for k in self.key):
            self.parts = None  # (rows without the key were rejected: cannot happen)
            return
        self.parts.append(table.select(list(self.key)))

    def count(self) -> int | None:
        if not self.parts:
            return 0 if self.parts is not None else None
        if len(self.parts) == 1 and isinstance(self.parts[0], Columns):
            return distinct_keys(self.parts[0], self.key)
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            parts = [p.to_arrow() if isinstance(p, Columns) else p for p in self.parts]
            table = pa.concat_tables(parts, promote_options="permissive")
            if len(self.key) == 1:
                return int(pc.count_distinct(table.column(0), mode="all").as_py())
            return table.group_by(list(self.key)).aggregate([]).num_rows
        except (pa.ArrowException, ValueError):
            return None


def _float_probe(dest: Any, table: str) -> Any:
    ask = getattr(dest, "stored_fits_float", None)
    return (lambda column: ask(table, column)) if ask else None


def prefetch(chunks: Iterator[Chunk], depth: int = 2) -> Iterator[Chunk]:
    """Yield ``chunks``, producing the next ones in a thread while the destination writes.

    The first chunk is produced inline: a small load never pays for a thread. The queue is
    bounded, so memory stays at ``depth`` chunks; an error in the producer is re-raised here;
    when the consumer stops early the producer is told to stop.
    """
    first = next(chunks, None)
    if first is None:
        return
    yield first
    if first.rows_in < 1000:  # the whole input fitted one small chunk
        yield from chunks
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for c in chunks:
                while not stop.is_set():
                    try:
                        q.put(c, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    worker = threading.Thread(target=produce, name="freight-intake", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.05)


def _hashed(chunks: Iterator[Chunk], hasher: Checksum) -> Iterator[Chunk]:
    """Feed the checksum, in the producer thread (hashing releases the GIL) while the
    destination writes the previous chunk."""
    for chunk in chunks:
        hasher.add(chunk.table, chunk.rejects)
        yield chunk


def _check_accounting(r: LoadResult) -> None:
    total = sum(r.counts.values())
    if total != r.rows_in:
        raise FreightError(
            f"internal accounting error: counters add up to {total}, {r.rows_in} rows came in; "
            "nothing was committed",
            table=r.table,
            load_id=r.load_id,
        )
