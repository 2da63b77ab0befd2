"""The ``freight`` CLI: typer's CliRunner against DuckDB files, plus a few real processes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner, Result

from freight import Progress, _cli_render
from freight.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
USERS = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]
COMMANDS = ["load", "tables", "schema", "history", "rejected", "health"]


def write_jsonl(path: Path, rows: list[Any], *extra_lines: str) -> Path:
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str | Path, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env)


def ok(*args: str | Path, **kw: Any) -> Result:
    r = run(*args, **kw)
    assert r.exit_code == 0, r.output
    return r


def as_json(*args: str | Path, **kw: Any) -> Any:
    return json.loads(ok(*args, "--json", **kw).stdout)


def one_error_line(r: Result) -> str:
    """The whole of stderr is one line ``error: ...``."""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in r.output
    return lines[0]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'cli.duckdb'}"


@pytest.fixture
def users(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "users.jsonl", USERS)


# ---------------------------------------------------------------------- load


def test_load_prints_a_table_row_per_load(url: str, users: Path) -> None:
    r = ok("load", users, "--table", "users", "--url", url)
    row = next(line for line in r.stdout.splitlines() if "users" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:5] == ["users", "append", "committed", "2", "2"]
    assert re.fullmatch(r"\d{8}T\d{9}-[0-9a-f]{6}", cells[-1])
    assert "created table users" in r.stderr


def test_load_json_and_merge(url: str, users: Path, tmp_path: Path) -> None:
    ok("load", users, "-t", "users", "--url", url)
    changed = write_jsonl(tmp_path / "changed.jsonl", [USERS[0], {"id": 2, "name": "G"}, {"id": 3}])
    [res] = as_json(
        "load", changed, "-t", "users", "--strategy", "merge", "--key", "id", "--url", url
    )
    assert res["status"] == "committed" and res["strategy"] == "merge"
    assert (res["rows_in"], res["inserted"], res["updated"], res["unchanged"]) == (3, 1, 1, 1)


def test_same_data_twice_is_skipped_with_a_note(url: str, users: Path) -> None:
    ok("load", users, "-t", "users", "--url", url)
    r = ok("load", users, "-t", "users", "--url", url)
    assert "skipped" in r.stdout
    assert "same data as its last load" in r.stderr and "--force" in r.stderr
    [res] = as_json("load", users, "-t", "users", "--force", "--url", url)
    assert res["status"] == "committed" and res["inserted"] == 2


def test_several_paths_are_one_load_each_in_order(url: str, users: Path, tmp_path: Path) -> None:
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": 3, "name": "edsger"}])
    results = as_json("load", users, more, "-t", "users", "--url", url)
    assert [r["rows_in"] for r in results] == [2, 1]
    assert len({r["load_id"] for r in results}) == 2


def test_loads_before_a_failing_one_are_still_shown(url: str, users: Path, tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "not a number"}])
    r = run("load", users, bad, "-t", "users", "--on-reject", "fail", "--url", url)
    assert r.exit_code == 1
    assert "committed" in r.stdout
    assert r.stderr.splitlines()[-1].startswith("error: 1 row(s) rejected and --on-reject fail:")
    assert [h["status"] for h in as_json("history", "--url", url)] == ["failed", "committed"]


def test_column_types_and_key_options(url: str, users: Path) -> None:
    ok("load", users, "-t", "users", "--column", "id=string", "--url", url)
    assert as_json("schema", "users", "--url", url) == {"id": "string", "name": "string"}
    r = run("load", users, "-t", "users", "--column", "id", "--url", url)
    assert r.exit_code == 2 and "NAME=TYPE" in one_error_line(r)


def test_stdin_streams_json_lines_and_quarantines_a_bad_line(url: str) -> None:
    lines = '{"id": 1}\nnot json\n\n{"id": 2}\n'
    [res] = as_json("load", "-", "-t", "events", "--url", url, input=lines)
    assert (res["rows_in"], res["inserted"], res["rejected"]) == (3, 2, 1)
    [bad] = as_json("rejected", "events", "--url", url)
    assert bad["row"] == "not json" and bad["load_id"] == res["load_id"]


def test_stdin_bad_line_reason_names_the_line(url: str) -> None:
    ok("load", "-", "-t", "events", "--url", url, input='{"id": 1}\n\nnot json\n')
    [bad] = as_json("rejected", "--url", url)
    assert "<stdin> line 3" in bad["reason"]


def test_max_rejected_fails_the_load_and_commits_nothing(
    url: str, users: Path, tmp_path: Path
) -> None:
    ok("load", users, "-t", "nums", "--url", url)
    f = write_jsonl(tmp_path / "n.jsonl", [{"id": 3}, {"id": "two"}, {"id": "[three]"}])
    for limit, allowed in (("1", "1 row"), ("50%", "50% of the rows")):
        r = run("load", f, "-t", "nums", "--max-rejected", limit, "--url", url)
        assert r.exit_code == 1
        line = one_error_line(r)
        assert f"more than --max-rejected allows (at most {allowed}); nothing was committed" in line
    assert as_json("rejected", "--url", url) == []
    assert [h["status"] for h in as_json("history", "--url", url)] == [
        "failed",
        "failed",
        "committed",
    ]
    [res] = as_json("load", f, "-t", "nums", "--max-rejected", "67%", "--url", url)
    assert (res["inserted"], res["rejected"]) == (1, 2)


@pytest.mark.parametrize("bad", ["-1", "100%", "ten", "1.5"])
def test_max_rejected_takes_a_count_or_a_percentage(url: str, users: Path, bad: str) -> None:
    r = run("load", users, "-t", "t", "--max-rejected", bad, "--url", url)
    assert r.exit_code == 2
    assert "'--max-rejected'" in one_error_line(r) and "percentage" in r.stderr


def test_a_load_that_rejects_every_row_exits_1(url: str, tmp_path: Path) -> None:
    ok("load", write_jsonl(tmp_path / "a.jsonl", [{"n": 1}]), "-t", "nums", "--url", url)
    bad = write_jsonl(tmp_path / "b.jsonl", [{"n": "x"}, {"n": "y"}])
    r = run("load", bad, "-t", "nums", "--url", url)
    assert r.exit_code == 1
    assert "committed" in r.stdout  # the summary is still shown
    last = r.stderr.splitlines()[-1]
    assert last.startswith("error: every row was rejected (2 of 2 into nums)")
    assert "freight rejected nums --load-id" in last
    assert len(as_json("rejected", "--url", url)) == 2  # committed as before, to the quarantine


def test_dry_run_shows_what_would_happen_and_writes_nothing(
    url: str, users: Path, tmp_path: Path
) -> None:
    ok("load", users, "-t", "users", "--url", url)
    history = as_json("history", "--url", url)
    changed = write_jsonl(tmp_path / "c.jsonl", [{"id": 2, "name": "G", "age": 3}, {"id": "x"}])
    args = ("load", changed, "-t", "users", "--strategy", "merge", "--key", "id", "--url", url)
    r = ok(*args, "--dry-run")
    assert "dry_run" in r.stdout
    assert "users: dry run, nothing was committed" in r.stderr
    assert "added column age" in r.stderr and "1 row(s) would be quarantined" in r.stderr
    assert as_json("history", "--url", url) == history
    assert as_json("schema", "users", "--url", url) == {"id": "int64", "name": "string"}
    assert as_json("rejected", "--url", url) == []
    [res] = as_json(*args, "--dry-run")
    assert (res["status"], res["updated"], res["rejected"]) == ("dry_run", 1, 1)


def test_dry_run_creates_no_duckdb_file(tmp_path: Path, users: Path) -> None:
    target = tmp_path / "new.duckdb"
    [res] = as_json("load", users, "-t", "users", "--dry-run", "--url", f"duckdb:///{target}")
    assert (res["status"], res["inserted"]) == ("dry_run", 2)
    assert not target.exists()


def test_a_key_no_row_has_fails_naming_a_close_column(url: str, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "p.jsonl", [{"Name": "ada", "id": 1}])
    r = run("load", f, "-t", "people", "--strategy", "merge", "--key", "name", "--url", url)
    assert r.exit_code == 1
    line = one_error_line(r)
    assert "no input row has the key column 'name'" in line and "did you mean 'Name'?" in line
    assert as_json("tables", "--url", url) == []


def test_json_output_is_only_json_and_notes_still_go_to_stderr(url: str, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "n.jsonl", [{"n": 1}, {"n": "two"}])
    r = ok("load", f, "-t", "nums", "--json", "--url", url)
    [res] = json.loads(r.stdout)
    assert res["rejected"] == 1
    assert "nums: created table nums" in r.stderr
    assert f"1 row(s) quarantined; see freight rejected nums --load-id {res['load_id']}" in r.stderr


# ---------------------------------------------------------------------- width


@pytest.mark.parametrize("columns", ["80", "120"])
def test_results_fit_the_terminal_whole(url: str, tmp_path: Path, columns: str) -> None:
    rows = [{"id": i, "v": "x"} for i in range(1234)] + [{"id": "bad", "v": "y" * 300}]
    rows[0]["a_long_column_name_in_the_reason"] = 1
    rows.append({"id": 1, "a_long_column_name_in_the_reason": "not a number"})
    f = write_jsonl(tmp_path / "big.jsonl", rows)
    env = {"COLUMNS": columns}
    table = "a_rather_long_table_name"
    shown = [
        ok("load", f, "-t", table, "--url", url, env=env).stdout,
        ok("history", "--url", url, env=env).stdout,
        ok("rejected", "--url", url, env=env).stdout,
    ]
    [rec] = as_json("history", "--url", url)
    for out in shown:
        assert "…" not in out
        assert rec["load_id"] in out  # whole, on one line
        assert max(map(len, out.splitlines())) <= int(columns)
    for out in shown[:2]:
        assert "1,236" in out and "1,234" in out and table in out


def test_a_wide_terminal_gets_one_row_per_load(url: str, users: Path) -> None:
    out = ok("load", users, "-t", "users", "--url", url, env={"COLUMNS": "200"}).stdout
    assert len([line for line in out.splitlines() if "users" in line]) == 1


# ---------------------------------------------------------------------- reading


def test_tables_schema_history(url: str, users: Path) -> None:
    assert "no tables yet" in ok("tables", "--url", url).stderr
    assert "no loads yet" in ok("history", "--url", url).stderr
    ok("load", users, "-t", "users", "--url", url)
    ok("load", users, "-t", "people", "--url", url)
    assert "users" in ok("tables", "--url", url).stdout
    assert sorted(as_json("tables", "--url", url)) == ["people", "users"]
    schema = ok("schema", "users", "--url", url).stdout
    assert re.search(r"id\s+│\s+int64", schema) and re.search(r"name\s+│\s+string", schema)
    assert as_json("schema", "users", "--url", url) == {"id": "int64", "name": "string"}
    history = as_json("history", "--url", url)
    assert [h["table"] for h in history] == ["people", "users"]  # newest first
    assert {"load_id", "status", "started_at", "seconds", "schema_changes"} <= set(history[0])
    assert [h["table"] for h in as_json("history", "--table", "users", "--url", url)] == ["users"]
    assert len(as_json("history", "--limit", "1", "--url", url)) == 1
    assert "people" in ok("history", "--url", url).stdout


def test_rejected_rows(url: str, tmp_path: Path) -> None:
    assert "no rejected rows" in ok("rejected", "--url", url).stderr
    f = write_jsonl(tmp_path / "n.jsonl", [{"n": 1}, {"n": "two"}, {"n": "[three]"}])
    [res] = as_json("load", f, "-t", "nums", "--url", url)
    assert res["rejected"] == 2
    r = ok("rejected", "nums", "--url", url)
    assert "'two'" in r.stdout and "[three]" in r.stdout  # shown as given, not as markup
    rows = as_json("rejected", "--load-id", res["load_id"], "--url", url)
    assert [x["row"] for x in rows] == [{"n": "two"}, {"n": "[three]"}]
    assert all("column 'n'" in x["reason"] for x in rows)
    assert "showing the first 1 rows" in ok("rejected", "--limit", "1", "--url", url).stderr
    assert "showing" not in ok("rejected", "--limit", "2", "--url", url).stderr
    assert as_json("rejected", "other", "--url", url) == []


def test_health(url: str, users: Path) -> None:
    ok("load", users, "-t", "users", "--url", url)
    assert re.search(r"status\s+│\s+ok", ok("health", "--url", url).stdout)
    h = as_json("health", "--url", url)
    assert h["ok"] is True and h["destination"] == "duckdb" and h["tables"] == 1


def test_freight_url_env_var(url: str, users: Path) -> None:
    ok("load", users, "-t", "users", env={"FREIGHT_URL": url})
    assert as_json("tables", "--url", url) == ["users"]
    assert as_json("tables", env={"FREIGHT_URL": url}) == ["users"]


# ---------------------------------------------------------------------- errors


def test_bad_strategy_is_one_line_exit_2(url: str, users: Path) -> None:
    r = run("load", users, "-t", "users", "--strategy", "bogus", "--url", url)
    assert r.exit_code == 2
    assert "'bogus' is not one of" in one_error_line(r)


def test_freight_error_is_one_line_exit_1(url: str) -> None:
    r = run("schema", "nope", "--url", url)
    assert r.exit_code == 1
    assert one_error_line(r) == "error: no table 'nope'"


def test_verbose_shows_the_traceback(url: str) -> None:
    r = run("schema", "nope", "--url", url, "--verbose")
    assert r.exit_code == 1
    assert r.stderr.startswith("Traceback (most recent call last)")
    assert "FreightError" in r.stderr
    assert r.stderr.splitlines()[-1] == "error: no table 'nope'"


def test_missing_file_loads_nothing(url: str, users: Path, tmp_path: Path) -> None:
    r = run("load", users, tmp_path / "missing.jsonl", "-t", "users", "--url", url)
    assert r.exit_code == 2
    assert "missing.jsonl does not exist" in one_error_line(r)
    assert as_json("history", "--url", url) == []


def test_stdin_only_once_and_table_required(url: str) -> None:
    r = run("load", "-", "-", "-t", "t", "--url", url, input="")
    assert r.exit_code == 2 and "only once" in one_error_line(r)
    r = run("load", "-", "--url", url, input="")
    assert r.exit_code == 2 and "--table" in one_error_line(r)


def test_passwords_are_never_printed(tmp_path: Path) -> None:
    for args in (
        ["tables", "--url", "duckdb://u:hunter2@host/x.duckdb", "--verbose"],
        ["health", "--url", f"duckdb:///{tmp_path / 'h.duckdb'}?token=hunter2"],
        ["health", "--json", "--url", f"duckdb:///{tmp_path / 'h.duckdb'}?token=hunter2"],
    ):
        r = run(*args)
        assert "hunter2" not in r.output, args
        assert "***" in r.output


def test_version() -> None:
    from freight import __version__

    assert ok("--version").stdout == f"freight {__version__}\n"


def test_errors_are_in_the_cli_s_own_words(url: str, users: Path) -> None:
    r = run("load", users, "-t", "users", "--strategy", "merge", "--url", url)
    assert "needs --key (" in one_error_line(r) and "key=" not in r.stderr
    r = run("load", users, "-t", "users", "--column", "id=bogus", "--url", url)
    assert one_error_line(r).startswith("error: --column 'id': unknown column type 'bogus'")
    r = run("load", users, "-t", "users", "--strategy", "bogus", "--url", url)
    assert "Value error" not in one_error_line(r)


@pytest.mark.parametrize("given", ["app.duckdb", "user:secret@host/db"])
def test_a_url_without_a_scheme_says_what_a_url_looks_like(given: str) -> None:
    r = run("tables", "--url", given)
    assert r.exit_code == 1
    line = one_error_line(r)
    assert "duckdb:///path.duckdb or postgresql://user@host/db" in line
    assert "secret" not in line


@pytest.mark.parametrize(
    ("command", "option"),
    [([], "--version"), *(([c], "--url") for c in COMMANDS)],
)
def test_help_shows_no_python_type_names(command: list[str], option: str) -> None:
    out = ok(*command, "--help", env={"COLUMNS": "200"}).stdout
    assert option in out
    assert not re.search(r"<(bool|str|int|list\[str\])>", out), out


# ---------------------------------------------------------------------- processes


def freight(*args: str, input: str = "", env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "freight.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, "FREIGHT_URL": "", **(env or {})},
        timeout=120,
    )


def test_console_script_stdin_and_exit_codes(url: str) -> None:
    p = freight(
        "load",
        "-",
        "--table",
        "events",
        "--json",
        input='{"a": 1}\n{oops\n',
        env={"FREIGHT_URL": url},
    )
    assert p.returncode == 0, p.stderr
    [res] = json.loads(p.stdout)
    assert (res["inserted"], res["rejected"]) == (1, 1)
    p = freight("load", "-", "-t", "events", "--strategy", "merge", "--url", url)
    assert p.returncode == 1  # merge needs a key: a FreightError
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: ")
    p = freight("history", "--limit", "-1", "--url", url)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1


# ---------------------------------------------------------------------- progress


def shown(delay: float, *updates: Progress, terminal: bool = True) -> str:
    """What the progress line writes to a terminal (or not) over a load."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120)
    counter = _cli_render.Counter()
    with _cli_render.LoadProgress("loading x", counter, delay=delay, console=console) as hook:
        counter.n = 1234
        for p in updates:
            hook(p)
    return out.getvalue()


