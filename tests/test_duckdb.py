"""DuckDB-specific behaviour: URLs, the file lock, read-only opening, the direct append path."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

import freight
from freight.destinations.duckdb import parse_url


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
    conn = duck.destination.conn  # type: ignore[attr-defined]

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
    after a later one, the remembered checksum must still be the later-started load's."""
    import threading

    url = f"duckdb:///{tmp_path}/overlap.duckdb"
    a_rows = [{"id": i, "v": "a"} for i in range(10)]
    b_rows = [{"id": 100, "v": "b"}]
    a_reading, b_done = threading.Event(), threading.Event()
    with freight.connect(url, chunk_rows=2) as a, freight.connect(url) as b:
        b.load([{"id": -1, "v": "seed"}], table="t")  # the table exists before both

        def slow_rows():  # a starts first and is still loading while b loads and commits
            for i, r in enumerate(a_rows):
                a_reading.set()
                if i == 4:
                    assert b_done.wait(10)
                yield r

        result = {}
        worker = threading.Thread(target=lambda: result.update(r=a.load(slow_rows(), table="t")))
        worker.start()
        try:
            assert a_reading.wait(10)  # a's start time is taken before it reads a row
            assert b.load(b_rows, table="t").status == "committed"
        finally:
            b_done.set()
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
