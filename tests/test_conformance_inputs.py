"""Conformance: every input kind loads the same rows (dicts, generators, pandas, polars,
Arrow, files in every format and compression), bad records in files are quarantined with
the file and line, results never depend on the chunk size, and generators are consumed
lazily in bounded chunks. Runs on every destination."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import freight
from _conformance import assert_accounted, counts, rows

ROWS = [
    {"id": 1, "name": "alpha", "score": 1.5, "ok": True},
    {"id": 2, "name": 'béta, "quoted"', "score": None, "ok": False},
    {"id": 3, "name": "名前 🚀", "score": -2.25, "ok": True},
    {"id": 4, "name": "", "score": 1e-3, "ok": False},
]
EXPECTED_SCHEMA = {"id": "int64", "name": "string", "score": "float64", "ok": "bool"}
COMPRESSIONS = {"": None, ".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}


def write(path: Path, payload: bytes) -> Path:
    suffix = path.suffixes[-1] if path.suffixes else ""
    compression = COMPRESSIONS.get(suffix)
    with pa.output_stream(str(path), compression=compression) as f:
        f.write(payload)
    return path


def jsonl_bytes(rs: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rs)


def csv_field(v: object) -> str:
    """Text quoted (so "" stays an empty string), NULL as an empty field."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace('"', '""') + '"'
    return repr(v)


def csv_bytes(rs: list[dict]) -> bytes:
    lines = [",".join(rs[0])]
    lines += [",".join(csv_field(v) for v in r.values()) for r in rs]
    return ("\n".join(lines) + "\n").encode()


def parquet_bytes(rs: list[dict]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rs), sink)
    return sink.getvalue().to_pybytes()


FORMATS = {
    ".jsonl": jsonl_bytes,
    ".ndjson": jsonl_bytes,
    ".json": lambda rs: orjson.dumps(rs),
    ".csv": csv_bytes,
    ".parquet": parquet_bytes,
}


def check_loaded(ds: freight.Dataset, r: freight.LoadResult, table: str) -> None:
    assert r.status == "committed", r
    assert_accounted(r)
    assert counts(r) == {"inserted": len(ROWS)}, r
    assert ds.schema(table) == EXPECTED_SCHEMA
    assert rows(ds, table, "id") == ROWS


# --------------------------------------------------------------------------- in-memory inputs


def in_memory_inputs() -> dict[str, object]:
    return {
        "list": lambda: [dict(r) for r in ROWS],
        "tuple": lambda: tuple(dict(r) for r in ROWS),
        "generator": lambda: (dict(r) for r in ROWS),
        "iterator": lambda: iter([dict(r) for r in ROWS]),
        "map": lambda: map(dict, ROWS),
        "arrow-table": lambda: pa.Table.from_pylist(ROWS),
        "record-batch-reader": lambda: pa.RecordBatchReader.from_batches(
            pa.Table.from_pylist(ROWS).schema,
            pa.Table.from_pylist(ROWS).to_batches(max_chunksize=1),
        ),
    }


@pytest.mark.parametrize("kind", sorted(in_memory_inputs()))
def test_in_memory_inputs_load_the_same_rows(ds: freight.Dataset, kind: str) -> None:
    data = in_memory_inputs()[kind]()
    r = ds.load(data, "t")
    check_loaded(ds, r, "t")


def test_pandas_dataframe(ds: freight.Dataset) -> None:
    pd = pytest.importorskip("pandas")
    r = ds.load(pd.DataFrame(ROWS), "t")
    check_loaded(ds, r, "t")


def test_polars_dataframe(ds: freight.Dataset) -> None:
    pl = pytest.importorskip("polars")
    r = ds.load(pl.DataFrame(ROWS), "t")
    check_loaded(ds, r, "t")


def test_empty_inputs_load_nothing(ds: freight.Dataset) -> None:
    for data in ([], iter([]), pa.table({"id": pa.array([], pa.int64())})):
        r = ds.load(data, "t", force=True)
        assert r.status == "committed" and r.rows_in == 0
        assert_accounted(r)
    assert rows(ds, "t") == []


def test_unloadable_objects_are_refused(ds: freight.Dataset, tmp_path: Path) -> None:
    for bad in (42, b"bytes", object()):
        with pytest.raises(freight.InputError):
            ds.load(bad, "t")
    with pytest.raises(freight.InputError):
        ds.load(tmp_path / "missing.jsonl", "t")
    with pytest.raises(freight.InputError):
        ds.load(write(tmp_path / "data.xml", b"<a/>"), "t")
    assert ds.tables() == []
    assert all(h.status == "failed" for h in ds.history())


