"""PostgreSQL over a failing network: a COMMIT whose answer is lost is found out from the
journal (never guessed), a load id has one outcome, connecting retries what a retry may
cure. Real cuts through a loopback proxy (tests/_pg_net.py) in front of the real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import freight
from _pg_net import CutProxy
from conftest import pg_admin, pg_url
from freight.destinations import postgres as pgdest

pytestmark = pytest.mark.postgres

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def proxy(pg_schema: str) -> Iterator[CutProxy]:
    p = CutProxy(pg_url(pg_schema))
    yield p
    p.close()


@pytest.fixture
def admin(pg_schema: str) -> Iterator[Any]:
    conn = pg_admin()
    yield conn
    conn.close()  # type: ignore[attr-defined]


def journal(admin: Any, schema: str) -> list[tuple[str, str]]:
    return admin.execute(
        f'SELECT load_id, status FROM "{schema}"._freight_loads ORDER BY started_at'
    ).fetchall()


def stored(admin: Any, schema: str, table: str) -> list[tuple[Any, ...]]:
    return admin.execute(f'SELECT id, v FROM "{schema}"."{table}" ORDER BY id').fetchall()


def key_of(strategy: str) -> str | None:
    return "id" if strategy == "merge" else None


def rows_of(kind: str, n: int, v: int, first: int = 0) -> Any:
    rows = [{"id": i, "v": v} for i in range(first, first + n)]
    return rows if kind == "list" else (r for r in rows)


@pytest.mark.parametrize("strategy", ["append", "merge"])
@pytest.mark.parametrize("kind", ["list", "generator"])
def test_commit_whose_answer_is_lost_is_found_committed(
    proxy: CutProxy, pg_schema: str, admin: Any, kind: str, strategy: str
) -> None:
    with freight.connect(proxy.url(pg_url(pg_schema))) as ds:
        ds.load(rows_of("list", 3, 0), "t", strategy=strategy, key=key_of(strategy))
        proxy.arm("after")
        first = 0 if strategy == "merge" else 3
        r = ds.load(rows_of(kind, 5, 1, first), "t", strategy=strategy, key=key_of(strategy))
        assert proxy.cut.is_set()
        assert r.status == "committed"
        if strategy == "merge":
            assert (r.inserted, r.updated) == (2, 3)
            assert stored(admin, pg_schema, "t") == [(i, 1) for i in range(5)]
        else:
            assert r.inserted == 5 and len(stored(admin, pg_schema, "t")) == 8
        # one outcome for the load: its committed row and nothing else
        assert [s for lid, s in journal(admin, pg_schema) if lid == r.load_id] == ["committed"]
        again = ds.load(rows_of("list", 5, 1, first), "t", strategy=strategy, key=key_of(strategy))
        assert again.status == "skipped"


@pytest.mark.parametrize("strategy", ["append", "merge"])
def test_commit_lost_on_its_way_is_retried_once_for_a_list(
    proxy: CutProxy, pg_schema: str, admin: Any, strategy: str
) -> None:
    with freight.connect(proxy.url(pg_url(pg_schema))) as ds:
        ds.load(rows_of("list", 3, 0), "t", strategy=strategy, key=key_of(strategy))
        proxy.arm("before")
        first = 0 if strategy == "merge" else 3
        r = ds.load(rows_of("list", 5, 1, first), "t", strategy=strategy, key=key_of(strategy))
        assert proxy.cut.is_set() and r.status == "committed"
        expected = [(i, 1) for i in range(5)] if strategy == "merge" else None
        got = stored(admin, pg_schema, "t")
        assert got == expected if expected else len(got) == 8
        assert [s for lid, s in journal(admin, pg_schema) if lid == r.load_id] == ["committed"]


def test_commit_lost_on_its_way_fails_a_generator_load_once(
    proxy: CutProxy, pg_schema: str, admin: Any
) -> None:
    with freight.connect(proxy.url(pg_url(pg_schema))) as ds:
        proxy.arm("before")
        with pytest.raises(freight.DestinationError) as e:
            ds.load(rows_of("generator", 5, 1), "t")
        assert proxy.cut.is_set() and e.value.transient
        assert "committing" in str(e.value)
        assert ds.tables() == []
        assert [s for lid, s in journal(admin, pg_schema) if lid == e.value.load_id] == ["failed"]


@pytest.mark.parametrize("kind", ["list", "generator"])
def test_commit_whose_answer_is_lost_while_the_journal_cannot_be_asked(
    proxy: CutProxy, pg_schema: str, admin: Any, kind: str
) -> None:
    """The first look-up of the journal fails too (its connection is refused): a list is
    retried, and the retry asks the journal first and returns the committed load; a
    generator raises the unanswered COMMIT, and its failure is not recorded beside the
    commit (the journal's unique load id refuses it)."""
    with freight.connect(proxy.url(pg_url(pg_schema))) as ds:
        ds.load(rows_of("list", 3, 0), "t", strategy="merge", key="id")
        proxy.arm("after")
        proxy.refuse(1)
        if kind == "list":
            r = ds.load(rows_of(kind, 5, 1), "t", strategy="merge", key="id")
            assert (r.status, r.inserted, r.updated) == ("committed", 2, 3)
            load_id = r.load_id
        else:
            with pytest.raises(freight.DestinationError) as e:
                ds.load(rows_of(kind, 5, 1), "t", strategy="merge", key="id")
            assert e.value.transient and "committing" in str(e.value)
            assert e.value.load_id is not None
            load_id = e.value.load_id
        assert proxy.cut.is_set() and proxy.refusing == 0
    assert stored(admin, pg_schema, "t") == [(i, 1) for i in range(5)]
    assert [s for lid, s in journal(admin, pg_schema) if lid == load_id] == ["committed"]


def test_a_load_id_has_one_outcome(pg_schema: str, admin: Any) -> None:
    with freight.connect(pg_url(pg_schema)) as ds:
        r = ds.load([{"id": 1}], "t")
    with pytest.raises(psycopg.errors.UniqueViolation):
        admin.execute(
            f'INSERT INTO "{pg_schema}"._freight_loads (load_id, table_name, status) '
            "VALUES (%s, 't', 'failed')",
            [r.load_id],
        )


def journal_key(admin: Any, schema: str) -> bool:
    return bool(
        admin.execute(
            "SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}"."{pgdest.JOURNAL_KEY}"']
        ).fetchone()[0]
    )


def test_an_older_journal_gets_its_unique_load_id(pg_schema: str, admin: Any) -> None:
    with freight.connect(pg_url(pg_schema)) as ds:
        ds.load([{"id": 1}], "t")
    admin.execute(f'DROP INDEX "{pg_schema}"."{pgdest.JOURNAL_KEY}"')
    with freight.connect(pg_url(pg_schema)) as ds:
        assert journal_key(admin, pg_schema)
        assert ds.load([{"id": 2}], "t").inserted == 1


def test_an_older_journal_holding_a_load_id_twice_keeps_working(pg_schema: str, admin: Any) -> None:
    with freight.connect(pg_url(pg_schema)) as ds:
        r = ds.load([{"id": 1}], "t")
    admin.execute(f'DROP INDEX "{pg_schema}"."{pgdest.JOURNAL_KEY}"')
    admin.execute(
        f'INSERT INTO "{pg_schema}"._freight_loads (load_id, table_name, status, started_at) '
        "VALUES (%s, 't', 'failed', now())",
        [r.load_id],
    )
    with freight.connect(pg_url(pg_schema)) as ds:
        assert not journal_key(admin, pg_schema)
        assert ds.load([{"id": 2}], "t").inserted == 1
        assert len(ds.history("t")) == 3


@pytest.mark.parametrize("given", [None, "30"])
def test_a_load_finds_out_soon_that_its_client_is_gone(pg_schema: str, given: str | None) -> None:
    """A load's transaction checks for its client every second and uses TCP keepalives on
    both ends, so a vanished client's backend ends (releasing its locks) within seconds;
    a keepalive the URL sets wins on the client's side."""
    url = pg_url(pg_schema) + (f"&keepalives_idle={given}" if given else "")
    with freight.connect(url) as ds, ds.destination.session() as s:  # type: ignore[attr-defined]
        s.columns("t")  # a load's first statements
        server = {n: s.conn.execute(f"SHOW {n}").fetchone()[0] for n in pgdest.SESSION_SETTINGS}
        assert server == pgdest.SESSION_SETTINGS
        client = s.conn.info.get_parameters()
        assert client["keepalives_idle"] == (given or "5") and client["keepalives"] == "1"


def backend_alive(admin: Any, pid: int) -> bool:
    return bool(
        admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]
    )


