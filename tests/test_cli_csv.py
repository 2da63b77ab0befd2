"""The CLI's file flags: every path checked before the first load; CSV flags and stdin."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import freight
from _conformance import rows
from freight.cli import app


def test_cli_checks_every_path_before_the_first_load(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    (tmp_path / "b.xml").write_text("<a/>")
    url = f"duckdb:///{tmp_path / 'db.duckdb'}"
    args = ["load", str(tmp_path / "a.csv"), str(tmp_path / "b.xml"), "-t", "m", "--url", url]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "b.xml: unknown file type" in r.output
    assert not (tmp_path / "db.duckdb").exists()  # nothing loaded, not even a.csv


def test_cli_csv_flags_and_stdin(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'db.duckdb'}"
    flags = ["--format", "csv", "--delimiter", ";", "--null-value", "NA", "--url", url]
    r = CliRunner().invoke(app, ["load", "-", "-t", "s", *flags], input="id;v\n1;NA\n2;x\n")
    assert r.exit_code == 0, r.output
    (tmp_path / "d.tsv").write_text("id\tday\n1\t31/12/2024\n")
    r = CliRunner().invoke(
        app, ["load", str(tmp_path / "d.tsv"), "-t", "d", "--url", url, "--date-format", "%d/%m/%Y"]
    )
    assert r.exit_code == 0, r.output
    with freight.connect(url) as ds:
        assert rows(ds, "s", "id") == [{"id": 1, "v": None}, {"id": 2, "v": "x"}]
        assert ds.schema("d") == {"id": "int64", "day": "date"}
    r = CliRunner().invoke(app, ["load", "-", "-t", "s", "--tsv", "--delimiter", ";"])
    assert r.exit_code == 2
