"""Conformance: the load strategies (append, replace, merge/upsert, insert_only, update_only,
delete, incremental), keys, in-batch deduplication and partial columns. Runs on every
destination through the ``ds`` fixture."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import freight
from _conformance import assert_accounted, counts, raw_rows, raw_sql, rows

BASE = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]


def load(ds: freight.Dataset, data, table: str = "t", **kw) -> freight.LoadResult:
    r = ds.load(data, table, **kw)
    assert_accounted(r)
    return r


# --------------------------------------------------------------------------- append


def test_append_adds_every_row_each_time(ds: freight.Dataset) -> None:
    r1 = load(ds, BASE)
    r2 = load(ds, [{"id": 1, "v": "a"}, {"id": 4, "v": "d"}])
    assert (r1.status, r1.strategy, counts(r1)) == ("committed", "append", {"inserted": 3})
    assert counts(r2) == {"inserted": 2}
    got = sorted((r["id"], r["v"]) for r in rows(ds, "t"))
    assert got == [(1, "a"), (1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_append_keeps_repeated_rows_within_a_batch(ds: freight.Dataset) -> None:
    r = load(ds, [{"id": 1}, {"id": 1}, {"id": 1}])
    assert counts(r) == {"inserted": 3}
    assert len(rows(ds, "t")) == 3


def test_append_with_a_key_gives_a_new_table_that_primary_key(ds: freight.Dataset) -> None:
    """An append's key matches nothing (every row goes in) but becomes the primary key of
    the table the append creates: a repeated key then fails the load, leaving nothing."""
    r = load(ds, [*BASE, {"id": None, "v": "no key"}, {"v": "missing"}], key="id")
    assert (counts(r), r.rejected) == ({"inserted": 3, "rejected": 2}, 2)
    reasons = {x.row_number: x.reason for x in ds.rejected("t")}
    assert reasons == {4: "key column 'id' is null or missing", 5: reasons[5]}
    with ds.destination.session() as s:
        assert s.key_columns("t") == ("id",)
    assert counts(load(ds, [{"id": 4, "v": "d"}], key="id")) == {"inserted": 1}
    with pytest.raises(freight.DestinationError):
        load(ds, [{"id": 5, "v": "e"}, {"id": 2, "v": "again"}], key="id")
    assert rows(ds, "t", "id") == [*BASE, {"id": 4, "v": "d"}]
    r = load(ds, [{"id": 2, "v": "B"}, {"id": 6, "v": "f"}], strategy="merge", key="id")
    assert (r.updated, r.inserted, r.schema_changes) == (1, 1, [])


def test_append_with_a_key_into_an_existing_table_changes_no_key(ds: freight.Dataset) -> None:
    load(ds, BASE)
    r = load(ds, [{"id": 1, "v": "a again"}], key="id")
    assert counts(r) == {"inserted": 1}
    with ds.destination.session() as s:
        assert s.key_columns("t") is None
    assert len(rows(ds, "t")) == 4


# --------------------------------------------------------------------------- replace


def test_replace_content_becomes_exactly_the_batch(ds: freight.Dataset) -> None:
    load(ds, BASE)
    r = load(ds, [{"id": 9, "v": "z"}, {"id": 2, "v": "b"}], strategy="replace")
    assert r.status == "committed"
    assert counts(r) == {"inserted": 2}
    assert r.removed == 3
    assert rows(ds, "t", "id") == [{"id": 2, "v": "b"}, {"id": 9, "v": "z"}]


def test_replace_on_a_new_table_removes_nothing(ds: freight.Dataset) -> None:
    r = load(ds, BASE, strategy="replace")
    assert (counts(r), r.removed) == ({"inserted": 3}, 0)
    assert rows(ds, "t", "id") == BASE


def test_replace_with_an_empty_batch_empties_the_table(ds: freight.Dataset) -> None:
    load(ds, BASE)
    r = load(ds, [], strategy="replace")
    assert r.status == "committed"
    assert (r.rows_in, r.removed) == (0, 3)
    assert "t" in ds.tables()
    assert rows(ds, "t") == []


# --------------------------------------------------------------------------- merge


@pytest.mark.parametrize("strategy", ["merge", "upsert"])
def test_merge_inserts_updates_and_counts_unchanged(ds: freight.Dataset, strategy: str) -> None:
    load(ds, BASE, strategy=strategy, key="id")
    r = load(
        ds,
        [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 4, "v": "d"}],
        strategy=strategy,
        key="id",
    )
    assert r.status == "committed"
    assert counts(r) == {"inserted": 1, "updated": 1, "unchanged": 1}
    assert rows(ds, "t", "id") == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "B"},
        {"id": 3, "v": "c"},
        {"id": 4, "v": "d"},
    ]


def test_merge_with_a_composite_key(ds: freight.Dataset) -> None:
    key = ["region", "n"]
    first = [
        {"region": "eu", "n": 1, "v": 10},
        {"region": "us", "n": 1, "v": 20},
        {"region": "eu", "n": 2, "v": 30},
    ]
    load(ds, first, strategy="merge", key=key)
    r = load(
        ds,
        [{"region": "us", "n": 1, "v": 21}, {"region": "us", "n": 2, "v": 40}],
        strategy="merge",
        key=key,
    )
    assert counts(r) == {"inserted": 1, "updated": 1}
    assert rows(ds, "t", key) == [
        {"region": "eu", "n": 1, "v": 10},
        {"region": "eu", "n": 2, "v": 30},
        {"region": "us", "n": 1, "v": 21},
        {"region": "us", "n": 2, "v": 40},
    ]


def test_merge_of_identical_rows_is_unchanged_not_updated(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    before = {r["id"]: r["_freight_load_id"] for r in raw_rows(ds, "t")}
    r = load(ds, [*BASE, {"id": 4, "v": "d"}], strategy="merge", key="id")
    assert counts(r) == {"unchanged": 3, "inserted": 1}
    after = {r["id"]: r["_freight_load_id"] for r in raw_rows(ds, "t")}
    # an unchanged row is not rewritten: it still carries the load that wrote it
    assert all(after[k] == before[k] for k in before)
    assert after[4] == r.load_id


def test_merge_repeated_key_in_batch_last_occurrence_wins(ds: freight.Dataset) -> None:
    batch = [
        {"id": 1, "v": "first"},
        {"id": 2, "v": "x"},
        {"id": 1, "v": "second"},
        {"id": 1, "v": "last"},
    ]
    r = load(ds, batch, strategy="merge", key="id")
    assert counts(r) == {"inserted": 2, "deduplicated": 2}
    assert rows(ds, "t", "id") == [{"id": 1, "v": "last"}, {"id": 2, "v": "x"}]
    r = load(ds, [{"id": 2, "v": "y"}, {"id": 2, "v": "x"}], strategy="merge", key="id")
    assert counts(r) == {"unchanged": 1, "deduplicated": 1}
    assert rows(ds, "t", "id")[1] == {"id": 2, "v": "x"}


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 50_000])
@pytest.mark.parametrize(
    "keys",
    [[1, 2, 1, 3, 2, 1], ["a", "b", "a", "c", "b", "a"], [0.0, 1.5, -0.0, 2.5, 1.5, 0.0]],
    ids=["int", "text", "float"],
)
def test_keys_repeated_across_chunks_are_deduplicated_last_wins(
    url: str, chunk_rows: int, keys: list
) -> None:
    """The distinct keys are counted without a query where that is exact (not for floats:
    -0.0 = 0.0 in SQL); however the rows fall into chunks, the last occurrence wins."""
    batch = [{"id": k, "v": i} for i, k in enumerate(keys)]
    with freight.connect(url, chunk_rows=chunk_rows) as ds:
        r = load(ds, (dict(b) for b in batch), strategy="merge", key="id")
        assert counts(r) == {"inserted": 3, "deduplicated": 3}
        got = {x["id"]: x["v"] for x in rows(ds, "t")}
    last = {}
    for i, k in enumerate(keys):
        last[k] = i
    assert sorted(got.values()) == sorted(last.values())


@pytest.mark.parametrize("missing", ["null", "absent"])
def test_null_or_missing_key_is_rejected_and_quarantined(ds: freight.Dataset, missing: str) -> None:
    bad = {"id": None, "v": "nokey"} if missing == "null" else {"v": "nokey"}
    r = load(ds, [{"id": 1, "v": "a"}, bad, {"id": 2, "v": "b"}], strategy="merge", key="id")
    assert counts(r) == {"inserted": 2, "rejected": 1}
    assert rows(ds, "t", "id") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    q = ds.rejected("t")
    assert len(q) == 1
    assert q[0].load_id == r.load_id and q[0].table == "t"
    assert q[0].row == bad
    assert "id" in q[0].reason


def test_merge_never_duplicates_keys(ds: freight.Dataset) -> None:
    for i in range(4):
        batch = [{"id": k % 5, "v": f"{i}-{k}"} for k in range(i, i + 7)]
        load(ds, batch, strategy="merge", key="id")
    got = [r["id"] for r in rows(ds, "t")]
    assert len(got) == len(set(got)) == 5


# --------------------------------------------------------------------------- partial columns


def test_merge_batch_lacking_a_column_leaves_stored_values(ds: freight.Dataset) -> None:
    load(
        ds,
        [{"id": 1, "a": "a1", "b": "b1"}, {"id": 2, "a": "a2", "b": "b2"}],
        strategy="merge",
        key="id",
    )
    r = load(ds, [{"id": 1, "a": "A1"}, {"id": 3, "a": "a3"}], strategy="merge", key="id")
    assert counts(r) == {"updated": 1, "inserted": 1}
    assert rows(ds, "t", "id") == [
        {"id": 1, "a": "A1", "b": "b1"},
        {"id": 2, "a": "a2", "b": "b2"},
        {"id": 3, "a": "a3", "b": None},
    ]


def test_merge_explicit_none_sets_null(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "a": "a1", "b": "b1"}], strategy="merge", key="id")
    r = load(ds, [{"id": 1, "a": "a1", "b": None}], strategy="merge", key="id")
    assert counts(r) == {"updated": 1}
    assert rows(ds, "t") == [{"id": 1, "a": "a1", "b": None}]


def test_merge_row_lacking_a_column_other_rows_have_sets_null(ds: freight.Dataset) -> None:
    load(
        ds,
        [{"id": 1, "a": "a1", "b": "b1"}, {"id": 2, "a": "a2", "b": "b2"}],
        strategy="merge",
        key="id",
    )
    r = load(
        ds, [{"id": 1, "a": "a1", "b": "B1"}, {"id": 2, "a": "a2"}], strategy="merge", key="id"
    )
    assert counts(r) == {"updated": 2}
    assert rows(ds, "t", "id") == [
        {"id": 1, "a": "a1", "b": "B1"},
        {"id": 2, "a": "a2", "b": None},
    ]


def test_merge_batch_of_keys_only_changes_nothing(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    r = load(ds, [{"id": 1}, {"id": 5}], strategy="merge", key="id")
    assert counts(r) == {"unchanged": 1, "inserted": 1}
    assert rows(ds, "t", "id") == [*BASE, {"id": 5, "v": None}]


# --------------------------------------------------------------------------- insert_only / update_only


def test_insert_only_leaves_existing_keys_untouched(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    r = load(ds, [{"id": 1, "v": "CHANGED"}, {"id": 4, "v": "d"}], strategy="insert_only", key="id")
    assert counts(r) == {"inserted": 1, "skipped": 1}
    assert rows(ds, "t", "id") == [*BASE, {"id": 4, "v": "d"}]


def test_update_only_skips_unknown_keys(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    r = load(
        ds,
        [{"id": 1, "v": "A"}, {"id": 2, "v": "b"}, {"id": 4, "v": "d"}],
        strategy="update_only",
        key="id",
    )
    assert counts(r) == {"updated": 1, "unchanged": 1, "skipped": 1}
    assert rows(ds, "t", "id") == [{"id": 1, "v": "A"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]


def test_update_only_on_a_missing_table_skips_everything(ds: freight.Dataset) -> None:
    r = load(ds, BASE, strategy="update_only", key="id")
    assert r.status == "committed"
    assert counts(r) == {"skipped": 3}
    assert rows(ds, "t") == []


# --------------------------------------------------------------------------- delete


def test_delete_removes_known_keys_and_skips_unknown(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    r = load(ds, [{"id": 1}, {"id": 3}, {"id": 42}], strategy="delete", key="id")
    assert counts(r) == {"deleted": 2, "skipped": 1}
    assert rows(ds, "t") == [{"id": 2, "v": "b"}]


def test_delete_with_repeated_keys_counts_deduplicated(ds: freight.Dataset) -> None:
    load(ds, BASE, strategy="merge", key="id")
    r = load(ds, [{"id": 2}, {"id": 2}], strategy="delete", key="id")
    assert counts(r) == {"deleted": 1, "deduplicated": 1}
    assert rows(ds, "t", "id") == [{"id": 1, "v": "a"}, {"id": 3, "v": "c"}]


def test_delete_on_a_missing_table_skips_everything(ds: freight.Dataset) -> None:
    r = load(ds, [{"id": 1}], strategy="delete", key="id")
    assert counts(r) == {"skipped": 1}
    assert "t" not in ds.tables()


# --------------------------------------------------------------------------- incremental


def test_incremental_loads_only_rows_above_the_high_water_mark(ds: freight.Dataset) -> None:
    r1 = load(
        ds, [{"id": i, "ts": i * 10} for i in range(1, 4)], strategy="incremental", cursor="ts"
    )
    assert counts(r1) == {"inserted": 3}
    r2 = load(
        ds,
        [{"id": 10, "ts": 20}, {"id": 11, "ts": 30}, {"id": 12, "ts": 31}, {"id": 13, "ts": 45}],
        strategy="incremental",
        cursor="ts",
    )
    # rows at (30) or below (20) the mark are skipped; without key it appends
    assert counts(r2) == {"inserted": 2, "skipped": 2}
    assert sorted(r["ts"] for r in rows(ds, "t")) == [10, 20, 30, 31, 45]
    marks = [h.cursor_value for h in ds.history("t")]
    assert str(marks[0]) == "45" and str(marks[1]) == "30"


def test_incremental_with_key_has_merge_semantics(ds: freight.Dataset) -> None:
    load(
        ds,
        [{"id": 1, "ts": 1, "v": "a"}, {"id": 2, "ts": 2, "v": "b"}],
        strategy="incremental",
        cursor="ts",
        key="id",
    )
    r = load(
        ds,
        [{"id": 1, "ts": 3, "v": "A"}, {"id": 3, "ts": 4, "v": "c"}, {"id": 2, "ts": 2, "v": "B"}],
        strategy="incremental",
        cursor="ts",
        key="id",
    )
    assert counts(r) == {"updated": 1, "inserted": 1, "skipped": 1}
    assert rows(ds, "t", "id") == [
        {"id": 1, "ts": 3, "v": "A"},
        {"id": 2, "ts": 2, "v": "b"},
        {"id": 3, "ts": 4, "v": "c"},
    ]


def test_incremental_null_cursor_is_rejected(ds: freight.Dataset) -> None:
    r = load(
        ds,
        [{"id": 1, "ts": 5}, {"id": 2, "ts": None}, {"id": 3}],
        strategy="incremental",
        cursor="ts",
    )
    assert counts(r) == {"inserted": 1, "rejected": 2}
    assert [q.row for q in ds.rejected("t")] == [{"id": 2, "ts": None}, {"id": 3}]
    assert all("ts" in q.reason for q in ds.rejected("t"))


def test_incremental_mark_comes_from_the_last_committed_incremental_load(
    ds: freight.Dataset,
) -> None:
    load(ds, [{"id": 1, "ts": 100}], strategy="incremental", cursor="ts")
    # a plain append of older rows does not move the mark
    load(ds, [{"id": 2, "ts": 1}])
    r = load(ds, [{"id": 3, "ts": 50}, {"id": 4, "ts": 101}], strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 1, "skipped": 1}
    # a failed incremental load does not move it either
    with pytest.raises(freight.SchemaContractError):
        ds.load(
            [{"id": 5, "ts": 1000, "new": 1}],
            "t",
            strategy="incremental",
            cursor="ts",
            contract="freeze",
        )
    r = load(ds, [{"id": 6, "ts": 500}], strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 1}
    assert ds.history("t")[0].cursor_value is not None
    assert str(ds.history("t")[0].cursor_value) == "500"


def test_incremental_is_per_table(ds: freight.Dataset) -> None:
    load(ds, [{"ts": 100}], "a", strategy="incremental", cursor="ts")
    r = load(ds, [{"ts": 5}], "b", strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 1}


def test_incremental_with_timestamps(ds: freight.Dataset) -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    load(
        ds,
        [{"id": i, "at": t0 + timedelta(hours=i)} for i in range(3)],
        strategy="incremental",
        cursor="at",
    )
    r = load(
        ds,
        [{"id": i, "at": t0 + timedelta(hours=i)} for i in range(1, 5)],
        strategy="incremental",
        cursor="at",
    )
    assert counts(r) == {"inserted": 2, "skipped": 2}
    assert sorted(r["id"] for r in rows(ds, "t")) == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- missing key


KEYED = [
    ("merge", {}),
    ("upsert", {}),
    ("insert_only", {}),
    ("update_only", {}),
    ("delete", {}),
    ("incremental", {}),  # no cursor
]


@pytest.mark.parametrize(("strategy", "extra"), KEYED)
def test_keyed_strategy_without_key_fails_before_any_io(
    ds: freight.Dataset, strategy: str, extra: dict
) -> None:
    consumed = []

    def gen():
        for i in range(3):
            consumed.append(i)
            yield {"id": i}

    with pytest.raises(freight.MissingKeyError):
        ds.load(gen(), "t", strategy=strategy, **extra)
    assert consumed == []
    assert "t" not in ds.tables()
    assert ds.history() == []
    assert ds.history("t") == []


def test_missing_key_error_is_a_freight_error(ds: freight.Dataset) -> None:
    with pytest.raises(freight.FreightError):
        ds.load(BASE, "t", strategy="merge")
    with pytest.raises(freight.MissingKeyError):
        ds.load(BASE, "t", strategy="merge", key=[])


def test_key_column_absent_from_the_table_fails_and_commits_nothing(ds: freight.Dataset) -> None:
    load(ds, [{"v": "a"}])
    with pytest.raises(freight.FreightError):
        ds.load([{"v": "b"}], "t", strategy="merge", key="id")
    assert rows(ds, "t") == [{"v": "a"}]


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("merge", {}),
        ("insert_only", {}),
        ("update_only", {}),
        ("delete", {}),
        ("incremental", {"cursor": "v"}),
    ],
)
def test_keyed_load_into_stored_repeated_keys_is_refused_leaving_the_table(
    ds: freight.Dataset, strategy: str, extra: dict
) -> None:
    """A keyless append may store a key twice; a keyed load would then match one batch row
    to several stored rows (updated 2, unchanged -1). It is refused, naming the fix."""
    load(ds, [{"k": 1, "v": 1}, {"k": 1, "v": 2}, {"k": 2, "v": 5}])
    before = rows(ds, "t", ["k", "v"])
    with pytest.raises(freight.SchemaContractError) as info:
        ds.load([{"k": 1, "v": 3}], "t", strategy=strategy, key="k", **extra)
    message = str(info.value)
    assert "stored rows repeat a key (k = 1 is stored 2 times)" in message
    assert 'ADD PRIMARY KEY ("k")' in message
    assert rows(ds, "t", ["k", "v"]) == before
    assert ds.history("t", limit=1)[0].status == "failed"


def test_keyed_load_into_a_keyless_table_with_unique_keys_works(ds: freight.Dataset) -> None:
    load(ds, [{"k": 1, "v": 1}, {"k": 2, "v": 2}])
    r = load(ds, [{"k": 1, "v": 3}, {"k": 3, "v": 3}], strategy="merge", key="k")
    assert counts(r) == {"updated": 1, "inserted": 1}
    r = load(ds, [{"k": 2}], strategy="delete", key="k")
    assert counts(r) == {"deleted": 1}
    assert rows(ds, "t", "k") == [{"k": 1, "v": 3}, {"k": 3, "v": 3}]


B2, C3 = {"id": 2, "name": "B"}, {"id": 3, "name": "c"}
FOREIGN = [
    ("append", {}, [C3], {"inserted": 1}, [(1, "a"), (2, "b"), (3, "c")]),
    ("replace", {}, [C3], {"inserted": 1}, [(3, "c")]),
    (
        "merge",
        {"key": "id"},
        [B2, C3],
        {"updated": 1, "inserted": 1},
        [(1, "a"), (2, "B"), (3, "c")],
    ),
    (
        "insert_only",
        {"key": "id"},
        [B2, C3],
        {"inserted": 1, "skipped": 1},
        [(1, "a"), (2, "b"), (3, "c")],
    ),
    ("update_only", {"key": "id"}, [B2, C3], {"updated": 1, "skipped": 1}, [(1, "a"), (2, "B")]),
    ("delete", {"key": "id"}, [{"id": 2}], {"deleted": 1}, [(1, "a")]),
    (
        "incremental",
        {"key": "id", "cursor": "id"},
        [B2, C3],
        {"updated": 1, "inserted": 1},
        [(1, "a"), (2, "B"), (3, "c")],
    ),
    ("incremental", {"cursor": "id"}, [C3], {"inserted": 1}, [(1, "a"), (2, "b"), (3, "c")]),
]


@pytest.mark.parametrize(
    ("strategy", "kw", "batch", "want", "stored"),
    FOREIGN,
    ids=[f"{s}-{'key' if 'key' in kw else 'nokey'}" for s, kw, *_ in FOREIGN],
)
def test_every_strategy_loads_into_a_table_made_with_plain_sql(
    ds: freight.Dataset, url: str, strategy: str, kw: dict, batch: list, want: dict, stored: list
) -> None:
    """freight takes over a table it did not create: its load-id column is added inside the
    load's transaction, and the next load finds it there."""
    raw_sql(ds, url, "CREATE TABLE items (id integer PRIMARY KEY, name varchar)")
    raw_sql(ds, url, "INSERT INTO items VALUES (1, 'a'), (2, 'b')")
    r = load(ds, [dict(x) for x in batch], "items", strategy=strategy, **kw)
    assert counts(r) == want
    assert "added column _freight_load_id text" in r.schema_changes
    assert [(x["id"], x["name"]) for x in rows(ds, "items", "id")] == stored
    written = {x["id"] for x in raw_rows(ds, "items") if x["_freight_load_id"] == r.load_id}
    assert written == {x["id"] for x in batch if (x["id"], x.get("name")) in stored}
    assert ds.schema("items") == {"id": "int64", "name": "string"}
    again = load(ds, [{"id": 9, "name": "z"}], "items", strategy="merge", key="id")
    assert counts(again) == {"inserted": 1}
    assert "added column _freight_load_id text" not in again.schema_changes