def test_rows_that_are_not_mappings_are_rejected(ds: freight.Dataset) -> None:
    r = ds.load([{"id": 1}, [1, 2], "text", {"id": 2}], "t")
    assert counts(r) == {"inserted": 2, "rejected": 2}
    assert sorted(q.row_number for q in ds.rejected("t")) == [2, 3]


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_files_in_every_format_and_compression(
    ds: freight.Dataset, tmp_path: Path, fmt: str, compression: str
) -> None:
    path = write(tmp_path / f"data{fmt}{compression}", FORMATS[fmt](ROWS))
    r = ds.load(path, "t")
    check_loaded(ds, r, "t")
    r2 = ds.load(str(path), "t2")
    check_loaded(ds, r2, "t2")


def test_jsonl_unparseable_line_is_rejected_with_file_and_line(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    lines = [
        orjson.dumps(ROWS[0]),
        b'{"id": 2, "name": ',
        orjson.dumps(ROWS[2]),
        b"[1, 2]",
        orjson.dumps(ROWS[3]),
    ]
    path = write(tmp_path / "events.jsonl", b"\n".join(lines) + b"\n")
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 3, "rejected": 2}
    assert [x["id"] for x in rows(ds, "t", "id")] == [1, 3, 4]
    q = sorted(ds.rejected("t"), key=lambda x: x.row_number)
    assert [x.row_number for x in q] == [2, 4]
    for x, line in zip(q, (2, 4), strict=True):
        assert "events.jsonl" in x.reason and f"line {line}" in x.reason
    assert q[0].row == '{"id": 2, "name": '


def test_compressed_jsonl_bad_line_names_the_file(ds: freight.Dataset, tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl.zst", jsonl_bytes(ROWS[:2]) + b"not json\n" + jsonl_bytes(ROWS[2:])
    )
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 4, "rejected": 1}
    (q,) = ds.rejected("t")
    assert "e.jsonl" in q.reason and "line 3" in q.reason


def test_json_array_element_that_is_not_an_object_is_rejected(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.json", orjson.dumps([ROWS[0], 5, ROWS[1]]))
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 2, "rejected": 1}
    (q,) = ds.rejected("t")
    assert "a.json" in q.reason and q.row == 5


def test_csv_line_with_wrong_field_count_is_rejected_with_file_and_line(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    text = "id,name\n1,a\n2,b,extra\n3,c\n4\n5,e\n"
    path = write(tmp_path / "people.csv", text.encode())
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 3, "rejected": 2}
    assert rows(ds, "t", "id") == [
        {"id": 1, "name": "a"},
        {"id": 3, "name": "c"},
        {"id": 5, "name": "e"},
    ]
    reasons = sorted(q.reason for q in ds.rejected("t"))
    assert all("people.csv" in x for x in reasons)
    assert any("line 3" in x for x in reasons) and any("line 5" in x for x in reasons)


def test_csv_keeps_text_that_only_looks_numeric(ds: freight.Dataset, tmp_path: Path) -> None:
    path = write(tmp_path / "z.csv", b"zip,n\n007,1\n10115,2\n")
    ds.load(path, "t")
    assert rows(ds, "t", "n") == [{"zip": "007", "n": 1}, {"zip": "10115", "n": 2}]


