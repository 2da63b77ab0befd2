"""Conformance: atomicity (all or nothing, no staging object outlives a load), idempotency,
and the journal (history) every load writes. Runs on every destination."""

from __future__ import annotations

from datetime import datetime

import pytest

import freight
from _conformance import assert_accounted, counts, raw_rows, rows, stored_objects, user_objects

BASE = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]


class Boom(RuntimeError):
    pass


def exploding(n: int, extra: dict | None = None):
    """A generator that yields ``n`` rows and then raises."""
    for i in range(n):
        yield {"id": 1000 + i, "v": f"g{i}", **(extra or {})}
    raise Boom(f"source failed after {n} rows")


def snapshot(ds: freight.Dataset, table: str) -> tuple:
    if table not in ds.tables():
        return (None, None)
    return (ds.schema(table), sorted(map(repr, raw_rows(ds, table))))


# --------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("strategy", ["append", "merge", "replace"])
def test_generator_failing_after_10k_rows_leaves_table_as_it_was(url: str, strategy: str) -> None:
    with freight.connect(url, chunk_rows=1000) as ds:
        ds.load(BASE, "t", strategy="merge", key="id")
        before = snapshot(ds, "t")
        with pytest.raises(Exception, match="source failed after 10000 rows") as ei:
            ds.load(exploding(10_000, {"extra": 1}), "t", strategy=strategy, key="id")
        assert isinstance(ei.value, freight.FreightError | Boom)
        assert snapshot(ds, "t") == before
        assert "extra" not in ds.schema("t")
        last = ds.history("t")[0]
        assert last.status == "failed"
        assert last.error and "source failed after 10000 rows" in last.error
        assert last.load_id != ds.history("t")[1].load_id
        assert ds.history("t")[1].status == "committed"


def without_journal(objs: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    return {o for o in objs if not {"_freight_loads", "_freight_rejected"} & set(o)}


def test_failed_load_into_a_new_table_creates_nothing(url: str) -> None:
    with freight.connect(url, chunk_rows=500) as ds:
        before = stored_objects(ds, url)
        with pytest.raises(Exception, match="source failed"):
            ds.load(exploding(2_000), "fresh", strategy="merge", key="id")
        assert "fresh" not in ds.tables()
        # (freight's journal may be made by this failure's record, on a DuckDB file made now)
        assert without_journal(stored_objects(ds, url)) == without_journal(before)
        assert ds.rejected() == []
        (rec,) = ds.history("fresh")
        assert rec.status == "failed" and "source failed" in (rec.error or "")


def test_failed_load_keeps_no_quarantine_rows(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")

    def gen():
        yield {"id": None, "v": "rejected-row"}
        yield {"id": "not-a-number", "v": "x"}
        yield {"id": 7, "v": "ok"}
        raise Boom("late failure")

    with pytest.raises(Exception, match="late failure"):
        ds.load(gen(), "t", strategy="merge", key="id")
    assert ds.rejected() == []
    assert rows(ds, "t", "id") == BASE


def test_on_reject_fail_commits_nothing(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "n": 5}], "t", strategy="merge", key="id")
    before = snapshot(ds, "t")
    with pytest.raises(freight.RejectedRowsError) as ei:
        ds.load(
            [{"id": 2, "n": 6, "new": "x"}, {"id": 3, "n": "N/A"}],
            "t",
            strategy="merge",
            key="id",
            on_reject="fail",
        )
    assert isinstance(ei.value, freight.FreightError)
    assert snapshot(ds, "t") == before
    assert ds.rejected() == []
    assert ds.history("t")[0].status == "failed"


