"""Memory stays bounded while streaming: the peak RSS of a child process streaming N and
10 N generated rows into each destination (1M and 10M in the full sweep). The figures go
to the report; the bound asserted is generous (10 N within twice N's peak)."""

from __future__ import annotations

import freight
from _conformance import kind
from reliability._support import Tally, child_json, sweep

SIZES = sweep([10_000, 100_000], [1_000_000, 10_000_000])


def test_peak_memory_of_a_streamed_load(url: str, tally: Tally) -> None:
    with freight.connect(url) as ds:
        dest = kind(ds)
    peaks = []
    for n in SIZES:
        report = child_json("memory", timeout=1800, url=url, rows=n, chunk_rows=None)
        assert report["inserted"] == n
        tally["rows_checked"] += n
        tally.memory[(dest, n)] = report["maxrss_kib"]
        peaks.append(report["maxrss_kib"])
    assert peaks[1] <= 2 * peaks[0], f"peak RSS {peaks} KiB for {SIZES} rows"
