"""File inputs: CSV dialects and options, exact numbers, repeated headers, empty files, JSON
documents, large fields, progress; values round-trip as each format allows (hypothesis)."""

from __future__ import annotations

import csv
import decimal
import gzip
import io
import math
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import freight
from _conformance import assert_accounted, counts, rows
from freight._intake import Intake

# --------------------------------------------------------------------------- dialect


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("semi.csv", "id;name\n1;a\n2;b\n", "semicolons"),
        ("tab.csv", "id\tname\n1\ta\n2\tb\n", "tabs"),
        ("pipe.csv", "id|name\n1|a\n2|b\n", "vertical bars"),
    ],
)
def test_csv_delimiter_is_detected_and_said(
    ds: freight.Dataset, tmp_path: Path, name: str, text: str, said: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 2}
    assert ds.schema("t") == {"id": "int64", "name": "string"}
    assert rows(ds, "t", "id") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert f"read {name} as CSV delimited by {said}" in r.schema_changes


def test_tsv_files_are_tab_separated_and_a_comma_is_text(
    ds: freight.Dataset, tmp_path: Path
) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\tnote\n1\ta, b\n")
    r = ds.load(path, "t")
    assert rows(ds, "t") == [{"id": 1, "note": "a, b"}]
    assert not any("delimited" in c for c in r.schema_changes)  # given by the name