def test_freeze_violation_commits_nothing(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    before = snapshot(ds, "t")
    with pytest.raises(freight.SchemaContractError):
        ds.load(
            [{"id": 1, "v": "changed"}, {"id": 9, "v": "new", "extra": 1}],
            "t",
            strategy="merge",
            key="id",
            contract="freeze",
        )
    assert snapshot(ds, "t") == before
    rec = ds.history("t")[0]
    assert rec.status == "failed" and rec.error


@pytest.mark.parametrize("fails", [False, True], ids=["committed", "failed"])
def test_no_staging_object_outlives_a_load(url: str, fails: bool) -> None:
    with freight.connect(url, chunk_rows=10) as ds:
        ds.load([{"id": 0, "v": "seed"}], "t", strategy="merge", key="id")
        before = stored_objects(ds, url)
        if fails:  # after staging 50 rows in chunks of 10
            with pytest.raises(Boom):
                ds.load(exploding(50), "t", strategy="merge", key="id")
        else:
            r = ds.load([{"id": 1, "v": "a"}], "t", strategy="merge", key="id")
            assert counts(r) == {"inserted": 1}
        assert [h.status for h in ds.history("t")] == [
            "failed" if fails else "committed",
            "committed",
        ]
        # skipped (idempotent replay) loads must not leave anything either
        ds.load([{"id": 0, "v": "seed"}], "u", strategy="merge", key="id")
        ds.load([{"id": 0, "v": "seed"}], "u", strategy="merge", key="id")
        after = stored_objects(ds, url)
        assert after - before == user_objects(after, "u")
        assert before - after == set()
        leftovers = [o for o in after if any("stag" in str(p).lower() for p in o)]
        assert leftovers == []
        if ds.destination.capabilities.name == "duckdb":
            assert [o for o in after if o[-1] == "true"] == [], "temporary objects survive"


# --------------------------------------------------------------------------- idempotency


def test_same_load_twice_is_skipped(ds: freight.Dataset) -> None:
    r1 = ds.load(BASE, "t", strategy="merge", key="id")
    before = snapshot(ds, "t")
    r2 = ds.load([dict(r) for r in BASE], "t", strategy="merge", key="id")
    assert r2.status == "skipped"
    assert counts(r2) == {"skipped": 3}
    assert r2.rows_in == 3
    assert_accounted(r2)
    assert r2.checksum == r1.checksum
    assert r2.load_id != r1.load_id
    assert snapshot(ds, "t") == before
    assert [h.status for h in ds.history("t")] == ["skipped", "committed"]


def test_idempotent_replay_of_append_adds_nothing(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    r = ds.load(BASE, "t")
    assert r.status == "skipped" and r.inserted == 0
    assert len(rows(ds, "t")) == 3


def test_force_applies_the_same_load_again(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    r = ds.load(BASE, "t", force=True)
    assert r.status == "committed"
    assert counts(r) == {"inserted": 3}
    assert len(rows(ds, "t")) == 6


def test_a_then_b_then_a_applies_a_again(ds: freight.Dataset) -> None:
    a = [{"id": 1, "v": "A"}]
    b = [{"id": 1, "v": "B"}]
    ds.load(a, "t", strategy="merge", key="id")
    ds.load(b, "t", strategy="merge", key="id")
    r = ds.load(a, "t", strategy="merge", key="id")
    assert r.status == "committed"
    assert counts(r) == {"updated": 1}
    assert rows(ds, "t") == a


def test_a_failed_or_skipped_load_does_not_count_as_the_latest(ds: freight.Dataset) -> None:
    a = [{"id": 1, "v": "A"}]
    ds.load(a, "t", strategy="merge", key="id")
    with pytest.raises(Exception, match="source failed"):
        ds.load(exploding(3), "t", strategy="merge", key="id")
    assert ds.load(a, "t", strategy="merge", key="id").status == "skipped"
    assert ds.load(a, "t", strategy="merge", key="id").status == "skipped"


@pytest.mark.parametrize(
    "other",
    [
        {"strategy": "merge", "key": "v"},
        {"strategy": "insert_only", "key": "id"},
        {"strategy": "merge", "key": "id", "columns": {"v": "string"}},
        {"strategy": "merge", "key": "id", "contract": "freeze"},
    ],
    ids=["other-key", "other-strategy", "other-columns", "other-contract"],
)
def test_same_content_with_other_parameters_is_not_skipped(ds: freight.Dataset, other) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    r = ds.load(BASE, "t", **other)
    assert r.status == "committed"
    assert_accounted(r)


def test_same_content_into_another_table_is_not_skipped(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    r = ds.load(BASE, "t2", strategy="merge", key="id")
    assert r.status == "committed" and r.inserted == 3


RERUNS = [
    *((s, True) for s in ("append", "replace", "merge", "insert_only", "update_only", "delete")),
    ("incremental", True),
    ("append", False),
    ("replace", False),
    ("incremental", False),
]


@pytest.mark.parametrize(("strategy", "keyed"), RERUNS, ids=[f"{s}-{k}" for s, k in RERUNS])
@pytest.mark.parametrize("chunk_rows", [None, 1])
def test_an_identical_rerun_of_every_strategy_is_skipped(
    url: str, strategy: str, keyed: bool, chunk_rows: int | None
) -> None:
    """With a key or without, in one chunk or several: the same load again is a no-op (an
    append with key= used to fail on the key its first run stored)."""
    kw: dict = {"strategy": strategy, "key": "id" if keyed else None}
    if strategy == "incremental":
        kw["cursor"] = "id"
    batch = [{"id": 2, "v": "x"}, {"id": 3, "v": "c"}]
    if strategy == "append" or (strategy == "incremental" and not keyed):  # appends
        batch = [{"id": 3, "v": "c"}, {"id": 4, "v": "d"}]
    with freight.connect(url, chunk_rows=chunk_rows) as ds:
        ds.load([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "t", key="id")
        first = ds.load([dict(r) for r in batch], "t", **kw)
        assert first.status == "committed"
        before = snapshot(ds, "t")
        again = ds.load([dict(r) for r in batch], "t", **kw)
        assert again.status == "skipped", again
        assert counts(again) == {"skipped": 2}
        assert snapshot(ds, "t") == before
        assert [h.status for h in ds.history("t", limit=2)] == ["skipped", "committed"]


def test_an_append_that_repeats_a_stored_key_still_fails(ds: freight.Dataset) -> None:
    """Not a re-run (other content): the key the table holds refuses the append."""
    ds.load([{"id": 1, "v": "a"}], "t", key="id")
    with pytest.raises(freight.DestinationError):
        ds.load([{"id": 1, "v": "b"}], "t", key="id")
    with pytest.raises(freight.DestinationError):
        ds.load([{"id": 1, "v": "a"}], "t", key="id", force=True)
    assert rows(ds, "t") == [{"id": 1, "v": "a"}]
    assert [h.status for h in ds.history("t")] == ["failed", "failed", "committed"]


def test_table_names_differing_only_by_case(ds: freight.Dataset) -> None:
    """Where names fold case (DuckDB) ``events``, ``Events`` and ``EVENTS`` are one table:
    one journal, one checksum, one history. Where they do not (PostgreSQL), three tables."""
    one = ds.destination.capabilities.case_insensitive_identifiers
    ds.load([{"x": 1}], "events")
    again = ds.load([{"x": 1}], "Events")
    assert again.status == ("skipped" if one else "committed")
    ds.load([{"x": 2}], "Events")
    replaced = ds.load([{"x": 3}], "EVENTS", strategy="replace")
    if one:
        assert replaced.removed == 2
        assert ds.tables() == ["events"]
        assert rows(ds, "events") == ds.read("EVENTS").to_pylist() == [{"x": 3}]
        for name in ("events", "Events", "EVENTS"):
            history = ds.history(name)
            assert [(h.table, h.status) for h in history] == [
                ("EVENTS", "committed"),
                ("Events", "committed"),
                ("Events", "skipped"),
                ("events", "committed"),
            ]
        assert ds.load([{"x": 3}], "events", strategy="replace").status == "skipped"
        ds.load([{"x": 4}, {"x": "n/a"}], "Events")
        assert [r.row for r in ds.rejected("events")] == [{"x": "n/a"}]
    else:
        assert replaced.removed == 0
        assert sorted(ds.tables()) == ["EVENTS", "Events", "events"]
        assert rows(ds, "events") == [{"x": 1}]
        assert rows(ds, "Events", "x") == [{"x": 1}, {"x": 2}]
        assert [h.table for h in ds.history("events")] == ["events"]


def test_replayed_load_is_idempotent_across_connections(url: str) -> None:
    with freight.connect(url) as ds:
        ds.load(BASE, "t", strategy="merge", key="id")
    with freight.connect(url) as ds:
        assert ds.load(BASE, "t", strategy="merge", key="id").status == "skipped"


# --------------------------------------------------------------------------- journal


def test_history_records_every_load_newest_first(ds: freight.Dataset) -> None:
    r1 = ds.load(BASE, "t", strategy="merge", key="id")
    r2 = ds.load([{"id": 4, "v": "d", "w": 1}], "t", strategy="merge", key="id")
    r3 = ds.load([{"x": 1}], "other")
    h = ds.history()
    assert [x.load_id for x in h] == [r3.load_id, r2.load_id, r1.load_id]
    assert [x.load_id for x in ds.history("t")] == [r2.load_id, r1.load_id]
    rec = ds.history("t")[0]
    assert (rec.table, rec.strategy, rec.status) == ("t", "merge", "committed")
    assert counts(rec) == counts(r2) == {"inserted": 1}
    assert rec.rows_in == 1 and rec.checksum == r2.checksum and rec.error is None
    assert isinstance(rec.started_at, datetime) and isinstance(rec.finished_at, datetime)
    assert rec.started_at.tzinfo is not None
    assert rec.started_at <= rec.finished_at
    # the second load added a column: the schema version moved on
    assert ds.history("t")[0].schema_version > ds.history("t")[1].schema_version >= 1


def test_history_of_an_unknown_table_is_empty(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    assert ds.history("nope") == []


def test_journal_counts_match_the_result(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    r = ds.load(
        [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 5}, {"id": 5}, {"id": None}],
        "t",
        strategy="merge",
        key="id",
    )
    rec = ds.history("t")[0]
    for field in ("rows_in", "inserted", "updated", "unchanged", "deleted", "skipped"):
        assert getattr(rec, field) == getattr(r, field), field
    assert (rec.deduplicated, rec.rejected, rec.removed) == (r.deduplicated, r.rejected, r.removed)
    assert counts(r) == {
        "unchanged": 1,
        "updated": 1,
        "inserted": 1,
        "deduplicated": 1,
        "rejected": 1,
    }


def test_every_stored_row_carries_the_load_that_wrote_it(ds: freight.Dataset) -> None:
    r1 = ds.load(BASE, "t", strategy="merge", key="id")
    r2 = ds.load([{"id": 2, "v": "B"}, {"id": 4, "v": "d"}], "t", strategy="merge", key="id")
    got = {r["id"]: r["_freight_load_id"] for r in raw_rows(ds, "t")}
    assert got == {1: r1.load_id, 2: r2.load_id, 3: r1.load_id, 4: r2.load_id}
    assert all(not c.startswith("_freight_") for c in ds.read("t").column_names)
    assert all(not c.startswith("_freight_") for c in ds.schema("t"))


def test_load_ids_are_unique_and_time_ordered(ds: freight.Dataset) -> None:
    ids = [ds.load([{"i": i}], "t").load_id for i in range(5)]
    assert len(set(ids)) == 5
    assert ids == sorted(ids)


def test_freights_own_tables_are_not_listed(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    ds.load([{"id": 1}, {"id": None}], "u", strategy="merge", key="id")
    assert sorted(ds.tables()) == ["t", "u"]


def test_batch_whose_every_key_is_null_is_quarantined(ds: freight.Dataset) -> None:
    r = ds.load([{"id": None, "v": "x"}, {"v": "y"}], "u", strategy="merge", key="id")
    assert r.status == "committed"
    assert counts(r) == {"rejected": 2}
    assert [q.row for q in ds.rejected("u")] == [{"id": None, "v": "x"}, {"v": "y"}]
    assert rows(ds, "u") == []


def test_health_reports_loads_and_rejects(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    ds.load([{"id": 1}, {"id": None}], "u", strategy="merge", key="id")
    with pytest.raises(Exception, match="source failed"):
        ds.load(exploding(2), "t")
    h = ds.health()
    assert h.ok is True
    assert (h.tables, h.loads, h.failed_loads, h.rejected_rows) == (2, 3, 1, 1)


def test_result_fields(ds: freight.Dataset) -> None:
    r = ds.load(BASE, "t", strategy="merge", key="id")
    assert_accounted(r)
    assert r.table == "t" and r.strategy == "merge" and r.status == "committed"
    assert isinstance(r.checksum, str) and r.checksum
    assert r.seconds >= 0 and r.rows_per_second >= 0
    assert r.schema_changes and all(isinstance(c, str) for c in r.schema_changes)
    r2 = ds.load([{"id": 9, "v": "z"}], "t", strategy="merge", key="id")
    assert r2.schema_changes == []


# --------------------------------------------------------------------------- injected failures


def _inject(ds: freight.Dataset, monkeypatch, hook: str, after: bool) -> None:
    """Make the session's ``hook`` fail (after doing its work when ``after``)."""
    dest = ds.destination
    real_session = dest.session

    def failing_session(*a, **k):
        cm = real_session(*a, **k)

        class Wrapped:
            def __enter__(self):
                s = cm.__enter__()
                real = getattr(s, hook)

                def broken(*args, **kwargs):
                    if after:
                        real(*args, **kwargs)
                    raise Boom(f"injected failure in {hook}")

                setattr(s, hook, broken)
                return s

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(dest, "session", failing_session)


@pytest.mark.parametrize(
    ("hook", "after"),
    [("apply", True), ("quarantine", True), ("journal", True), ("commit", False)],
)
def test_failure_at_any_step_rolls_back_data_schema_and_quarantine(
    url: str, monkeypatch, hook: str, after: bool
) -> None:
    with freight.connect(url) as ds:
        ds.load(BASE, "t", strategy="merge", key="id")
        before = snapshot(ds, "t")
        objects = stored_objects(ds, url)
        _inject(ds, monkeypatch, hook, after)
        batch = [{"id": 1, "v": "changed", "extra": 1.5}, {"id": 9, "v": "new"}, {"id": None}]
        with pytest.raises(Exception, match=f"injected failure in {hook}"):
            ds.load(batch, "t", strategy="merge", key="id")
        with pytest.raises(Exception, match=f"injected failure in {hook}"):
            ds.load(batch, "t2", strategy="merge", key="id")
        monkeypatch.undo()
        assert snapshot(ds, "t") == before
        assert "t2" not in ds.tables()
        assert ds.rejected() == []
        assert stored_objects(ds, url) == objects
        statuses = [h.status for h in ds.history()]
        assert statuses == ["failed", "failed", "committed"]
        assert all("injected failure" in (h.error or "") for h in ds.history()[:2])
    # and a fresh connection sees the same
    with freight.connect(url) as ds:
        assert snapshot(ds, "t") == before
        assert ds.load(batch, "t", strategy="merge", key="id").status == "committed"


def test_loads_into_other_tables_do_not_break_idempotency(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    ds.load([{"id": 1, "v": "other"}], "u", strategy="merge", key="id")
    r = ds.load(BASE, "t", strategy="merge", key="id")
    assert r.status == "skipped"


def test_the_same_file_twice_is_skipped_and_a_changed_file_is_not(
    ds: freight.Dataset, tmp_path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"id": 1, "v": "a"}\n{"id": 2, "v": "b"}\n')
    assert ds.load(path, "t", strategy="merge", key="id").status == "committed"
    r = ds.load(path, "t", strategy="merge", key="id")
    assert r.status == "skipped" and counts(r) == {"skipped": 2}
    path.write_bytes(b'{"id": 1, "v": "a"}\n{"id": 2, "v": "B"}\n')
    r = ds.load(path, "t", strategy="merge", key="id")
    assert r.status == "committed" and counts(r) == {"unchanged": 1, "updated": 1}


@pytest.mark.parametrize(
    "batch",
    [
        [{"id": 1, "v": "a"}, {"id": 2, "v": None}],
        [{"id": 1, "v": "a"}, {"id": None, "v": "rejected"}],
        [{"id": None, "v": "rejected"}],
    ],
    ids=["accepted", "some-rejected", "all-rejected"],
)
def test_column_order_within_rows_is_not_content(ds: freight.Dataset, batch) -> None:
    ds.load(batch, "t", strategy="merge", key="id")
    reordered = [dict(reversed(list(r.items()))) for r in batch]
    r = ds.load(reordered, "t", strategy="merge", key="id")
    assert r.status == "skipped", r
    assert len(ds.rejected("t")) == sum(1 for x in batch if x["id"] is None)


@pytest.mark.parametrize("strategy", ["append", "replace", "insert_only", "incremental"])
def test_rows_written_by_any_strategy_carry_their_load_id(
    ds: freight.Dataset, strategy: str
) -> None:
    kw = {"key": "id"} if strategy == "insert_only" else {}
    if strategy == "incremental":
        kw = {"cursor": "id"}
    r1 = ds.load([{"id": 1}, {"id": 2}], "t", strategy=strategy, **kw)
    r2 = ds.load([{"id": 3}], "t", strategy=strategy, **kw)
    got = sorted((x["id"], x["_freight_load_id"]) for x in raw_rows(ds, "t"))
    if strategy == "replace":
        assert got == [(3, r2.load_id)]
    else:
        assert got == [(1, r1.load_id), (2, r1.load_id), (3, r2.load_id)]


def test_skipped_loads_are_journaled_with_their_counts(ds: freight.Dataset) -> None:
    ds.load(BASE, "t", strategy="merge", key="id")
    r = ds.load(BASE, "t", strategy="merge", key="id")
    rec = ds.history("t")[0]
    assert (rec.load_id, rec.status) == (r.load_id, "skipped")
    assert rec.rows_in == 3 and counts(rec) == {"skipped": 3}
    assert rec.checksum == r.checksum and rec.error is None


def test_after_a_forced_load_the_same_load_is_skipped_again(ds: freight.Dataset) -> None:
    ds.load(BASE, "t")
    assert ds.load(BASE, "t", force=True).status == "committed"
    assert ds.load(BASE, "t").status == "skipped"
    assert len(rows(ds, "t")) == 6


def test_an_incremental_replay_is_skipped(ds: freight.Dataset) -> None:
    batch = [{"id": 1, "ts": 5}, {"id": 2, "ts": 6}]
    ds.load(batch, "t", strategy="incremental", cursor="ts")
    r = ds.load(batch, "t", strategy="incremental", cursor="ts")
    assert r.status == "skipped" and counts(r) == {"skipped": 2}
    assert str(ds.history("t")[1].cursor_value) == "6"
    r = ds.load([{"id": 3, "ts": 7}], "t", strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 1}