# --------------------------------------------------------------------------- invariants


batches = st.lists(
    st.fixed_dictionaries({"id": st.integers(0, 6), "v": st.one_of(st.none(), st.integers(0, 3))}),
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["merge", "insert_only", "update_only", "delete", "replace"]), batches
        ),
        min_size=1,
        max_size=4,
    )
)
def test_every_row_is_accounted_for_and_keys_stay_unique(ds: freight.Dataset, data) -> None:
    table = f"inv_{uuid.uuid4().hex[:10]}"
    for strategy, batch in data:
        r = ds.load(batch, table, strategy=strategy, key="id", force=True)
        assert r.status == "committed"
        assert_accounted(r)
        assert r.rows_in == len(batch)
        assert r.deduplicated == len(batch) - len({b["id"] for b in batch})
        ids = [x["id"] for x in rows(ds, table)]
        assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- concurrent writers


def test_concurrent_merges_of_overlapping_keys_never_duplicate(url: str) -> None:
    import threading

    with freight.connect(url) as ds:
        ds.load([{"id": 0, "w": -1, "n": 0}], "c", strategy="merge", key="id")
    errors: list[BaseException] = []
    results: list[freight.LoadResult] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        try:
            with freight.connect(url, retries=10) as ds:
                for n in range(3):
                    batch = [{"id": k, "w": w, "n": n} for k in range(w * 10, w * 10 + 40)]
                    r = ds.load(batch, "c", strategy="merge", key="id")
                    with lock:
                        results.append(r)
        except BaseException as e:
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:  # a writer may lose a race, but only with a retryable destination error
        assert isinstance(e, freight.DestinationError) and e.transient, repr(e)
    assert results, errors
    for r in results:
        assert_accounted(r)
        assert r.status == "committed"
    with freight.connect(url) as ds:
        got = rows(ds, "c", "id")
        ids = [r["id"] for r in got]
        assert len(ids) == len(set(ids))
        assert set(ids) <= {0, *range(0, 70)}
        assert len(ids) >= 41
        assert all(r["w"] == -1 or r["w"] * 10 <= r["id"] < r["w"] * 10 + 40 for r in got)
        committed = [h for h in ds.history("c") if h.status == "committed"]
        assert len(committed) == len(results) + 1


