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

_TALLIES: dict[str, Tally] = {}  # test id -> what it counted
_XFAILED: set[str] = set()  # tests that failed as a known bug says they do


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    """This test's counters, summed into the session's report."""
    yield _TALLIES.setdefault(request.node.nodeid, Tally())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and hasattr(report, "wasxfail"):
        _XFAILED.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("FREIGHT_RELIABILITY_REPORT")
    if target and _TALLIES:
        write_report(Path(target), _TALLIES, _XFAILED, session)
