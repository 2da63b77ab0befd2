"""The parent side: runs every case as child processes (``bench.worker``) and collects numbers.

Results are plain dicts: ``results[dest][case][tool]`` is the worker's answer, or
``{"skipped": reason}`` / ``{"error": message}``.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.adapters import TOOLS, freight_url
from bench.worker import MARK

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Config:
    dests: tuple[str, ...] = ("duckdb", "postgres")
    tools: tuple[str, ...] = TOOLS
    cases: tuple[str, ...] = ("cold", "warm", "bulk", "stream")
    cold_runs: int = 5
    setup_rows: int = 1000
    small_rows: int = 100
    warm_loads: int = 20
    warm_rounds: int = 3
    duckdb_bulk_rows: int = 1_000_000
    duckdb_merge_rows: int = 1_000_000
    pg_bulk_rows: int = 1_000_000
    pg_merge_rows: int = 200_000
    dlt_bulk_rows: int = 200_000
    stream_rows: int = 10_000_000
    stream_base_rows: int = 1_000_000
    stream_memory_limit: str = "64MB"
    file_rows: int = 1_000_000
    file_repeats: int = 3
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    bulk_timeout: float = 1800.0
    dlt_timeout: float = 900.0
    workdir: str = ""
    run_id: str = field(default_factory=lambda: f"fbench_{os.getpid()}_{int(time.time())}")
    verbose: bool = False


class WorkerError(RuntimeError):
    pass


def child_env(cfg: Config) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    # dlt: no telemetry (there is no network anyway), no ~/.dlt, no ./.dlt of the caller.
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["DLT_DATA_DIR"] = os.path.join(cfg.workdir, "dlt_data")
    env["DLT_PROJECT_DIR"] = os.path.join(cfg.workdir, "dlt_project")
    # Cold starts read compiled bytecode, as an installed wheel would: an editable freight
    # has no .pyc of its own (and this machine sets PYTHONDONTWRITEBYTECODE). The cache lives
    # in the work dir, so nothing is written into the source tree; the untimed warm-up run
    # of each tool fills it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(cfg.workdir, "pycache")
    return env


def run_worker(cfg: Config, spec: dict, timeout: float = 600.0) -> tuple[dict, float]:
    """Run one child; return (its result, the child's whole wall time in seconds)."""
    cmd = [sys.executable, "-m", "bench.worker", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=REPO, env=child_env(cfg), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"timed out after {timeout:.0f}s") from exc
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :]), wall
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    if cfg.verbose:
        sys.stderr.write(proc.stderr)
    # the exception line (``SomeError: message``), not the hint lines some libraries add after it
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception)\b", ln.strip())]
    reason = (errors or lines)[-1].strip() if lines else f"exit code {proc.returncode}"
    raise WorkerError(reason[:300])


