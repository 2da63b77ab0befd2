"""Concurrency on every destination: four processes merging overlapping keys, a reader
polling through replaces, and two DuckDB writers (processes) to one file."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import freight
from _conformance import kind, raw_rows
from reliability._support import CHILD, Tally, child_json, sweep

WRITERS = 4


@pytest.mark.parametrize("rounds", sweep([1], [20]))
def test_processes_merging_overlapping_keys(url: str, rounds: int, tally: Tally) -> None:
    """Every acknowledged write is there, no key twice, each key's row was written by a
    load some writer was told committed. A DuckDB file is held by one process at a time,
    so there each writer opens the dataset for each round, waiting while it is held."""
    reopen = url.startswith("duckdb")
    args = {"rounds": rounds, "span": 120, "step": 60, "reopen": reopen}
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), "merge_writer", json.dumps({"url": url, "w": w, **args})],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * WRITERS
    reports = [json.loads(o.strip().splitlines()[-1]) for o in outs]
    tally["lock_waits"] += sum(rep["locked"] for rep in reports)
    acked: dict[str, tuple[int, int]] = {}
    written: set[int] = set()
    for w, rep in enumerate(reports):
        assert len(rep["acks"]) == rounds
        for r, load_id, status, (first, last) in rep["acks"]:
            assert status == "committed"
            acked[load_id] = (w, r)
            written.update(range(first, last + 1))
    with freight.connect(url) as ds:
        stored = raw_rows(ds, "t")
    ids = [row["id"] for row in stored]
    tally["rows_checked"] += len(stored)
    tally["duplicates"] += len(ids) - len(set(ids))
    tally["rows_lost"] += len(written - set(ids))
    assert len(ids) == len(set(ids))
    assert set(ids) == written
    for row in stored:
        assert acked[row["_freight_load_id"]] == (row["w"], row["r"])
        assert row["val"] == f"w{row['w']}r{row['r']}k{row['id']}"


@pytest.mark.parametrize("versions", sweep([6], [30]))
def test_a_reader_never_sees_a_partial_replace(url: str, versions: int, tally: Tally) -> None:
    """A reader (its own dataset, in a thread) reads the table while it is replaced again
    and again: every read is one whole version, never empty, never two mixed. The writer
    waits for a read after each replace, so each version is seen (no timing decides it)."""
    sizes = [3000 + 250 * v for v in range(versions)]
    seen: list[tuple[frozenset[int], int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    polled = threading.Condition()

    def reader() -> None:
        try:
            with freight.connect(url) as ds:
                while not stop.is_set():
                    vs = ds.read("t", ["v"]).column("v").to_pylist()
                    with polled:
                        seen.append((frozenset(vs), len(vs)))
                        polled.notify_all()
        except BaseException as e:  # reported below
            errors.append(e)

    with freight.connect(url) as ds:
        ds.load([{"id": i, "v": 0} for i in range(sizes[0])], "t", strategy="replace")
        th = threading.Thread(target=reader)
        th.start()
        try:
            for v, size in enumerate(sizes[1:], start=1):
                ds.load([{"id": i, "v": v} for i in range(size)], "t", strategy="replace")
                with polled:
                    n = len(seen)
                    assert polled.wait_for(lambda n=n: len(seen) >= n + 2 or bool(errors), 60)
        finally:
            stop.set()
            th.join()
    assert not errors, errors
    for vs, count in seen:
        assert count > 0, "a read saw the table empty"
        assert len(vs) == 1, f"a read saw versions {sorted(vs)} mixed"
        assert count == sizes[next(iter(vs))], "a read saw a partial table"
    assert {next(iter(vs)) for vs, _ in seen} == set(range(versions))
    tally["rows_checked"] += sum(c for _, c in seen)


def test_two_duckdb_writer_processes_on_one_file(tmp_path: Path, tally: Tally) -> None:
    """While one process holds the file, another cannot open it: a typed, transient
    LockedError, nothing written; once it is free the second writes and both rows stay."""
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    holder = subprocess.Popen(
        [sys.executable, str(CHILD), "hold", json.dumps({"url": url, "seconds": 60})],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert json.loads(holder.stdout.readline()) == {"ready": True}
        with pytest.raises(freight.LockedError) as e:
            freight.connect(url).load([{"id": 1}], "t")
        assert e.value.transient and "\n" not in str(e.value)
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    with freight.connect(url) as ds:
        assert kind(ds) == "duckdb"
        ds.load([{"id": 1, "w": 1, "r": 0, "val": "second"}], "t", strategy="merge", key="id")
        ids = sorted(r["id"] for r in ds.read("t").to_pylist())
    assert ids == [-1, 1]
    tally["rows_checked"] += len(ids)
    report = child_json("merge_writer", url=url, w=0, rounds=2, span=10, step=10, reopen=True)
    assert [a[2] for a in report["acks"]] == ["committed", "committed"]
