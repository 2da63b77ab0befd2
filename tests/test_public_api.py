"""The public API: what ``freight`` exports, the error tree, and the result objects."""

from __future__ import annotations

import dataclasses
import inspect
import types

import pytest

import freight
import freight._errors

SPEC_ERRORS = (
    "SchemaContractError",
    "MissingKeyError",
    "InvalidIdentifierError",
    "RejectedRowsError",
    "DestinationError",
)
LOAD_RESULT_FIELDS = (
    "load_id",
    "table",
    "strategy",
    "status",
    "rows_in",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "skipped",
    "deduplicated",
    "rejected",
    "removed",
    "schema_changes",
    "checksum",
    "seconds",
    "rows_per_second",
)
LOAD_RECORD_FIELDS = (
    "load_id",
    "table",
    "strategy",
    "status",
    "rows_in",
    "inserted",
    "updated",
    "unchanged",
    "deleted",
    "skipped",
    "deduplicated",
    "rejected",
    "removed",
    "checksum",
    "schema_version",
    "started_at",
    "finished_at",
    "error",
    "cursor_value",
)
REJECTED_ROW_FIELDS = ("load_id", "table", "row_number", "row", "reason")


def _own(value: object) -> bool:
    """Defined by freight (not re-exported from typing, __future__, ...)."""
    if isinstance(value, types.ModuleType):
        return False
    module = getattr(value, "__module__", None)
    if module is None or not isinstance(module, str):
        return True  # plain values (tuples, strings) defined in freight/__init__
    return module == "freight" or module.startswith("freight.")


# --------------------------------------------------------------------------- exports


def test_all_lists_exactly_the_public_names() -> None:
    names = freight.__all__
    assert len(names) == len(set(names)), "duplicates in __all__"
    for name in names:
        assert hasattr(freight, name), f"__all__ names {name!r}, which freight lacks"
    public = {
        n
        for n, v in vars(freight).items()
        if not n.startswith("_") and _own(v) and not isinstance(v, types.ModuleType)
    }
    assert public - set(names) == set(), "public names missing from __all__"
    # and nothing private or foreign is exported
    assert [n for n in names if n.startswith("_") and n != "__version__"] == []
    assert [n for n in names if isinstance(getattr(freight, n), types.ModuleType)] == []


def test_star_import_gives_exactly_all() -> None:
    ns: dict = {}
    exec("from freight import *", ns)
    ns.pop("__builtins__")
    assert set(ns) == set(freight.__all__)


def test_the_spec_names_are_exported() -> None:
    for name in (
        "connect",
        "Dataset",
        "LoadResult",
        "LoadRecord",
        "RejectedRow",
        "FreightError",
        *SPEC_ERRORS,
    ):
        assert name in freight.__all__, name


