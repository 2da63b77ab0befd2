"""Generate the bundled sample data: Reddit-style submissions as gzip JSONL.

Deterministic (a seeded ``random.Random``, fixed timestamps, gzip ``mtime=0``), stdlib only,
no network: running it twice writes byte-identical files.

    python examples/make_sample.py [OUT_DIR]      # default: examples/data/

Writes two files:

``submissions.jsonl.gz``
    3,000 submissions with unique ``submission_id`` values.

``submissions_update.jsonl.gz``
    1,005 rows for ``strategy="merge", key="submission_id"``, shuffled together:

    * 400 existing submissions with new ``score``, ``num_comments`` and ``ai_score``
      (every one differs from the original in ``score``; nothing else changes),
    * 300 existing submissions written byte-for-byte as in ``submissions.jsonl.gz``,
    * 300 new submissions,
    * 5 invalid rows: 3 with ``"submission_id": null`` and 2 new submissions whose
      ``score`` is the string ``"N/A"``.

    A merge of it into the loaded table therefore gives: rows_in 1005, inserted 300,
    updated 400, unchanged 300, rejected 5.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20240501
N_ROWS = 3_000
N_CHANGED = 400
N_IDENTICAL = 300
N_NEW = 300
N_NULL_KEY = 3
N_BAD_SCORE = 2

DATA_DIR = Path(__file__).resolve().parent / "data"

SUBREDDITS = [
    "dataengineering",
    "python",
    "MachineLearning",
    "programming",
    "databasedevelopment",
    "LocalLLaMA",
    "duckdb",
    "PostgreSQL",
    "rust",
    "datascience",
    "learnpython",
    "devops",
]
FLAIRS = ["Discussion", "Help", "Show and tell", "News", "Career", "Meme", "Blog", "Question"]
LABELS = [
    "etl",
    "orchestration",
    "storage",
    "sql",
    "performance",
    "tutorial",
    "tooling",
    "career",
    "llm",
    "benchmark",
    "release",
    "opinion",
    "bug",
    "off-topic",
]
OPENERS = [
    "How do you",
    "Why does",
    "Is it worth it to",
    "I finally managed to",
    "Best way to",
    "TIL you can",
    "Anyone else struggling to",
    "We stopped trying to",
    "Guide: how to",
    "Unpopular opinion: never",
    "Benchmark: we tried to",
    "Help! Can't",
]
VERBS = [
    "load",
    "merge",
    "dedupe",
    "backfill",
    "partition",
    "version",
    "migrate",
    "stream",
    "validate",
    "compact",
    "index",
    "replay",
]
OBJECTS = [
    "a 2 TB Parquet lake",
    "CDC events into DuckDB",
    "JSON from a flaky API",
    "nightly CSV dumps",
    "Reddit comments",
    "slowly changing dimensions",
    "late-arriving events",
    "nested JSON",
    "a Postgres table with 400M rows",
    "S3 logs",
    "embeddings",
    "sensor readings",
]
SUFFIXES = [
    "",
    "",
    "",
    "",
    "",
    "",
    "?",
    "?",
    " (with code)",
    " — lessons learned",
    " 🚀",
    " 🔥🔥",
    " 😅",
    " in 2024",
    " — café-grade edition ☕",
    " (naïve approach)",
    " 日本語 version",
    ' "the right way"',
    " [OC]",
    " 🤔",
]
AUTHOR_A = ["data", "sql", "etl", "lazy", "quiet", "rusty", "duck", "pg", "null", "async"]
AUTHOR_B = ["wrangler", "goblin", "enjoyer", "monk", "pilot", "otter", "smith", "nerd", "owl"]
DOMAINS = [
    "github.com",
    "medium.com",
    "duckdb.org",
    "arxiv.org",
    "news.ycombinator.com",
    "youtube.com",
    "substack.com",
    "postgresql.org",
]

CREATED_FROM = datetime(2024, 5, 1, tzinfo=UTC)
SCRAPED_AT = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
RESCRAPED_AT = datetime(2024, 6, 2, 6, 0, tzinfo=UTC)

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _base36(n: int, width: int = 6) -> str:
    out = ""
    for _ in range(width):
        n, d = divmod(n, 36)
        out = _B36[d] + out
    return out


def _submission(rng: random.Random, sid: str) -> dict[str, Any]:
    subreddit = rng.choice(SUBREDDITS)
    title = f"{rng.choice(OPENERS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(SUFFIXES)}"
    is_self = rng.random() < 0.55
    slug = "_".join(title.lower().split()[:5])
    if is_self:
        url = f"https://www.reddit.com/r/{subreddit}/comments/{sid[3:]}/{slug}/"
    else:
        url = f"https://{rng.choice(DOMAINS)}/{sid[3:]}"
    author = (
        None
        if rng.random() < 0.06
        else f"{rng.choice(AUTHOR_A)}_{rng.choice(AUTHOR_B)}{rng.randint(1, 999)}"
    )
    score = int(rng.paretovariate(1.2)) - 1 + rng.randint(-3, 20)
    created = CREATED_FROM + timedelta(seconds=rng.randint(0, 30 * 86_400))
    return {
        "submission_id": sid,
        "subreddit": subreddit,
        "title": title,
        "author": author,
        "score": score,
        "upvote_ratio": round(rng.uniform(0.35, 1.0), 2),
        "num_comments": max(0, int(rng.expovariate(1 / 25))),
        "created_utc": _iso(created),
        "url": url,
        "is_self": is_self,
        "flair": rng.choice(FLAIRS) if rng.random() < 0.7 else None,
        "ai_score": round(rng.random(), 4),
        "ai_labels": sorted(rng.sample(LABELS, rng.choice([0, 1, 1, 2, 2, 3]))),
        "scraped_at": _iso(SCRAPED_AT),
    }


def _changed(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    new = dict(row)  # same key order, so the JSON layout matches the original
    new["score"] = row["score"] + rng.choice([-1, 1]) * rng.randint(1, 250)
    new["num_comments"] = row["num_comments"] + rng.randint(0, 60)
    new["ai_score"] = round(rng.random(), 4)
    return new


def _dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _write(path: Path, rows: list[dict[str, Any]]) -> None:
    payload = "".join(_dumps(r) + "\n" for r in rows).encode("utf-8")
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(payload)


def generate(out_dir: Path = DATA_DIR) -> dict[str, int]:
    rng = random.Random(SEED)
    n_ids = N_ROWS + N_NEW + N_NULL_KEY + N_BAD_SCORE
    ids = [f"t3_{_base36(n)}" for n in rng.sample(range(36**5, 36**6), n_ids)]

    originals = [_submission(rng, sid) for sid in ids[:N_ROWS]]

    picked = rng.sample(range(N_ROWS), N_CHANGED + N_IDENTICAL)
    changed = [_changed(rng, originals[i]) for i in picked[:N_CHANGED]]
    identical = [originals[i] for i in picked[N_CHANGED:]]
    new = [_submission(rng, sid) for sid in ids[N_ROWS : N_ROWS + N_NEW]]

    invalid = []
    for sid in ids[N_ROWS + N_NEW :]:  # the ids are only placeholders for the null-key rows
        invalid.append(_submission(rng, sid))
    for row in invalid[:N_NULL_KEY]:
        row["submission_id"] = None
    for row in invalid[N_NULL_KEY:]:
        row["score"] = "N/A"

    update = changed + identical + new + invalid
    rng.shuffle(update)

    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "submissions.jsonl.gz", originals)
    _write(out_dir / "submissions_update.jsonl.gz", update)
    return {
        "submissions": len(originals),
        "update": len(update),
        "changed": len(changed),
        "identical": len(identical),
        "new": len(new),
        "invalid": len(invalid),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR
    counts = generate(target)
    print(f"wrote {target}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
