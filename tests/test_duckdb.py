"""DuckDB-specific behaviour: URLs, the file lock, read-only opening, the direct append path."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import freight
from freight.destinations.duckdb import DuckDBSession, parse_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///relative/file.duckdb", "relative/file.duckdb"),
        ("duckdb:////absolute/file.duckdb", "/absolute/file.duckdb"),
        ("duckdb:///:memory:", ":memory:"),
        ("duckdb:///with%20space.duckdb", "with space.duckdb"),
    ],
)
def test_url_forms(url: str, path: str) -> None:
    assert parse_url(url)[0] == path


def test_url_with_host_is_a_clear_error() -> None:
    with pytest.raises(freight.ConfigurationError, match="no host"):
        freight.connect("duckdb://somehost/file.duckdb")


def test_unknown_scheme() -> None:
    with pytest.raises(freight.ConfigurationError, match="unknown destination scheme 'mysql'"):
        freight.connect("mysql://u@h/db")


def test_default_url_is_freight_duckdb_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with freight.connect() as ds:
        ds.load([{"a": 1}], table="t")
    assert (tmp_path / "freight.duckdb").exists()
    assert freight.DEFAULT_URL == "duckdb:///freight.duckdb"


def test_relative_url_resolves_against_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with freight.connect("duckdb:///sub/dir/app.duckdb") as ds:
        ds.load([{"a": 1}], table="t")
    assert (tmp_path / "sub" / "dir" / "app.duckdb").exists()


def _hold_lock(path: str, ready: mp.synchronize.Event, release: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    with freight.connect(f"duckdb:///{path}") as ds:
        ds.load([{"a": 1}], table="t")
        ready.set()
        release.wait(30)


def test_locked_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = str(tmp_path / "locked.duckdb")
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(60), "the holder process did not open the database"
        with pytest.raises(freight.LockedError) as info:
            freight.connect(f"duckdb:///{path}")
        assert info.value.transient
        assert "in use by another process" in str(info.value)
        assert isinstance(info.value, freight.DestinationError)
    finally:
        release.set()
        holder.join(60)
    with freight.connect(f"duckdb:///{path}") as ds:  # free again once the holder closed
        assert ds.read("t").num_rows == 1


def test_read_only(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'ro.duckdb'}"
    with freight.connect(url) as ds:
        ds.load([{"a": 1}], table="t")
    with freight.connect(url, read_only=True) as ro:
        assert ro.read("t").to_pylist() == [{"a": 1}]
        with pytest.raises(freight.DestinationError):
            ro.load([{"a": 2}], table="t")


def test_no_staging_object_survives(duck: freight.Dataset) -> None:
    conn = duck.destination.connection()  # type: ignore[attr-defined]

    def all_tables() -> set[str]:
        return {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}

    duck.load([{"id": 1, "v": "a"}], table="t", strategy="merge", key="id")
    before = all_tables()
    duck.load([{"id": 1, "v": "b"}, {"id": 2, "v": "c"}], table="t", strategy="merge", key="id")
    with pytest.raises(freight.RejectedRowsError):
        duck.load([{"id": None}], table="t", strategy="merge", key="id", on_reject="fail")
    views = conn.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
    assert all_tables() == before == {"t", "_freight_loads", "_freight_rejected"}
    assert views == 0


@pytest.mark.parametrize("chunk_rows", [None, 1])
def test_the_sign_of_zero_step_runs_only_when_the_batch_holds_a_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int | None
) -> None:
    """The statement that lets an update store the batch's sign of zero is as long as the
    update itself on a small merge: with the batch read in place as the stage, a float
    column with no zero in it does not send it; a zero still does, and its sign is stored.
    A stage written in chunks (chunk_rows=1) cannot be looked at, so it always sends it."""
    sent: list[str] = []
    real = DuckDBSession._exec

    def spy(self: DuckDBSession, sql: str, params: Sequence[Any] = ()) -> int:
        sent.append(sql)
        return real(self, sql, params)

    monkeypatch.setattr(DuckDBSession, "_exec", spy)
    ds = freight.connect(f"duckdb:///{tmp_path / 'z.duckdb'}", chunk_rows=chunk_rows)
    ds.load(
        [{"k": 1, "f": -0.0, "n": 1}, {"k": 2, "f": 2.5, "n": 1}], "z", strategy="merge", key="k"
    )

    def sign_steps(batch: list[dict[str, Any]]) -> int:
        sent.clear()
        r = ds.load(batch, "z", strategy="merge", key="k")
        assert r.status == "committed" and r.updated == len(batch)
        return sum("signbit" in sql for sql in sent)

    assert sign_steps([{"k": 1, "f": 1.5, "n": 2}, {"k": 2, "f": 3.5, "n": 2}]) == (
        1 if chunk_rows else 0
    )
    ds.load([{"k": 1, "f": -0.0, "n": 2}], "z", strategy="merge", key="k")
    assert sign_steps([{"k": 1, "f": 0.0, "n": 3}, {"k": 2, "f": 4.5, "n": 3}]) == 1
    stored = dict(ds.destination.connection().execute("SELECT k, f FROM z").fetchall())  # type: ignore[attr-defined]
    assert [math.copysign(1.0, stored[k]) for k in (1, 2)] == [1.0, 1.0]
    ds.close()


ZEROS_AND_OTHERS = st.sampled_from([0.0, -0.0, 1.5, -2.0, None])


@settings(max_examples=30, deadline=None)
@given(
    pairs=st.lists(st.tuples(ZEROS_AND_OTHERS, ZEROS_AND_OTHERS), min_size=1, max_size=6),
    chunk_rows=st.sampled_from([None, 2]),
)
def test_every_updated_row_stores_the_batchs_float_sign_included(
    pairs: list[tuple[float | None, float | None]], chunk_rows: int | None
) -> None:
    """Whatever mix of zeros, other floats and NULLs is stored and comes, read in place or
    staged in chunks: a row updated (its ``n`` changes) stores exactly the batch's float."""
    with freight.connect("duckdb:///:memory:", chunk_rows=chunk_rows) as ds:
        ds.load([{"k": k, "f": old, "n": 0} for k, (old, _) in enumerate(pairs)], "z", key="k")
        r = ds.load(
            [{"k": k, "f": new, "n": 1} for k, (_, new) in enumerate(pairs)],
            "z",
            strategy="merge",
            key="k",
        )
        assert r.updated == len(pairs)
        got = dict(ds.destination.connection().execute("SELECT k, f FROM z").fetchall())  # type: ignore[attr-defined]

    def exact(v: float | None) -> tuple[float, float] | None:
        return None if v is None else (v, math.copysign(1.0, v))

    assert [exact(got[k]) for k in range(len(pairs))] == [exact(new) for _, new in pairs]


