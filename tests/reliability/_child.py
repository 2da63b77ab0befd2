"""The child processes of the reliability suite: ``python _child.py ACTION JSON-ARGS``.

A child prints one JSON line with what it saw (a killed child prints nothing)."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import freight


def make_row(i: int, wide: bool = False) -> dict[str, Any]:
    """Row ``i`` of a generated load; ``wide`` adds a column the table does not have yet."""
    row: dict[str, Any] = {"id": i, "v": f"value {i}", "x": i * 0.5}
    if wide:
        row["extra"] = f"new {i}"
    return row


def kill_load(url: str, table: str, total: int, kill_at: int, wide_from: int, **load: Any) -> None:
    """Load ``total`` generated rows and SIGKILL this process when row ``kill_at`` is asked
    for (``kill_at == total``: once the input is used up). Rows from ``wide_from`` on carry a
    new column: a schema change in the middle of the load."""

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(total):
            if i == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            yield make_row(i, i >= wide_from)
        if kill_at == total:
            os.kill(os.getpid(), signal.SIGKILL)

    with freight.connect(url, chunk_rows=load.pop("chunk_rows", None)) as ds:
        r = ds.load(rows(), table, **load)
    print(json.dumps({"status": r.status}))


def merge_writer(url: str, w: int, rounds: int, span: int, step: int, reopen: bool) -> None:
    """Merge ``rounds`` rounds of keys overlapping the other writers'; report every load
    acknowledged. ``reopen``: open the dataset for each round (a DuckDB file is held by one
    process at a time), waiting while another process holds it."""
    acks = []
    locked = 0
    ds = None if reopen else freight.connect(url, retries=8)
    for r in range(rounds):
        keys = range(w * step + r * 7, w * step + r * 7 + span)
        batch = [{"id": k, "w": w, "r": r, "val": f"w{w}r{r}k{k}"} for k in keys]
        while reopen:
            try:
                ds = freight.connect(url, retries=8)
                break
            except freight.LockedError:
                locked += 1
                time.sleep(0.01)
        assert ds is not None
        res = ds.load(batch, "t", strategy="merge", key="id")
        acks.append([r, res.load_id, res.status, list(keys[:: len(keys) - 1])])
        if reopen:
            ds.close()
    if ds is not None and not reopen:
        ds.close()
    print(json.dumps({"acks": acks, "locked": locked}))


def hold(url: str, seconds: float) -> None:
    """Open a dataset, load one row, and keep the dataset open for ``seconds``."""
    with freight.connect(url) as ds:
        ds.load([{"id": -1, "w": -1, "r": -1, "val": "holder"}], "t", strategy="merge", key="id")
        print(json.dumps({"ready": True}), flush=True)
        time.sleep(seconds)
    print(json.dumps({"done": True}))


def memory(url: str, rows: int, chunk_rows: int | None) -> None:
    """Stream ``rows`` generated rows (never held in a list) and report the peak RSS."""
    gen = ({"id": i, "v": f"value {i}", "x": i * 0.5} for i in range(rows))
    with freight.connect(url, chunk_rows=chunk_rows) as ds:
        r = ds.load(gen, "big")
    print(json.dumps({"inserted": r.inserted, "maxrss_kib": peak_rss_kib()}))


def peak_rss_kib() -> int:
    """This process's peak RSS. Linux's ``ru_maxrss`` counts the RSS the parent had when it
    forked this process (carried over exec), so a big test runner would hide the load's
    own peak: ``VmHWM`` is this program's alone; ``ru_maxrss`` elsewhere."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    actions = {f.__name__: f for f in (kill_load, merge_writer, hold, memory)}
    actions[sys.argv[1]](**json.loads(sys.argv[2]))
