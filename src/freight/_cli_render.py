"""What the CLI prints: rich tables for people, JSON for pipelines, progress for slow loads.

Tables and JSON go to stdout; notes and progress go to stderr, so ``--json`` output can
be piped as is. A table that would not fit the terminal is shown one field a line instead:
no count or load id is ever cut short.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import orjson
import typer
from rich.console import Console, RenderableType
from rich.filesize import decimal
from rich.markup import escape
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ._result import Health, LoadRecord, LoadResult, Progress, RejectedRow
from ._url import mask_text

COUNTERS = ("rows_in", "inserted", "updated", "unchanged", "deleted", "skipped", "deduplicated")
ERROR_WIDTH = 20  # the error column of a loads table wraps, down to this width
STATUS_STYLE = {"committed": "green", "skipped": "yellow", "failed": "red", "dry_run": "cyan"}


def _out() -> Console:
    # piped output is not wrapped at 80 columns (unless COLUMNS says so): the load table is wide
    wide = sys.stdout.isatty() or os.environ.get("COLUMNS", "").strip()
    return Console(highlight=False, width=None if wide else 200)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _json(obj: Any) -> None:
    opts = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    typer.echo(orjson.dumps(obj, default=str, option=opts).decode())


def _add(t: Table, *cells: str | Text) -> None:
    """Add a row; text is shown as given, never read as rich markup."""
    t.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def _as_dict(obj: Any) -> dict[str, Any]:
    d = dataclasses.asdict(obj)
    if isinstance(obj, LoadRecord):
        d["seconds"] = obj.seconds
    return d


# ---------------------------------------------------------------------- progress


class Counter:
    """Rows read so far from stdin, shown before the load's first chunk is done."""

    n = 0


#: seconds a load runs before its progress line appears
DELAY = 1.0


def describe(label: str, p: Progress | None, rows: int = 0) -> RenderableType:
    """The progress line: rows (and bytes, when the reader counts them) read, rows per second
    and, when the input's size is known, a bar, the share done and the time left."""
    rows = max(rows, p.rows if p else 0)
    text = f"{label}: {rows:,} rows read"
    if p is not None and p.bytes_read is not None:
        of = f" of {decimal(p.total_bytes)}" if p.total_bytes else ""
        text += f" ({decimal(p.bytes_read)}{of})"
    if p is not None and p.seconds > 0:
        text += f", {p.rows_per_second:,.0f} rows/s"
    done = p.fraction if p is not None else None
    if p is None or done is None:
        return Text(text)
    eta = p.eta
    if eta is not None:
        text += f", {_duration(eta)} left"
    line = Table.grid(padding=(0, 1))
    line.add_row(ProgressBar(total=1.0, completed=done, width=30), Text(f"{done:4.0%}"), text)
    return line


