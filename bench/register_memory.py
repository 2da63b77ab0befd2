"""Peak RSS of one DuckDB transaction that appends N rows in 50k-row Arrow chunks, four ways.

    python -m bench.register_memory [rows]        # default 4,000,000

Shows where the memory of a chunked single-transaction append goes: ``register()`` +
``INSERT ... SELECT FROM <view>`` + ``unregister()`` per chunk keeps every chunk's Arrow data
alive until COMMIT (the dropped view is still visible to the open transaction), while a
replacement scan of a Python variable, ``from_arrow(...).insert_into(...)``, or one INSERT
reading a ``RecordBatchReader`` stays near flat. Each variant runs in its own process.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

VARIANTS = ("register", "replacement_scan", "relation_insert_into", "one_reader_statement")
DDL = (
    "CREATE TABLE t (id BIGINT, title VARCHAR, score DOUBLE, n BIGINT, category VARCHAR, "
    "flag BOOLEAN, note VARCHAR, created_at VARCHAR)"
)


def child(variant: str, n: int, chunk: int = 50_000) -> dict:
    import duckdb
    import pyarrow as pa

    from bench.data import iter_rows

    path = os.path.join(tempfile.mkdtemp(prefix="freight-regmem-"), "x.duckdb")
    con = duckdb.connect(path)
    con.execute(DDL)
    it = iter_rows(0, n)
    con.execute("BEGIN")
    if variant == "one_reader_statement":
        first = pa.RecordBatch.from_pylist(list(itertools.islice(it, chunk)))

        def batches():
            yield first
            while rows := list(itertools.islice(it, chunk)):
                yield pa.RecordBatch.from_pylist(rows, schema=first.schema)

        reader = pa.RecordBatchReader.from_batches(first.schema, batches())  # noqa: F841 (read by name)
        con.execute("INSERT INTO t BY NAME SELECT * FROM reader")
    else:
        while rows := list(itertools.islice(it, chunk)):
            data = pa.Table.from_pylist(rows)
            if variant == "register":
                con.register("chunk", data)
                con.execute("INSERT INTO t BY NAME SELECT * FROM chunk")
                con.unregister("chunk")
            elif variant == "replacement_scan":
                con.execute("INSERT INTO t BY NAME SELECT * FROM data")
            else:
                con.from_arrow(data).insert_into("t")
    con.execute("COMMIT")
    count = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return {"rows": count, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
    print(f"{n:,} rows appended in 50k-row chunks, one transaction:")
    for variant in VARIANTS:
        out = subprocess.run(
            [sys.executable, "-m", "bench.register_memory", "--child", variant, str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        res = json.loads(out.strip().splitlines()[-1])
        print(f"  {variant:22s} peak RSS {res['peak_rss_mb']:7.0f} MB  ({res['rows']:,} rows)")


if __name__ == "__main__":
    main()
