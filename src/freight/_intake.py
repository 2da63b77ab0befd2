"""Intake: any input -> a stream of bounded Arrow chunks in freight's logical types, plus rejects.

Pure: no I/O but reading the input. Types are decided across the whole load, independent of
chunk size: a column's type is the type the destination already has, else the first
non-null value's type, widened when a later value needs it (int64 -> float64 / decimal,
decimal precision growth). A value that cannot be held losslessly by its column's type is
rejected with a reason naming the column, the value and the row number, never coerced.
When a column widens mid-load, ``Intake.widened`` reports it so the stage can be widened.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import math
import operator
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ._lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    pa, pc = lazy("pyarrow"), lazy("pyarrow.compute")

from . import _types as T
from ._columns import Columns, light_type
from ._errors import InvalidIdentifierError
from ._readers import Reading, Reject, Rows, pieces


@dataclass(slots=True)
class Chunk:
    table: pa.Table | Columns
    rejects: list[Reject]
    first_row: int  # 1-based number of the chunk's first input row
    rows_in: int  # input rows this chunk accounts for (loaded + rejected)
    types: dict[str, str] = field(default_factory=dict)  # the load's column types so far
    widened: list[tuple[str, str, str]] = field(default_factory=list)  # since the last chunk
    #: every column name some input row had so far, rejected rows' included
    seen: list[str] = field(default_factory=list)


@dataclass
class Intake:
    """Turns ``data`` into chunks. ``known`` holds the destination's column types; ``hints``
    the user's explicit ``columns=`` types; ``allow_widen`` whether a stored column may widen
    (contract evolve / freeze; freeze raises later when it does); ``keep`` limits the columns
    when unknown columns are discarded."""

    data: Any
    known: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    allow_widen: bool = True
    keep: set[str] | None = None
    not_null: tuple[str, ...] = ()
    #: whether the destination's text may hold NUL (else such rows are rejected)
    nul_ok: bool = True
    #: rows per chunk; None: the reader's default for the input (``_readers.pieces``)
    chunk_rows: int | None = None
    #: type a list of plain rows without Arrow where it can (``Columns`` chunks)
    light: bool = False
    types: dict[str, str] = field(default_factory=dict, init=False)
    widened: list[tuple[str, str, str]] = field(default_factory=list, init=False)
    dropped: list[str] = field(default_factory=list, init=False)
    #: every column name some input row had, rejected rows' included (a row refused for its
    #: key shapes no type, yet it had the column): reported as ``Chunk.seen``
    _seen: dict[str, None] = field(default_factory=dict, init=False)
    #: for a stored int64 column: do all its stored values fit a float exactly? (asked once)
    probe: Any = None
    #: what reading a file input has done: ``bytes_read``, ``bytes_total``, notes
    progress: Reading = field(default_factory=Reading, init=False)
    _big: set[str] = field(default_factory=set, init=False)
    _probed: dict[str, bool] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._fixed = {**self.known}
        for name, t in self.hints.items():
            self._fixed.setdefault(name, t)

    # ------------------------------------------------------------------ public

    def chunks(self) -> Iterator[Chunk]:
        row_no = 1
        for piece in pieces(self.data, self.chunk_rows, self.progress):
            if isinstance(piece, Rows):
                chunk = None
                if self.light and not piece.rejects and not piece.numbers:
                    chunk = self._light_rows(piece.rows, row_no)
                if chunk is None:
                    chunk = self._from_rows(piece.rows, row_no, piece.rejects, piece.numbers)
            else:
                chunk = self._from_arrow(piece, row_no)
            row_no += chunk.rows_in
            yield chunk

    @property
    def bytes_read(self) -> int:
        """Bytes of the input file consumed so far (compressed; a CSV's two passes)."""
        return self.progress.bytes_read

    def target(self, name: str) -> str | None:
        t = self.types.get(name)
        return t if t is not None else self._fixed.get(name)

    # ------------------------------------------------------------------ dict rows

    def _from_rows(
        self,
        rows: list[Any],
        first: int,
        rejects: list[Reject] | None = None,
        numbers: list[int] | None = None,
    ) -> Chunk:
        rejects = list(rejects or [])
        n_in = len(rows) + len(rejects)
        state = self._state()
        good: list[Mapping[str, Any]]
        nums: list[int] | range
        if set(map(type, rows)) <= {dict}:
            good = rows
            nums = numbers if numbers else range(first, first + len(rows))
        else:
            good, nums = [], []
            for i, r in enumerate(rows):
                num = numbers[i] if numbers else first + i
                if isinstance(r, Mapping):
                    good.append(r if type(r) is dict else dict(r))
                    nums.append(num)
                else:
                    why = f"row {num} is not a mapping but {type(r).__name__}"
                    rejects.append(Reject(num, _jsonable(r), why))
        if not all(good):  # a row with no fields carries nothing, whatever its neighbours
            for i, r in enumerate(good):
                if not r:
                    rejects.append(Reject(nums[i], r, f"row {nums[i]} has no fields"))
            live = [i for i, r in enumerate(good) if r]
            good, nums = [good[i] for i in live], [nums[i] for i in live]
        refused_before = list(rejects)
        if not good:
            return self._chunk(pa.table({}), rejects, first, n_in)
        k0 = good[0].keys()
        if all(map(k0.__eq__, map(dict.keys, good))):  # type: ignore[arg-type]
            names = list(k0)
            uniform = True
        else:
            names = list(dict.fromkeys(itertools.chain.from_iterable(good)))
            uniform = False
        for n in names:
            if not isinstance(n, str):
                raise InvalidIdentifierError(f"column name {n!r} is not a string")
            if _bad_unicode(n):
                raise InvalidIdentifierError(
                    f"column name {n!r} is not valid unicode (it holds a lone surrogate)"
                )
        if self.keep is not None:
            for n in names:
                if n not in self.keep and n not in self.dropped:
                    self.dropped.append(n)
            names = [n for n in names if n in self.keep]
        arrays: dict[str, pa.Array] = {}
        bad: dict[int, str] = {}
        fast = self._fast_rows(good, names) if uniform and names else None
        for name in names:
            getter = operator.itemgetter(name) if uniform else operator.methodcaller("get", name)
            vals: list[Any] | None = None
            arr = fast.get(name) if fast else None
            if arr is not None:
                lt = T.from_arrow(arr.type)
                if lt is not None and self._accepts(name, lt):
                    if arr.type != T.to_arrow(lt):
                        arr = arr.cast(T.to_arrow(lt))
                    self._note_big(name, lt, arr)
                    self._settle(name, lt)
                    arrays[name] = arr
                    continue
            vals = list(map(getter, good))
            arrays[name] = self._column(name, vals, bad)
        keep_mask = None
        if bad:
            keep_mask = pa.array([i not in bad for i in range(len(good))])
            for i in sorted(bad):
                rejects.append(Reject(nums[i], _jsonable(good[i]), bad[i]))
        if not arrays:  # every column was discarded: the rows carry nothing to store
            for i, r in enumerate(good):
                if i not in bad:
                    rejects.append(
                        Reject(
                            nums[i], _jsonable(r), "no column of this row is kept by the contract"
                        )
                    )
            return self._chunk(pa.table({}), rejects, first, n_in)
        table = pa.table(arrays)
        if keep_mask is not None:
            table = table.filter(keep_mask)
        table, more = self._check_rows(table, good, nums, keep_mask)
        if more:  # rows the checks refuse must not shape the schema: type the others again
            self._restore(state)
            out = {r.row_number for r in more}
            live = [i for i in range(len(good)) if nums[i] not in out]
            return self._from_rows(
                [good[i] for i in live], first, [*refused_before, *more], [nums[i] for i in live]
            )
        return self._chunk(table, rejects, first, n_in)

    def _state(self) -> tuple[Any, ...]:
        """What typing a chunk changes, to be put back (``_restore``) when it is typed again."""
        return dict(self.types), list(self.widened), set(self._big), list(self.dropped)

    def _restore(self, state: tuple[Any, ...]) -> None:
        types, widened, big, dropped = state
        self.types, self.widened, self._big, self.dropped = (
            dict(types),
            list(widened),
            set(big),
            list(dropped),
        )

    # ------------------------------------------------------------------ without Arrow

    def _light_rows(
        self,
        rows: list[Any],
        first: int,
        nums: list[int] | None = None,
        refused: list[Reject] | None = None,
    ) -> Chunk | None:
        """Plain rows typed as ``Columns``, exactly as ``_from_rows`` types them, or None
        (and nothing changed) when some value or type needs the Arrow path. ``nums``: the
        rows' numbers (when not consecutive from ``first``); ``refused``: the chunk's rows
        the row checks rejected, typed again without them."""
        nums = nums if nums is not None else list(range(first, first + len(rows)))
        refused = refused or []
        if not rows or set(map(type, rows)) != {dict} or not all(rows):
            return None
        k0 = rows[0].keys()
        uniform = all(map(k0.__eq__, map(dict.keys, rows)))
        names = list(k0) if uniform else list(dict.fromkeys(itertools.chain.from_iterable(rows)))
        if any(type(n) is not str for n in names):
            return None
        kept = [n for n in names if self.keep is None or n in self.keep]
        if not kept:
            return None
        values: dict[str, list[Any]] = {}
        for name in kept:
            getter = operator.itemgetter(name) if uniform else operator.methodcaller("get", name)
            vals = values[name] = list(map(getter, rows))
            if not set(map(type, vals)) <= _LIGHT_KINDS:
                return None
        before = self._state()
        data: dict[str, list[Any]] = {}
        types: dict[str, str] = {}
        bad: dict[int, str] = {}
        for name, vals in values.items():
            out, target = self._column_values(name, vals, bad, arrow=False)
            if not light_type(target):
                self._restore(before)
                return None
            self._note_big(name, target, out)
            self._settle(name, target)
            data[name] = out
            types[name] = target
        for n in names:
            if n not in kept and n not in self.dropped:
                self.dropped.append(n)
        rejects = [*refused, *(Reject(nums[i], _jsonable(rows[i]), bad[i]) for i in sorted(bad))]
        cols = Columns(data, types).drop_rows(set(bad))
        live = [i for i in range(len(rows)) if i not in bad]
        cols, more = self._light_checks(cols, [rows[i] for i in live], [nums[i] for i in live])
        if more:  # as in ``_from_rows``: the rows the checks refuse are typed out of the chunk
            self._restore(before)
            out = {r.row_number for r in more}
            live = [i for i in range(len(rows)) if nums[i] not in out]
            return self._light_rows(
                [rows[i] for i in live], first, [nums[i] for i in live], [*refused, *more]
            )
        return self._chunk(cols, rejects, first, len(rows) + len(refused))

    def _light_checks(
        self, cols: Columns, rows: list[dict[str, Any]], nums: list[int]
    ) -> tuple[Columns, list[Reject]]:
        """``_check_rows`` on ``Columns``: the same checks, in the same order, the same words."""
        rejects: list[Reject] = []
        for check in (self._light_null_keys, self._light_nul_text):
            reasons = check(cols)
            if not reasons:
                continue
            for pos, reason in reasons.items():
                rejects.append(Reject(nums[pos], _jsonable(rows[pos]), reason))
            cols = cols.drop_rows(set(reasons))
            rows = [r for i, r in enumerate(rows) if i not in reasons]
            nums = [n for i, n in enumerate(nums) if i not in reasons]
        return cols, rejects

    def _light_null_keys(self, cols: Columns) -> dict[int, str]:
        if not self.not_null or not cols.num_rows:
            return {}
        reasons = {}
        for pos in range(cols.num_rows):
            nulls = [c for c in self.not_null if c not in cols.data or cols.data[c][pos] is None]
            if nulls:
                reasons[pos] = _null_key_reason(nulls)
        return reasons

    def _light_nul_text(self, cols: Columns) -> dict[int, str]:
        if self.nul_ok or not cols.num_rows:
            return {}
        found: dict[int, str] = {}
        for name, vals in cols.data.items():
            t = cols.types[name]
            if t == T.JSON:
                hits = [v is not None and _JSON_NUL.search(v) is not None for v in vals]
            elif t == T.STRING:
                hits = [v is not None and "\x00" in v for v in vals]
            else:
                continue
            for pos, hit in enumerate(hits):
                if hit and (pos not in found or name < found[pos]):
                    found[pos] = name
        return {pos: _nul_reason(name) for pos, name in sorted(found.items())}

    def _chunk(
        self, table: pa.Table | Columns, rejects: list[Reject], first: int, n_in: int
    ) -> Chunk:
        """Package a chunk with a snapshot of the types and widenings so far (the consumer
        may run in another thread)."""
        widened, self.widened = self.widened, []
        self._seen.update(dict.fromkeys(table.column_names))
        for r in rejects:
            if isinstance(r.row, dict):
                self._seen.update(dict.fromkeys(k for k in r.row if isinstance(k, str)))
        seen = [*self._seen, *(c for c in self.dropped if c not in self._seen)]
        return Chunk(table, rejects, first, n_in, dict(self.types), widened, seen)

    def _fast_rows(
        self, rows: list[Mapping[str, Any]], names: list[str]
    ) -> dict[str, pa.Array] | None:
        """pyarrow's own conversion, trusted only for types it cannot confuse."""
        if any(type(v) in _NESTED for v in rows[0].values()):
            # pyarrow infers a struct type level by level (a dict nested 1,000 deep took
            # half a minute), only for the careful path to take the column: leave it out
            flat = [n for n in names if type(rows[0][n]) not in _NESTED]
            if not flat:
                return None
            columns = {n: list(map(operator.itemgetter(n), rows)) for n in flat}
        else:
            columns = None
        try:
            batch = (
                pa.RecordBatch.from_pylist(rows)
                if columns is None
                else pa.RecordBatch.from_pydict(columns)
            )
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return None
        out = {}
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            t = col.type
            # pyarrow silently folds bool/int into double, datetime into date, str into
            # binary, mixed time zones into one: those columns take the careful path.
            if (
                pa.types.is_integer(t)
                or pa.types.is_string(t)
                or pa.types.is_boolean(t)
                or pa.types.is_null(t)
            ):
                out[name] = col
            elif pa.types.is_floating(t):
                col_vals = [r[name] for r in rows]
                if set(map(type, col_vals)) <= {float, type(None)}:
                    out[name] = col
        return out

    def _accepts(self, name: str, lt: str) -> bool:
        cur = self.target(name)
        return cur is None or cur == lt or lt == T.NULL or (cur == T.NULL)

    def _settle(self, name: str, lt: str) -> None:
        """Record ``lt`` as the column's type; a change to a type already reported in an
        earlier chunk is a widening the stage must follow."""
        cur = self.target(name)
        if lt == T.NULL or lt == cur:
            self.types.setdefault(name, lt if cur is None else cur)
            return
        if name in self.types:
            self.widened.append((name, self.types[name], lt))
        self.types[name] = lt

    def _column(self, name: str, vals: list[Any], bad: dict[int, str]) -> pa.Array:
        """The careful path for one column of Python values, as an Arrow array."""
        out, target = self._column_values(name, vals, bad, arrow=True)
        arr = out if not isinstance(out, list) else pa.array(out, type=T.to_arrow(target))
        self._note_big(name, target, arr)
        self._settle(name, target)
        return arr

    def _column_values(
        self, name: str, vals: list[Any], bad: dict[int, str], arrow: bool
    ) -> tuple[Any, str]:
        """One column of Python values typed and converted: (the values, their type); with
        ``arrow``, a column pyarrow takes as it is comes back as an Arrow array instead.

        A stored column keeps its type when every value converts losslessly; otherwise (and
        for columns new in this load) values are taken in order: the column starts with the
        first value's type and widens when a later value needs it, exactly as it would have
        across chunks, so the outcome never depends on where chunks end. Rejected values
        become None in the output and their reasons go into ``bad``."""
        cur = self.target(name)
        stored = self.known.get(name)
        kinds = set(map(type, vals))
        kinds.discard(type(None))
        natural = _uniform_type(vals, kinds.pop()) if len(kinds) == 1 else None
        if natural is not None and natural == cur and _as_they_are(vals, natural):
            return vals, natural  # the converter would return every value unchanged
        if stored is not None and stored != T.NULL and cur == stored:
            target = stored
            out, errs = _convert(vals, target)
            pool = sorted(errs)  # only values that do not fit may widen a stored column
            if errs and self.allow_widen:
                wider = self._fold(name, [vals[i] for i in pool], target)
                if wider != target:
                    target = wider
                    out, errs = _convert(vals, target)
            if errs and target != stored:
                self._explain(name, [vals[i] for i in pool], stored, errs, pool)
        else:
            if natural is not None and (cur is None or cur == T.NULL):
                target = natural
            else:
                target = self._fold(name, vals, cur)
            if arrow and natural == target and target != T.JSON:
                arr = _to_array(vals, target)
                if arr is not None:
                    return arr, target
            elif natural == target and _as_they_are(vals, target):
                return vals, target
            out, errs = _convert(vals, target)
            if errs and target != cur:
                self._explain(name, vals, cur, errs, list(range(len(vals))))
        for i, reason in errs.items():
            why, _, then = reason.partition("\x00")
            text = f"column {name!r}: value {_describe(vals[i])} {why} (type {then or target})"
            bad[i] = min(bad[i], text) if i in bad else text  # the same whatever the column order
        return out, target

    def _fold(
        self, name: str, vals: list[Any], start: str | None, at: dict[int, str] | None = None
    ) -> str:
        """The column's type after taking ``vals`` in order, starting from ``start``. With
        ``at``, record for each of its positions the type in force when that value came."""
        t = start or T.NULL
        big = name in self._big
        for pos, v in enumerate(vals):
            if at is not None and pos in at:
                at[pos] = t
            if v is None:
                continue
            vt = T.value_type(v)
            if vt is None:
                continue
            if vt != t:
                w = T.widen(t, vt)
                if w == T.FLOAT64 and t == T.INT64 and (big or not self._ints_fit_float(name)):
                    w = None  # floats would round the integers beyond 2**53 already taken
                if w is not None:
                    t = w
            if type(v) is int and abs(v) > T.FLOAT_EXACT_INT and t != T.FLOAT64:
                big = True
        return t

    def _explain(
        self, name: str, seen: list[Any], start: str | None, errs: dict[int, str], pool: list[int]
    ) -> None:
        """Reword each rejection against the type the column had when the value came, as a
        chunk-by-chunk load would have seen it."""
        where = {p: i for p, i in enumerate(pool) if i in errs}
        at: dict[int, str] = dict.fromkeys(where, T.NULL)
        self._fold(name, seen, start, at)
        for p, i in where.items():
            t = at[p]
            if t == T.NULL:
                continue
            try:
                T.converter(t)(seen[p])
            except T.Unfit as e:
                errs[i] = f"{e}\x00{t}"

    def _ints_fit_float(self, name: str) -> bool:
        """Whether the stored integers of ``name`` (if it is a stored column) fit a float."""
        return self.known.get(name) != T.INT64 or self._stored_fits_float(name)

    def _stored_fits_float(self, name: str) -> bool:
        if name not in self._probed:
            self._probed[name] = self.probe(name) if self.probe else False
        return self._probed[name]

    def _note_big(self, name: str, target: str, arr: pa.Array | list[Any]) -> None:
        """Remember integer columns of this load holding values a float cannot hold exactly
        (``arr``: an Arrow array or a list of converted values)."""
        if name in self._big or not (target == T.INT64 or target == T.BIGINT):
            return
        if target == T.BIGINT:  # (only a value can be beyond a float: not a NULL column)
            if (
                any(v is not None for v in arr)
                if isinstance(arr, list)
                else arr.null_count < len(arr)
            ):
                self._big.add(name)
            return
        if isinstance(arr, list):
            ints = [v for v in arr if v is not None]
            lo, hi = (min(ints), max(ints)) if ints else (0, 0)
        else:
            mm = pc.min_max(arr)
            lo, hi = mm["min"].as_py() or 0, mm["max"].as_py() or 0
        if lo < -T.FLOAT_EXACT_INT or hi > T.FLOAT_EXACT_INT:
            self._big.add(name)

    # ------------------------------------------------------------------ Arrow

    def _from_arrow(
        self,
        table: pa.Table,
        first: int,
        nums: list[int] | None = None,
        refused: list[Reject] | None = None,
    ) -> Chunk:
        """An Arrow piece typed; ``nums`` and ``refused`` as in ``_light_rows``."""
        n = table.num_rows
        nums = nums if nums is not None else list(range(first, first + n))
        refused = refused or []
        state = self._state()
        if self.keep is not None:
            for c in table.column_names:
                if c not in self.keep and c not in self.dropped:
                    self.dropped.append(c)
            table = table.select([c for c in table.column_names if c in self.keep])
        names = table.column_names
        if len(set(names)) != len(names):
            dup = next(c for c in names if names.count(c) > 1)
            raise InvalidIdentifierError(f"column {dup!r} appears twice in the input", column=dup)
        arrays: dict[str, pa.Array] = {}
        bad: dict[int, str] = {}
        for name in names:
            col = table.column(name).combine_chunks()
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            if _nano(col.type):
                us = _micro(col.type)
                try:  # pandas' datetime64[ns]: fine when every value is whole microseconds
                    col = col.cast(us, safe=True)
                except pa.ArrowInvalid:
                    pass  # some value has nanoseconds: the careful path rejects just those rows
            lt = T.from_arrow(col.type)
            if lt is not None and self._accepts(name, lt):
                if col.type != T.to_arrow(lt):
                    col = col.cast(T.to_arrow(lt))
                for i, text in _beyond_python(col, lt).items():
                    why = (
                        f"column {name!r}: value {text!r} (Arrow {col.type}) falls outside the "
                        f"years 1 to 9999, beyond which it cannot be read back (type {lt})"
                    )
                    bad[i] = min(bad[i], why) if i in bad else why
                self._note_big(name, lt, col)
                self._settle(name, lt)
                arrays[name] = col
                continue
            vals = _py_values(col)
            arrays[name] = self._column(name, vals, bad)
        rejects = list(refused)
        if not arrays:
            rows = _arrow_rows(table) if n else []
            why = (
                "no column of this row is kept by the contract"
                if self.keep is not None
                else "row has no fields"
            )
            rej = [Reject(nums[i], _jsonable(r), why) for i, r in enumerate(rows)]
            return self._chunk(pa.table({}), [*refused, *rej], first, n + len(refused))
        out = pa.table(arrays)
        keep_mask = None
        if bad:
            keep_mask = pa.array([i not in bad for i in range(n)])
            rows = _arrow_rows(table)
            for i in sorted(bad):
                rejects.append(Reject(nums[i], _jsonable(rows[i]), bad[i]))
            out = out.filter(keep_mask)
        out, more = self._check_rows(out, None, nums, keep_mask, source=table)
        if more:  # as in ``_from_rows``: the rows the checks refuse are typed out of the chunk
            self._restore(state)
            gone = {r.row_number for r in more}
            live = [i for i in range(n) if nums[i] not in gone]
            return self._from_arrow(
                table.take(pa.array(live, pa.int64())),
                first,
                [nums[i] for i in live],
                [*refused, *more],
            )
        return self._chunk(out, rejects, first, n + len(refused))

    # ------------------------------------------------------------------ row checks

    def _check_rows(
        self,
        table: pa.Table,
        rows: list[Mapping[str, Any]] | None,
        nums: Sequence[int],
        keep_mask: pa.Array | None,
        source: pa.Table | None = None,
    ) -> tuple[pa.Table, list[Reject]]:
        """Row-level checks once the columns are typed, each rejecting the row as it was
        given, with its number: a NULL or missing key (or cursor), then (where the
        destination cannot store it) text holding a NUL character."""
        kept = (
            list(range(len(nums)))
            if keep_mask is None
            else [i for i, k in enumerate(keep_mask.to_pylist()) if k]
        )
        src_rows: list[Any] | None = None
        rejects: list[Reject] = []
        for check in (self._null_keys, self._nul_text):
            found = check(table)
            if found is None:
                continue
            mask, reasons = found
            if rows is None and src_rows is None:
                src_rows = _arrow_rows(source) if source is not None else []
            for pos, reason in reasons.items():
                i = kept[pos]
                row = rows[i] if rows is not None else (src_rows[i] if src_rows else None)
                rejects.append(Reject(nums[i], _jsonable(row), reason))
            flags = mask.to_pylist()
            kept = [i for i, flag in zip(kept, flags, strict=True) if not flag]
            table = table.filter(pc.invert(mask))
        return table, rejects

    def _null_keys(self, table: pa.Table) -> tuple[pa.Array, dict[int, str]] | None:
        """Rows whose key (or cursor) column is NULL or missing: (mask, position -> reason)."""
        if not self.not_null or not table.num_rows:
            return None
        mask = None
        missing: list[str] = []
        for c in self.not_null:
            if c not in table.column_names:
                missing.append(c)
                continue
            m = table.column(c).is_null()
            mask = m if mask is None else pc.or_(mask, m)
        if missing:
            mask = pa.array([True] * table.num_rows)
        if mask is None or not pc.any(mask).as_py():
            return None
        reasons = {}
        for pos, flag in enumerate(mask.to_pylist()):
            if flag:
                cols = [
                    c for c in self.not_null if c in missing or table.column(c)[pos].as_py() is None
                ]
                reasons[pos] = _null_key_reason(cols)
        return mask, reasons

    def _nul_text(self, table: pa.Table) -> tuple[pa.Array, dict[int, str]] | None:
        """Rows holding a NUL character in text, where the destination cannot store one
        (PostgreSQL): quarantined, never stripped. In JSON text the character is the escape
        ``\\u0000`` (not preceded by another backslash, which would escape the backslash)."""
        if self.nul_ok or not table.num_rows:
            return None
        masks: dict[str, pa.Array] = {}
        for name in table.column_names:
            col = table.column(name)
            if not pa.types.is_string(col.type):
                continue
            if self.types.get(name) == T.JSON:
                m = pc.match_substring_regex(col, _JSON_NUL.pattern)
            else:
                m = pc.match_substring(col, "\x00")
            m = pc.fill_null(m, pa.scalar(False))
            if pc.any(m).as_py():
                masks[name] = m
        if not masks:
            return None
        mask = None
        for m in masks.values():
            mask = m if mask is None else pc.or_(mask, m)
        assert mask is not None
        flags = {name: m.to_pylist() for name, m in masks.items()}
        reasons = {}
        for pos, flag in enumerate(mask.to_pylist()):
            if flag:  # one column named, the same whatever the chunking or column order
                name = min(n for n in flags if flags[n][pos])
                reasons[pos] = _nul_reason(name)
        return mask, reasons


# ---------------------------------------------------------------------- column helpers


def _null_key_reason(columns: Sequence[str]) -> str:
    return f"key column {', '.join(repr(c) for c in columns)} is null or missing"


def _nul_reason(column: str) -> str:
    return f"column {column!r}: text contains a NUL character, which this destination cannot store"


#: the escape of a NUL character in JSON text (not preceded by an escaping backslash)
_JSON_NUL = re.compile(r"(^|[^\\])(\\\\)*\\u0000")

#: values pyarrow would turn into nested types
_NESTED = (dict, list, tuple)

#: the Python types a value may have for its row to be typed without Arrow
_LIGHT_KINDS = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        str,
        dict,
        list,
        tuple,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        decimal.Decimal,
        uuid.UUID,
        bytes,
    }
)