def test_a_backend_whose_client_is_gone_ends_in_the_middle_of_a_statement(
    proxy: CutProxy, pg_schema: str, admin: Any
) -> None:
    """Its locks are not held until a long statement ends on its own: a retry of the load
    gets them. (The statement would run for an hour; the bound below is only a guard.)"""
    errors: list[BaseException] = []
    with freight.connect(proxy.url(pg_url(pg_schema))) as ds, ds.destination.session() as s:  # type: ignore[attr-defined]
        s.columns("t")
        pid = s.conn.info.backend_pid

        def run() -> None:
            try:
                s._exec("SELECT pg_sleep(3600)")
            except freight.DestinationError as e:
                errors.append(e)

        worker = threading.Thread(target=run)
        worker.start()
        while not admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND query LIKE %s",
            [pid, "%pg_sleep%"],
        ).fetchone()[0]:
            time.sleep(0.05)
        proxy.close()  # the network is gone, mid-statement
        worker.join(60)
        guard = time.monotonic() + 60
        while backend_alive(admin, pid) and time.monotonic() < guard:
            time.sleep(0.1)
        alive = backend_alive(admin, pid)
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])  # (if failing: let go)
        assert not alive
    assert len(errors) == 1 and errors[0].transient


def test_an_attempt_whose_load_id_committed_meanwhile_applies_nothing(
    pg_schema: str, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry racing its first attempt's COMMIT (still in flight when the journal was
    asked) is refused by the journal's unique load id at its own commit, rolls back, and
    returns the outcome the journal holds: the rows are applied once."""
    with freight.connect(pg_url(pg_schema)) as ds:
        ds.load([{"id": 0, "v": 0}], "t", strategy="merge", key="id")
        monkeypatch.setattr(freight._dataset, "new_load_id", lambda: "20261202T000000000-race00")
        admin.execute(
            f'INSERT INTO "{pg_schema}"._freight_loads (load_id, table_name, strategy, status, '
            "rows_in, inserted, started_at) VALUES (%s, 't', 'merge', 'committed', 7, 7, now())",
            ["20261202T000000000-race00"],
        )
        r = ds.load([{"id": 1, "v": 1}, {"id": 2, "v": 1}], "t", strategy="merge", key="id")
        assert (r.load_id, r.status, r.rows_in, r.inserted) == (
            "20261202T000000000-race00",
            "committed",
            7,
            7,
        )
    assert stored(admin, pg_schema, "t") == [(0, 0)]
    assert [s for lid, s in journal(admin, pg_schema) if lid == r.load_id] == ["committed"]
