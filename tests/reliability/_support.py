"""What the reliability tests share: the sweep width, the session's tally and its report,
the before/after check every fault ends with, and the child processes that get killed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import freight
from _conformance import assert_accounted, stored_objects

FULL = os.environ.get("FREIGHT_RELIABILITY", "").lower() == "full"
CHILD = Path(__file__).with_name("_child.py")

FIGURES = {
    "faults": "faults injected (kills, cuts, terminations, disk full)",
    "inputs": "hostile inputs tried",
    "rows_checked": "rows checked (after faults, concurrent runs, round trips, streamed loads)",
    "rows_lost": "rows lost",
    "duplicates": "duplicate keys",
    "leftovers": "leftover objects (staging, side tables)",
    "lock_waits": "times a DuckDB writer process found the file held and waited",
    "secrets_checked": "objects reachable from errors, and CLI outputs, searched for the canary",
    "leaked_secrets": "leaked secrets",
}


def sweep(quick: list[Any], full: list[Any]) -> list[Any]:
    """The points of a sweep: a few in the normal run, all of them in the full one."""
    return full if FULL else quick


class Tally(Counter[str]):
    """One test's counters (keys of ``FIGURES``); ``memory`` holds peak RSS figures (KiB)
    by (destination, rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.memory: dict[tuple[str, int], int] = {}


def write_report(
    target: Path, tallies: dict[str, Tally], xfailed: set[str], session: pytest.Session
) -> None:
    """Write the figures to ``target``, keeping its hand-written part (from ``## What is
    attacked`` on). Counts of the tests that failed as a known bug says (xfail) are shown
    apart: they are what the open fixes will turn into passing cases."""
    ok: Counter[str] = Counter()
    known: Counter[str] = Counter()
    memory: dict[tuple[str, int], int] = {}
    for test, t in tallies.items():
        (known if test in xfailed else ok).update(t)
        memory.update(t.memory)
    stats = session.config.pluginmanager.get_plugin("terminalreporter").stats  # type: ignore[union-attr]
    outcomes = ", ".join(
        f"{len(stats.get(k, []))} {k}" for k in ("passed", "failed", "xfailed", "skipped")
    )
    lines = [
        "# Reliability",
        "",
        "`make reliability` attacks every destination the way an outsider would and writes",
        "this page. What each part does is [below](#what-is-attacked).",
        "",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{'full' if FULL else 'bounded'} sweep: {outcomes}.",
        "Tests marked xfail are known bugs waiting for their fixes; what they counted is in",
        "the last column.",
        "",
        "| figure | passing tests | known-bug tests (xfail) |",
        "|---|---:|---:|",
        *(f"| {label} | {ok[k]:,} | {known[k]:,} |" for k, label in FIGURES.items()),
        "",
        "Peak resident memory of a child process streaming generated rows into each",
        "destination (`VmHWM` of /proc/self/status, else `ru_maxrss`):",
        "",
        "| destination | rows | peak RSS (MiB) |",
        "|---|---:|---:|",
        *(f"| {d} | {n:,} | {kib / 1024:,.0f} |" for (d, n), kib in sorted(memory.items())),
        "",
    ]
    doc = target.read_text() if target.exists() else ""
    marker = "## What is attacked"
    tail = doc[doc.index(marker) :] if marker in doc else marker + "\n"
    target.write_text("\n".join(lines) + "\n" + tail)


# ------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class State:
    """A table as a reader sees it plus the journal's committed loads of it."""

    rows: tuple[tuple[tuple[str, Any], ...], ...]
    columns: tuple[str, ...]
    committed: tuple[str, ...]  # checksums of the committed loads, oldest first
    two_outcomes: tuple[str, ...]  # load ids the journal holds more than one row for

    @property
    def size(self) -> int:
        return len(self.rows)


def state(url: str, table: str) -> State:
    with freight.connect(url) as ds:
        if table not in ds.tables():
            return State((), (), (), ())
        data = ds.read(table).to_pylist()
        history = ds.history(table)
    rows = tuple(sorted((tuple(sorted(r.items())) for r in data), key=repr))
    columns = tuple(sorted(data[0])) if data else ()
    committed = tuple(
        h.checksum for h in sorted(history, key=lambda h: h.started_at) if h.status == "committed"
    )
    ids = Counter(h.load_id for h in history)
    return State(rows, columns, committed, tuple(sorted(i for i, n in ids.items() if n > 1)))


def check_before_or_after(
    url: str,
    table: str,
    before: State,
    objects_before: set[tuple[str, ...]],
    rerun: list[dict],
    tally: Tally,
    *,
    raised: bool | None = None,
    **load: Any,
) -> str:
    """After a fault: the table and its journal are exactly the state before the load or
    the state after it, nothing is left behind, and re-running the load (``rerun``, the
    same rows as a list) applies it exactly once. ``raised``: the load raised an error (so
    it must not have committed) or returned (so it must have). Returns the state found."""
    now = state(url, table)
    assert not now.two_outcomes, f"load ids with two outcomes in the journal: {now.two_outcomes}"
    with freight.connect(url) as ds:
        leftovers = stored_objects(ds, url) - objects_before - _own_objects(ds, url, table)
        tally["leftovers"] += len(leftovers)
        assert not leftovers, leftovers
        r = ds.load(rerun, table, **load)
        assert_accounted(r)
    after = state(url, table)
    tally["rows_checked"] += now.size + after.size
    if raised is not None:
        assert (now == before) == raised, "the load's outcome is not what the caller was told"
    if now == before:
        found = "before"
        assert r.status == "committed", r
        assert len(after.committed) == len(before.committed) + 1
    else:
        found = "after"
        assert r.status == "skipped", r  # the load had committed: the re-run knows it
        assert now == after, "the table is neither before nor after the load"
        assert len(now.committed) == len(before.committed) + 1, now.committed
    stored = {dict(r)["id"]: dict(r) for r in after.rows}
    lost = set(_keys(before)) - set(stored)
    lost |= {row["id"] for row in rerun if not _holds(stored.get(row["id"]), row)}
    tally["rows_lost"] += len(lost)
    assert not lost, f"rows missing or not as loaded: {sorted(lost)[:10]}"
    dupes = _duplicates(after)
    tally["duplicates"] += dupes
    assert dupes == 0
    return found


def _holds(stored: dict[str, Any] | None, row: dict[str, Any]) -> bool:
    return stored is not None and all(stored.get(c) == v for c, v in row.items())


def _keys(s: State) -> list[Any]:
    return [dict(r).get("id") for r in s.rows]


def _duplicates(s: State) -> int:
    ids = _keys(s)
    return len(ids) - len(set(ids)) if all(i is not None for i in ids) else 0


def _own_objects(ds: freight.Dataset, url: str, table: str) -> set[tuple[str, ...]]:
    """The objects a load may create: its table and freight's journal and quarantine."""
    names = {table, "_freight_loads", "_freight_rejected"}
    return {o for o in stored_objects(ds, url) if names & set(o)}


# ------------------------------------------------------------------------------ children


def child(action: str, timeout: float = 300, **args: Any) -> subprocess.CompletedProcess[str]:
    """Run ``_child.py action`` in a fresh interpreter with the same freight on the path."""
    return subprocess.run(
        [sys.executable, str(CHILD), action, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )


def child_json(action: str, timeout: float = 300, **args: Any) -> Any:
    done = child(action, timeout, **args)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
