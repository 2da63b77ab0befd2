"""SIGKILL of a process in the middle of a load, on every destination.

A child process loads a generated input that kills its own process when row N is asked
for, swept over N (before the first chunk, between chunks, right after a new column
appears mid-load, once the input is used up), and a second sweep kills it from outside
after a delay (which may land in the commit). Afterwards the table is exactly as before
the load or as after it, the journal agrees, nothing is left behind, and re-running the
load applies it exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

import freight
from _conformance import stored_objects
from reliability._child import make_row
from reliability._support import CHILD, State, Tally, check_before_or_after, child, state, sweep

TOTAL = 600
CHUNK = 100
WIDE_FROM = 300  # the rows from here on carry a new column
LOADS = {
    "append": {"strategy": "append"},
    "merge": {"strategy": "merge", "key": "id"},
}


def prepare(url: str, load: dict) -> tuple[State, set[tuple[str, ...]]]:
    """A table holding a committed load, made the same way (a merge's rows overlap)."""
    stop = 10 if load.get("key") else 0
    with freight.connect(url) as ds:
        ds.load([make_row(i) for i in range(-50, stop)], "t", **load)
        objects = stored_objects(ds, url)
    return state(url, "t"), objects


def rerun_rows() -> list[dict]:
    return [make_row(i, i >= WIDE_FROM) for i in range(TOTAL)]


POINTS = [*range(0, TOTAL + 1, 50), WIDE_FROM - 1, WIDE_FROM, WIDE_FROM + 1, WIDE_FROM + 2]


@pytest.mark.parametrize(
    ("load", "kill_at"),
    sweep(
        [("append", 150), ("merge", WIDE_FROM + 1)],
        [(load, n) for load in LOADS for n in POINTS],
    ),
)
def test_killed_at_row_n(url: str, load: str, kill_at: int, tally: Tally) -> None:
    before, objects = prepare(url, LOADS[load])
    done = child(
        "kill_load",
        url=url,
        table="t",
        total=TOTAL,
        kill_at=kill_at,
        wide_from=WIDE_FROM,
        chunk_rows=CHUNK,
        **LOADS[load],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    tally["faults"] += 1
    found = check_before_or_after(
        url, "t", before, objects, rerun_rows(), tally, raised=True, **LOADS[load]
    )
    assert found == "before"  # a generator's load cannot commit before its input ends


@pytest.mark.parametrize("delay", sweep([1.0], [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0]))
def test_killed_after_a_delay(url: str, delay: float, tally: Tally) -> None:
    """Killed from outside while loading or committing: either outcome, never a half."""
    before, objects = prepare(url, LOADS["merge"])
    args = {
        "url": url,
        "table": "t",
        "total": TOTAL,
        "kill_at": -1,
        "wide_from": WIDE_FROM,
        "chunk_rows": CHUNK,
        **LOADS["merge"],
    }
    proc = subprocess.Popen([sys.executable, str(CHILD), "kill_load", json.dumps(args)])
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    tally["faults"] += 1
    check_before_or_after(url, "t", before, objects, rerun_rows(), tally, **LOADS["merge"])