def test_one_column_header_holding_a_tab_is_refused(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("id\tname\n1\ta\n2\tb\tx\n")  # no delimiter splits every line alike
    with pytest.raises(freight.InputError, match=r"odd\.csv.*one column holding a tab"):
        ds.load(path, "t")
    assert ds.tables() == []
    ds.load(freight.csv(path, delimiter="\t"), "t")  # given: loaded, the bad lines rejected
    assert rows(ds, "t") == [{"id": 1, "name": "a"}]


def test_csv_options(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "export.txt"  # any name
    path.write_text("id;day;v\n1;31/12/2024;NA\n2;01/02/2025;x\n")
    r = ds.load(
        freight.csv(path, delimiter=";", null_values=["NA", ""], date_format="%d/%m/%Y"), "t"
    )
    assert counts(r) == {"inserted": 2}
    assert ds.schema("t") == {"id": "int64", "day": "date", "v": "string"}
    got = rows(ds, "t", "id")
    assert [(g["day"].isoformat(), g["v"]) for g in got] == [
        ("2024-12-31", None),
        ("2025-02-01", "x"),
    ]


def test_csv_options_are_checked(tmp_path: Path) -> None:
    for bad in ({"delimiter": ";;"}, {"delimiter": '"'}, {"null_values": "NA"}):
        with pytest.raises(freight.InputError):
            freight.csv(tmp_path / "x.csv", **bad)  # type: ignore[arg-type]


def test_csv_from_a_stream(ds: freight.Dataset) -> None:
    r = ds.load(freight.csv(io.BytesIO(b"id,v\n1,x\n2,y\n")), "t")
    assert counts(r) == {"inserted": 2}
    assert rows(ds, "t", "id") == [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]


# --------------------------------------------------------------------------- numbers


def test_csv_integers_beyond_int64_are_kept_exactly(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text(
        "id,n,m\n1,9007199254740993,1\n2,12345678901234567890,2\n"
        "3,-98765432109876543210987654321,3\n4,12345678901234567890123456789012345678901,4\n"
    )
    r = ds.load(path, "t")
    assert counts(r) == {"inserted": 3, "rejected": 1}
    assert ds.schema("t") == {"id": "int64", "n": "decimal(38,0)", "m": "int64"}
    assert [int(g["n"]) for g in rows(ds, "t", "id")] == [
        9007199254740993,
        12345678901234567890,
        -98765432109876543210987654321,
    ]
    (q,) = ds.rejected("t")
    assert "big.csv line 5" in q.reason and "41 digits" in q.reason and "'n'" in q.reason


def test_csv_int64_beyond_a_double_is_exact(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("id,n\n1,9007199254740993\n2,-9223372036854775808\n")
    ds.load(path, "t")
    assert ds.schema("t") == {"id": "int64", "n": "int64"}
    assert [g["n"] for g in rows(ds, "t", "id")] == [9007199254740993, -(2**63)]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["0.1", "1.4285714285714286", "2.5e3", "-0.0", "3"], "float64"),
        (["0.1", "1.00000000000000000001"], "string"),  # 21 digits: no double holds it
        (["1.5", "1e400"], "string"),  # beyond a double's range
        (["1.5", "1e-400"], "string"),  # below it
        (["1.5", "9007199254740993"], "string"),  # an integer no double holds
        (["1.5", "007"], "string"),
    ],
)
def test_csv_floats_only_when_a_double_holds_each_value(
    ds: freight.Dataset, tmp_path: Path, values: list[str], kind: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,x\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    ds.load(path, "t")
    assert ds.schema("t")["x"] == kind
    got = [g["x"] for g in rows(ds, "t", "id")]
    if kind == "string":
        assert got == values
    else:
        assert got == [float(v) for v in values]


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "words"),
    [("id,v,v", "repeated column name(s) 'v'"), ("id,,v", "empty column name(s) at position(s) 2")],
)
def test_csv_repeated_or_empty_header_is_refused(
    ds: freight.Dataset, tmp_path: Path, header: str, words: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(f"{header}\n1,a,b\n")
    with pytest.raises(freight.InputError, match=r"h\.csv") as e:
        ds.load(path, "t")
    assert words in str(e.value)
    assert ds.tables() == []


def test_csv_repeated_header_renamed_on_request(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,v,v,\n1,a,b,c\n")
    r = ds.load(freight.csv(path, rename_columns=True), "t")
    assert rows(ds, "t") == [{"id": 1, "v": "a", "v_2": "b", "column_4": "c"}]
    assert any("'v' (column 3) -> 'v_2'" in c for c in r.schema_changes)


# --------------------------------------------------------------------------- documents


@pytest.mark.parametrize("name", ["e.jsonl", "e.json", "e.csv", "e.jsonl.gz"])
def test_empty_files_load_nothing_and_say_so(
    ds: freight.Dataset, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"") if name.endswith(".gz") else b"\n")
    r = ds.load(path, "t")
    assert r.status == "committed" and r.rows_in == 0
    assert_accounted(r)
    assert f"{name} is empty: no rows" in r.schema_changes


def test_json_file_of_one_object_is_one_row(ds: freight.Dataset, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps({"id": 1, "tags": ["a"]}))
    ds.load(path, "t")
    assert rows(ds, "t") == [{"id": 1, "tags": '["a"]'}]
    (tmp_path / "n.json").write_text("42")
    with pytest.raises(freight.InputError, match="array of objects, or one object"):
        ds.load(tmp_path / "n.json", "t")


def test_csv_field_larger_than_a_block_loads(tmp_path: Path) -> None:
    big = "x" * (20 << 20)  # larger than the reader's 8 MiB block
    path = tmp_path / "big.csv"
    path.write_text(f'id,blob\n1,"{big}"\n2,b\n')
    with freight.connect(f"duckdb:///{tmp_path / 'db.duckdb'}") as ds:
        r = ds.load(path, "t")
        assert counts(r) == {"inserted": 2}
        got = ds.read("t").sort_by("id").column("blob").to_pylist()
    assert len(got[0]) == len(big) and got[1] == "b"


# --------------------------------------------------------------------------- progress


def test_bytes_read_counts_the_compressed_file(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"id": %d}\n' % i for i in range(3000))))
    intake = Intake(path, chunk_rows=1000)
    seen = [intake.bytes_read for _ in intake.chunks()]
    assert intake.bytes_read == path.stat().st_size == intake.progress.bytes_total
    assert seen == sorted(seen)
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("id\n1\n2\n")
    intake = Intake(csv_path)
    list(intake.chunks())
    assert intake.bytes_read == 2 * csv_path.stat().st_size == intake.progress.bytes_total


# --------------------------------------------------------------------------- round trips

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00\r"), max_size=8)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False, width=64)
_INT = st.integers(-(10**30), 10**30)


def _csv_text(values: list[object]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "v"])
    for i, v in enumerate(values):
        w.writerow([i, "" if v is None else repr(v) if isinstance(v, float) else v])
    return out.getvalue()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.one_of(
        st.lists(st.one_of(st.none(), _INT), min_size=1, max_size=12),
        st.lists(st.one_of(st.none(), _FLOAT), min_size=1, max_size=12),
        st.lists(st.one_of(st.none(), _TEXT.filter(lambda s: s != "")), min_size=1, max_size=12),
    ),
    chunk=st.sampled_from([1, 2, 5, 50_000]),
)
def test_csv_values_round_trip_whatever_the_chunk_size(
    tmp_path_factory: pytest.TempPathFactory, values: list[object], chunk: int
) -> None:
    """A CSV column of integers, floats (as Python prints them) or text reads back as the
    values written, in the same type whatever the chunk size: never rounded."""
    d = tmp_path_factory.mktemp("rt")
    path = d / "v.csv"
    path.write_text(_csv_text(values))
    with freight.connect(f"duckdb:///{d / 'db.duckdb'}", chunk_rows=chunk) as ds:
        r = ds.load(path, "t")
        got = [row["v"] for row in sorted(ds.read("t").to_pylist(), key=lambda x: x["id"])]
        kind = ds.schema("t")["v"]
    assert counts(r) == {"inserted": len(values)}
    for want, have in zip(values, got, strict=True):
        if want is None or isinstance(want, str):
            assert have == want
        elif isinstance(want, float):
            assert (
                kind == "float64"
                and have == want
                and math.copysign(1, have) == math.copysign(1, want)
            )
        else:
            assert int(decimal.Decimal(have)) == want


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows_=st.lists(
        st.fixed_dictionaries(
            {"i": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), "s": _TEXT, "f": _FLOAT}
        ),
        min_size=1,
        max_size=10,
    ),
    chunk=st.sampled_from([1, 3, 50_000]),
)
def test_jsonl_values_round_trip(
    tmp_path_factory: pytest.TempPathFactory, rows_: list[dict], chunk: int
) -> None:
    d = tmp_path_factory.mktemp("rt")
    path = d / "v.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"id": n, **r}) + b"\n" for n, r in enumerate(rows_)))
    with freight.connect(f"duckdb:///{d / 'db.duckdb'}", chunk_rows=chunk) as ds:
        ds.load(path, "t")
        got = sorted(ds.read("t").to_pylist(), key=lambda x: x["id"])
    assert [{k: g[k] for k in ("i", "s", "f")} for g in got] == rows_