def test_progress_appears_only_for_slow_loads_and_on_a_terminal() -> None:
    assert shown(5) == ""  # the load ended before the delay
    assert "loading x: 1,234 rows read" in shown(0)
    p = Progress(rows=5000, seconds=2.0)
    assert "loading x: 5,000 rows read, 2,500 rows/s" in shown(0, p)
    assert shown(0, p, terminal=False) == ""


def test_progress_shows_a_bar_and_the_time_left_when_the_size_is_known() -> None:
    p = Progress(rows=5000, seconds=60.0, bytes_read=250_000, total_bytes=1_000_000)
    console = Console(file=io.StringIO(), width=120)
    with console.capture() as cap:
        console.print(_cli_render.describe("loading x", p))
    line = cap.get()
    assert "25%" in line
    assert "5,000 rows read (250.0 kB of 1.0 MB), 83 rows/s, 3:00 left" in line
    assert "━" in line  # the bar
    assert "left" not in str(_cli_render.describe("x", Progress(rows=1, seconds=1.0)))


def test_the_cli_shows_no_progress_when_stderr_is_not_a_terminal(
    url: str, users: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli_render, "DELAY", 0.0)
    r = ok("load", users, "-t", "users", "--url", url)
    assert "rows read" not in r.stderr and "created table users" in r.stderr