def _uniform_type(vals: list[Any], kind: type) -> str | None:
    """The narrowest logical type holding every value of a column whose non-null values are
    all of one Python type ``kind``, or None when freight cannot store some of them."""
    fast = {str: T.STRING, float: T.FLOAT64, bool: T.BOOL, bytes: T.BINARY}
    if kind in fast:
        return fast[kind]
    if kind is int:
        ints = [v for v in vals if v is not None]
        fits = min(ints) >= T.INT64_MIN and max(ints) <= T.INT64_MAX
        return T.INT64 if fits else T.BIGINT  # beyond 38 digits: rejected by the converter
    if kind in (dict, list, tuple):
        return T.JSON
    t = T.NULL
    for v in vals:
        if v is not None:
            vt = T.value_type(v)
            w = T.widen(t, vt) if vt is not None else None
            if w is None:
                return None
            t = w
    return t


def _to_array(vals: list[Any], target: str) -> pa.Array | None:
    try:
        if target == T.BINARY:
            vals = [bytes(v) if v is not None and type(v) is not bytes else v for v in vals]
        return pa.array(vals, type=T.to_arrow(target))
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return None


def _convert(vals: list[Any], target: str) -> tuple[list[Any], dict[int, str]]:
    conv = T.converter(target)
    out: list[Any] = []
    errs: dict[int, str] = {}
    for i, v in enumerate(vals):
        if v is None:
            out.append(None)
            continue
        if type(v) is _NanoTime:
            errs[i] = "has nanoseconds, which freight would have to truncate"
            out.append(None)
            continue
        try:
            out.append(conv(v))
        except T.Unfit as e:
            errs[i] = str(e)
            out.append(None)
    if target == T.STRING:
        for i, v in enumerate(out):
            if v is not None and _bad_unicode(v):
                errs[i] = "is not valid unicode text"
                out[i] = None
    return out, errs