_JSON_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    _FLOAT,
    _TEXT,
    st.sampled_from(["2024-01-02T03:04:05", "2024-01-02T03:04:05+02:00", "2024-01-02"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 3), max_size=2),
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows_=st.lists(
        # (not {}: dict rows take an empty one as a row of NULLs beside other rows but
        # reject it alone, so the dict side itself depends on the chunk size)
        st.dictionaries(st.sampled_from(["a", "b", "c"]), _JSON_VALUE, min_size=1, max_size=3),
        min_size=1,
        max_size=12,
    ),
    chunk=st.sampled_from([1, 4, 50_000]),
)
def test_jsonl_file_reads_as_its_lines_one_by_one(
    tmp_path_factory: pytest.TempPathFactory,
    rows_: list[dict],
    chunk: int,
) -> None:
    """A .jsonl file (parsed by pyarrow a block at a time where it types a block right) loads
    exactly as its lines given as dicts: the same types, rows, rejects and checksum. (One
    block: the dict path's own checksum differs across chunk sizes when a column is absent
    from a later chunk, so block boundaries are not varied here.)"""
    d = tmp_path_factory.mktemp("jl")
    path = d / "v.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows_))
    got = []
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for name, data in (("file", path), ("dicts", lines)):
        with freight.connect(f"duckdb:///{d / name}.duckdb", chunk_rows=chunk) as ds:
            r = ds.load(data, "t")
            stored = ds.read("t").to_pylist() if "t" in ds.tables() else []
            reasons = sorted(q.reason.replace("v.jsonl ", "") for q in ds.rejected("t"))
            schema = ds.schema("t") if stored else None
            got.append((schema, stored, r.checksum, counts(r), reasons))
    assert got[0] == got[1]
