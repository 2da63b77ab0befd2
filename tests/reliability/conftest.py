"""The reliability suite (``make reliability``, docs/reliability.md): faults, concurrency,
hostile input, secrets and memory, against every destination.

Every test here is marked ``reliability``. The normal run (``make test``) takes a bounded
sweep of each; ``FREIGHT_RELIABILITY=full`` widens every sweep. The tests count what they
did in the session's ``tally`` (faults injected, inputs tried, rows checked, rows lost, ...);
with ``FREIGHT_RELIABILITY_REPORT=path`` the figures are written to that file at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliability._support import Tally, write_report

_TALLY = Tally()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def tally() -> Iterator[Tally]:
    yield _TALLY


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("FREIGHT_RELIABILITY_REPORT")
    if target and _TALLY.touched():
        write_report(Path(target), _TALLY, session, exitstatus)