def test_direct_append_widens_the_table_mid_load(tmp_path: Path) -> None:
    rows = [{"id": i, "v": i} for i in range(10)] + [{"id": 10, "v": 2**70}, {"id": 11, "v": None}]
    with freight.connect(f"duckdb:///{tmp_path / 'w.duckdb'}", chunk_rows=3) as ds:
        r = ds.load(rows, table="t")
        assert r.inserted == 12
        assert ds.schema("t") == {"id": "int64", "v": "decimal(38,0)"}
        got = {row["id"]: row["v"] for row in ds.read("t").to_pylist()}
    assert got == {row["id"]: row["v"] for row in rows}
    assert r.schema_changes == ["created table t (id int64, v decimal(38,0))"]


def test_every_stored_row_carries_its_load_id(duck: freight.Dataset) -> None:
    a = duck.load([{"id": 1}, {"id": 2}], table="t", strategy="merge", key="id")
    b = duck.load([{"id": 2, "x": 5}], table="t", strategy="merge", key="id")
    rows = duck.destination.read("t", None, True).to_pylist()  # type: ignore[call-arg]
    ids = {r["id"]: r["_freight_load_id"] for r in rows}
    assert ids == {1: a.load_id, 2: b.load_id}


def test_environment_has_no_hidden_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State lives in the database file: nothing else appears in the working directory or home."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    os.mkdir(tmp_path / "home")
    with freight.connect("duckdb:///state.duckdb") as ds:
        ds.load([{"id": 1, "v": 1}], table="t", strategy="incremental", cursor="v", key="id")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "state.duckdb"]
    assert list((tmp_path / "home").iterdir()) == []


