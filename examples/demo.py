"""freight in one minute: load, merge, merge again, then read the journal.

    python examples/demo.py [URL]        # default: duckdb:///demo.duckdb (recreated each run)

1. Append 3,000 Reddit-style submissions into the table ``submissions``.
2. Merge an update batch on ``submission_id``: 400 changed rows are updated, 300 identical
   rows are left alone, 300 new rows are inserted and 5 invalid rows are quarantined.
3. Run the same merge again: freight recognises the batch and skips it (idempotent).
4. Print the table's final row count and what to try next with the ``freight`` command.

The sample files are made by ``examples/make_sample.py``.
"""

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

import freight

DEFAULT_URL = "duckdb:///demo.duckdb"
DATA = Path(__file__).resolve().parent / "data"

url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL
if url == DEFAULT_URL:  # start fresh, but never delete a database someone passed in
    for leftover in (Path("demo.duckdb"), Path("demo.duckdb.wal")):
        leftover.unlink(missing_ok=True)

SUBMISSIONS = DATA / "submissions.jsonl.gz"
UPDATE = DATA / "submissions_update.jsonl.gz"
COUNTERS = ("rows_in", "inserted", "updated", "unchanged", "skipped", "rejected")

console = Console(width=None if sys.stdout.isatty() else 160)
with freight.connect(url) as ds:
    results = [
        ds.load(SUBMISSIONS, table="submissions", strategy="append"),
        ds.load(UPDATE, table="submissions", strategy="merge", key="submission_id"),
        # The same batch again: freight recognises it and skips it.
        ds.load(UPDATE, table="submissions", strategy="merge", key="submission_id"),
    ]
    for result in results:
        console.print(str(result), markup=False, highlight=False)

    history = Table(title=f"Load history of {url} (newest first)")
    for name in ("load id", "table", "strategy", "status"):
        history.add_column(name)
    for name in (*COUNTERS, "seconds"):
        history.add_column(name, justify="right")
    for rec in ds.history():
        history.add_row(
            rec.load_id,
            rec.table,
            rec.strategy,
            rec.status,
            *(str(getattr(rec, name)) for name in COUNTERS),
            f"{rec.seconds:.3f}",
        )
    console.print(history)

    rejected = ds.rejected("submissions")
    console.print(f"{len(rejected)} rows quarantined in submissions:", highlight=False)
    for bad in rejected[:5]:
        console.print(f"  row {bad.row_number}: {bad.reason}", markup=False, highlight=False)

    stored = ds.read("submissions", columns=["submission_id"]).num_rows
    console.print(f"\nsubmissions now holds {stored:,} rows.", highlight=False)
    # next: the same dataset from the command line (ds.url has any password masked)
    console.print(
        "Next, try the freight command on the same dataset (or `. .venv/bin/activate` and "
        "drop the .venv/bin/):\n"
        f"  .venv/bin/freight rejected submissions --url {ds.url}\n"
        f"  .venv/bin/freight history --url {ds.url}",
        markup=False,
        highlight=False,
    )
