"""The password is reachable from nothing freight hands out: not from an error's message,
nor from anything its ``__cause__``/``__context__``/``args``/attributes lead to (the driver
error behind a freight error is detached from its connection, whose ``info`` holds the
password), nor from reprs, URLs and DEBUG log records. A canary password goes through
every error path reachable here. (Traceback frames' locals are out of scope.)"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import freight
from _pg_net import CutProxy, FakeServer
from conftest import PG_URL, pg_url
from freight._url import mask_url

pytestmark = pytest.mark.postgres

psycopg = pytest.importorskip("psycopg")

CANARY = "Canary-Pa55-7e3f9b"


def reachable(root: object, limit: int = 5000) -> Iterator[object]:
    """Every object reachable from ``root`` through exception links, ``args``, ``vars()``,
    containers and public attributes (``pgconn``, ``info`` ...), breadth first, bounded."""
    seen: set[int] = set()
    todo = [root]
    while todo and len(seen) < limit:
        x = todo.pop(0)
        if x is None or id(x) in seen or isinstance(x, (int, float, bool, type)):
            continue
        seen.add(id(x))
        yield x
        if isinstance(x, (str, bytes)):
            continue
        if isinstance(x, BaseException):
            todo += [x.__cause__, x.__context__, *x.args]
        if isinstance(x, dict):
            todo += [*x.keys(), *x.values()]
        elif isinstance(x, (list, tuple, set, frozenset)):
            todo += list(x)
        if isinstance(getattr(x, "__dict__", None), dict):
            todo += list(vars(x).values())
        if type(x).__module__.split(".")[0] in ("psycopg", "psycopg_binary", "freight"):
            for name in dir(x):
                if name.startswith("_"):
                    continue
                try:
                    value = getattr(x, name)
                except Exception:
                    continue  # a property that needs a live connection: nothing held
                if not callable(value):
                    todo.append(value)


def assert_nowhere(*roots: object) -> None:
    checked = 0
    for root in roots:
        for x in reachable(root):
            checked += 1
            text = x.decode(errors="replace") if isinstance(x, bytes) else f"{x!s} {x!r}"
            assert CANARY not in text, (type(x), text)
    assert checked


def test_the_walk_finds_a_password_a_connection_holds(pg_schema: str) -> None:
    """The walk is able to fail: a live connection's ``info`` leads to the password."""
    url = pg_url(pg_schema).replace("://postgres@", f"://postgres:{CANARY}@")
    conn = psycopg.connect(url.split("?")[0])
    try:
        with pytest.raises(AssertionError):
            assert_nowhere(psycopg.OperationalError("x", pgconn=conn.pgconn))
    finally:
        conn.close()


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the log records say, as a handler would format them. (Their ``args`` may hold
    the driver's live objects, as psycopg's own warning about a lost pipeline does.)"""
    return [f"{r} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]


def with_password(url: str) -> str:
    return url.replace("://postgres@", f"://postgres:{CANARY}@")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer("password")
    yield s
    s.close()


@pytest.mark.parametrize(
    "case", ["bad password", "bad host", "bad database", "refused", "unencoded @", "bad url"]
)
def test_connect_failures_hold_no_password(
    case: str, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    base = PG_URL.rsplit("/", 1)[0]
    urls = {
        "bad password": f"postgresql://postgres:{CANARY}@127.0.0.1:{server.port}/test?sslmode=disable",
        "bad host": f"postgresql://postgres:{CANARY}@no-such-host.invalid:5432/test",
        "bad database": with_password(base) + "/no_such_database_here",
        "refused": f"postgresql://postgres:{CANARY}@127.0.0.1:1/test",
        "unencoded @": f"postgresql://postgres:Canary@{CANARY}@127.0.0.1:5432/test",
        "bad url": f"postgresql://postgres:{CANARY}%zz@127.0.0.1:5432/test",
    }
    caplog.set_level(logging.DEBUG)
    with pytest.raises(freight.FreightError) as e:
        freight.connect(urls[case], wait=0)
    assert_nowhere(e.value, *logged(caplog))
    if case == "bad password":
        assert CANARY.encode() in server.received  # it was sent, and is still held nowhere
    if case == "unencoded @":
        assert isinstance(e.value, freight.ConfigurationError) and "%40" in str(e.value)


def test_unencoded_at_sign_is_masked_to_the_last_at() -> None:
    url = f"postgres://postgres:Canary@{CANARY}@db.example.com/db"
    assert mask_url(url) == "postgres://postgres:***@db.example.com/db"


def test_a_working_dataset_and_its_failures_hold_no_password(
    pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Trust authentication ignores the password: a canary travels through a working
    dataset, a statement failing mid-load and a COMMIT lost on its way."""
    caplog.set_level(logging.DEBUG)
    proxy = CutProxy(pg_url(pg_schema))
    try:
        with freight.connect(with_password(proxy.url(pg_url(pg_schema)))) as ds:
            ds.load([{"id": 1}], "t", strategy="merge", key="id")
            with pytest.raises(freight.DestinationError) as failed:
                ds.load([{"id": 1}, {"id": 1}], "t", strategy="replace")
            assert "duplicate key" in str(failed.value)
            proxy.arm("before")
            with pytest.raises(freight.DestinationError) as lost:
                ds.load(({"id": i} for i in range(3)), "u")
            assert proxy.cut.is_set() and "committing" in str(lost.value)
            assert_nowhere(
                failed.value,
                lost.value,
                repr(ds),
                ds.url,
                repr(ds.destination),
                ds.health(),
                ds.history(),
                *logged(caplog),
            )
    finally:
        proxy.close()
