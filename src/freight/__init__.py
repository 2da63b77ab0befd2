"""freight: the storage layer of data pipelines.

import freight
with freight.connect("duckdb:///app.duckdb") as ds:
    result = ds.load(rows, table="submissions", strategy="merge", key="submission_id")
print(result)
"""

from __future__ import annotations

from typing import Any

from ._csv import CsvFile, csv
from ._dataset import DEFAULT_URL, Dataset, connect
from ._errors import (
    ConfigurationError,
    DestinationError,
    FreightError,
    InputError,
    InvalidIdentifierError,
    InvalidStrategyError,
    LockedError,
    MissingKeyError,
    RejectedRowsError,
    SchemaContractError,
)
from ._plan import CONTRACTS, STRATEGIES, Contract, OnReject, Strategy
from ._result import Health, LoadRecord, LoadResult, Progress, RejectedRow

__version__ = "0.1.0"

__all__ = [
    "CONTRACTS",
    "DEFAULT_URL",
    "STRATEGIES",
    "ConfigurationError",
    "Contract",
    "CsvFile",
    "Dataset",
    "DestinationError",
    "FreightError",
    "Health",
    "InputError",
    "InvalidIdentifierError",
    "InvalidStrategyError",
    "LoadRecord",
    "LoadResult",
    "LockedError",
    "MissingKeyError",
    "OnReject",
    "Progress",
    "RejectedRow",
    "RejectedRowsError",
    "SchemaContractError",
    "Strategy",
    "__version__",
    "connect",
    "csv",
    "load",
]


def load(data: Any, url: str | None = None, *, table: str, **kwargs: Any) -> LoadResult:
    """Open ``url``, load ``data`` into ``table``, close. See ``Dataset.load``."""
    with connect(url) as ds:
        return ds.load(data, table, **kwargs)