def _duration(seconds: float) -> str:
    s = round(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class LoadProgress:
    """A transient progress line on stderr for a running load, fed by ``load(...,
    progress=...)``. It appears once the load has taken ``delay`` seconds, and only on a
    terminal; with ``delay=0`` it appears at once (the tests' way)."""

    def __init__(
        self,
        label: str,
        counter: Counter | None = None,
        *,
        delay: float | None = None,
        console: Console | None = None,
    ) -> None:
        self.label, self.counter = label, counter
        self.delay = DELAY if delay is None else delay
        self.console = console or _err()
        self.last: Progress | None = None
        self._lock = threading.Lock()
        self._done = False
        self._status: Any = None

    def __call__(self, p: Progress) -> None:
        """The load's progress hook: remember the latest figures for the next refresh."""
        self.last = p

    def __rich__(self) -> RenderableType:
        return describe(self.label, self.last, self.counter.n if self.counter else 0)

    def _start(self) -> None:
        with self._lock:
            if not self._done:
                self._status = self.console.status(self)
                self._status.start()

    def __enter__(self) -> LoadProgress:
        self._timer = threading.Timer(self.delay, self._start)
        self._timer.daemon = True
        if self.console.is_terminal and self.delay <= 0:
            self._start()
        elif self.console.is_terminal:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._status is not None:
                self._status.stop()


# ---------------------------------------------------------------------- loads


def _fits(console: Console, table: Table, spare: int = 0) -> bool:
    """Whether ``table`` fits the console with every cell whole (``spare``: columns kept for
    a column that may wrap)."""
    need = Measurement.get(console, console.options.update_width(100_000), table).maximum
    return need + spare <= console.width


def _loads_table(rows: Sequence[LoadResult | LoadRecord], errors: bool) -> Table:
    t = Table()
    t.add_column("table", no_wrap=True)
    t.add_column("strategy", no_wrap=True)
    t.add_column("status", no_wrap=True)
    for name in (*COUNTERS, "rejected"):
        t.add_column(name.replace("_", " "), justify="right", no_wrap=True)
    t.add_column("seconds", justify="right", no_wrap=True)
    t.add_column("load id", no_wrap=True)
    if errors:
        t.add_column("error", min_width=ERROR_WIDTH)
    for r in rows:
        status = Text(r.status, style=STATUS_STYLE.get(r.status, ""))
        counts = [f"{getattr(r, n):,}" for n in (*COUNTERS, "rejected")]
        cells: list[str | Text] = [
            r.table,
            r.strategy,
            status,
            *counts,
            f"{r.seconds:.2f}",
            r.load_id,
        ]
        _add(t, *cells, *([r.error or ""] if errors else []))
    return t


def _load_fields(r: LoadResult | LoadRecord) -> Table:
    """One load, one field a line: for a terminal too narrow for the table."""
    t = Table(show_header=False)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    _add(t, "table", r.table)
    _add(t, "strategy", r.strategy)
    _add(t, "status", Text(r.status, style=STATUS_STYLE.get(r.status, "")))
    for name in (*COUNTERS, "rejected"):
        _add(t, name.replace("_", " "), f"{getattr(r, name):,}")
    _add(t, "seconds", f"{r.seconds:.2f}")
    _add(t, "load id", r.load_id)
    if r.error:
        _add(t, "error", r.error)
    return t


def _print_loads(rows: Sequence[LoadResult | LoadRecord]) -> None:
    out = _out()
    errors = any(r.error for r in rows)
    if _fits(out, _loads_table(rows, errors=False), ERROR_WIDTH + 3 if errors else 0):
        out.print(_loads_table(rows, errors))
        return
    for r in rows:
        out.print(_load_fields(r))


def loads(results: Sequence[LoadResult], as_json: bool) -> None:
    if as_json:
        _json([_as_dict(r) for r in results])
    else:
        _print_loads(results)
    err = _err()
    for r in results:
        for change in r.schema_changes:
            err.print(f"{escape(r.table)}: {escape(change)}")
        if r.status == "dry_run":
            err.print(f"{escape(r.table)}: dry run, nothing was committed")
        if r.status == "skipped":
            err.print(
                f"{escape(r.table)}: skipped, the same data as its last load; "
                "--force loads it again"
            )
        if r.rejected and r.status == "dry_run":
            err.print(f"{escape(r.table)}: {r.rejected:,} row(s) would be quarantined")
        elif r.rejected:
            err.print(
                f"{escape(r.table)}: {r.rejected:,} row(s) quarantined; see "
                f"freight rejected {escape(r.table)} --load-id {r.load_id}"
            )


def history(records: Sequence[LoadRecord], as_json: bool) -> None:
    if as_json:
        _json([_as_dict(r) for r in records])
    elif not records:
        _err().print("no loads yet")
    else:
        _print_loads(records)


# ---------------------------------------------------------------------- the rest


def tables(names: Sequence[str], as_json: bool) -> None:
    if as_json:
        _json(list(names))
    elif not names:
        _err().print("no tables yet")
    else:
        t = Table("table")
        for name in names:
            _add(t, name)
        _out().print(t)


def schema(table: str, columns: dict[str, str], as_json: bool) -> None:
    if as_json:
        _json(columns)
        return
    t = Table("column", "type", title=table)
    for name, type_ in columns.items():
        _add(t, name, type_)
    _out().print(t)


def rejected(rows: Sequence[RejectedRow], more: bool, as_json: bool) -> None:
    """``more``: rows beyond the ``--limit`` exist."""
    if as_json:
        _json([_as_dict(r) for r in rows])
        return
    if not rows:
        _err().print("no rejected rows")
        return
    t = Table()
    ids = max(len(r.load_id) for r in rows)
    t.add_column("load id", no_wrap=True, min_width=ids)  # whole: it is meant to be copied
    t.add_column("table", overflow="fold")
    t.add_column("row", justify="right", no_wrap=True)
    t.add_column("reason", ratio=1, overflow="fold")
    t.add_column("as given", ratio=2, overflow="fold")
    for r in rows:
        given = orjson.dumps(r.row, default=str).decode()
        number = "" if r.row_number is None else str(r.row_number)
        _add(t, r.load_id, r.table, number, r.reason, given)
    _out().print(t)
    if more:
        _err().print(f"showing the first {len(rows)} rows; --limit 0 shows all")


def health(report: Health, as_json: bool) -> None:
    report = dataclasses.replace(report, url=mask_text(report.url))
    if as_json:
        _json(_as_dict(report))
        return
    t = Table("", "", show_header=False)
    ok = Text("ok" if report.ok else "NOT OK", style="green" if report.ok else "red")
    _add(t, "status", ok)
    for field in ("destination", "url", "version", "tables", "loads", "failed_loads"):
        _add(t, field.replace("_", " "), str(getattr(report, field)))
    _add(t, "rejected rows", str(report.rejected_rows))
    _add(t, "answered in", f"{report.seconds:.3f}s")
    for k, v in report.detail.items():
        _add(t, str(k), mask_text(str(v)))
    _out().print(t)
