"""Conformance: the load options the CLI maps one to one (``max_rejected``, ``dry_run``,
``progress``) and the key (or cursor) column no input row has. Runs on every destination."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import freight
from _conformance import assert_accounted, raw_rows, stored_objects

BASE = [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
# 10 rows, 3 of them bad (a text value in an int64 column)
MIXED = [{"n": i} for i in range(7)] + [{"n": "bad"}] * 3


def state(ds: freight.Dataset, url: str) -> tuple:
    tables = {t: sorted(map(repr, raw_rows(ds, t))) for t in ds.tables()}
    return (tables, stored_objects(ds, url), ds.history(), ds.rejected())


# --------------------------------------------------------------------------- max_rejected


@pytest.mark.parametrize("limit", [2, 0.2, 0])
def test_more_rejected_than_max_rejected_commits_nothing(
    ds: freight.Dataset, url: str, limit: float
) -> None:
    ds.load(BASE, "t")
    before = state(ds, url)
    with pytest.raises(freight.RejectedRowsError, match="more than max_rejected") as e:
        ds.load(MIXED, "t", max_rejected=limit)
    assert e.value.rejected == 3 and e.value.rows_in == 10
    assert e.value.reasons and "column 'n'" in e.value.reasons[0]
    tables, objects, history, rejected = state(ds, url)
    assert (tables, objects, rejected) == (before[0], before[1], before[3])
    [failed, *rest] = history
    assert rest == before[2]
    assert failed.status == "failed" and "max_rejected" in (failed.error or "")


@pytest.mark.parametrize("limit", [3, 0.3])
def test_rejected_within_max_rejected_commit(ds: freight.Dataset, limit: float) -> None:
    r = ds.load(MIXED, "t", max_rejected=limit)
    assert (r.status, r.inserted, r.rejected) == ("committed", 7, 3)
    assert len(ds.rejected("t")) == 3


def test_an_integer_max_rejected_stops_at_the_chunk_that_passes_it(url: str) -> None:
    def rows():
        yield from [{"n": 1}] * 3  # chunk 1
        yield from [{"n": "bad"}] * 3  # chunk 2: 3 rejected, more than 2
        raise AssertionError("read past the chunk that passed max_rejected")

    with freight.connect(url, chunk_rows=3) as ds:
        with pytest.raises(
            freight.RejectedRowsError,
            match=r"^3 of the first 6 rows rejected, .*\(at most 2 rows\)",
        ):
            ds.load(rows(), "t", max_rejected=2)
        assert "t" not in ds.tables()


@pytest.mark.parametrize("bad", [-1, 1.0, 1.5, True, "10%", float("nan")])
def test_max_rejected_must_be_a_count_or_a_fraction(ds: freight.Dataset, bad: object) -> None:
    with pytest.raises(freight.ConfigurationError, match="max_rejected must be"):
        ds.load(BASE, "t", max_rejected=bad)  # type: ignore[arg-type]
    assert ds.history() == []


# --------------------------------------------------------------------------- dry_run


@pytest.mark.parametrize(
    ("strategy", "key"), [("append", None), ("merge", "id"), ("replace", None), ("delete", "id")]
)
def test_dry_run_counts_what_the_load_would_do_and_changes_nothing(
    ds: freight.Dataset, url: str, strategy: str, key: str | None
) -> None:
    ds.load(BASE, "t")
    before = state(ds, url)
    batch = [{"id": 2, "v": "B", "extra": 1.5}, {"id": 3, "v": "c"}, {"id": "x"}]
    dry = ds.load(batch, "t", strategy=strategy, key=key, dry_run=True)
    assert state(ds, url) == before
    assert dry.status == "dry_run"
    assert_accounted(dry)
    real = ds.load(batch, "t", strategy=strategy, key=key)
    assert real.status == "committed"
    assert (dry.counts, dry.removed, dry.schema_changes) == (
        real.counts,
        real.removed,
        real.schema_changes,
    )


def test_dry_run_of_a_new_table_creates_nothing(ds: freight.Dataset, url: str) -> None:
    before = state(ds, url)
    r = ds.load([*BASE, {"id": "x"}], "fresh", dry_run=True)
    assert (r.status, r.inserted, r.rejected) == ("dry_run", 2, 1)
    assert any("created table fresh" in c for c in r.schema_changes)
    assert state(ds, url) == before


def test_dry_run_of_the_same_data_again_counts_it_skipped(ds: freight.Dataset, url: str) -> None:
    ds.load(BASE, "t")
    before = state(ds, url)
    r = ds.load(BASE, "t", dry_run=True)
    assert (r.status, r.skipped) == ("dry_run", 2)
    assert state(ds, url) == before


def test_a_failing_dry_run_is_not_journaled(ds: freight.Dataset, url: str) -> None:
    ds.load(BASE, "t")
    before = state(ds, url)
    with pytest.raises(freight.RejectedRowsError):
        ds.load([{"id": "x"}], "t", on_reject="fail", dry_run=True)
    assert state(ds, url) == before


# --------------------------------------------------------------------------- absent key


ROW = {"Name": "a", "name_": 1, "id": 1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "merge", "key": "name"}, r"key column 'name'.*did you mean 'Name'\?"),
        ({"strategy": "delete", "key": "nmae_"}, r"key column 'nmae_'.*did you mean 'name_'\?"),
        ({"strategy": "append", "key": "zzz"}, r"the input has 'Name', 'name_', 'id' \["),
        ({"strategy": "incremental", "cursor": "ID"}, r"cursor column 'ID'.*did you mean 'id'\?"),
    ],
)
def test_a_key_no_row_has_is_an_error_before_anything_is_written(
    url: str, options: dict, message: str
) -> None:
    with freight.connect(url, chunk_rows=1) as ds:
        ds.load(BASE, "t", strategy="merge", key="id")
        before = state(ds, url)
        for on_reject in ("quarantine", "fail"):
            with pytest.raises(freight.MissingKeyError, match=message) as e:
                ds.load([ROW, ROW], "t", on_reject=on_reject, **options)
            assert e.value.table == "t"
        tables, objects, history, rejected = state(ds, url)
        assert (tables, objects, rejected) == (before[0], before[1], before[3])
        assert [h.status for h in history] == ["failed", "failed", "committed"]


def test_a_key_some_rows_lack_quarantines_those_rows(ds: freight.Dataset) -> None:
    r = ds.load([{"id": 1}, {"other": 2}], "t", strategy="merge", key="id")
    assert (r.inserted, r.rejected) == (1, 1)


def test_an_empty_input_needs_no_key_column(ds: freight.Dataset) -> None:
    r = ds.load([], "t", strategy="merge", key="id")
    assert (r.status, r.rows_in) == ("committed", 0)


# --------------------------------------------------------------------------- progress


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(0, 40), chunk=st.integers(1, 7))
def test_progress_is_called_after_every_chunk(url: str, n: int, chunk: int) -> None:
    seen: list[freight.Progress] = []
    with freight.connect(url, chunk_rows=chunk) as ds:
        r = ds.load([{"i": i} for i in range(n)], "t", progress=seen.append, force=True)
    assert [p.rows for p in seen] == list(range(chunk, n, chunk)) + ([n] if n else [])
    assert all(p.seconds >= 0 and p.total_bytes is None and p.eta is None for p in seen)
    assert r.rows_in == n


def test_progress_of_a_file_knows_its_size(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps({"i": i}) + "\n" for i in range(100))
    seen: list[freight.Progress] = []
    ds.load(path, "t", progress=seen.append)
    assert seen and seen[-1].rows == 100
    assert {p.total_bytes for p in seen} == {path.stat().st_size}


def test_progress_reports_the_bytes_the_reader_has_read(
    duck: freight.Dataset, tmp_path: Path
) -> None:
    """A file's reader counts the bytes it consumes; the hook passes the count on (all of the
    file by the last chunk), and leaves it None for an input that is not a file."""
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(10)))
    seen: list[freight.Progress] = []
    duck.load(path, "t", progress=seen.append)
    size = path.stat().st_size
    assert [(p.bytes_read, p.total_bytes) for p in seen] == [(size, size)]
    assert seen[-1].fraction == 1.0
    duck.load([{"i": 1}], "t", progress=seen.append)
    assert seen[-1].bytes_read is None and seen[-1].total_bytes is None
    assert seen[-1].fraction is None


def test_progress_arithmetic() -> None:
    p = freight.Progress(rows=300, seconds=3.0, bytes_read=250, total_bytes=1000)
    assert (p.rows_per_second, p.fraction, p.eta) == (100.0, 0.25, 9.0)
    assert freight.Progress(rows=1, seconds=0.0).rows_per_second == 0.0
    assert freight.Progress(rows=1, seconds=1.0, bytes_read=5, total_bytes=4).fraction == 1.0
