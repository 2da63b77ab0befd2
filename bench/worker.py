"""The child process of every measurement: ``python -m bench.worker '<json spec>'``.

Each case runs in its own process, so one tool's imports, caches and garbage never weigh on
another's numbers, and a cold case really starts cold. Only the standard library and
``bench.data`` / ``bench.adapters`` (which import nothing heavy) are loaded before timing.
The result is one line on stdout: ``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import sys
import time

from bench.adapters import make_adapter
from bench.data import iter_rows, make_rows, merge_window
from bench.files import case_files

MARK = "BENCH_RESULT "


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def case_setup(spec: dict) -> dict:
    """Create the target table with keys [0, rows) (untimed preparation for cold/warm)."""
    a = make_adapter(spec["tool"], spec["target"])
    a.load_modules()
    a.connect()
    a.merge(make_rows(0, spec["rows"]))
    a.close()
    return {"count": a.count()}


def case_cold(spec: dict) -> dict:
    """connect + one merge + close in this fresh process; timed from just before the imports."""
    lo, hi = merge_window(spec["existing"], spec["rows"], spec["step"])
    rows = make_rows(lo, hi, version=1 + spec["step"])
    a = make_adapter(spec["tool"], spec["target"])
    t0 = time.perf_counter()
    a.load_modules()
    t1 = time.perf_counter()
    a.connect()
    t2 = time.perf_counter()
    detail = a.merge(rows)
    t3 = time.perf_counter()
    a.close()
    t4 = time.perf_counter()
    return {
        "import": t1 - t0,
        "connect": t2 - t1,
        "load": t3 - t2,
        "close": t4 - t3,
        "total": t4 - t0,
        "detail": detail,
    }


def case_count(spec: dict) -> dict:
    return {"count": make_adapter(spec["tool"], spec["target"]).count()}


def case_warm(spec: dict) -> dict:
    """``loads`` successive merges of ``rows`` rows on one open connection / pipeline."""
    a = make_adapter(spec["tool"], spec["target"])
    a.load_modules()
    a.connect()
    times, details = [], []
    for step in range(spec["loads"]):
        lo, hi = merge_window(spec["existing"], spec["rows"], step)
        rows = make_rows(lo, hi, version=1 + step)
        t0 = time.perf_counter()
        details.append(a.merge(rows))
        times.append(time.perf_counter() - t0)
    a.close()
    return {
        "median": statistics.median(times),
        "min": min(times),
        "first": times[0],
        "times": times,
        "detail": details[-1],
        "count": a.count(),
    }


def case_bulk(spec: dict) -> dict:
    """``rows`` dicts appended into a new table, then ``merge_rows`` merged (half updates, half new).

    Timed from the list of dicts in memory to committed; the lists are built before the clock
    starts, the connection is open before it starts.
    """
    n, m = spec["rows"], spec["merge_rows"]
    a = make_adapter(spec["tool"], spec["target"])
    a.load_modules()
    a.connect()
    a.warmup()  # one-time costs belong to the cold case, not to rows per second
    out: dict = {}
    rows = make_rows(0, n)
    gc.collect()
    t0 = time.perf_counter()
    out["append_detail"] = a.append(rows)
    out["append"] = time.perf_counter() - t0
    del rows
    # merge: the upper half of the table is updated, as many new keys are inserted
    rows = make_rows(n - m // 2, n - m // 2 + m, version=1)
    gc.collect()
    t0 = time.perf_counter()
    out["merge_detail"] = a.merge(rows)
    out["merge"] = time.perf_counter() - t0
    del rows
    a.close()
    out["count"] = a.count()
    out["expected"] = n + m - m // 2
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def case_stream(spec: dict) -> dict:
    """Append a generator of ``rows`` dicts; report this process's peak RSS."""
    a = make_adapter(spec["tool"], spec["target"])
    a.load_modules()
    a.connect()
    a.warmup()
    gc.collect()
    base = _current_rss_mb()
    t0 = time.perf_counter()
    detail = a.append(iter_rows(0, spec["rows"]))
    seconds = time.perf_counter() - t0
    buffer_mb = a.duckdb_buffer_mb()
    a.close()
    return {
        "seconds": seconds,
        "baseline_rss_mb": base,
        "duckdb_buffer_mb": buffer_mb,
        "peak_rss_mb": _peak_rss_mb(),
        "detail": detail,
        "count": a.count() if spec.get("check", True) else None,
    }


def case_probe(spec: dict) -> dict:
    """Can this tool load one row into this destination at all?"""
    a = make_adapter(spec["tool"], spec["target"])
    a.load_modules()
    a.connect()
    a.merge([{"id": 1, "title": "probe"}] if spec["tool"] != "raw" else make_rows(0, 1))
    a.close()
    return {"count": a.count()}


CASES = {
    "setup": case_setup,
    "cold": case_cold,
    "warm": case_warm,
    "bulk": case_bulk,
    "stream": case_stream,
    "probe": case_probe,
    "count": case_count,
    "files": case_files,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    result = CASES[spec["case"]](spec)
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
