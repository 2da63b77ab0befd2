"""Deterministic benchmark rows (standard library only, so a cold child imports nothing heavy).

Every row has eight columns: int ``id``, str ``title``, float ``score``, int ``n``,
str ``category``, bool ``flag``, nullable str ``note`` and an ISO-8601 str ``created_at``.
``version`` changes every non-key value, so a merge of an existing key is a real update.
"""

from __future__ import annotations

from collections.abc import Iterator

COLUMNS = ("id", "title", "score", "n", "category", "flag", "note", "created_at")
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


def make_row(i: int, version: int = 0) -> dict:
    v = i + 7919 * version
    return {
        "id": i,
        "title": f"item {i} rev {version}",
        "score": (v % 10007) / 7.0,
        "n": v % 1000,
        "category": CATEGORIES[v % 8],
        "flag": v % 3 == 0,
        "note": None if v % 4 else f"note {v}",
        "created_at": f"2024-{1 + v % 12:02d}-{1 + v % 28:02d}T{v % 24:02d}:{v % 60:02d}:00+00:00",
    }


def make_rows(start: int, stop: int, version: int = 0) -> list[dict]:
    return [make_row(i, version) for i in range(start, stop)]


def iter_rows(start: int, stop: int, version: int = 0) -> Iterator[dict]:
    for i in range(start, stop):
        yield make_row(i, version)


def merge_window(existing: int, size: int, step: int) -> tuple[int, int]:
    """Key range for the ``step``-th merge of ``size`` rows: half updates of existing keys, half new.

    The target starts with keys ``[0, existing)``; merge ``k`` (0-based) covers
    ``[existing - size/2 + k*size/2, existing + size/2 + k*size/2)``: its lower half was
    present (inserted by the table's setup or the previous merge), its upper half is new.
    """
    half = size // 2
    start = existing - half + step * half
    return start, start + size