# --- what a DuckDB Dataset remembers between loads (columns, last checksum) stays true ----


def test_two_datasets_on_one_file_share_the_last_checksum(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/shared.duckdb"
    a_rows = [{"id": 1, "v": "a"}]
    b_rows = [{"id": 1, "v": "b"}]
    with freight.connect(url) as a, freight.connect(url) as b:
        assert a.load(a_rows, table="t", strategy="append").status == "committed"
        # b never loaded t, yet it knows a's load: the same content is a replay
        assert b.load(a_rows, table="t", strategy="append").status == "skipped"
        assert b.load(b_rows, table="t", strategy="append").status == "committed"
        # a's last load is no longer the latest: loading it again applies it again
        again = a.load(a_rows, table="t", strategy="append")
        assert again.status == "committed" and again.inserted == 1
        assert a.read("t").num_rows == 3


def test_columns_changed_outside_freight_are_seen(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "outside.duckdb"
    with freight.connect(f"duckdb:///{path}") as ds:
        ds.load([{"id": 1, "v": "a"}], table="t", strategy="merge", key="id")
        raw = duckdb.connect(str(path))  # the same database instance, in this process
        try:
            raw.execute('ALTER TABLE t ADD COLUMN "extra" BIGINT')
            assert ds.schema("t")["extra"] == "int64"
            r = ds.load([{"id": 2, "v": "b", "extra": 7}], table="t", strategy="merge", key="id")
            assert r.inserted == 1 and r.schema_changes == []
            raw.execute('ALTER TABLE t DROP COLUMN "extra"')
            r = ds.load([{"id": 3, "v": "c", "extra": 8}], table="t", strategy="merge", key="id")
            assert r.schema_changes == ["added column extra int64"]
            raw.execute("DROP TABLE t")
            r = ds.load([{"id": 4, "v": "d"}], table="t", strategy="merge", key="id")
            assert r.status == "committed" and r.inserted == 1
            assert r.schema_changes and r.schema_changes[0].startswith("created table t")
            assert ds.read("t").column("id").to_pylist() == [4]
        finally:
            raw.close()


def test_an_untyped_column_typed_by_another_dataset(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/untyped.duckdb"
    with freight.connect(url) as a, freight.connect(url) as b:
        a.load([{"id": 1, "x": None}], table="t", strategy="merge", key="id")
        assert a.schema("t")["x"] == "null"
        b.load([{"id": 2, "x": "text"}], table="t", strategy="merge", key="id")
        assert a.schema("t")["x"] == "string"
        # a must not take x for untyped any more (it would try to type it int64 and fail)
        r = a.load([{"id": 3, "x": 5}], table="t", strategy="merge", key="id")
        assert r.status == "committed" and r.schema_changes == []
        assert a.read("t").sort_by("id").column("x").to_pylist() == [None, "text", "5"]


def test_a_file_made_again_remembers_nothing_of_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "again.duckdb"
    rows = [{"id": 1, "v": "a"}]
    with freight.connect(f"duckdb:///{path}") as ds:
        assert ds.load(rows, table="t").status == "committed"
    path.unlink()
    with freight.connect(f"duckdb:///{path}") as ds:
        r = ds.load(rows, table="t")  # a new, empty database: nothing to skip
        assert r.status == "committed" and r.inserted == 1
        assert ds.read("t").num_rows == 1


def test_remembered_checksum_follows_the_journal_when_loads_overlap(tmp_path: Path) -> None:
    """The journal's latest load is the latest *started*; when an earlier-started load commits
    after a later one, the remembered checksum must still be the later-started load's.
    Writers of one file take turns (the file's write lock): a takes its start time, then waits
    for the lock, which b's load (on the thread holding it) takes first."""
    url = f"duckdb:///{tmp_path}/overlap.duckdb"
    a_rows = [{"id": i, "v": "a"} for i in range(10)]
    b_rows = [{"id": 100, "v": "b"}]
    a_waiting = threading.Event()
    with freight.connect(url, chunk_rows=2) as a, freight.connect(url) as b:
        b.load([{"id": -1, "v": "seed"}], table="t")  # the table exists before both
        open_session = a.destination.session

        def session():  # called once a's start time is taken; waits for the lock on entry
            a_waiting.set()
            return open_session()

        a.destination.session = session  # type: ignore[method-assign]
        result = {}
        worker = threading.Thread(target=lambda: result.update(r=a.load(a_rows, table="t")))
        with b.destination.known.write:  # type: ignore[attr-defined]
            worker.start()
            assert a_waiting.wait(10)
            assert b.load(b_rows, table="t").status == "committed"  # the lock is this thread's
        worker.join(10)
        assert result["r"].status == "committed"  # a committed last, yet started first
        started = {h.load_id: h.started_at for h in b.history("t")}
        b_id = b.history("t")[0].load_id
        assert started[result["r"].load_id] < started[b_id]  # b started later: the latest
        assert b.history("t")[0].checksum != result["r"].checksum
        # so b's content again is a replay, in both Datasets
        assert a.load(b_rows, table="t").status == "skipped"
        assert b.load(b_rows, table="t").status == "skipped"


def test_remembered_columns_ignore_the_case_of_table_names(tmp_path: Path) -> None:
    """DuckDB's "Posts" is "posts": typing its untyped column through one spelling must be
    seen through the other (only the comment changes, not the stored type)."""
    with freight.connect(f"duckdb:///{tmp_path}/case.duckdb") as ds:
        ds.load([{"id": 1, "x": None}], table="Posts", strategy="merge", key="id")
        assert ds.schema("Posts")["x"] == "null"
        ds.load([{"id": 2, "x": "text"}], table="posts", strategy="merge", key="id")
        r = ds.load([{"id": 3, "x": 5}], table="Posts", strategy="merge", key="id")
        assert r.status == "committed" and r.schema_changes == []
        assert ds.read("posts").sort_by("id").column("x").to_pylist() == [None, "text", "5"]


def test_a_key_widened_through_another_spelling_keeps_the_stored_name(tmp_path: Path) -> None:
    """Widening a key column rebuilds the table; the rebuilt table keeps its stored name."""
    with freight.connect(f"duckdb:///{tmp_path}/case.duckdb") as ds:
        ds.load([{"id": 1, "v": "a"}], table="events", strategy="merge", key="id")
        r = ds.load([{"id": 2**70, "v": "b"}], table="EVENTS", strategy="merge", key="id")
        assert r.inserted == 1 and ds.schema("events")["id"] == "decimal(38,0)"
        assert ds.tables() == ["events"]


def test_remembered_state_ends_with_the_file_even_after_a_chdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative URL names the file it named when the Dataset opened; closing after a
    chdir still lets go of that file's remembered state."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    rows = [{"id": 1}]
    ds = freight.connect("duckdb:///rel.duckdb")
    assert ds.load(rows, table="t").status == "committed"
    monkeypatch.chdir(tmp_path / "elsewhere")
    ds.close()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel.duckdb").unlink()
    with freight.connect("duckdb:///rel.duckdb") as again:
        assert again.load(rows, table="t").status == "committed"  # a new file: no replay


# --------------------------------------------------------------------------- nothing made early


def test_a_load_refused_before_any_io_makes_no_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.duckdb"
    with freight.connect(f"duckdb:///{path}") as ds:
        with pytest.raises(freight.MissingKeyError):
            ds.load([{"id": 1}], "t", strategy="merge")
        with pytest.raises(freight.InvalidStrategyError):
            ds.load([{"id": 1}], "t", strategy="nope")
        with pytest.raises(freight.InvalidIdentifierError):
            ds.load([{"id": 1}], "_FREIGHT_LOADS")
        # reading finds it empty, and makes nothing either
        assert ds.tables() == [] and ds.history() == [] and ds.rejected() == []
        assert ds.health().ok and ds.health().loads == 0
        with pytest.raises(freight.FreightError, match="no table"):
            ds.read("t")
    assert not path.exists() and not path.parent.exists()


def test_the_first_load_that_commits_or_records_makes_the_file_and_journal(tmp_path: Path) -> None:
    path = tmp_path / "x.duckdb"

    def failing():
        yield {"id": 1}
        raise RuntimeError("source broke")

    with freight.connect(f"duckdb:///{path}") as ds:
        with pytest.raises(RuntimeError, match="source broke"):
            ds.load(failing(), "t")
        assert [h.status for h in ds.history()] == ["failed"]  # recorded: journal made
        assert ds.tables() == []
        assert ds.load([{"id": 1}], "t").status == "committed"
        assert [h.status for h in ds.history()] == ["committed", "failed"]
    assert path.exists()


def test_a_file_made_with_plain_sql_reads_as_an_empty_journal(tmp_path: Path) -> None:
    path = tmp_path / "own.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR)")
    with freight.connect(f"duckdb:///{path}") as ds:
        assert ds.history() == [] and ds.rejected() == [] and ds.health().ok
        assert ds.tables() == ["items"]
    with duckdb.connect(str(path)) as conn:  # reading made none of freight's tables
        assert conn.execute("SELECT table_name FROM duckdb_tables()").fetchall() == [("items",)]


# --------------------------------------------------------------------------- threads


def test_threads_each_with_a_dataset_on_one_file_all_succeed(tmp_path: Path) -> None:
    """Four threads, each with its own Dataset on one file, 30 merges of 50 rows each (half
    their own keys, half shared), a column added now and then: DuckDB's write conflicts
    killed three of four. Writers of one file now take turns inside the process."""
    url = f"duckdb:///{tmp_path / 'threads.duckdb'}"
    errors: list[BaseException] = []
    acked: dict[int, list[freight.LoadResult]] = {t: [] for t in range(4)}

    def work(t: int) -> None:
        try:
            with freight.connect(url) as ds:
                for i in range(30):
                    batch = [{"id": t * 1000 + j, "v": i} for j in range(25)]
                    batch += [{"id": 10_000 + j, "v": i, "by": t} for j in range(25)]
                    if i % 10 == 5:
                        for row in batch:
                            row[f"c{t}_{i}"] = i
                    acked[t].append(ds.load(batch, "m", strategy="merge", key="id"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert all(
        len(acked[t]) == 30 and all(r.status == "committed" for r in acked[t]) for t in acked
    )
    with freight.connect(url) as ds:
        stored = ds.read("m").to_pylist()
        ids = [r["id"] for r in stored]
        assert len(ids) == len(set(ids)) == 4 * 25 + 25
        by_id = {r["id"]: r for r in stored}
        for t in range(4):  # each thread's own keys hold its last acknowledged write
            assert all(by_id[t * 1000 + j]["v"] == 29 for j in range(25))
            assert all(by_id[t * 1000 + j][f"c{t}_25"] == 25 for j in range(25))
        assert {by_id[10_000 + j]["by"] for j in range(25)} <= {0, 1, 2, 3}
        assert all(by_id[10_000 + j]["v"] == 29 for j in range(25))  # every last write is 29
        assert len(ds.history("m")) == 4 * 30