# --------------------------------------------------------------------------- more edges


def test_incremental_mark_survives_loads_with_nothing_new(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "ts": 100}], strategy="incremental", cursor="ts")
    r = load(ds, [{"id": 2, "ts": 90}, {"id": 3, "ts": 100}], strategy="incremental", cursor="ts")
    assert r.status == "committed" and counts(r) == {"skipped": 2}
    assert str(ds.history("t")[0].cursor_value) == "100"
    r = load(ds, [], strategy="incremental", cursor="ts")
    assert r.rows_in == 0
    r = load(ds, [{"id": 4, "ts": 99}, {"id": 5, "ts": 101}], strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 1, "skipped": 1}
    assert sorted(x["ts"] for x in rows(ds, "t")) == [100, 101]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("2024-01-09", "2024-01-10"),  # text compares as text
        (1.5, 1.75),
    ],
    ids=["text", "float"],
)
def test_incremental_mark_keeps_the_cursor_type(ds: freight.Dataset, older, newer) -> None:
    from datetime import date

    load(ds, [{"id": 1, "c": older}], strategy="incremental", cursor="c")
    r = load(ds, [{"id": 2, "c": older}, {"id": 3, "c": newer}], strategy="incremental", cursor="c")
    assert counts(r) == {"inserted": 1, "skipped": 1}
    if isinstance(older, str):  # and real dates compare as dates
        load(ds, [{"id": 1, "d": date(2024, 1, 9)}], "d", strategy="incremental", cursor="d")
        r = load(
            ds,
            [{"id": 2, "d": date(2024, 1, 9)}, {"id": 3, "d": date(2024, 1, 10)}],
            "d",
            strategy="incremental",
            cursor="d",
        )
        assert counts(r) == {"inserted": 1, "skipped": 1}


