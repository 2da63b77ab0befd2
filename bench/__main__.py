"""``python -m bench``: freight beside dlt and beside the raw driver path, in one run.

Sizes come from the flags below, or from ``FREIGHT_BENCH_<FLAG>`` environment variables
(``FREIGHT_BENCH_BULK_ROWS=200000``), or from ``--quick``. The PostgreSQL server is
``FREIGHT_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``); each run
works in its own schemas, dropped afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.cases import Config, run_all
from bench.files import lines as file_lines
from bench.report import Report

RESULTS = Path(__file__).resolve().parent / ".results"

# flag -> (Config field, full size, --quick size)
SIZES = {
    "cold-runs": ("cold_runs", 5, 3),
    "warm-loads": ("warm_loads", 20, 20),
    "warm-rounds": ("warm_rounds", 3, 1),
    "bulk-rows": ("duckdb_bulk_rows", 1_000_000, 100_000),
    "merge-rows": ("duckdb_merge_rows", 1_000_000, 100_000),
    "pg-bulk-rows": ("pg_bulk_rows", 1_000_000, 100_000),
    "pg-merge-rows": ("pg_merge_rows", 200_000, 20_000),
    "dlt-bulk-rows": ("dlt_bulk_rows", 200_000, 20_000),
    "stream-rows": ("stream_rows", 10_000_000, 1_000_000),
    "stream-base-rows": ("stream_base_rows", 1_000_000, 100_000),
    "file-rows": ("file_rows", 1_000_000, 100_000),
    "file-repeats": ("file_repeats", 3, 1),
}


def parse(argv: list[str]) -> tuple[Config, argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    p.add_argument("--only", choices=("duckdb", "postgres"), help="one destination only")
    p.add_argument("--tools", default="freight,raw,dlt", help="comma list of freight,raw,dlt")
    p.add_argument(
        "--cases",
        default="cold,warm,bulk,stream,files",
        help="comma list of cold,warm,bulk,stream,files (stream: DuckDB only; files: CSV, "
        ".jsonl.gz and Parquet loads beside DuckDB's read_* and psql \\copy)",
    )
    for flag, (_, full, quick) in SIZES.items():
        p.add_argument(f"--{flag}", type=int, help=f"default {full:,} ({quick:,} with --quick)")
    p.add_argument(
        "--postgres",
        default=os.environ.get(
            "FREIGHT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    p.add_argument(
        "--stream-memory-limit",
        default=os.environ.get("FREIGHT_BENCH_STREAM_MEMORY_LIMIT", "64MB"),
        help="DuckDB memory_limit of the second streamed-append run, which (4) is judged on "
        "(default 64MB; '' skips that run)",
    )
    p.add_argument(
        "--dlt-timeout",
        type=float,
        default=900.0,
        help="seconds before dlt's bulk case is given up (default 900)",
    )
    p.add_argument(
        "--json", type=Path, help=f"write raw results here (default {RESULTS}/<time>.json)"
    )
    p.add_argument("--markdown", type=Path, help="also write the tables as markdown here")
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="run nothing: print (and --markdown) the report of an earlier results file",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("-v", "--verbose", action="store_true", help="show children's stderr on failure")
    a = p.parse_args(argv)
    cfg = Config()
    for flag, (name, full, quick) in SIZES.items():
        value = getattr(a, flag.replace("-", "_"))
        env = os.environ.get("FREIGHT_BENCH_" + flag.upper().replace("-", "_"))
        if value is None and env:
            value = int(env.replace("_", ""))
        setattr(cfg, name, value if value is not None else (quick if a.quick else full))
    cfg.dests = (a.only,) if a.only else ("duckdb", "postgres")
    cfg.tools = tuple(t.strip() for t in a.tools.split(",") if t.strip())
    cfg.cases = tuple(c.strip() for c in a.cases.split(",") if c.strip())
    for name, given, known in (
        ("tool", cfg.tools, ("freight", "raw", "dlt")),
        ("case", cfg.cases, ("cold", "warm", "bulk", "stream", "files")),
    ):
        if bad := set(given) - set(known):
            p.error(f"unknown {name}(s): {', '.join(sorted(bad))}")
    cfg.postgres_url = a.postgres
    cfg.dlt_timeout = a.dlt_timeout
    cfg.stream_memory_limit = a.stream_memory_limit
    cfg.verbose = a.verbose
    return cfg, a


def version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def machine() -> dict:
    info: dict = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        meminfo = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        cpuinfo = meminfo = []
    for line in cpuinfo:
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    for line in meminfo:
        if line.startswith("MemTotal"):
            info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    info["load_avg"] = os.getloadavg()
    return info


def server_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


def main(argv: list[str] | None = None) -> int:
    cfg, args = parse(sys.argv[1:] if argv is None else argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        report = Report(saved["results"])
        print(report.text())
        if args.markdown:
            args.markdown.write_text(report.markdown(saved["meta"]))
        return 0
    started = dt.datetime.now(dt.UTC)
    host = machine()
    versions = {d: version(d) for d in ("freight", "duckdb", "pyarrow", "dlt", "psycopg", "pandas")}
    if "postgres" in cfg.dests:
        versions["postgresql server"] = server_version(cfg.postgres_url)
    command = "python -m bench " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    print(f"freight bench  {started:%Y-%m-%d %H:%M} UTC  `{command.strip()}`")
    print(
        f"machine: {host.get('nproc')} cpus, {host.get('cpu', '?')}, {host.get('ram_gib', '?')} GiB RAM,"
        f" python {host['python']}; load average {host['load_avg'][0]:.2f}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if versions["pandas"] != "not installed":
        print(
            "note: pandas is installed, so pyarrow imports it on its first conversion "
            "(about +0.2s in every cold run that uses pyarrow: freight's and raw's on DuckDB; "
            "freight's 100-row PostgreSQL merge does not import pyarrow)"
        )
    print("sizes: " + ", ".join(f"{f} {getattr(cfg, n):,}" for f, (n, _, _) in SIZES.items()))
    if host["load_avg"][0] > 0.8 * (host.get("nproc") or 1):
        print(
            "warning: the machine is busy (load average above 80% of the cpus): numbers will be noisy"
        )
    sys.stdout.flush()

    cfg.workdir = tempfile.mkdtemp(prefix="freight-bench-")
    t0 = time.perf_counter()
    try:
        results = run_all(cfg)
    finally:
        if args.keep:
            print(f"kept {cfg.workdir}")
        else:
            shutil.rmtree(cfg.workdir, ignore_errors=True)
    elapsed = time.perf_counter() - t0

    report = Report(results)
    print(report.text())
    print("\n".join(file_lines(results)))
    print(f"\ntotal {elapsed:.0f}s; load average at the end {os.getloadavg()[0]:.2f}")

    meta = {
        "started": started.isoformat(),
        "command": command.strip(),
        "machine": host,
        "versions": versions,
        "config": {k: v for k, v in vars(cfg).items()},
        "load_avg_end": os.getloadavg(),
        "seconds": elapsed,
    }
    out = args.json or RESULTS / f"{started:%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    print(f"results: {out}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report.markdown(meta))
        print(f"markdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
