"""``connect`` and ``Dataset``: the one path data takes, intake -> plan -> destination."""

from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

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
from ._plan import (
    RESERVED_PREFIX,
    Plan,
    absent_columns,
    check_identifier,
    check_max_rejected,
    make_plan,
    reserved,
    too_many_rejected,
)
from ._readers import DEFAULT_CHUNK_ROWS
from ._result import (
    INPUT_COUNTERS,
    Health,
    LoadRecord,
    LoadResult,
    Progress,
    RejectedRow,
    outcome,
)
from ._url import mask_url
from .destinations._base import Destination, open_destination

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_URL = "duckdb:///freight.duckdb"


def new_load_id() -> str:
    """Time-ordered, unique: ``20261122T035501123-9f3a1c``."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


#: seconds ``connect`` keeps retrying a transient failure to open (see ``connect``)
DEFAULT_WAIT = 5.0


def connect(url: str | None = None, *, wait: float = DEFAULT_WAIT, **options: Any) -> Dataset:
    """Open a dataset at ``url`` (default ``duckdb:///freight.duckdb``).

    A transient failure to open (a DuckDB file another process holds, a refused or dropped
    connection) is retried with the loads' backoff until ``wait`` seconds have passed
    (``wait=0``: one attempt). Other keyword options go to the destination (e.g.
    ``read_only=True`` for DuckDB, ``retries=5`` for any destination)."""
    return Dataset(url or DEFAULT_URL, wait=wait, **options)


#: the pause between attempts of a load (or of opening a destination)
_BACKOFF = wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05)


def _retryable(e: BaseException) -> bool:
    return isinstance(e, DestinationError) and e.transient


def _retrying(stop: Any) -> Retrying:
    """The one retry policy of opening and loading: transient errors, backed off."""
    return Retrying(stop=stop, wait=_BACKOFF, retry=retry_if_exception(_retryable), reraise=True)


def _open(url: str, options: dict[str, Any], wait: float) -> Destination:
    """Open the destination, retrying a transient failure until ``wait`` seconds passed."""
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not wait >= 0:
        raise ConfigurationError(f"wait must be a number of seconds >= 0, not {wait!r}")
    try:
        for attempt in _retrying(stop_after_delay(wait)):
            with attempt:
                return open_destination(url, options)
    except DestinationError as e:
        if e.transient and wait:
            e.message = f"{e.message}; still so after waiting {wait:g} s (connect(wait=...))"
            e.args = (e.message,)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


class Dataset:
    """An open destination. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        url: str,
        *,
        retries: int | None = None,
        chunk_rows: int | None = None,
        wait: float = DEFAULT_WAIT,
        **options: Any,
    ) -> None:
        self.url = mask_url(url)
        self._retries = retries
        self.chunk_rows = chunk_rows
        self._dest: Destination = _open(url, options, wait)

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
        max_rejected: float | None = None,
        dry_run: bool = False,
        progress: Callable[[Progress], object] | None = None,
    ) -> LoadResult:
        """Load ``data`` into ``table`` atomically; see the README for the strategies.

        ``max_rejected``: fail the load (``RejectedRowsError``, nothing committed) when more
        rows than this are rejected: a number of rows, or a fraction of the rows (``0.1``).
        ``dry_run``: do everything but commit; the result (status ``dry_run``) says what the
        load would do, and nothing is written, not even to the journal. ``progress``: called
        after each chunk with a ``Progress``.
        """
        limit = check_max_rejected(max_rejected)
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
        in_doubt = False  # a COMMIT went unanswered: the journal tells whether it took effect
        try:
            for attempt in _retrying(stop_after_attempt(attempts)):
                with attempt:
                    if in_doubt and (done := self._settled(load_id, t0)) is not None:
                        return done
                    run = _Run(load_id, started, t0, limit, dry_run, progress)
                    try:
                        return self._load_once(data, plan, run)
                    except DestinationError as e:
                        if not e.context.get("in_doubt"):
                            raise
                        in_doubt = True
                        if (done := self._settled(load_id, t0)) is not None:
                            return done
                        raise
        except FreightError as e:
            e.load_id = e.load_id or load_id
            e.table = e.table or plan.table
            if not dry_run:
                self._record_failure(plan, load_id, started, e)
            raise
        except (
            Exception
        ) as e:  # the input's own error (e.g. a generator raising): journal it, re-raise it
            err = FreightError(f"{type(e).__name__}: {e}", table=plan.table, load_id=load_id)
            if not dry_run:
                self._record_failure(plan, load_id, started, err)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _settled(self, load_id: str, t0: float) -> LoadResult | None:
        """The outcome of a load whose COMMIT went unanswered, as the journal has it; None
        when it did not commit or the journal cannot be asked now. (A retry is safe either
        way: the journal's unique load id refuses a second outcome.)"""
        find = getattr(self._dest, "find_load", None)
        try:
            r = find(load_id) if find else None
        except DestinationError:
            return None
        if r is None or r.status == "failed":
            return None
        return LoadResult(
            r.load_id,
            r.table,
            r.strategy,
            r.status,
            rows_in=r.rows_in,
            **{name: getattr(r, name) for name in INPUT_COUNTERS},
            removed=r.removed,
            schema_changes=list(r.schema_changes),
            checksum=r.checksum,
            seconds=time.perf_counter() - t0,
            cursor_value=r.cursor_value,
        )

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
        """Each name must be one the destination holds as given: not freight's reserved prefix
        (in any case), and, where names fold case, not another column's name in other case."""
        folds = self._dest.capabilities.case_insensitive_identifiers
        seen: dict[str, str] = {c.lower(): c for c in stored}
        for c in names:
            self._check_name(c, "column")
            if reserved(c):
                raise InvalidIdentifierError(
                    f"column name {c!r} uses freight's reserved prefix {RESERVED_PREFIX!r}",
                    column=c,
                    table=plan.table,
                )
            low = c.lower()
            if folds and low in seen and seen[low] != c:
                raise InvalidIdentifierError(
                    f"columns {seen[low]!r} and {c!r} differ only by case: "
                    f"{self._dest.capabilities.name} folds the case of names, so they would be "
                    "one column; rename one of them",
                    column=c,
                    table=plan.table,
                )
            seen[low] = c

    def _load_once(self, data: Any, plan: Plan, run: _Run) -> LoadResult:
        load_id, started, t0 = run.load_id, run.started, run.t0
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
            refused: DestinationError | None = None  # a direct append the table refused
            keys = _KeyCount(plan.key) if plan.keyed else None
            reasons: list[str] = []
            seen: list[str] = []
            for chunk in prefetch(_hashed(intake.chunks(), hasher)):
                rows_in += chunk.rows_in
                seen = chunk.seen
                table = chunk.table
                rejected += len(chunk.rejects)
                run.report(rows_in, intake)
                if chunk.rejects:
                    reasons.extend(r.reason for r in chunk.rejects[: 20 - len(reasons)])
                    _stop_on_rejects(plan, run, chunk, rejected, rows_in, reasons)
                    if not run.dry_run and refused is None:  # refused: only hashing now
                        all_rejects.extend(chunk.rejects)
                    if len(all_rejects) >= 10_000:
                        s.quarantine(load_id, plan.table, all_rejects)
                        all_rejects = []
                if not table.column_names:
                    continue
                self._check_columns(table.column_names, plan, list(existing or ()))
                if direct:
                    if refused is not None:
                        continue  # the rest is only hashed (see below)
                    ctypes = {c: chunk.types.get(c, T.NULL) for c in table.column_names}
                    creating = creating or target is None
                    try:
                        target, changes = s.prepare_append(plan, ctypes, target, creating)
                        direct_changes += changes
                        staged = True
                        if table.num_rows:
                            # all-null columns of unknown type are not created yet
                            table = table.select([c for c in table.column_names if c in target])
                            s.append_rows(plan.table, table, load_id)
                            appended += table.num_rows
                    except DestinationError as e:
                        # The table refused the rows (a key it holds): an identical re-run of
                        # its last load does that. Roll back, hash the rest, and let the
                        # checksum decide between "skipped" and this error.
                        if not _violates_constraint(e) or plan.force:
                            raise
                        refused = e
                        s.rollback()
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
            if too_many_rejected(run.limit, rejected, rows_in):
                assert run.limit is not None
                raise _too_many(run.limit, rejected, rows_in, reasons, done=True)
            if rows_in:
                missing = absent_columns(plan, seen)
                if missing is not None:
                    raise missing
            checksum = hasher.hexdigest()
            for k in plan.key if plan.keyed else ():
                self._check_name(k, "column")
            if not plan.force and mark.checksum == checksum:  # the same load again
                s.rollback()
                result = LoadResult(
                    load_id,
                    plan.table,
                    plan.strategy,
                    "dry_run" if run.dry_run else "skipped",
                    rows_in=rows_in,
                    skipped=rows_in,
                    checksum=checksum,
                    seconds=time.perf_counter() - t0,
                )
                if not run.dry_run:
                    self._dest.record_outside(
                        self._record(result, plan, started, mark.schema_version),
                        self._params(plan),
                    )
                return result
            if refused is not None:
                raise refused
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
            if not run.dry_run:
                s.quarantine(load_id, plan.table, all_rejects)
            if not direct:
                s.stage_drop()
            result = LoadResult(
                load_id,
                plan.table,
                plan.strategy,
                "dry_run" if run.dry_run else "committed",
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
            if run.dry_run:
                s.rollback()
                return result
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


@dataclass(slots=True)
class _Run:
    """One attempt of a load: its id and clock, and the options that shape its course."""

    load_id: str
    started: datetime
    t0: float
    limit: float | None  # max_rejected
    dry_run: bool
    progress: Callable[[Progress], object] | None

    def report(self, rows: int, intake: Intake) -> None:
        if self.progress is not None:
            self.progress(
                Progress(
                    rows=rows,
                    seconds=time.perf_counter() - self.t0,
                    bytes_read=intake.bytes_read if intake.progress.bytes_total else None,
                    total_bytes=intake.progress.bytes_total,
                )
            )


def _stop_on_rejects(
    plan: Plan,
    run: _Run,
    chunk: Chunk,
    rejected: int,
    rows_in: int,
    reasons: list[str],
) -> None:
    """Fail the load on this chunk's rejects when ``on_reject='fail'``, or when they pass an
    integer ``max_rejected`` (a fraction is judged at the end). When no row so far has the
    key (or cursor) column, that is the error: the likely cause of the rejects."""
    over = isinstance(run.limit, int) and rejected > run.limit
    if plan.on_reject != "fail" and not over:
        return
    missing = absent_columns(plan, chunk.seen)
    if missing is not None:
        raise missing
    if plan.on_reject == "fail":
        raise RejectedRowsError(
            f"{len(chunk.rejects)} row(s) rejected and on_reject='fail': {chunk.rejects[0].reason}",
            reasons=[r.reason for r in chunk.rejects[:20]],
            rejected=rejected,
            rows_in=rows_in,
        )
    assert run.limit is not None
    raise _too_many(run.limit, rejected, rows_in, reasons, done=False)


def _too_many(
    limit: float, rejected: int, rows_in: int, reasons: list[str], *, done: bool
) -> RejectedRowsError:
    if isinstance(limit, int):
        allowed = f"at most {limit:,} row{'' if limit == 1 else 's'}"
    else:
        allowed = f"at most {limit * 100:g}% of the rows"
    read = f"{rows_in:,} rows" if done else f"the first {rows_in:,} rows"
    first = f": {reasons[0]}" if reasons else ""
    return RejectedRowsError(
        f"{rejected:,} of {read} rejected, more than max_rejected allows ({allowed}); "
        f"nothing was committed{first}",
        reasons=list(reasons),
        rejected=rejected,
        rows_in=rows_in,
    )


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
    destination writes the previous chunk. An Arrow chunk larger than a streamed one (an
    input held in memory comes as one) is hashed in a thread of its own while the destination
    writes that very chunk; chunks are still hashed one after the other, in order, and the
    last is done before this iterator ends (the digest is read after the loop)."""
    pending: _Hashing | None = None
    try:
        for chunk in chunks:
            if pending is not None:
                pending.wait()
                pending = None
            if chunk.rows_in > DEFAULT_CHUNK_ROWS and not isinstance(chunk.table, Columns):
                pending = _Hashing(hasher, chunk)
            else:
                hasher.add(chunk.table, chunk.rejects)
            yield chunk
        if pending is not None:
            pending.wait()
            pending = None
    finally:
        if pending is not None:  # the load stopped early: let the thread finish, ignore it
            pending.thread.join()


class _Hashing:
    """``hasher.add`` of one chunk in a thread; ``wait()`` re-raises its error."""

    def __init__(self, hasher: Checksum, chunk: Chunk) -> None:
        self.error: BaseException | None = None

        def run() -> None:
            try:
                hasher.add(chunk.table, chunk.rejects)
            except BaseException as e:  # re-raised by wait()
                self.error = e

        self.thread = threading.Thread(target=run, name="freight-hash", daemon=True)
        self.thread.start()

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _violates_constraint(e: DestinationError) -> bool:
    """Whether the destination refused rows by a constraint of the table (a key it already
    holds, a NOT NULL column): PostgreSQL's SQLSTATE class 23, DuckDB's constraint errors."""
    return bool(e.context.get("constraint")) or str(e.context.get("sqlstate") or "").startswith(
        "23"
    )


def _check_accounting(r: LoadResult) -> None:
    total = sum(r.counts.values())
    if total != r.rows_in:
        raise FreightError(
            f"internal accounting error: counters add up to {total}, {r.rows_in} rows came in; "
            "nothing was committed",
            table=r.table,
            load_id=r.load_id,
        )