def test_incremental_mark_compares_numbers_as_numbers(ds: freight.Dataset) -> None:
    load(ds, [{"ts": 9}], strategy="incremental", cursor="ts")
    r = load(ds, [{"ts": 10}, {"ts": 100}], strategy="incremental", cursor="ts")
    assert counts(r) == {"inserted": 2}  # "10" < "9" as text, but 10 > 9


def test_composite_key_with_one_part_null_is_rejected(ds: freight.Dataset) -> None:
    r = load(
        ds,
        [{"a": 1, "b": 1, "v": 0}, {"a": 1, "b": None, "v": 1}, {"a": None, "b": 2, "v": 2}],
        strategy="merge",
        key=["a", "b"],
    )
    assert counts(r) == {"inserted": 1, "rejected": 2}
    assert rows(ds, "t") == [{"a": 1, "b": 1, "v": 0}]


def test_weird_names_as_composite_key_and_cursor(ds: freight.Dataset) -> None:
    k1, k2, cur = 'k "one"', "k; two", "select"
    batch = [{k1: 1, k2: "x", cur: 5, "v": "a"}, {k1: 1, k2: "y", cur: 6, "v": "b"}]
    r = load(ds, batch, "weird table", strategy="incremental", key=[k1, k2], cursor=cur)
    assert counts(r) == {"inserted": 2}
    r = load(
        ds,
        [{k1: 1, k2: "x", cur: 7, "v": "A"}, {k1: 1, k2: "y", cur: 6, "v": "B"}],
        "weird table",
        strategy="incremental",
        key=[k1, k2],
        cursor=cur,
    )
    assert counts(r) == {"updated": 1, "skipped": 1}
    assert rows(ds, "weird table", [k2]) == [
        {k1: 1, k2: "x", cur: 7, "v": "A"},
        {k1: 1, k2: "y", cur: 6, "v": "b"},
    ]


