"""Arrow input into DuckDB: freight beside the raw DuckDB path, each load in its own process.

``python -m bench.arrow`` times, on one 6-column pyarrow Table (int64 ``id``, string
``title``, float64 ``score``, int64 ``n``, bool ``flag``, ``timestamp[us, UTC]``
``created_at``; built in the child, before timing):

- **append**: ``ds.load(table, table="t")`` into a new file, beside
  ``CREATE TABLE t AS SELECT * FROM arrow`` (+ commit);
- **merge**: the target first holds keys ``[0, merge_rows)`` (untimed), then a
  ``merge_rows`` merge whose first half updates existing keys (every value changed) and
  second half is new: ``ds.load(..., strategy="merge", key="id")`` beside ``BEGIN; DELETE
  FROM t WHERE id IN (SELECT id FROM arrow); INSERT INTO t SELECT * FROM arrow; COMMIT``,
  on a table made by ``CREATE TABLE t AS`` (``raw``) and on one with ``PRIMARY KEY (id)``
  (``raw_pk``: freight's merge target has its key as primary key, and DuckDB's commit of
  changes to an indexed table costs about as much as the statements).

Runs alternate tool by tool (and source tree by source tree: ``--src old=/path/to/src``
times another freight checkout too), ``--repeats`` times; the medians are printed. The
seconds are the load's alone (after imports, connect and the table's construction).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARK = "ARROW_RESULT "


def make_table(start: int, stop: int, version: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa

    ids = np.arange(start, stop, dtype=np.int64)
    v = ids + 7919 * version
    base = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    return pa.table(
        {
            "id": ids,
            "title": pa.array([f"item {i} rev {version}" for i in range(start, stop)]),
            "score": (v % 10007) / 7.0,
            "n": v % 1000,
            "flag": v % 3 == 0,
            "created_at": pa.array(base + (v % 31_536_000) * 1_000_000, pa.timestamp("us", "UTC")),
        }
    )


def child(spec: dict) -> dict:
    import duckdb

    path, tool, case, rows = spec["path"], spec["tool"], spec["case"], spec["rows"]
    if case == "append":
        data, base = make_table(0, rows), None
    else:
        base, data = make_table(0, rows), make_table(rows // 2, rows + rows // 2, version=1)
    if tool.startswith("raw"):
        con = duckdb.connect(path)
        if tool == "raw_pk":
            con.execute(
                "CREATE TABLE t (id BIGINT PRIMARY KEY, title VARCHAR, score DOUBLE, n BIGINT, "
                "flag BOOLEAN, created_at TIMESTAMPTZ)"
            )
            con.execute("INSERT INTO t SELECT * FROM base")
        elif base is not None:
            con.execute("CREATE TABLE t AS SELECT * FROM base")
        t0 = time.perf_counter()
        if case == "append":
            con.execute("CREATE TABLE t AS SELECT * FROM data")
        else:
            con.execute("BEGIN")
            con.execute("DELETE FROM t WHERE id IN (SELECT id FROM data)")
            con.execute("INSERT INTO t SELECT * FROM data")
        con.commit()
        seconds = time.perf_counter() - t0
        count = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
        return {"seconds": seconds, "count": count}
    import freight

    ds = freight.connect("duckdb:///" + path)
    kw = {} if case == "append" else {"strategy": "merge", "key": "id"}
    if base is not None:
        ds.load(base, table="t", **kw)
    if spec.get("profile"):
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    r = ds.load(data, table="t", **kw)
    seconds = time.perf_counter() - t0
    if spec.get("profile"):
        prof.disable()
        prof.dump_stats(spec["profile"])
    ds.close()
    return {"seconds": seconds, "inserted": r.inserted, "updated": r.updated}


def run(args: argparse.Namespace) -> None:
    srcs = dict(s.split("=", 1) for s in args.src) or {"freight": str(Path("src").resolve())}
    tools = [*srcs, "raw", "raw_pk"]
    sizes = {"append": args.rows, "merge": args.merge_rows}
    runs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            for rep in range(args.repeats):
                for tool in tools if case == "merge" else tools[:-1]:
                    path = os.path.join(tmp, f"{case}_{tool}_{rep}.duckdb")
                    spec = {"tool": tool if tool.startswith("raw") else "freight", "case": case}
                    spec |= {"rows": sizes[case], "path": path}
                    env = dict(os.environ)
                    if not tool.startswith("raw"):
                        env["PYTHONPATH"] = os.pathsep.join([srcs[tool], os.getcwd()])
                    out = subprocess.run(
                        [sys.executable, "-m", "bench.arrow", "--child", json.dumps(spec)],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    res = json.loads(out.split(MARK, 1)[1])
                    runs.setdefault((case, tool), []).append(res["seconds"])
                    for f in (path, path + ".wal"):
                        if os.path.exists(f):
                            os.remove(f)
                    print(f"{case} {tool} run {rep + 1}: {res}", file=sys.stderr)
    for case in args.cases.split(","):
        raw = statistics.median(runs[(case, "raw")])
        print(f"{case} ({sizes[case]:,} rows), median of {args.repeats} runs:")
        for tool in tools if case == "merge" else tools[:-1]:
            m = statistics.median(runs[(case, tool)])
            pk = (
                f", {m / statistics.median(runs[(case, 'raw_pk')]):.2f}x raw_pk"
                if case == "merge"
                else ""
            )
            shown = ", ".join(f"{r:.3f}" for r in runs[(case, tool)])
            print(f"  {tool:10} {m:.3f}s  ({m / raw:.2f}x raw{pk})  runs {shown}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.arrow", description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="append rows (default 1M)")
    p.add_argument("--merge-rows", type=int, default=200_000, help="merge rows (default 200k)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cases", default="append,merge")
    p.add_argument(
        "--src",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a freight source tree to time (repeatable; default ./src as 'freight')",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(MARK + json.dumps(child(json.loads(a.child))))
    else:
        run(a)


if __name__ == "__main__":
    main()
