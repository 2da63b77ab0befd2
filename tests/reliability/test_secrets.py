"""A canary password through every error path: connecting (bad host, port, database,
password, an unencoded ``@``), a load failing mid-way, and every CLI command with and
without ``--verbose`` (logs at DEBUG). Every object reachable from a raised exception
(``__cause__``, ``__context__``, ``args``, attributes) is searched, not only its message."""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any
from urllib.parse import urlsplit

import pytest

import freight
from _conformance import PG_URL
from _pg_net import FakeServer
from conftest import pg_url
from reliability._support import Tally, sweep

pytestmark = pytest.mark.postgres

CANARY = "Canary-" + secrets.token_hex(8)
ATTRIBUTES = ("pgconn", "info", "dsn", "password", "url", "conninfo", "connection", "conn")


def reachable(root: BaseException, limit: int = 500) -> Iterator[Any]:
    """Every object reachable from ``root`` through exception links, args, instance
    attributes and a few driver attributes known to hold connection details."""
    seen: set[int] = set()
    todo: list[Any] = [root]
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, int | float | bool):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, str | bytes):
            continue
        if isinstance(obj, dict):
            todo.extend([*obj.keys(), *obj.values()])
            continue
        if isinstance(obj, list | tuple | set | frozenset):
            todo.extend(obj)
            continue
        if isinstance(obj, BaseException):
            todo.extend([obj.__cause__, obj.__context__, obj.args])
        todo.extend(getattr(obj, "__dict__", {}).values())
        for name in ATTRIBUTES:
            try:
                todo.append(getattr(obj, name, None))
            except Exception:  # a closed connection's attribute may refuse to answer
                todo.append(f"<{name} unavailable>")


def leaks(e: BaseException, tally: Tally) -> list[str]:
    found = []
    for obj in reachable(e):
        tally["secrets_checked"] += 1
        text = obj.decode(errors="replace") if isinstance(obj, bytes) else f"{obj!s} {obj!r}"
        if CANARY in text:
            found.append(f"{type(obj).__name__}: {text[:120]}")
    tally["leaked_secrets"] += bool(found)
    return found


def with_password(url: str, password: str = CANARY, host: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{password}@{host or parts.netloc.split('@')[-1]}"
    return parts._replace(netloc=netloc).geturl()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer("password")
    yield s
    s.close()


CONNECT_CASES = {
    "bad host": lambda s: with_password(PG_URL, host="no-such-host.invalid:5432"),
    "bad port": lambda s: with_password(PG_URL, host="127.0.0.1:1"),
    # (the database's name is no secret: an error names it; the password must not show)
    "bad database": lambda s: with_password(PG_URL.rsplit("/", 1)[0] + "/no_such_db_x"),
    "bad password": lambda s: with_password(
        f"postgresql://postgres@127.0.0.1:{s.port}/test?sslmode=disable"
    ),
    "unencoded @": lambda s: with_password(PG_URL, password=f"x@{CANARY}", host="127.0.0.1:1"),
}


@pytest.mark.parametrize("case", list(CONNECT_CASES))
def test_canary_never_reachable_when_connecting(
    case: str, server: FakeServer, caplog: pytest.LogCaptureFixture, tally: Tally
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        pytest.raises(freight.FreightError) as e,
        freight.connect(CONNECT_CASES[case](server)) as ds,
    ):
        ds.load([{"id": 1}], "t")
    logs = [r.getMessage() for r in caplog.records]
    assert not [m for m in logs if CANARY in m]
    assert not leaks(e.value, tally)


def test_canary_never_reachable_from_a_mid_load_failure(
    pg_schema: str, caplog: pytest.LogCaptureFixture, tally: Tally
) -> None:
    """Trust authentication ignores the password: the canary rides along a working
    dataset to a statement the server refuses mid-load."""
    caplog.set_level(logging.DEBUG)
    with freight.connect(with_password(pg_url(pg_schema))) as ds:
        r = ds.load([{"id": 1, "v": "a"}], "t", strategy="merge", key="id")
        with pytest.raises(freight.FreightError) as e:
            ds.load([{"id": i} for i in (1, 1, 2)], "t", strategy="replace")
        texts = [repr(ds), ds.url, str(r), repr(ds.health()), *map(repr, ds.history())]
    assert not [t for t in texts if CANARY in t]
    assert not [r.getMessage() for r in caplog.records if CANARY in r.getMessage()]
    assert not leaks(e.value, tally)


DEBUG_CLI = (
    "import logging, sys; logging.basicConfig(level=logging.DEBUG); "
    "sys.argv[0] = 'freight'; from freight.cli import main; main()"
)


def commands(path: Path) -> list[list[str]]:
    every = [
        ["load", str(path), "--table", "t"],
        ["history"],
        ["health"],
        ["tables"],
        ["schema", "t"],
        ["rejected", "t"],
    ]
    return sweep(every[:3], every)


@pytest.mark.parametrize("where", ["working server", "bad password"])
def test_canary_never_printed_by_the_cli(
    where: str, pg_schema: str, server: FakeServer, tmp_path: Path, tally: Tally
) -> None:
    """Every command (three in the normal run), with --verbose (which also logs at DEBUG;
    the full sweep also runs without), against a server that works and one that refuses
    the password."""
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n{"id": "x"}\n')
    url = (
        with_password(pg_url(pg_schema))
        if where == "working server"
        else with_password(f"postgresql://postgres@127.0.0.1:{server.port}/test?sslmode=disable")
    )
    runs = []
    for args in commands(path):
        for verbose in sweep([True], [False, True]):
            head = ["-c", DEBUG_CLI] if verbose else ["-m", "freight.cli"]
            argv = [sys.executable, *head, *args, "--url", url, *(["--verbose"] if verbose else [])]
            runs.append((argv, subprocess.Popen(argv, stdout=PIPE, stderr=PIPE, text=True)))
    for argv, proc in runs:
        out, err = proc.communicate(timeout=120)
        tally["secrets_checked"] += 1
        leaked = CANARY in out or CANARY in err
        tally["leaked_secrets"] += leaked
        assert not leaked, (argv[3:], out[-500:], err[-2000:])
        if where == "bad password":
            assert proc.returncode == 1 and "password authentication failed" in err, err
        elif argv[3] == "load":
            assert proc.returncode == 0, err