def test_replace_batch_lacking_a_column_leaves_it_null(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "a": "x", "b": "y"}])
    r = load(ds, [{"id": 5, "a": "z"}], strategy="replace")
    assert (counts(r), r.removed) == ({"inserted": 1}, 1)
    assert rows(ds, "t") == [{"id": 5, "a": "z", "b": None}]


def test_update_only_batch_lacking_a_column_leaves_stored_values(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "a": "a1", "b": "b1"}], strategy="merge", key="id")
    r = load(ds, [{"id": 1, "a": "A1"}, {"id": 2, "a": "a2"}], strategy="update_only", key="id")
    assert counts(r) == {"updated": 1, "skipped": 1}
    assert rows(ds, "t") == [{"id": 1, "a": "A1", "b": "b1"}]


# --------------------------------------------------------------------------- key values


def test_key_column_widens_and_still_matches(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], strategy="merge", key="id")
    r = load(ds, [{"id": 2**70, "v": "big"}, {"id": 1, "v": "A"}], strategy="merge", key="id")
    assert counts(r) == {"inserted": 1, "updated": 1}
    assert ds.schema("t")["id"] == "decimal(38,0)"
    got = {int(x["id"]): x["v"] for x in rows(ds, "t")}
    assert got == {1: "A", 2: "b", 2**70: "big"}
    r = load(ds, [{"id": 2**70, "v": "big"}], strategy="merge", key="id")
    assert counts(r) == {"unchanged": 1}


