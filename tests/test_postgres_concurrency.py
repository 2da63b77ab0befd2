"""Several processes merging overlapping keys into one PostgreSQL table at the same time.

Four writers, each in its own process with its own Dataset, merge rounds of keys whose
ranges overlap the neighbours'; every value says which writer and round wrote it. Afterwards:
no duplicate key, every key some writer was told was written is there, and its value is the
last one some writer wrote to it (a writer's earlier write can never win over its own later
one), carried by a load the writer saw committed. The counters add up exactly: across all
loads each key was inserted exactly once.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

import freight
from conftest import pg_admin, pg_url

pytestmark = pytest.mark.postgres

WRITERS = 4
ROUNDS = 6
SPAN = 300  # keys per round; writer w covers [w * 100, w * 100 + SPAN): heavy overlap


def keys(w: int, r: int) -> range:
    start = w * 100 + (r % 3) * 50
    return range(start, start + SPAN)


def writer(url: str, w: int, out: Any) -> None:
    acks = []
    with freight.connect(url, retries=8) as ds:
        for r in range(ROUNDS):
            rows = [{"id": k, "val": f"w{w}r{r}k{k}", "w": w, "r": r} for k in keys(w, r)]
            res = ds.load(rows, "t", strategy="merge", key="id")
            acks.append(
                (r, res.load_id, res.status, res.inserted, res.updated, res.unchanged, res.rows_in)
            )
    out.put((w, acks))


def test_concurrent_merges_lose_nothing_and_duplicate_nothing(pg_schema: str) -> None:
    url = pg_url(pg_schema)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=writer, args=(url, w, out)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    with freight.connect(url) as ds:
        rows = ds.destination.read("t", None, True).to_pylist()  # type: ignore[call-arg]
    conn = pg_admin()
    try:
        dupes = conn.execute(  # type: ignore[attr-defined]
            f'SELECT count(*) - count(DISTINCT id) FROM "{pg_schema}".t'
        ).fetchone()[0]
    finally:
        conn.close()  # type: ignore[attr-defined]
    assert dupes == 0

    by_key = {r["id"]: r for r in rows}
    written = {k for w in range(WRITERS) for r in range(ROUNDS) for k in keys(w, r)}
    assert set(by_key) == written

    acked_loads = {}
    for w, acks in results.items():
        assert len(acks) == ROUNDS
        for r, load_id, status, ins, upd, unch, n in acks:
            assert status == "committed" and ins + upd + unch == n == SPAN
            acked_loads[load_id] = (w, r)
    for k, row in by_key.items():
        w, r = row["w"], row["r"]
        assert row["val"] == f"w{w}r{r}k{k}"
        last_round_of_w = max(rr for rr in range(ROUNDS) if k in keys(w, rr))
        assert r == last_round_of_w, (k, row)  # a writer's own later write always wins
        assert acked_loads[row["_freight_load_id"]] == (w, r)
    total_inserted = sum(a[3] for acks in results.values() for a in acks)
    assert total_inserted == len(written)
