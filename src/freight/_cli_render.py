"""What the CLI prints: rich tables for people, JSON for pipelines, a spinner for slow loads.

Tables and JSON go to stdout; notes and the spinner go to stderr, so ``--json`` output can
be piped as is.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ._result import Health, LoadRecord, LoadResult, RejectedRow
from ._url import mask_text

COUNTERS = ("rows_in", "inserted", "updated", "unchanged", "deleted", "skipped", "deduplicated")
STATUS_STYLE = {"committed": "green", "skipped": "yellow", "failed": "red"}


def _out() -> Console:
    # piped output is not wrapped at 80 columns: the load table is wide
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


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
    """Rows read so far, shown by the spinner."""

    n = 0


class Spinner:
    """A transient status line on stderr that appears only once a load has taken ``delay``
    seconds (and only on a terminal)."""

    def __init__(
        self,
        label: str,
        counter: Counter | None = None,
        *,
        delay: float = 1.0,
        console: Console | None = None,
    ) -> None:
        self.label, self.counter, self.delay = label, counter, delay
        self.console = console or _err()
        self._lock = threading.Lock()
        self._done = False
        self._status: Any = None

    def __rich__(self) -> Text:
        seconds = time.monotonic() - self._t0
        rows = f", {self.counter.n:,} rows read" if self.counter else ""
        return Text(f"{self.label} ({seconds:.0f}s{rows})")

    def _start(self) -> None:
        with self._lock:
            if not self._done:
                self._status = self.console.status(self)
                self._status.start()

    def __enter__(self) -> Spinner:
        self._t0 = time.monotonic()
        self._timer = threading.Timer(self.delay, self._start)
        self._timer.daemon = True
        if self.console.is_terminal:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._status is not None:
                self._status.stop()


# ---------------------------------------------------------------------- loads


def _loads_table(rows: Sequence[LoadResult | LoadRecord], title: str | None = None) -> Table:
    t = Table(title=title)
    t.add_column("table", no_wrap=True)
    t.add_column("strategy")
    t.add_column("status")
    for name in (*COUNTERS, "rejected"):
        t.add_column(name.replace("_", " "), justify="right")
    t.add_column("seconds", justify="right")
    t.add_column("load id", no_wrap=True)
    errors = any(r.error for r in rows)
    if errors:
        t.add_column("error")
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


def loads(results: Sequence[LoadResult], as_json: bool) -> None:
    if as_json:
        _json([_as_dict(r) for r in results])
        return
    _out().print(_loads_table(results))
    err = _err()
    for r in results:
        for change in r.schema_changes:
            err.print(f"{escape(r.table)}: {escape(change)}")
        if r.status == "skipped":
            err.print(
                f"{escape(r.table)}: skipped, the same data as its last load; "
                "--force loads it again"
            )
        if r.rejected:
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
        _out().print(_loads_table(records))


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
    t = Table("load id", "table", "row", "reason", "as given")
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