def test_connect_and_load_signatures() -> None:
    assert next(iter(inspect.signature(freight.connect).parameters)) == "url"
    sig = inspect.signature(freight.Dataset.load)
    params = sig.parameters
    assert list(params)[:3] == ["self", "data", "table"]
    expected = {
        "strategy": "append",
        "key": None,
        "cursor": None,
        "contract": "evolve",
        "on_reject": "quarantine",
        "force": False,
        "columns": None,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert params[name].default == default, name
    for method in ("history", "rejected", "tables", "schema", "read", "health", "close"):
        assert callable(getattr(freight.Dataset, method)), method


# --------------------------------------------------------------------------- errors


def _error_classes() -> set[type]:
    found = set()
    for module in (freight, freight._errors):
        for v in vars(module).values():
            if isinstance(v, type) and issubclass(v, BaseException):
                found.add(v)
    return found


def test_every_error_subclasses_freight_error() -> None:
    classes = _error_classes()
    assert len(classes) >= len(SPEC_ERRORS) + 1
    for cls in classes:
        assert issubclass(cls, freight.FreightError), cls
    assert issubclass(freight.FreightError, Exception)
    for name in SPEC_ERRORS:
        assert issubclass(getattr(freight, name), freight.FreightError), name


def test_errors_raised_by_loads_are_freight_errors(ds: freight.Dataset) -> None:
    bad_calls = [
        lambda: ds.load([{"x": 1}], "t", strategy="merge"),
        lambda: ds.load([{"x": 1}], "t", strategy="nope"),
        lambda: ds.load([{"x": 1}], "t", contract="nope"),
        lambda: ds.load([{"x": 1}], "t", on_reject="nope"),
        lambda: ds.load([{"x": 1}], "_freight_t"),
        lambda: ds.load([{"x": 1, "_FREIGHT_x": 2}], "t"),
        lambda: ds.load(12, "t"),
        lambda: ds.schema("no_such_table"),
    ]
    for call in bad_calls:
        with pytest.raises(freight.FreightError):
            call()


def test_bad_urls_raise_freight_errors(tmp_path) -> None:
    for url in ("nosuchscheme://x", "duckdb://host/x.duckdb"):
        with pytest.raises(freight.FreightError):
            freight.connect(url)


# --------------------------------------------------------------------------- results


def test_load_result_is_frozen_and_complete(ds: freight.Dataset) -> None:
    r = ds.load([{"id": 1}], "t", strategy="merge", key="id")
    assert isinstance(r, freight.LoadResult)
    for name in LOAD_RESULT_FIELDS:
        assert hasattr(r, name), name
    for name in ("inserted", "rows_in", "status", "schema_changes"):
        with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
            setattr(r, name, 0)
    assert r.inserted == 1 and r.status == "committed"
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        r.new_attribute = 1  # type: ignore[attr-defined]


def test_records_and_rejected_rows_carry_their_fields(ds: freight.Dataset) -> None:
    ds.load([{"id": 1}, {"id": None}], "t", strategy="merge", key="id")
    (rec,) = ds.history("t")
    assert isinstance(rec, freight.LoadRecord)
    for name in LOAD_RECORD_FIELDS:
        assert hasattr(rec, name), name
    (rej,) = ds.rejected("t")
    assert isinstance(rej, freight.RejectedRow)
    for name in REJECTED_ROW_FIELDS:
        assert hasattr(rej, name), name
    assert rej.row == {"id": None}
    for obj in (rec, rej):
        with pytest.raises((dataclasses.FrozenInstanceError, AttributeError)):
            obj.table = "x"  # type: ignore[misc]


def test_str_of_a_result_is_one_line(ds: freight.Dataset) -> None:
    results = [
        ds.load([{"id": 1, "v": "a"}], "t", strategy="merge", key="id"),
        ds.load([{"id": 1, "v": "a"}], "t", strategy="merge", key="id"),  # skipped
        ds.load(
            [{"id": 1, "v": "b", "new\ncol": 1}, {"id": None}], "t", strategy="merge", key="id"
        ),
        ds.load([], "t", strategy="replace"),
    ]
    assert [r.status for r in results] == ["committed", "skipped", "committed", "committed"]
    for r in results:
        text = str(r)
        assert text and "\n" not in text and "\r" not in text, text
        assert r.load_id in text
        assert "t" in text


def test_str_of_a_result_names_the_counts(ds: freight.Dataset) -> None:
    ds.load([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}], "t", strategy="merge", key="id")
    r = ds.load(
        [{"id": 1, "v": "A"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}],
        "t",
        strategy="merge",
        key="id",
    )
    text = str(r)
    for word in ("inserted 1", "updated 1", "unchanged 1"):
        assert word in text, text


def test_rows_per_second_is_derived(ds: freight.Dataset) -> None:
    r = ds.load([{"i": i} for i in range(10)], "t")
    assert r.seconds > 0
    assert r.rows_per_second == pytest.approx(r.rows_in / r.seconds)
    empty = ds.load([], "t2")
    assert empty.rows_per_second >= 0


def test_module_level_load_opens_loads_and_closes(url: str) -> None:
    r = freight.load([{"id": 1}], url, table="t", strategy="merge", key="id")
    assert isinstance(r, freight.LoadResult) and r.inserted == 1
    with freight.connect(url) as ds:
        assert ds.read("t").to_pylist() == [{"id": 1}]
        assert repr(ds).startswith("Dataset(")


def test_rejected_takes_a_limit(url: str) -> None:
    with freight.connect(url) as ds:
        ds.load([{"n": 1}, {"n": "a"}, {"n": "b"}, {"n": "c"}], "t")
        assert [r.row["n"] for r in ds.rejected("t")] == ["a", "b", "c"]
        assert [r.row["n"] for r in ds.rejected("t", limit=2)] == ["a", "b"]
        with pytest.raises(freight.ConfigurationError):
            ds.rejected("t", limit=0)