# ---------------------------------------------------------------------- docs


def doc_sections() -> dict[str, str]:
    """docs/cli.md split at ``## `` headings: heading -> body."""
    parts = re.split(r"^## (.+)$", DOCS.read_text(), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_command_and_option_is_documented() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) == set(COMMANDS)
    sections = doc_sections()
    for name, command in commands.items():
        section = next((body for h, body in sections.items() if f"freight {name}" in h), None)
        assert section is not None, f"docs/cli.md has no '## freight {name}' section"
        for param in command.params:
            names = [o for o in param.opts if o.startswith("--")] or [param.metavar or param.name]
            for opt in names:
                assert opt in section, f"{opt} of 'freight {name}' is not in docs/cli.md"
    common = sections["Options every command takes"]
    for param in group.params:  # freight's own: --version
        for opt in param.opts:
            assert f"freight {opt}" in common, f"freight {opt} is not in docs/cli.md"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["tables"], "no tables yet"),
        (["schema", "t"], "no table 't'"),
        (["history"], "no loads yet"),
        (["rejected"], "no rejected rows"),
        (["health"], "no DuckDB database at duckdb:///"),
    ],
)
def test_reading_commands_never_create_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], expected: str
) -> None:
    """A mistyped --url must not leave an empty database behind: reading commands read a
    missing DuckDB file as an empty dataset, and health fails."""
    typo = tmp_path / "typo.duckdb"
    r = run(*command, "--url", f"duckdb:///{typo}")
    assert expected in r.stderr
    assert r.exit_code == (0 if command[0] in ("tables", "history", "rejected") else 1)
    assert not typo.exists()
    monkeypatch.chdir(tmp_path)  # the default URL, ./freight.duckdb, too
    monkeypatch.delenv("FREIGHT_URL", raising=False)
    assert expected in run(*command).stderr
    assert list(tmp_path.iterdir()) == []


def test_reading_commands_read_an_existing_database(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'd.duckdb'}"
    ok("load", write_jsonl(tmp_path / "a.jsonl", [{"id": 1}]), "--table", "t", "--url", url)
    assert "t" in ok("tables", "--url", url).output
    assert re.search(r"status\s+│\s+ok", ok("health", "--url", url).stdout)
