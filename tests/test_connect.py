"""Opening a dataset: ``connect`` retries a transient failure to open until ``wait``
seconds have passed (a DuckDB file another process holds for writing, a PostgreSQL server
not accepting yet), and names a missing driver with the extra that installs it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import freight
from _pg_net import CutProxy
from conftest import pg_url

HOLD = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()
conn.close()
"""


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A DuckDB file opened for writing by another process until its stdin gets a line."""
    path = tmp_path / "held.duckdb"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    yield f"duckdb:///{path}", child
    child.communicate("\n", timeout=30)  # lets go (if it still holds it) and closes the pipes


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("\n")
    child.stdin.flush()


def test_a_locked_duckdb_file_opens_once_the_other_process_lets_go(
    held: tuple[str, subprocess.Popen[str]],
) -> None:
    url, child = held
    with pytest.raises(freight.LockedError):  # held right now
        freight.connect(url, wait=0)
    timer = threading.Timer(0.5, release, [child])
    timer.start()
    try:
        with freight.connect(url, wait=60) as ds:
            assert ds.load([{"a": 1}], "t").inserted == 1
    finally:
        timer.join()


def test_a_duckdb_file_held_past_wait_is_a_clear_transient_error(
    held: tuple[str, subprocess.Popen[str]],
) -> None:
    url, _child = held
    with pytest.raises(freight.LockedError) as e:
        freight.connect(url, wait=0.3)
    assert e.value.transient
    assert "in use by another process" in str(e.value) and "waiting 0.3 s" in str(e.value)


@pytest.mark.parametrize("wait", [-1, "5", True])
def test_wait_must_be_seconds(tmp_path: Path, wait: object) -> None:
    with pytest.raises(freight.ConfigurationError, match="wait"):
        freight.connect(f"duckdb:///{tmp_path / 'x.duckdb'}", wait=wait)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_postgres_server_not_listening_yet_is_waited_for(pg_schema: str) -> None:
    pytest.importorskip("psycopg")
    spare = CutProxy(pg_url(pg_schema))  # a free loopback port, closed again: refused
    port = spare.port
    spare.close()
    with pytest.raises(freight.DestinationError) as e:
        freight.connect(spare.url(pg_url(pg_schema)), wait=0)
    assert e.value.transient
    started: list[CutProxy] = []
    timer = threading.Timer(0.5, lambda: started.append(CutProxy(pg_url(pg_schema), port)))
    timer.start()
    try:
        with freight.connect(spare.url(pg_url(pg_schema)), wait=60) as ds:
            assert ds.load([{"a": 1}], "t").inserted == 1
    finally:
        timer.join()
        for p in started:
            p.close()


MISSING = """
import sys
sys.modules[sys.argv[1]] = None  # as if not installed: importing it raises ImportError
import freight
try:
    freight.connect(sys.argv[2], wait=0)
except freight.ConfigurationError as e:
    print(type(e).__name__, e, "| pyarrow imported:", "pyarrow" in sys.modules)
"""


@pytest.mark.postgres
@pytest.mark.parametrize("module", ["pgpq", "psycopg"])
def test_a_missing_driver_is_named_when_connecting_with_the_extra_to_install(
    pg_schema: str, module: str
) -> None:
    pytest.importorskip("psycopg")
    out = subprocess.run(
        [sys.executable, "-c", MISSING, module, pg_url(pg_schema)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.startswith("ConfigurationError "), out
    assert module in out and "pip install 'freight[postgres]'" in out
    assert "pyarrow imported: False" in out  # found out without importing pgpq
