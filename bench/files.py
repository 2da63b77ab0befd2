"""The ``files`` case: a 1M-row CSV, ``.jsonl.gz`` and Parquet file loaded by freight beside
the destination's own fastest reader: DuckDB's ``CREATE TABLE t AS SELECT * FROM
read_csv/read_json/read_parquet(...)``, and ``psql \\copy t FROM ... CSV HEADER`` for
PostgreSQL (CSV only: PostgreSQL reads no JSON or Parquet file itself).

The parent writes the files once (``bench.data`` rows), then runs each load in a fresh child
process (``bench.worker``'s ``files`` case), ``file_repeats`` times, the tools
interleaved run by run; each child reports the seconds of its load alone (after imports and
connect), the parent keeps the medians. ``lines()`` prints them with freight's ratio to the
fastest reader of the same file.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import statistics
import subprocess
import time
from typing import TYPE_CHECKING

from bench.data import COLUMNS, make_rows

if TYPE_CHECKING:
    from bench.cases import Config

FORMATS = ("csv", "jsonl.gz", "parquet")
PG_DDL = (
    "id bigint, title text, score double precision, n bigint, category text, flag boolean, "
    "note text, created_at timestamptz"
)


def write_files(workdir: str, rows: int) -> dict[str, str]:
    data = make_rows(0, rows)
    paths = {f: os.path.join(workdir, f"files_{rows}.{f}") for f in FORMATS}
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in data:
            w.writerow(
                [
                    "" if r[c] is None else str(r[c]).lower() if isinstance(r[c], bool) else r[c]
                    for c in COLUMNS
                ]
            )
    with gzip.open(paths["jsonl.gz"], "wt", compresslevel=6) as f:
        for r in data:
            f.write(json.dumps(r) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(data), paths["parquet"])
    return paths


def files(cfg: Config, dest: str, tools: dict[str, str | None]) -> dict:
    """results[fmt][tool] = {"median": load s, "wall": process s, "runs": [...], "rows": n}
    (or skipped / error)."""
    from bench.cases import log, run_worker, target

    if tools.get("freight"):
        return {"skipped": tools["freight"]}
    paths = write_files(cfg.workdir, cfg.file_rows)
    native = "duckdb" if dest == "duckdb" else "psql"
    out: dict = {}
    for fmt in FORMATS:
        runners = ["freight"] + ([native] if dest == "duckdb" or fmt == "csv" else [])
        runs: dict[str, list[float]] = {t: [] for t in runners}
        walls: dict[str, list[float]] = {t: [] for t in runners}
        errors: dict[str, str] = {}
        for rep in range(cfg.file_repeats):
            for tool in runners:
                if tool in errors:
                    continue
                t = target(cfg, dest, "freight", f"files_{tool}_{fmt.replace('.', '_')}_{rep}")
                spec = {"tool": tool, "path": paths[fmt], "target": t}
                try:
                    res, wall = run_worker(cfg, {"case": "files", **spec}, timeout=cfg.bulk_timeout)
                    runs[tool].append(res["seconds"])
                    walls[tool].append(wall)
                except Exception as exc:  # a failed tool is reported, the others go on
                    errors[tool] = str(exc)
                finally:
                    p = t.get("path")
                    for f in (p, f"{p}.wal"):
                        if f and os.path.exists(f):
                            os.remove(f)
            log(f"{dest} files {fmt} run {rep + 1}/{cfg.file_repeats}")
        out[fmt] = {
            tool: {"error": errors[tool]}
            if tool in errors
            else {
                "median": statistics.median(rs),
                "wall": statistics.median(walls[tool]),
                "runs": rs,
                "rows": cfg.file_rows,
            }
            for tool, rs in runs.items()
        }
    return out


def lines(results: dict) -> list[str]:
    out = []
    for dest, r in results.items():
        res = r.get("files")
        if not res:
            continue
        if "skipped" in res:
            out.append(f"{dest} files: skipped: {res['skipped']}")
            continue
        out.append(f"{dest}: file loads, median seconds of the load (of the whole process)")
        for fmt, tools in res.items():
            cells = []
            best = min((v["median"] for v in tools.values() if "median" in v), default=None)
            for tool, v in tools.items():
                if "median" in v:
                    cells.append(f"{tool} {v['median']:.2f}s (process {v['wall']:.2f}s)")
                else:
                    cells.append(f"{tool} error: {v['error'][:80]}")
            f = tools.get("freight", {})
            ratio = (
                f" (freight {f['median'] / best:.2f}x the fastest)"
                if "median" in f and best
                else ""
            )
            out.append(f"  {fmt:9} " + ", ".join(cells) + ratio)
    return out


# -- the child ---------------------------------------------------------------------------------


def case_files(spec: dict) -> dict:
    """One load of ``spec["path"]``, timed after the imports and the connect."""
    t = spec["target"]
    path = spec["path"]
    if spec["tool"] == "freight":
        import freight
        from bench.adapters import freight_url

        ds = freight.connect(freight_url(t))
        t0 = time.perf_counter()
        r = ds.load(path, table="t")
        seconds = time.perf_counter() - t0
        ds.close()
        return {"seconds": seconds, "rows": r.inserted, "rejected": r.rejected}
    if spec["tool"] == "duckdb":
        import duckdb

        fn = {"csv": "read_csv", "jsonl.gz": "read_json", "parquet": "read_parquet"}
        fmt = next(f for f in FORMATS if path.endswith(f))
        con = duckdb.connect(t["path"])
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {fn[fmt]}(?)", [path])
        con.commit()
        seconds = time.perf_counter() - t0
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
        return {"seconds": seconds, "rows": rows}
    import psycopg

    schema = t["schema"]
    with psycopg.connect(t["url"], autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".t ({PG_DDL})')
    t0 = time.perf_counter()
    subprocess.run(
        ["psql", t["url"], "-qc", f"\\copy \"{schema}\".t FROM '{path}' CSV HEADER"], check=True
    )
    seconds = time.perf_counter() - t0
    with psycopg.connect(t["url"]) as conn:
        rows = conn.execute(f'SELECT count(*) FROM "{schema}".t').fetchone()[0]
    return {"seconds": seconds, "rows": rows}