def test_bad_value_in_a_file_is_quarantined_with_its_row(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    path = write(tmp_path / "v.jsonl", jsonl_bytes([{"n": 1}, {"n": 2}, {"n": {"x": 1}}, {"n": 4}]))
    r = ds.load(path, "t")
    assert_accounted(r)
    assert r.rows_in == 4
    assert counts(r) == {"inserted": 3, "rejected": 1}
    assert sorted(x["n"] for x in rows(ds, "t")) == [1, 2, 4]
    (q,) = ds.rejected("t")
    assert q.row == {"n": {"x": 1}}
    assert q.row_number == 3


# --------------------------------------------------------------------------- chunk size


def _mixed(n: int = 40) -> list[dict]:
    out: list[dict] = []
    for i in range(n):
        r: dict = {"id": i % 13, "seq": i, "n": i}
        if i == 20:
            r["n"] = 2.5  # fractional float after many ints: float64
        if i == 30:
            r["n"] = "N/A"  # fits no numeric column
        if i >= 17:
            r["late"] = f"l{i}"  # a column that appears late
        r["maybe"] = None if i < 25 else i  # null first, ints later
        if i == 33:
            r["id"] = None  # null key
        out.append(r)
    return out


DATASETS = {
    "int-then-float": lambda: [{"seq": i, "n": i if i != 20 else 2.5} for i in range(40)],
    "int-then-integral-float": lambda: [
        {"seq": i, "n": i if i < 20 else float(i)} for i in range(40)
    ],
    "int-then-bigint": lambda: [{"seq": i, "n": i if i != 30 else 2**70} for i in range(40)],
    "bigint-then-float": lambda: [
        {"seq": i, "n": (2**60 + 1 if i == 0 else i) if i != 25 else 2.5} for i in range(40)
    ],
    "late-column": lambda: [
        {"seq": i, **({"late": f"x{i}"} if i >= 20 else {})} for i in range(40)
    ],
    "null-then-values": lambda: [{"seq": i, "v": None if i < 25 else f"v{i}"} for i in range(40)],
    "text-then-na": lambda: [{"seq": i, "n": i if i != 15 else "N/A"} for i in range(40)],
    "str-then-int": lambda: [{"seq": i, "v": "a" if i < 10 else i} for i in range(40)],
    "decimal-growth": lambda: [
        {"seq": i, "d": __import__("decimal").Decimal(f"{i}.{'5' * (1 + i // 8)}")}
        for i in range(40)
    ],
    "mixed": _mixed,
    # rows 28..34 (one whole chunk of 7) are all rejected, and only they have "only_here"
    "column-only-in-rejected-rows": lambda: [
        {"seq": i, "n": i} if not 28 <= i <= 34 else {"seq": i, "n": "x", "only_here": 1}
        for i in range(40)
    ],
}


def _reason(reason: str, table: str) -> str:
    """A rejection reason without the table name and the column type it was checked against
    (which may name an intermediate type): what was rejected and why."""
    return re.sub(r" \(type [^)]*\)$", "", reason.replace(table, "T"))


def _compare_chunked(url: str, data_fn, tmp_path: Path, prefix: str = "c", **kw) -> None:
    results = {}
    for name, options in (("default", {}), ("small", {"chunk_rows": 7})):
        with freight.connect(url, **options) as ds:
            table = f"{prefix}_{name}"
            # every dataset here loads (with rejects): a load that raises fails the test,
            # even when both chunk sizes raise alike
            r = ds.load(data_fn(), table, **kw)
            assert r.status == "committed"
            assert_accounted(r)
            order = "seq"
            results[name] = (
                r.status,
                counts(r),
                r.removed,
                ds.schema(table) if table in ds.tables() else None,
                rows(ds, table, order),
                sorted((q.row_number, q.row, _reason(q.reason, table)) for q in ds.rejected(table)),
            )
    assert results["small"] == results["default"]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_results_never_depend_on_chunk_size(url: str, tmp_path: Path, name: str) -> None:
    _compare_chunked(url, DATASETS[name], tmp_path)


def test_merge_dedup_sees_the_whole_batch_whatever_the_chunk_size(url: str, tmp_path: Path) -> None:
    def data() -> list[dict]:
        return [{"id": i % 5, "seq": i, "v": f"v{i}"} for i in range(40)]

    _compare_chunked(url, data, tmp_path, strategy="merge", key="id")
    with freight.connect(url, chunk_rows=7) as ds:
        got = rows(ds, "c_small", "id")
    assert [x["seq"] for x in got] == [35, 36, 37, 38, 39]  # last occurrence wins


def test_mixed_merge_whatever_the_chunk_size(url: str, tmp_path: Path) -> None:
    _compare_chunked(url, _mixed, tmp_path, strategy="merge", key="id")


def test_files_whatever_the_chunk_size(url: str, tmp_path: Path) -> None:
    data = _mixed()
    for fmt in (".jsonl", ".csv", ".parquet"):
        if fmt == ".jsonl":
            payload = jsonl_bytes(data)
        else:
            # rectangular and file-typed: keep it to columns every row has
            flat = [
                {
                    "id": r["id"],
                    "seq": r["seq"],
                    "n": float(r["seq"]) if r["seq"] % 9 == 0 else r["seq"],
                }
                for r in data
            ]
            payload = FORMATS[fmt](flat)
        path = write(
            tmp_path / f"chunky{fmt}.gz" if fmt != ".parquet" else tmp_path / "chunky.parquet",
            payload,
        )
        _compare_chunked(url, lambda p=path: p, tmp_path, fmt[1:], strategy="replace")


@pytest.mark.parametrize("when", [3, 30])
def test_freeze_violation_in_any_chunk_raises_with_nothing_committed(url: str, when: int) -> None:
    for options in ({}, {"chunk_rows": 7}):
        with freight.connect(url, **options) as ds:
            table = f"fz_{len(options)}_{when}"
            ds.load([{"seq": -1, "n": 0}], table)
            data = [{"seq": i, "n": i, **({"new": 1} if i == when else {})} for i in range(40)]
            with pytest.raises(freight.SchemaContractError):
                ds.load(data, table, contract="freeze")
            widen = [{"seq": i, "n": i if i != when else 0.5} for i in range(40)]
            with pytest.raises(freight.SchemaContractError):
                ds.load(widen, table, contract="freeze")
            assert rows(ds, table) == [{"seq": -1, "n": 0}]
            assert ds.schema(table) == {"seq": "int64", "n": "int64"}


@pytest.mark.parametrize("name", ["int-then-float", "late-column", "mixed"])
def test_checksum_does_not_depend_on_chunk_size(url: str, name: str) -> None:
    sums = []
    for options in ({}, {"chunk_rows": 7}):
        with freight.connect(url, **options) as ds:
            sums.append(ds.load(DATASETS[name](), f"cs_{len(options)}").checksum)
    assert sums[0] == sums[1]


def test_replay_with_another_chunk_size_is_still_skipped(url: str) -> None:
    data = _mixed()
    with freight.connect(url) as ds:
        ds.load(data, "t", strategy="merge", key="id")
    with freight.connect(url, chunk_rows=7) as ds:
        r = ds.load(data, "t", strategy="merge", key="id")
        assert r.status == "skipped"


# --------------------------------------------------------------------------- streaming


def test_generators_are_consumed_lazily_in_bounded_chunks(url: str, monkeypatch) -> None:
    chunk = 100
    total = 20_000
    consumed = 0
    seen_at_first_write: list[int] = []

    def gen() -> Iterator[dict]:
        nonlocal consumed
        for i in range(total):
            consumed += 1
            yield {"id": i, "v": "x"}

    with freight.connect(url, chunk_rows=chunk) as ds:
        dest = ds.destination
        real_session = dest.session

        def spying_session(*a, **k):
            cm = real_session(*a, **k)

            class Wrapped:
                def __enter__(self):
                    s = cm.__enter__()
                    for hook in ("stage_insert", "append_rows"):
                        real = getattr(s, hook, None)
                        if real is None:
                            continue

                        def spy(*args, _real=real, **kwargs):
                            if not seen_at_first_write:
                                seen_at_first_write.append(consumed)
                            return _real(*args, **kwargs)

                        setattr(s, hook, spy)
                    return s

                def __exit__(self, *exc):
                    return cm.__exit__(*exc)

            return Wrapped()

        monkeypatch.setattr(dest, "session", spying_session)
        for strategy, key in (("append", None), ("merge", "id")):
            consumed = 0
            seen_at_first_write.clear()
            r = ds.load(gen(), f"lazy_{strategy}", strategy=strategy, key=key)
            assert r.rows_in == total and r.inserted == total
            assert consumed == total
            assert seen_at_first_write, "no chunk was ever written"
            # the first chunk goes out while the generator is still far from its end
            assert seen_at_first_write[0] <= 10 * chunk, seen_at_first_write


def test_record_batch_reader_is_streamed(ds: freight.Dataset) -> None:
    batches_read = 0
    schema = pa.schema([("i", pa.int64())])

    def batches() -> Iterator[pa.RecordBatch]:
        nonlocal batches_read
        for b in itertools.count():
            if b == 50:
                return
            batches_read += 1
            yield pa.record_batch(
                [pa.array(range(b * 100, b * 100 + 100), pa.int64())], schema=schema
            )

    r = ds.load(pa.RecordBatchReader.from_batches(schema, batches()), "t")
    assert counts(r) == {"inserted": 5000}
    assert batches_read == 50
    assert sorted(x["i"] for x in rows(ds, "t")) == list(range(5000))


def test_bad_line_with_on_reject_fail_commits_nothing(ds: freight.Dataset, tmp_path: Path) -> None:
    ds.load([{"id": 0, "name": "seed"}], "t")
    path = write(
        tmp_path / "f.jsonl.gz", jsonl_bytes(ROWS[:2]) + b"{oops\n" + jsonl_bytes(ROWS[2:])
    )
    with pytest.raises(freight.RejectedRowsError) as ei:
        ds.load(path, "t", on_reject="fail")
    assert "f.jsonl" in str(ei.value) and "line 3" in str(ei.value)
    assert rows(ds, "t") == [{"id": 0, "name": "seed"}]
    assert ds.schema("t") == {"id": "int64", "name": "string"}
    assert ds.rejected() == []


# --------------------------------------------------------------------------- chunk size, generated

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

cell = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.booleans(),
)
generated_rows = st.lists(
    st.fixed_dictionaries({"k": st.integers(0, 5)}, optional={"a": cell, "b": cell}),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def two_datasets(url: str):
    with freight.connect(url) as big, freight.connect(url, chunk_rows=3) as small:
        yield big, small


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=generated_rows, strategy=st.sampled_from(["append", "merge"]))
def test_generated_batches_never_depend_on_chunk_size(two_datasets, data, strategy) -> None:
    import uuid

    key = "k" if strategy == "merge" else None
    seen = []
    for ds in two_datasets:
        table = f"g_{uuid.uuid4().hex[:10]}"
        for i, r in enumerate(data):
            r["seq"] = i
        r = ds.load([dict(x) for x in data], table, strategy=strategy, key=key)
        assert r.status == "committed"
        assert_accounted(r)
        event(
            f"{ds.chunk_rows or 'default'} chunk rows, {len(data) // 4} x4 rows, rejects: {bool(r.rejected)}"
        )
        seen.append(
            (
                counts(r),
                ds.schema(table) if table in ds.tables() else None,
                rows(ds, table, "seq"),
                sorted((q.row_number, q.row, _reason(q.reason, table)) for q in ds.rejected(table)),
            )
        )
    assert seen[0] == seen[1]  # (the checksum has its own test above)


