"""Disk full under DuckDB: the database file lives on a small tmpfs mount (this needs root;
elsewhere the test is skipped with the reason). A load larger than the space left fails
with a typed error; the table is exactly as before, the database still opens, and once
there is room a re-run applies the load exactly once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import freight
from _conformance import stored_objects
from reliability._support import Tally, check_before_or_after, state, sweep

DISK_MIB = 8
MERGE = {"strategy": "merge", "key": "id"}


def mount(path: Path, mib: int, *, remount: bool = False) -> None:
    opts = f"{'remount,' if remount else ''}size={mib}m"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True)


@contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    path.mkdir()
    try:
        mount(path, DISK_MIB)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {e}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def rows(n: int, width: int = 1000) -> list[dict]:
    return [{"id": i, "v": f"{i:08d}" + "x" * width, "n": i * 0.5} for i in range(n)]


@pytest.mark.parametrize("times_the_disk", sweep([2], [1, 2, 3, 6]))
def test_disk_full_leaves_the_table_as_it_was(
    tmp_path: Path, times_the_disk: int, tally: Tally
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        url = f"duckdb:///{disk / 'full.duckdb'}"
        with freight.connect(url) as ds:
            ds.load(rows(100), "t", **MERGE)
            objects = stored_objects(ds, url)
        before = state(url, "t")
        big = rows(times_the_disk * DISK_MIB * 1024)  # ~1 KB a row
        with freight.connect(url) as ds, pytest.raises(freight.DestinationError) as e:
            ds.load(big, "t", **MERGE)
        assert "\n" not in str(e.value)
        tally["faults"] += 1
        assert state(url, "t") == before
        mount(disk, DISK_MIB * times_the_disk * 4, remount=True)
        found = check_before_or_after(url, "t", before, objects, big, tally, **MERGE)
        assert found == "before"
