"""Differential fuzzing: the same random sequences of loads go to DuckDB, to PostgreSQL and to
a pure-Python model of freight's semantics (written here from README.md and docs/types.md),
and after every load the three must agree on the status, the counters, the table's column
types and its content.

The model is small on purpose: one table keyed on ``k`` (or ``k, k2``), a numeric column
``a`` that may widen (int -> float) or meet "N/A", a text column ``b``, a late bool column
``c``; partial rows (a column missing from a row), NULL keys, repeated keys, every strategy,
the contracts evolve / freeze / discard_columns, ``force``, identical re-runs and A,B,A.

The default run is bounded; ``FREIGHT_FUZZ_EXAMPLES=500`` (and optionally
``FREIGHT_FUZZ_STEPS``) runs a long campaign.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import freight
from _conformance import COUNTERS, rows
from conftest import pg_admin, pg_url

EXAMPLES = int(os.environ.get("FREIGHT_FUZZ_EXAMPLES", "12"))
STEPS = int(os.environ.get("FREIGHT_FUZZ_STEPS", "12"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("FREIGHT_FUZZ_SHRINK", "1") == "1" else []
)

KEYS_ONE = ("k",)
KEYS_TWO = ("k", "k2")
STRATEGIES = ("append", "replace", "merge", "insert_only", "update_only", "delete", "incremental")
CONTRACTS = ("evolve", "freeze", "discard_columns")

# ----------------------------------------------------------------------------- the model


class Refused(Exception):
    """The model's "the load raises, nothing changes" (freight raises a FreightError)."""


def _fold(t: str | None, v: Any, widen: bool) -> tuple[str | None, bool]:
    """Column type after value ``v`` arrives in a column of type ``t`` (None: no type yet),
    and whether the value is accepted (docs/types.md: inference, widening, rejection)."""
    if v is None:
        return t, True
    if isinstance(v, bool):
        vt = "bool"
    elif isinstance(v, int):
        vt = "int64"
    elif isinstance(v, float):
        vt = "float64"
    else:
        vt = "string"
    if t in (None, "null"):
        return vt, True
    if t == vt:
        return t, True
    if t == "int64" and vt == "float64":
        return ("float64", True) if widen else (t, False)
    if t == "float64" and vt == "int64":
        return t, True  # |n| <= 2**53: exact as a float
    if t == "string" and vt in ("int64", "float64"):
        return t, True  # a number into a text column: its exact text
    return t, False


def _as_stored(t: str, v: Any) -> Any:
    if v is None:
        return None
    if t == "float64":
        return float(v)
    if t == "string":
        return v if isinstance(v, str) else repr(v)
    return v


