"""A stateful model test: random sequences of merge / insert_only / update_only / delete /
replace loads (and idempotent replays) against a dict model of the table. After every step
the result's counters (never negative), the table's contents and
``count(*) == count(distinct key)`` must match the model. Runs on every destination.

A run may start from a table made by a keyless append, whose rows may repeat a key: then
every keyed load with rows to match is refused (``SchemaContractError``) leaving the table
exactly as it was, until a replace gives the table unique keys.

Profiles: ``freight-quick`` (default, well under a minute on DuckDB) and ``freight-long``;
pick one with ``FREIGHT_STATE_MACHINE_PROFILE=freight-long``.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import freight
from _conformance import assert_accounted, counts

settings.register_profile(
    "freight-quick",
    max_examples=40,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "freight-long",
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = os.environ.get("FREIGHT_STATE_MACHINE_PROFILE", "freight-quick")

keys = st.integers(min_value=0, max_value=7)
values = st.none() | st.integers(min_value=0, max_value=3)
full_rows = st.fixed_dictionaries({"id": keys, "v": values})
batches = st.lists(full_rows, max_size=10)
key_batches = st.lists(st.fixed_dictionaries({"id": keys}), max_size=8)


def content(strategy: str, batch: list[dict]) -> tuple[str, str]:
    """What makes two loads 'the same load': the strategy and the rows, whatever the order of
    the columns within each row (a row lacking a column other rows have holds NULL there)."""
    cols = sorted({c for r in batch for c in r})
    return (strategy, repr([[(c, r.get(c)) for c in cols] for r in batch]))


def last_wins(batch: list[dict]) -> dict[int, dict]:
    """The batch after in-batch deduplication: the last occurrence of each key."""
    out: dict[int, dict] = {}
    for r in batch:
        out.pop(r["id"], None)
        out[r["id"]] = r
    return out


def in_order(pairs: Any) -> list[tuple[Any, Any]]:
    """(id, v) pairs sorted, None values first."""
    return sorted(pairs, key=lambda p: (p[0], p[1] is not None, p[1] or 0))


class LoadMachine(RuleBasedStateMachine):
    """The model is ``{id: v}``; ``exists`` tells whether the table has been created."""

    def __init__(self, ds: freight.Dataset) -> None:
        super().__init__()
        self.ds = ds
        self.table = f"sm_{uuid.uuid4().hex[:12]}"
        self.model: dict[int, Any] = {}
        self.exists = False
        self.last: tuple[str, str] | None = None  # content() of the last committed load
        self.last_batch: list[dict] = []
        #: the stored rows while they repeat a key (a keyless append made the table)
        self.dups: list[tuple[Any, Any]] | None = None

    # ---------------------------------------------------------------- starting states

    @initialize(batch=st.lists(full_rows, max_size=6))
    def keyless_append_first(self, batch: list[dict]) -> None:
        """Maybe start from a table a keyless append made; its rows may repeat a key."""
        if not batch:
            return
        r = self.ds.load(batch, self.table)
        assert_accounted(r)
        assert counts(r) == {"inserted": len(batch)}, r
        self.exists = True
        if len({row["id"] for row in batch}) < len(batch):
            self.dups = in_order((row["id"], row["v"]) for row in batch)
        else:
            self.model = {row["id"]: row["v"] for row in batch}

    def stored(self) -> list[tuple[Any, Any]]:
        if self.table not in self.ds.tables():
            return []
        return in_order((r["id"], r.get("v")) for r in self.ds.read(self.table).to_pylist())

    def refused(self, strategy: str, batch: list[dict]) -> bool:
        """While stored rows repeat a key, a keyed load with rows to match is refused before
        anything changes (an identical re-run of the last committed load is still skipped)."""
        if (
            self.dups is None
            or content(strategy, batch) == self.last
            or all(r.get("id") is None for r in batch)
        ):
            return False
        with pytest.raises(freight.SchemaContractError, match="stored rows repeat a key"):
            self.ds.load(batch, self.table, strategy=strategy, key="id")
        assert self.stored() == self.dups
        assert self.ds.history(self.table, limit=1)[0].status == "failed"
        return True

    # ---------------------------------------------------------------- running a load

    def run(self, strategy: str, batch: list[dict], expected: dict[str, int], **extra: int) -> None:
        ident = content(strategy, batch)
        r = self.ds.load(batch, self.table, strategy=strategy, key="id")
        assert_accounted(r)
        assert r.rows_in == len(batch)
        assert r.strategy == strategy
        if ident == self.last:
            # same content and parameters as the latest committed load: a no-op
            assert r.status == "skipped", r
            assert counts(r) == ({"skipped": len(batch)} if batch else {}), r
            return
        assert r.status == "committed", r
        keyed = [r for r in batch if r.get("id") is not None]
        dedup = len(keyed) - len(last_wins(keyed))
        want = {k: v for k, v in {**expected, "deduplicated": dedup}.items() if v}
        assert counts(r) == want, (r, want, self.model)
        for name, value in extra.items():
            assert getattr(r, name) == value, (name, r)
        self.last = ident
        self.last_batch = [dict(r) for r in batch]

    @staticmethod
    def tally(**kw: int) -> dict[str, int]:
        return kw

    # ---------------------------------------------------------------- rules

    @rule(batch=batches)
    def merge(self, batch: list[dict]) -> None:
        if self.refused("merge", batch):
            return
        if content("merge", batch) == self.last:
            self.run("merge", batch, {})
            return
        ins = upd = same = 0
        for k, r in last_wins(batch).items():
            if k not in self.model:
                ins += 1
            elif self.model[k] == r["v"]:
                same += 1
            else:
                upd += 1
            self.model[k] = r["v"]
        self.run("merge", batch, self.tally(inserted=ins, updated=upd, unchanged=same))
        if batch:
            self.exists = True

    @rule(batch=key_batches)
    def merge_keys_only(self, batch: list[dict]) -> None:
        """A merge batch lacking the value column entirely leaves stored values alone."""
        if self.refused("merge", batch):
            return
        if content("merge", batch) == self.last:
            self.run("merge", batch, {})
            return
        ins = same = 0
        for k in last_wins(batch):
            if k in self.model:
                same += 1
            else:
                ins += 1
                self.model[k] = None
        self.run("merge", batch, self.tally(inserted=ins, unchanged=same))
        if batch:
            self.exists = True

    @rule(
        batch=st.lists(
            full_rows | st.fixed_dictionaries({"id": keys}), min_size=1, max_size=10
        ).filter(lambda b: any("v" in r for r in b))
    )
    def merge_ragged(self, batch: list[dict]) -> None:
        """A row lacking a column other rows of the batch have sets it to NULL."""
        if self.refused("merge", batch):
            return
        if content("merge", batch) == self.last:
            self.run("merge", batch, {})
            return
        ins = upd = same = 0
        for k, r in last_wins(batch).items():
            v = r.get("v")
            if k not in self.model:
                ins += 1
            elif self.model[k] == v:
                same += 1
            else:
                upd += 1
            self.model[k] = v
        self.run("merge", batch, self.tally(inserted=ins, updated=upd, unchanged=same))
        self.exists = True

    @rule(batch=batches)
    def insert_only(self, batch: list[dict]) -> None:
        if self.refused("insert_only", batch):
            return
        if content("insert_only", batch) == self.last:
            self.run("insert_only", batch, {})
            return
        ins = skip = 0
        for k, r in last_wins(batch).items():
            if k in self.model:
                skip += 1
            else:
                ins += 1
                self.model[k] = r["v"]
        self.run("insert_only", batch, self.tally(inserted=ins, skipped=skip))
        if batch:
            self.exists = True

    @rule(batch=batches)
    def update_only(self, batch: list[dict]) -> None:
        if self.refused("update_only", batch):
            return
        if content("update_only", batch) == self.last:
            self.run("update_only", batch, {})
            return
        upd = same = skip = 0
        for k, r in last_wins(batch).items():
            if k not in self.model:
                skip += 1
            elif self.model[k] == r["v"]:
                same += 1
            else:
                upd += 1
                self.model[k] = r["v"]
        self.run("update_only", batch, self.tally(updated=upd, unchanged=same, skipped=skip))

    @rule(batch=key_batches)
    def delete(self, batch: list[dict]) -> None:
        if self.refused("delete", batch):
            return
        if content("delete", batch) == self.last:
            self.run("delete", batch, {})
            return
        deleted = skip = 0
        for k in last_wins(batch):
            if k in self.model:
                deleted += 1
                del self.model[k]
            else:
                skip += 1
        self.run("delete", batch, self.tally(deleted=deleted, skipped=skip))

    @rule(batch=batches)
    def replace(self, batch: list[dict]) -> None:
        if content("replace", batch) == self.last:
            self.run("replace", batch, {})
            return
        removed = len(self.dups or self.model) if self.exists else 0
        final = {k: r["v"] for k, r in last_wins(batch).items()}
        self.model, self.dups = final, None
        self.run("replace", batch, self.tally(inserted=len(final)), removed=removed)
        if batch:
            self.exists = True

    @rule(
        batch=batches,
        bad=st.lists(st.sampled_from([{"id": None, "v": 1}, {"v": 2}]), min_size=1, max_size=3),
    )
    def merge_with_rejected_rows(self, batch: list[dict], bad: list[dict]) -> None:
        """Rows with a NULL or missing key are rejected and quarantined, the rest merge."""
        mixed = [*bad, *batch]
        if self.refused("merge", mixed):
            return
        quarantined = len(self.ds.rejected(self.table))
        if not any("id" in r for r in mixed):  # no row has the key column: an error, no write
            with pytest.raises(freight.MissingKeyError, match="no input row has the key column"):
                self.ds.load(mixed, self.table, strategy="merge", key="id")
            assert len(self.ds.rejected(self.table)) == quarantined
            return
        if content("merge", mixed) == self.last:
            self.run("merge", mixed, {})
            return
        ins = upd = same = 0
        for k, r in last_wins(batch).items():
            if k not in self.model:
                ins += 1
            elif self.model[k] == r["v"]:
                same += 1
            else:
                upd += 1
            self.model[k] = r["v"]
        self.run(
            "merge", mixed, self.tally(inserted=ins, updated=upd, unchanged=same, rejected=len(bad))
        )
        if batch:
            self.exists = True
        assert len(self.ds.rejected(self.table)) == quarantined + len(bad)

    @precondition(lambda self: self.last is not None)
    @rule()
    def replay_last(self) -> None:
        """Loading the same content with the same parameters again changes nothing."""
        assert self.last is not None
        self.run(self.last[0], [dict(r) for r in self.last_batch], {})

    # ---------------------------------------------------------------- invariants

    @invariant()
    def contents_match_the_model(self) -> None:
        if self.dups is not None:
            assert self.stored() == self.dups
            return
        if self.table not in self.ds.tables():
            assert self.model == {}, self.model
            return
        stored = self.ds.read(self.table).to_pylist()
        ids = [r["id"] for r in stored]
        assert len(ids) == len(set(ids)), (
            f"duplicate keys: {sorted(ids)}"
        )  # count(*) == count(distinct key)
        assert {r["id"]: r.get("v") for r in stored} == self.model


@pytest.mark.timeout(3600 if PROFILE == "freight-long" else 300)
def test_loads_follow_the_model(ds: freight.Dataset) -> None:
    run_state_machine_as_test(lambda: LoadMachine(ds), settings=settings.get_profile(PROFILE))