# --------------------------------------------------------------------------- file details


def test_csv_quoted_fields_keep_commas_quotes_and_newlines(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    text = 'id,note\n1,"a, b"\n2,"multi\nline ""quoted"""\n3,plain\n'
    r = ds.load(write(tmp_path / "q.csv", text.encode()), "t")
    assert counts(r) == {"inserted": 3}
    assert rows(ds, "t", "id") == [
        {"id": 1, "note": "a, b"},
        {"id": 2, "note": 'multi\nline "quoted"'},
        {"id": 3, "note": "plain"},
    ]


def test_csv_with_a_byte_order_mark(ds: freight.Dataset, tmp_path: Path) -> None:
    r = ds.load(write(tmp_path / "bom.csv", "\ufeffid,name\n1,a\n".encode()), "t")
    assert counts(r) == {"inserted": 1}
    assert ds.schema("t") == {"id": "int64", "name": "string"}


def test_csv_header_names_are_kept_exactly(ds: freight.Dataset, tmp_path: Path) -> None:
    text = '"with space","quote""d",ünï\n1,2,3\n'
    ds.load(write(tmp_path / "h.csv", text.encode()), "t")
    assert list(ds.schema("t")) == ["with space", 'quote"d', "ünï"]


def test_jsonl_with_crlf_and_blank_lines(ds: freight.Dataset, tmp_path: Path) -> None:
    payload = b'{"id": 1}\r\n\r\n{"id": 2}\r\nnot json\r\n\r\n{"id": 3}\r\n'
    r = ds.load(write(tmp_path / "w.jsonl", payload), "t")
    assert counts(r) == {"inserted": 3, "rejected": 1}
    assert [x["id"] for x in rows(ds, "t", "id")] == [1, 2, 3]
    (q,) = ds.rejected("t")
    assert "line 4" in q.reason and q.row_number == 4
    assert q.row == "not json"


def test_parquet_nested_and_dictionary_columns(ds: freight.Dataset, tmp_path: Path) -> None:
    t = pa.table(
        {
            "id": [1, 2],
            "tags": pa.array([["a", "b"], None], pa.list_(pa.string())),
            "kind": pa.array(["x", "y"]).dictionary_encode(),
        }
    )
    path = tmp_path / "n.parquet"
    pq.write_table(t, path)
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 2}
    got = rows(ds, "t", "id")
    assert orjson.loads(got[0]["tags"]) == ["a", "b"] and got[1]["tags"] is None
    assert [x["kind"] for x in got] == ["x", "y"]