def test_text_keys_are_exact(ds: freight.Dataset) -> None:
    keys = ["a", "A", "a ", " a", "é", "e\u0301", "ß", "SS"]
    r = load(ds, [{"k": k, "v": i} for i, k in enumerate(keys)], strategy="merge", key="k")
    assert counts(r) == {"inserted": len(keys)}
    r = load(ds, [{"k": "A", "v": 100}], strategy="merge", key="k")
    assert counts(r) == {"updated": 1}
    got = {x["k"]: x["v"] for x in rows(ds, "t")}
    assert got == {**{k: i for i, k in enumerate(keys)}, "A": 100}


def test_timestamptz_keys_match_by_instant(ds: freight.Dataset) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    utc = datetime(2024, 1, 1, 12, tzinfo=UTC)
    same = datetime(2024, 1, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    load(ds, [{"at": utc, "v": 1}], strategy="merge", key="at")
    r = load(ds, [{"at": same, "v": 2}], strategy="merge", key="at")
    assert counts(r) == {"updated": 1}
    assert [x["v"] for x in rows(ds, "t")] == [2]


def test_merge_adds_columns_and_keeps_keys_unique(ds: freight.Dataset) -> None:
    load(ds, [{"id": 1, "a": 1}], strategy="merge", key="id")
    r = load(
        ds, [{"id": 1, "b": "x"}, {"id": 2, "a": 2, "b": "y"}], strategy="insert_only", key="id"
    )
    assert counts(r) == {"inserted": 1, "skipped": 1}
    assert rows(ds, "t", "id") == [{"id": 1, "a": 1, "b": None}, {"id": 2, "a": 2, "b": "y"}]


def test_append_of_a_stored_key_into_a_keyed_table_fails_without_retry(
    ds: freight.Dataset,
) -> None:
    ds.load([{"id": 1, "v": "a"}], "k", strategy="merge", key="id")
    with pytest.raises(freight.DestinationError) as info:
        ds.load([{"id": 2, "v": "b"}, {"id": 1, "v": "c"}], "k")
    assert not info.value.transient
    assert [(r["id"], r["v"]) for r in ds.read("k").to_pylist()] == [(1, "a")]
    assert ds.history("k")[0].status == "failed"