@dataclass
class Model:
    key: tuple[str, ...]
    types: dict[str, str] | None = None  # None: no table yet
    table: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    last: Any = None  # (parameters, content) of the last committed load
    mark: Any = None  # the last committed incremental load's high-water mark

    def load(self, batch: list[dict], strategy: str, contract: str, force: bool) -> dict:
        """What freight should do; raises Refused where freight should raise."""
        rows_in = len(batch)
        identity = self.identity(batch, strategy, contract)
        out = dict.fromkeys(COUNTERS, 0)
        # the row checks come first: a row refused for its key shapes nothing
        accepted = [r for r in batch if all(r.get(k) is not None for k in self.key)]
        out["rejected"] = rows_in - len(accepted)
        stored = dict(self.types or {})
        discard = contract == "discard_columns" and self.types is not None
        # each column's values are taken in order (docs/types.md); a value that fits
        # neither the column's type nor a widening rejects its row
        types: dict[str, str | None] = {}
        bad: set[int] = set()
        for c in dict.fromkeys(c for r in accepted for c in r):
            if discard and c not in stored:
                continue
            t = stored.get(c)
            # a stored column with no type yet takes the load's type, widenings included,
            # whatever the contract: only a type in force is the contract's to keep
            widen = not discard or t in (None, "null")
            for i, r in enumerate(accepted):
                if c in r:
                    t2, fits = _fold(t, r[c], widen=widen)
                    if fits:
                        t = t2
                    else:
                        bad.add(i)
            types[c] = t
        kept = [
            {c: v for c, v in r.items() if c in types}
            for i, r in enumerate(accepted)
            if i not in bad
        ]
        out["rejected"] += len(bad)
        if not force and self.last == identity:
            return {"status": "skipped", **dict.fromkeys(COUNTERS, 0), "skipped": rows_in}
        # the schema after this load
        after = dict(stored)
        changes = False
        for c, t in types.items():
            t = t or "null"
            # a new column, a widened one, or an untyped one that takes a type
            if c not in after or (after[c] != t and t != "null"):
                after[c], changes = t, True
        if strategy == "delete":
            after, changes = stored, False
        if self.types is not None and changes and contract == "freeze":
            raise Refused("freeze")
        # incremental: rows at or below the mark are skipped (before the in-batch dedup)
        if strategy == "incremental" and self.mark is not None:
            below = [r for r in kept if r["k"] <= self.mark]
            out["skipped"] += len(below)
            kept = [r for r in kept if r["k"] > self.mark]
        apply = "merge" if strategy == "incremental" else strategy
        batch_cols = list(types)
        if apply != "append":
            last: dict[tuple, dict] = {}
            for r in kept:
                kk = tuple(r[k] for k in self.key)
                last.pop(kk, None)
                last[kk] = r
            out["deduplicated"] = len(kept) - len(last)
            kept = list(last.values())
        table = {k: dict(v) for k, v in self.table.items()}
        if self.types is None and (apply in ("update_only", "delete") or not kept):
            out["skipped"] += len(kept)
            self._commit(identity, strategy, kept, out)
            return {"status": "committed", **out}
        cols = list(after)
        for v in table.values():
            for c in cols:
                v.setdefault(c, None)

        def full(r: dict) -> dict:
            return {c: _as_stored(after[c], r.get(c)) if c in batch_cols else None for c in cols}

        removed = 0
        if apply == "append":
            keys = [tuple(r[k] for k in self.key) for r in kept]
            if len(set(keys)) < len(keys) or any(k in table for k in keys):
                raise Refused("append would store a key the table already holds")
            for kk, r in zip(keys, kept, strict=True):
                table[kk] = full(r)
            out["inserted"] = len(kept)
        elif apply == "replace":
            removed = len(table)
            table = {tuple(r[k] for k in self.key): full(r) for r in kept}
            out["inserted"] = len(kept)
        elif apply == "delete":
            for r in kept:
                kk = tuple(r[k] for k in self.key)
                if kk in table:
                    del table[kk]
                    out["deleted"] += 1
                else:
                    out["skipped"] += 1
        else:
            for r in kept:
                kk = tuple(r[k] for k in self.key)
                if kk not in table:
                    if apply == "update_only":
                        out["skipped"] += 1
                    else:
                        table[kk] = full(r)
                        out["inserted"] += 1
                elif apply == "insert_only":
                    out["skipped"] += 1
                else:
                    old = table[kk]
                    new = {
                        **old,
                        **{c: _as_stored(after[c], r.get(c)) for c in batch_cols if c in after},
                    }
                    if new == old:
                        out["unchanged"] += 1
                    else:
                        table[kk] = new
                        out["updated"] += 1
        self.types, self.table = after, table
        self._commit(identity, strategy, kept, out)
        return {"status": "committed", **out, "removed": removed}

    @staticmethod
    def identity(batch: list[dict], strategy: str, contract: str) -> Any:
        """What makes two loads the same load: parameters and content (not ``force``)."""
        return (
            (strategy, contract),
            tuple(tuple(sorted((c, repr(v)) for c, v in r.items())) for r in batch),
        )

    def _commit(self, identity: Any, strategy: str, kept: list[dict], out: dict) -> None:
        self.last = identity
        if strategy == "incremental" and kept:
            self.mark = max(r["k"] for r in kept)


# ----------------------------------------------------------------------------- the machine


def _value_a() -> st.SearchStrategy:
    return st.sampled_from([0, 1, 2, -1, 2.5, -0.5, "N/A", None])


def _row(composite: bool) -> st.SearchStrategy[dict]:
    key = {"k": st.sampled_from([0, 1, 2, 3, 0, 1, 2, 3, None])}
    if composite:
        key["k2"] = st.sampled_from([0, 1])
    row = st.fixed_dictionaries(
        key,
        optional={
            "a": _value_a(),
            "b": st.sampled_from(["x", "y", None]),
            "c": st.sampled_from([True, False, None]),
        },
    )
    # A NULL-key row carries its key columns only: the model does not type columns apart
    # from the rows the checks refuse (a refused row shapes no type: the replay
    # test_a_row_rejected_for_its_key_shapes_nothing holds freight to that)
    return row.map(lambda r: r if r["k"] is not None else {k: r[k] for k in key})


def _outcome(r: freight.LoadResult) -> dict:
    return {"status": r.status, **{c: getattr(r, c) for c in COUNTERS}, "removed": r.removed}