#: types whose converter returns a value of the type's own Python type unchanged
_AS_THEY_ARE = frozenset({T.BOOL, T.INT64, T.FLOAT64, T.STRING})


def _as_they_are(vals: list[Any], target: str) -> bool:
    """Whether converting ``vals`` (all of ``target``'s natural Python type) to ``target``
    would return each value unchanged: no string that is not valid unicode (a lone
    surrogate)."""
    if target not in _AS_THEY_ARE:
        return False
    if target != T.STRING:
        return True
    try:
        "".join([v for v in vals if v is not None]).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_unicode(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _py_values(col: pa.Array) -> list[Any]:
    t = col.type
    if _nano(t):
        # keep sub-microsecond precision visible: such values are rejected, not truncated
        ints = col.cast(pa.int64()).to_pylist()
        us = col.cast(_micro(t), safe=False).to_pylist()
        texts = col.cast(pa.string()).to_pylist()
        return [
            _NanoTime(text, str(t)) if i is not None and i % 1000 else v
            for v, i, text in zip(us, ints, texts, strict=True)
        ]
    return col.to_pylist()


#: the stored integers of the temporal types Python's date and datetime can hold (years 1 to
#: 9999): days for a date, microseconds since 1970 for a timestamp
_PY_RANGE = {
    T.DATE: (-719_162, 2_932_896),
    T.TIMESTAMP: (-62_135_596_800_000_000, 253_402_300_799_999_999),
    T.TIMESTAMPTZ: (-62_135_596_800_000_000, 253_402_300_799_999_999),
}


def _beyond_python(col: pa.Array, lt: str) -> dict[int, str]:
    """Positions of Arrow dates/timestamps beyond the years 1..9999 (stored, they could not
    be read back), with Arrow's text of each."""
    bounds = _PY_RANGE.get(lt)
    if bounds is None or col.null_count == len(col):
        return {}
    ints = col.cast(pa.int32() if lt == T.DATE else pa.int64())
    mm = pc.min_max(ints)
    if bounds[0] <= mm["min"].as_py() and mm["max"].as_py() <= bounds[1]:
        return {}
    texts = col.cast(pa.string()).to_pylist()
    return {
        i: texts[i]
        for i, v in enumerate(ints.to_pylist())
        if v is not None and not bounds[0] <= v <= bounds[1]
    }


def _arrow_rows(table: pa.Table) -> list[dict[str, Any]]:
    """``table.to_pylist()``, with a value Python cannot hold (a timestamp beyond the year
    9999) as Arrow's text of it."""
    try:
        return table.to_pylist()
    except (OverflowError, ValueError):
        cols = {name: _arrow_values(table.column(name)) for name in table.column_names}
        return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


def _arrow_values(col: pa.ChunkedArray) -> list[Any]:
    try:
        return col.to_pylist()
    except (OverflowError, ValueError):
        texts = col.cast(pa.string()).to_pylist()
        out = []
        for scalar, text in zip(col, texts, strict=True):
            try:
                out.append(scalar.as_py())
            except (OverflowError, ValueError):
                out.append(text)
        return out


def _nano(t: pa.DataType) -> bool:
    """A timestamp, time or duration type in nanoseconds (freight keeps microseconds)."""
    kinds = (pa.types.is_timestamp, pa.types.is_time, pa.types.is_duration)
    return any(is_kind(t) for is_kind in kinds) and t.unit == "ns"


def _micro(t: pa.DataType) -> pa.DataType:
    """The microsecond twin of a ``_nano`` type."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=t.tz)
    return pa.time64("us") if pa.types.is_time(t) else pa.duration("us")


class _NanoTime:
    """A timestamp or time with nanoseconds: no logical type takes it, so it is rejected,
    shown as Arrow writes it (with its nanoseconds) and with its Arrow type."""

    __slots__ = ("arrow_type", "text")

    def __init__(self, text: str, arrow_type: str) -> None:
        self.text, self.arrow_type = text, arrow_type

    def __repr__(self) -> str:
        return repr(self.text)


def _describe(v: Any) -> str:
    """A value as a reason shows it: its repr and type (an Arrow value's own type)."""
    if type(v) is _NanoTime:
        return f"{v!r} (Arrow {v.arrow_type})"
    return T.describe(v)


def _jsonable(row: Any) -> Any:
    """The row as given, in a form the quarantine keeps (JSON, with NaN etc. kept as text;
    a row nested too deeply for JSON engines, as its JSON text)."""
    try:
        orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)
        if _has_nonfinite(row):
            raise TypeError
        return row
    except TypeError:
        try:
            return _fallback(row)
        except RecursionError:
            return _deep_json_text(row)


class _Text(str):
    """A piece of JSON text already written (``_deep_json_text``)."""


def _deep_json_text(v: Any) -> str:
    """JSON text of a value nested too deeply to walk recursively, written iteratively;
    its leaves as ``_fallback`` keeps them."""
    out: list[str] = []
    todo: list[Any] = [v]
    while todo:
        x = todo.pop()
        if type(x) is _Text:
            out.append(x)
        elif isinstance(x, dict):
            parts: list[Any] = [_Text("{")]
            for j, (k, val) in enumerate(x.items()):
                key = orjson.dumps(_fallback(str(k))).decode()
                parts += [_Text(("," if j else "") + key + ":"), val]
            todo.extend(reversed([*parts, _Text("}")]))
        elif isinstance(x, (list, tuple)):
            parts = [_Text("[")]
            for j, val in enumerate(x):
                parts += [_Text(","), val] if j else [val]
            todo.extend(reversed([*parts, _Text("]")]))
        else:
            out.append(orjson.dumps(_fallback(x)).decode())
    return "".join(out)


def _has_nonfinite(v: Any) -> bool:
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, dict):
        return any(_has_nonfinite(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(_has_nonfinite(x) for x in v)
    return False


def _fallback(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _fallback(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_fallback(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**64:
        return str(v)  # JSON engines cannot hold it as a number
    if isinstance(v, str) and _bad_unicode(v):  # a lone surrogate: kept as its escape, "\\ud800"
        return v.encode("utf-8", "backslashreplace").decode("utf-8")
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return v
    if isinstance(v, bytes):
        return v.hex()
    return repr(v) if not isinstance(v, float) else str(v)
