"""``pg_terminate_backend`` of the loading session at several points of a load (the chunk
holding row N), for a list (replayable: retried) and a generator (not). After each: the
table before or after, the journal agreeing, nothing left, a re-run applied once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

import freight
from _conformance import stored_objects
from conftest import pg_admin, pg_url
from reliability._child import make_row
from reliability._support import Tally, check_before_or_after, state, sweep

pytestmark = pytest.mark.postgres

TOTAL = 3000
CHUNK = 500
MERGE = {"strategy": "merge", "key": "id"}


def terminate(app: str) -> int:
    conn: Any = pg_admin()
    try:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [app],
            ).fetchall()
        )
    finally:
        conn.close()


class TerminatingList(list):  # type: ignore[type-arg]
    """A list of rows that terminates the loading session the first time the chunk
    holding row ``at`` is read (intake reads a list by slices)."""

    def __init__(self, rows: list[dict], at: int, app: str) -> None:
        super().__init__(rows)
        self.at, self.app, self.killed = at, app, 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice) and self.at in range(len(self))[i] and not self.killed:
            self.killed = terminate(self.app)
        return super().__getitem__(i)


def generated(rows: list[dict], at: int, app: str, killed: list[int]) -> Iterator[dict]:
    for i, row in enumerate(rows):
        if i == at:
            killed.append(terminate(app))
        yield row


@pytest.mark.parametrize("kind", ["list", "generator"])
@pytest.mark.parametrize("at", sweep([CHUNK, TOTAL - 1], list(range(0, TOTAL, CHUNK // 2))))
def test_backend_terminated_at_row_n(pg_schema: str, kind: str, at: int, tally: Tally) -> None:
    url = pg_url(pg_schema)
    rows = [make_row(i, i >= TOTAL // 2) for i in range(TOTAL)]
    with freight.connect(url) as ds:
        ds.load([make_row(i) for i in range(-20, 10)], "t", **MERGE)
        objects = stored_objects(ds, url)
    before = state(url, "t")
    app = f"freight_kill_{secrets.token_hex(4)}"
    killed: list[int] = []
    data: Any = (
        TerminatingList(rows, at, app) if kind == "list" else generated(rows, at, app, killed)
    )
    error = None
    with freight.connect(f"{url}&application_name={app}", chunk_rows=CHUNK) as ds:
        try:
            ds.load(data, "t", **MERGE)
        except freight.FreightError as e:
            error = e
    killed.append(getattr(data, "killed", 0))
    assert sum(killed) == 1  # the loading session was terminated once
    tally["faults"] += 1
    if kind == "list":
        assert error is None  # retried
    elif error is not None:  # (a session terminated while idle is replaced before use)
        assert error.transient, error
    found = check_before_or_after(
        url, "t", before, objects, rows, tally, raised=error is not None, **MERGE
    )
    assert found == ("before" if error else "after")