class Differential(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.datasets: dict[str, freight.Dataset] = {}
        self.model = Model(KEYS_ONE)
        self.history: list[tuple] = []
        self.composite = False

    @initialize(composite=st.booleans())
    def open(self, composite: bool) -> None:
        self.tmp = tempfile.mkdtemp(prefix="freight_diff_")
        self.composite = composite
        self.model = Model(KEYS_TWO if composite else KEYS_ONE)
        self.datasets["duckdb"] = freight.connect(f"duckdb:///{self.tmp}/d.duckdb")
        conn = pg_admin()
        self.schema = f"freight_diff_{secrets.token_hex(4)}"
        conn.execute(f'CREATE SCHEMA "{self.schema}"')  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]
        self.datasets["postgres"] = freight.connect(pg_url(self.schema))

    def teardown(self) -> None:
        for ds in self.datasets.values():
            ds.close()
        if self.datasets:
            shutil.rmtree(self.tmp, ignore_errors=True)
            conn = pg_admin()
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')  # type: ignore[attr-defined]
            conn.close()  # type: ignore[attr-defined]

    def _apply(self, batch: list[dict], strategy: str, contract: str, force: bool) -> None:
        key = list(self.model.key)
        kw: dict[str, Any] = {"strategy": strategy, "key": key, "contract": contract}
        if strategy == "incremental":
            kw["cursor"] = "k"
        if force:
            kw["force"] = True
        before = (self.model.types, dict(self.model.table), self.model.last, self.model.mark)
        try:
            expected: Any = self.model.load([dict(r) for r in batch], strategy, contract, force)
        except Refused as e:
            expected = ("refused", str(e))
            self.model.types, self.model.table, self.model.last, self.model.mark = before
        self.history.append((batch, strategy, contract, force))
        if currently_in_test_context():  # (not in the fixed replays below)
            note(f"{strategy} {contract} force={force} {batch} -> model {expected}")
        for name, ds in self.datasets.items():
            try:
                got: Any = _outcome(ds.load([dict(r) for r in batch], "t", **kw))
            except freight.FreightError as e:
                got = ("refused", type(e).__name__, str(e).splitlines()[0])
            where = f"{name}: {strategy} {contract} force={force} {batch}"
            if isinstance(expected, tuple):
                assert isinstance(got, tuple), f"{where}: expected {expected}, got {got}"
            else:
                assert got == {"removed": 0, **expected}, f"{where}: got {got}"

    @rule(
        data=st.data(),
        strategy=st.sampled_from(STRATEGIES),
        contract=st.sampled_from(CONTRACTS),
        force=st.booleans(),
    )
    def load(self, data: st.DataObject, strategy: str, contract: str, force: bool) -> None:
        row = _row(self.composite)
        if strategy == "delete":  # a delete batch names keys only
            row = row.map(lambda r: {k: v for k, v in r.items() if k in ("k", "k2")})
        batch = data.draw(st.lists(row, min_size=1, max_size=6), label="batch")
        self._apply(batch, strategy, contract, force and strategy != "delete")

    @precondition(lambda self: bool(self.history))
    @rule(back=st.integers(1, 2))
    def rerun(self, back: int) -> None:
        """The same load again (back=1), or the one before the last (A, B, A)."""
        batch, strategy, contract, _ = self.history[-min(back, len(self.history))]
        self._apply(batch, strategy, contract, False)

    @invariant()
    def same_content(self) -> None:
        if not self.datasets:
            return
        for name, ds in self.datasets.items():
            exists = "t" in ds.tables()
            assert exists == (self.model.types is not None), name
            if not exists:
                continue
            assert ds.schema("t") == self.model.types, name
            got = {tuple(r[k] for k in self.model.key): r for r in rows(ds, "t")}
            assert got == self.model.table, name


def test_destinations_agree_with_the_model() -> None:
    pg_admin().close()  # type: ignore[attr-defined]  # skips (or fails in CI) without a server
    Differential.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        phases=PHASES,
        # the bounded default run is the same every time (CI must not draw a new case at
        # random); a campaign (FREIGHT_FUZZ_EXAMPLES set) draws anew each run
        derandomize="FREIGHT_FUZZ_EXAMPLES" not in os.environ,
    )
    Differential.TestCase().runTest()


def _replay(steps: list[tuple[list[dict], str, str]]) -> None:
    """Run the machine on fixed steps (the shapes the random run excludes for known bugs)."""
    pg_admin().close()  # type: ignore[attr-defined]
    machine = Differential()
    machine.open(composite=False)
    try:
        for batch, strategy, contract in steps:
            machine._apply(batch, strategy, contract, False)
            machine.same_content()
    finally:
        machine.teardown()


def test_rerun_of_a_batch_that_widens_and_rejects_is_skipped() -> None:
    batch = [{"k": 2, "a": "N/A"}, {"k": 3, "a": 2.5}]
    _replay(
        [
            ([{"k": 1, "a": 1}], "merge", "evolve"),
            (batch, "merge", "evolve"),
            (batch, "merge", "evolve"),
        ]
    )


def test_a_row_rejected_for_its_key_shapes_nothing() -> None:
    _replay(
        [
            ([{"k": 1, "a": 1}], "merge", "evolve"),
            ([{"k": None, "a": 2.5}, {"k": 2, "a": 2}], "merge", "freeze"),
        ]
    )


def test_an_untyped_column_takes_the_loads_type_under_discard_columns() -> None:
    """Found by the random run: a stored column that has only held NULLs takes the type of
    the load that brings values (0 then 2.5: float64), under discard_columns too."""
    _replay(
        [
            ([{"k": 1, "a": None}], "append", "evolve"),
            ([{"k": 2, "a": 0}, {"k": 3, "a": 2.5}], "replace", "discard_columns"),
        ]
    )


def test_identical_append_with_key_is_skipped() -> None:
    _replay([([{"k": 1, "a": 1}], "append", "evolve")] * 2)
