"""A loopback proxy between freight and PostgreSQL cuts the connection after N bytes, swept
over N in both directions, for list inputs (replayable: retried) and generators (not).

The sweep's points are fractions of the bytes a recorded run of the same load sends before
its journal-and-COMMIT pipeline; the cuts that lose the COMMIT's acknowledgement (the
server committed, the client never heard) are cases of their own. After each: the table is
exactly before or after the load, the journal agrees with what the caller was told, nothing
is left behind, a re-run applies the load exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest

import freight
from _conformance import PG_URL, stored_objects
from conftest import pg_url
from reliability._child import make_row
from reliability._proxy import Direction, Proxy, commit_points
from reliability._support import State, Tally, check_before_or_after, state, sweep

pytestmark = pytest.mark.postgres

MERGE = {"strategy": "merge", "key": "id"}
SIZES = {"list": 3000, "generator": 3000, "small list": 50}  # small: the light path (no Arrow)


def target() -> tuple[str, int]:
    parts = urlsplit(PG_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def through(proxy: Proxy, schema: str) -> str:
    parts = urlsplit(PG_URL)
    user = parts.username or "postgres"
    return (
        f"postgresql://{user}@127.0.0.1:{proxy.port}{parts.path}"
        f"?schema={schema}&sslmode=disable&gssencmode=disable"
    )


def rows(kind: str) -> list[dict]:
    return [make_row(i, i >= SIZES[kind] // 2) for i in range(SIZES[kind])]


def as_input(kind: str) -> Iterable[dict]:
    return iter(rows(kind)) if kind == "generator" else rows(kind)


def prepare(url: str, table: str) -> tuple[State, set[tuple[str, ...]]]:
    with freight.connect(url) as ds:
        ds.load([make_row(i) for i in range(-20, 10)], table, **MERGE)
        return state(url, table), stored_objects(ds, url)


def load_through(proxy: Proxy, schema: str, table: str, kind: str) -> freight.FreightError | None:
    try:
        with freight.connect(through(proxy, schema)) as ds:
            ds.load(as_input(kind), table, **MERGE)
    except freight.FreightError as e:
        assert "\n" not in str(e)
        return e
    return None


class Recorded(NamedTuple):
    """Byte offsets in a recorded run: where ``connect()`` returned, where the commit
    pipeline starts (see ``commit_points``), where the server has all of it (up), where
    the COMMIT's answer starts (down)."""

    connected: dict[str, int]
    pipeline: dict[str, int]
    up_end: int
    down_commit: int


def recorded(schema: str, kind: str) -> Recorded:
    """Load into table ``r`` through a proxy that cuts nothing, the way the cut runs load
    into ``t`` (same names' lengths, same statements)."""
    prepare(pg_url(schema), "r")
    proxy = Proxy(target())
    try:
        with freight.connect(through(proxy, schema)) as ds:
            connected = {d: len(b) for d, b in proxy.seen.items()}
            ds.load(as_input(kind), "r", **MERGE)
    finally:
        proxy.close()
    up_start, up_end, down_start, down_commit = commit_points(
        bytes(proxy.seen["up"]), bytes(proxy.seen["down"])
    )
    return Recorded(connected, {"up": up_start, "down": down_start}, up_end, down_commit)


def cut_and_check(
    schema: str, kind: str, cut: tuple[Direction, int], tally: Tally, **expect: Any
) -> str:
    url = pg_url(schema)
    before, objects = prepare(url, "t")
    proxy = Proxy(target(), cut=cut)
    try:
        error = load_through(proxy, schema, "t", kind)
    finally:
        proxy.close()
    assert proxy.cut_done
    tally["faults"] += 1
    if expect.get("settled"):  # the outcome is found out (retried connect, journal look-up)
        assert error is None, error
    elif kind == "generator":
        assert error is not None and error.transient, error  # a generator cannot be replayed
    found = check_before_or_after(
        url, "t", before, objects, rows(kind), tally, raised=error is not None, **MERGE
    )
    if "found" in expect:
        assert found == expect["found"]
    return found


@pytest.mark.parametrize("kind", list(SIZES))
@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize("fraction", sweep([0.5], [i / 20 for i in range(20)] + [0.99, 0.999]))
def test_cut_before_the_commit(
    pg_schema: str, kind: str, direction: Direction, fraction: float, tally: Tally
) -> None:
    """Cut while the load runs (after ``connect()``, before the commit pipeline): a list is
    retried and committed once, a generator's load fails and leaves nothing."""
    rec = recorded(pg_schema, kind)
    start, stop = rec.connected[direction] + 1, rec.pipeline[direction]  # (+1: a byte of the load)
    n = start + int(fraction * (stop - start))
    found = cut_and_check(pg_schema, kind, (direction, n), tally)
    assert found == ("before" if kind == "generator" else "after")


@pytest.mark.parametrize("kind", list(SIZES))
@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize("fraction", sweep([0.5], [i / 10 for i in range(10)]))
def test_cut_while_connecting(
    pg_schema: str, kind: str, direction: Direction, fraction: float, tally: Tally
) -> None:
    """A connection dropped while ``connect()`` opens it is transient: retried, then the
    load commits once, whatever the input (nothing of it was read yet)."""
    rec = recorded(pg_schema, kind)
    n = int(fraction * rec.connected[direction])
    cut_and_check(pg_schema, kind, (direction, n), tally, found="after", settled=True)


@pytest.mark.parametrize("kind", list(SIZES))
@pytest.mark.parametrize("direction", ["up", "down"])
def test_cut_after_the_server_has_the_commit(
    pg_schema: str, kind: str, direction: Direction, tally: Tally
) -> None:
    """The server has the whole journal-and-COMMIT pipeline, the client hears nothing back:
    the outcome must be found out (committed, one journal row), not guessed: the load
    returns its result, a generator's too."""
    rec = recorded(pg_schema, kind)
    n = rec.up_end if direction == "up" else rec.down_commit
    cut_and_check(pg_schema, kind, (direction, n), tally, found="after", settled=True)