def log(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


# -- targets ---------------------------------------------------------------------------------


def target(cfg: Config, dest: str, tool: str, case: str) -> dict:
    t = {"dest": dest, "table": case, "workdir": cfg.workdir, "pipeline": f"bench_{case}"}
    if dest == "duckdb":
        t["path"] = os.path.join(cfg.workdir, f"{case}_{tool}.duckdb")
    else:
        t["url"] = cfg.postgres_url
        t["schema"] = f"{cfg.run_id}_{tool}_{case}"
    return t


# -- availability ------------------------------------------------------------------------------


def probe(cfg: Config, dest: str) -> dict[str, str | None]:
    """tool -> None if usable for ``dest``, else the reason it is skipped."""
    import importlib.util

    reasons: dict[str, str | None] = dict.fromkeys(cfg.tools)
    if dest == "postgres":
        try:
            import psycopg

            with psycopg.connect(cfg.postgres_url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # unreachable server: every tool is skipped
            why = (
                f"PostgreSQL at {cfg.postgres_url} unreachable: {str(exc).strip().splitlines()[0]}"
            )
            return dict.fromkeys(cfg.tools, why)
    if "dlt" in reasons and importlib.util.find_spec("dlt") is None:
        reasons["dlt"] = "dlt is not installed (pip install -e '.[bench]')"
    if "freight" in reasons:
        if importlib.util.find_spec("freight") is None:
            reasons["freight"] = "freight is not importable (pip install -e .)"
        else:
            spec = {
                "case": "probe",
                "tool": "freight",
                "target": target(cfg, dest, "freight", "probe"),
            }
            try:
                run_worker(cfg, spec, timeout=120)
            except WorkerError as exc:
                url = freight_url(spec["target"])
                reasons["freight"] = f"freight.connect({url!r}).load(...) failed: {exc}"
    return reasons


# -- cases -------------------------------------------------------------------------------------


def _usable(tools: dict[str, str | None]) -> list[str]:
    return [t for t, why in tools.items() if why is None]


def _skips(tools: dict[str, str | None]) -> dict[str, dict]:
    return {t: {"skipped": why} for t, why in tools.items() if why is not None}


def cold(cfg: Config, dest: str, tools: dict[str, str | None]) -> dict:
    """A 100-row merge in a fresh process, median of ``cold_runs`` (after one untimed warm-up)."""
    out = _skips(tools)
    live = []
    for tool in _usable(tools):
        spec = {
            "case": "setup",
            "tool": tool,
            "rows": cfg.setup_rows,
            "target": target(cfg, dest, tool, "cold"),
        }
        try:
            run_worker(cfg, spec, timeout=300)
            live.append(tool)
        except WorkerError as exc:
            out[tool] = {"error": f"setup: {exc}"}
    runs: dict[str, list[dict]] = {t: [] for t in live}
    # Tools interleaved run by run, so a noisy moment of the machine hits all of them alike.
    for step in range(cfg.cold_runs + 1):
        for tool in list(runs):
            spec = {
                "case": "cold",
                "tool": tool,
                "existing": cfg.setup_rows,
                "rows": cfg.small_rows,
                "step": step,
                "target": target(cfg, dest, tool, "cold"),
            }
            try:
                res, wall = run_worker(cfg, spec, timeout=300)
            except WorkerError as exc:
                out[tool] = {"error": str(exc)}
                del runs[tool]
                continue
            res["wall"] = wall
            if step:  # step 0 warms the OS page cache and __pycache__
                runs[tool].append(res)
        log(f"{dest} cold run {step}/{cfg.cold_runs}")
    expected = cfg.setup_rows + (cfg.cold_runs + 1) * (cfg.small_rows // 2)
    for tool, rs in runs.items():
        med = {
            k: statistics.median(r[k] for r in rs)
            for k in ("wall", "total", "import", "connect", "load", "close")
        }
        count, _ = run_worker(
            cfg, {"case": "count", "tool": tool, "target": target(cfg, dest, tool, "cold")}
        )
        med.update(
            runs=len(rs),
            walls=[r["wall"] for r in rs],
            detail=rs[-1]["detail"],
            count=count["count"],
            expected=expected,
        )
        out[tool] = med
    return out


def warm(cfg: Config, dest: str, tools: dict[str, str | None]) -> dict:
    """``warm_loads`` successive merges in one process, repeated ``warm_rounds`` times.

    Rounds are interleaved tool by tool (each on a fresh 1,000-row table), so a noisy moment
    of the machine hits every tool alike; the reported median pools the loads of all rounds.
    """
    out = _skips(tools)
    runs: dict[str, list[dict]] = {t: [] for t in _usable(tools)}
    for rnd in range(cfg.warm_rounds):
        for tool in list(runs):
            t = target(cfg, dest, tool, f"warm{rnd}")
            try:
                run_worker(
                    cfg, {"case": "setup", "tool": tool, "rows": cfg.setup_rows, "target": t}
                )
                res, _ = run_worker(
                    cfg,
                    {
                        "case": "warm",
                        "tool": tool,
                        "target": t,
                        "existing": cfg.setup_rows,
                        "rows": cfg.small_rows,
                        "loads": cfg.warm_loads,
                    },
                    timeout=900,
                )
                runs[tool].append(res)
            except WorkerError as exc:
                out[tool] = {"error": str(exc)}
                del runs[tool]
        log(f"{dest} warm round {rnd + 1}/{cfg.warm_rounds}")
    expected = cfg.setup_rows + cfg.warm_loads * (cfg.small_rows // 2)
    for tool, rs in runs.items():
        times = [x for r in rs for x in r["times"]]
        out[tool] = {
            "median": statistics.median(times),
            "min": min(times),
            "first": statistics.median(r["first"] for r in rs),
            "round_medians": [r["median"] for r in rs],
            "times": times,
            "loads": cfg.warm_loads,
            "rounds": len(rs),
            "detail": rs[-1]["detail"],
            "count": min(r["count"] for r in rs),
            "expected": expected,
        }
    return out


def bulk(cfg: Config, dest: str, tools: dict[str, str | None]) -> dict:
    out = _skips(tools)
    n = cfg.duckdb_bulk_rows if dest == "duckdb" else cfg.pg_bulk_rows
    m = cfg.duckdb_merge_rows if dest == "duckdb" else cfg.pg_merge_rows
    for tool in _usable(tools):
        tn, tm, timeout = n, m, cfg.bulk_timeout
        if tool == "dlt":  # dlt is capped: it runs on fewer rows, compared per row
            tn, tm, timeout = min(n, cfg.dlt_bulk_rows), min(m, cfg.dlt_bulk_rows), cfg.dlt_timeout
        spec = {
            "case": "bulk",
            "tool": tool,
            "rows": tn,
            "merge_rows": tm,
            "target": target(cfg, dest, tool, "bulk"),
        }
        log(f"{dest} bulk {tool}: append {tn:,} + merge {tm:,} rows")
        try:
            res, _ = run_worker(cfg, spec, timeout=timeout)
            res.update(rows=tn, merge_rows=tm)
            out[tool] = res
        except WorkerError as exc:
            out[tool] = {"error": str(exc), "rows": tn, "merge_rows": tm}
    return out


def stream(
    cfg: Config, dest: str, tools: dict[str, str | None], memory_limit: str | None = None
) -> dict:
    """Peak RSS of a streamed append (a generator of dicts): stream_base_rows vs stream_rows.

    The target is freight's; the raw path (pyarrow batches of 100k rows through a
    RecordBatchReader into one INSERT) runs too, as the reference for what DuckDB itself holds.
    ``memory_limit``: DuckDB's memory_limit for both tools (None: DuckDB's default, 80% of
    RAM, under which DuckDB keeps the written table blocks cached).
    """
    out: dict = {}
    for tool in ("freight", "raw"):
        why = tools.get(tool, f"{tool} not selected")
        if why is not None:
            out[tool] = {"skipped": why}
            continue
        res = {}
        for n in (cfg.stream_base_rows, cfg.stream_rows):
            cap = f", DuckDB memory_limit {memory_limit}" if memory_limit else ""
            log(f"{dest} stream {tool}: {n:,} rows from a generator{cap}")
            spec = {
                "case": "stream",
                "tool": tool,
                "rows": n,
                "target": target(cfg, dest, tool, f"stream{n}"),
            }
            if memory_limit:
                spec["target"]["duckdb_config"] = {"memory_limit": memory_limit}
            try:
                r, _ = run_worker(cfg, spec, timeout=cfg.bulk_timeout)
                r["rows"] = n
                res[str(n)] = r
            except WorkerError as exc:
                res = {"error": f"{n:,} rows: {exc}"}
                break
            finally:
                p = spec["target"].get("path")
                for f in (p, f"{p}.wal"):
                    if f and os.path.exists(f):  # the 10M-row file is big: drop it at once
                        os.remove(f)
        out[tool] = res
    return out


def drop_postgres_schemas(cfg: Config) -> None:
    import psycopg

    try:
        with psycopg.connect(cfg.postgres_url, connect_timeout=5, autocommit=True) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (cfg.run_id + "%",)
                )
            ]
            for name in names:
                conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    except Exception as exc:
        print(f"warning: could not drop schemas {cfg.run_id}*: {exc}", file=sys.stderr)


def run_all(cfg: Config) -> dict:
    results: dict = {}
    for dest in cfg.dests:
        tools = probe(cfg, dest)
        for tool, why in tools.items():
            if why:
                log(f"{dest}: {tool} skipped: {why}")
        r = results[dest] = {"tools": tools}
        try:
            for case, fn in (("cold", cold), ("warm", warm), ("bulk", bulk), ("stream", stream)):
                if case in cfg.cases and (case != "stream" or dest == "duckdb"):
                    r[case] = fn(cfg, dest, tools)
            if "files" in cfg.cases:
                from bench.files import files

                r["files"] = files(cfg, dest, tools)
            if "stream" in cfg.cases and dest == "duckdb" and cfg.stream_memory_limit:
                r["stream_capped"] = stream(cfg, dest, tools, cfg.stream_memory_limit)
                r["stream_capped_limit"] = cfg.stream_memory_limit
        finally:
            if dest == "postgres" and not all("unreachable" in (w or "") for w in tools.values()):
                drop_postgres_schemas(cfg)
    return results
