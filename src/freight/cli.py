"""The ``freight`` command line: a thin layer over ``connect`` and ``Dataset`` (docs/cli.md).

Every command takes ``--url`` (else ``$FREIGHT_URL``, else ``duckdb:///freight.duckdb``) and
``--verbose``. Tables go to stdout, or JSON with ``--json``; notes and errors go to stderr.
An error is one line, ``error: <message>``: exit 1 for a freight error, 2 for a usage error
(bad option, missing file); ``--verbose`` adds the traceback. Credentials are never printed.
"""

from __future__ import annotations

import io
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import urlsplit

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from . import __version__
from . import _cli_render as render
from ._csv import CsvFile, csv
from ._dataset import DEFAULT_URL, Dataset, connect
from ._errors import ConfigurationError, FreightError, InputError
from ._plan import Contract, OnReject, Strategy, check_max_rejected
from ._readers import file_format
from ._result import LoadResult
from ._url import mask_text, mask_url

STDIN = "-"
Format = Literal["csv"]


class _Group(TyperGroup):
    """Runs the app so that a usage error, too, is one line on stderr (exit 2)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
            code = rv if isinstance(rv, int) else 0
        except typer.TyperException as e:  # click's errors: bad option, missing argument, ...
            message = _one_line(mask_text(e.format_message())).replace("Value error, ", "")
            if message:  # (no arguments at all: the help was shown instead)
                typer.echo(f"error: {message}", err=True)
            code = e.exit_code
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the metavar says it (PATH, TABLE)


def _plain_help(params: list[Any]) -> list[Any]:
    """Help without Python's type names (``<bool>``, ``<list[str]>``): an argument shows its
    metavar, an option its metavar (``--key COLUMN``) or choices, a flag nothing."""
    for p in params:
        if isinstance(p, TyperOption) and p.is_flag and p.metavar is None:
            p.metavar = ""
        elif isinstance(p, TyperArgument) and not isinstance(p, _Argument):
            p.__class__ = _Argument
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))


class _App(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Any:
        return super().command(*args, cls=_Command, **kwargs)


app = _App(
    cls=_Group,
    name="freight",
    help="Load files into a dataset, atomically, journaled and idempotent; inspect what happened.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Url = Annotated[
    str,
    typer.Option(
        "--url",
        metavar="URL",
        envvar="FREIGHT_URL",
        help="Dataset URL, e.g. duckdb:///app.duckdb or postgresql://user@host/db.",
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of errors.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def main() -> None:
    """The ``freight`` console script."""
    app(prog_name="freight")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"freight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Load files into a dataset, atomically, journaled and idempotent; inspect what happened."""


# ---------------------------------------------------------------------- errors


def _one_line(text: str) -> str:
    return " ".join(text.split())


#: the library's words for its options -> the CLI's (``key=...`` -> ``--key``)
_CLI_WORDS = (
    (re.compile(r"\b(key|cursor)=\.\.\."), r"--\1"),
    (re.compile(r"\bon_reject='(\w+)'"), r"--on-reject \1"),
    (re.compile(r"\bstrategy='(\w+)' or '(\w+)'"), r"--strategy \1 or \2"),
    (re.compile(r"\bcolumns\[('[^']*')\]"), r"--column \1"),
    (re.compile(r"\bmax_rejected\b"), "--max-rejected"),
)


def _cli_words(message: str) -> str:
    for pattern, words in _CLI_WORDS:
        message = pattern.sub(words, message)
    return message


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _fail(e: BaseException, url: str, verbose: bool) -> NoReturn:
    """Print ``error: <message>`` (after the traceback with ``--verbose``), exit 1."""
    secret = _password(url)
    if verbose:
        typer.echo(mask_text("".join(traceback.format_exception(e)), secret), err=True, nl=False)
    message = _cli_words(str(e)) if isinstance(e, FreightError) else f"{type(e).__name__}: {e}"
    typer.echo(f"error: {_one_line(mask_text(message, secret))}", err=True)
    raise typer.Exit(1)


def _missing_duckdb_file(url: str) -> str | None:
    """The path of a DuckDB URL whose file does not exist (a reading command must not create
    an empty database for a mistyped ``--url``), else None."""
    if not url.startswith("duckdb:"):
        return None
    from .destinations.duckdb import parse_url

    path, _ = parse_url(url)
    return None if path == ":memory:" or Path(path).exists() else path


@contextmanager
def _dataset(url: str, verbose: bool, *, reading: str | None = None) -> Iterator[Dataset]:
    """The open dataset; any error inside becomes one masked line and exit 1.

    ``reading`` (the command's name): the command only reads, so a DuckDB file that does not
    exist is not created: it reads as an empty dataset (an in-memory stand-in), and
    ``health`` fails, naming the URL.
    """
    try:
        target = url
        if reading and _missing_duckdb_file(url) is not None:
            if reading == "health":
                raise ConfigurationError(
                    f"no DuckDB database at {mask_url(url)}: nothing has been loaded there "
                    "(check --url or FREIGHT_URL)"
                )
            target = "duckdb:///:memory:"
        with connect(target) as ds:
            yield ds
    except (typer.Exit, typer.TyperException):
        raise
    except Exception as e:  # FreightError, OSError, or a bug: one line; --verbose: traceback
        _fail(e, url, verbose)


# ---------------------------------------------------------------------- load


def _parse_columns(specs: list[str]) -> dict[str, str]:
    columns = {}
    for spec in specs:
        name, sep, type_ = spec.partition("=")
        if not sep or not name.strip() or not type_.strip():
            raise typer.BadParameter(f"{spec!r} is not NAME=TYPE", param_hint="'--column'")
        columns[name.strip()] = type_.strip()
    return columns


def _max_rejected(value: str | None) -> float | None:
    """``--max-rejected``: a number of rows (``100``) or a percentage of them (``10%``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        limit: float = float(text[:-1]) / 100 if text.endswith("%") else int(text)
        return check_max_rejected(limit)
    except (ValueError, ConfigurationError):
        raise typer.BadParameter(
            f"{value!r} is neither a number of rows (e.g. 100) nor a percentage below 100% "
            "(e.g. 10%)",
            param_hint="'--max-rejected'",
        ) from None


def _check_paths(paths: list[str], as_csv: bool) -> None:
    """Every file is there, readable and of a known type before the first load starts."""
    for path in paths:
        if path != STDIN and not Path(path).is_file():
            what = "is a directory" if Path(path).is_dir() else "does not exist"
            raise typer.BadParameter(f"{path} {what}", param_hint="'PATH...'")
        if path != STDIN and not as_csv:
            try:
                file_format(Path(path))
            except InputError as e:
                raise typer.BadParameter(str(e), param_hint="'PATH...'") from None
    if paths.count(STDIN) > 1:
        raise typer.BadParameter("stdin (-) can be read only once", param_hint="'PATH...'")


class _CountedStdin(io.BufferedIOBase):
    """stdin's bytes, counting lines for the progress line; the library streams and parses them
    (a bad line is quarantined with ``<stdin> line N``)."""

    name = "<stdin>"

    def __init__(self, counter: render.Counter) -> None:
        super().__init__()
        self._counter = counter

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[bytes]:
        for line in sys.stdin.buffer:
            self._counter.n += 1
            yield line


@app.command()
def load(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Files to load (.jsonl .ndjson .json .csv .parquet, optionally compressed), "
            "one load each, in order; - reads JSON lines from stdin.",
        ),
    ],
    table: Annotated[
        str, typer.Option("--table", "-t", metavar="TABLE", help="Table to load into.")
    ],
    strategy: Annotated[Strategy, typer.Option(help="How rows are applied.")] = "append",
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key", "-k", metavar="COLUMN", help="Key column; repeat for a composite key."
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        typer.Option(metavar="COLUMN", help="Cursor column of the incremental strategy."),
    ] = None,
    contract: Annotated[Contract, typer.Option(help="Schema contract.")] = "evolve",
    on_reject: Annotated[
        OnReject, typer.Option(help="Quarantine bad rows, or fail.")
    ] = "quarantine",
    force: Annotated[
        bool, typer.Option("--force", help="Load even when the data is what was last loaded.")
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME=TYPE", help="Declare a column's type; repeatable."),
    ] = None,
    max_rejected: Annotated[
        str | None,
        typer.Option(
            metavar="N|P%",
            help="Fail the load, committing nothing, when more than N rows (or P% of them) "
            "are rejected.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what the load would do (counts, schema changes); commit nothing.",
        ),
    ] = False,
    format_: Annotated[
        Format | None,
        typer.Option("--format", help="Read every PATH (and stdin) as CSV, whatever its name."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(metavar="C", help="CSV delimiter (default: detected; tab for .tsv)."),
    ] = None,
    tsv: Annotated[bool, typer.Option("--tsv", help="CSV delimited by tabs.")] = False,
    null_value: Annotated[
        list[str] | None,
        typer.Option(
            metavar="TEXT", help="CSV text meaning NULL (default: an empty field); repeatable."
        ),
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(metavar="FORMAT", help="CSV dates as strptime, e.g. %d/%m/%Y.")
    ] = None,
    rename_columns: Annotated[
        bool,
        typer.Option(
            "--rename-columns", help="Rename repeated or empty CSV header names (v, v_2)."
        ),
    ] = False,
    url: Url = DEFAULT_URL,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Load files (or stdin) into a table: one atomic, journaled load per PATH."""
    options: dict[str, Any] = {
        "max_rejected": _max_rejected(max_rejected),
        "dry_run": dry_run,
        "strategy": strategy,
        "key": key or None,
        "cursor": cursor,
        "contract": contract,
        "on_reject": on_reject,
        "force": force,
        "columns": _parse_columns(column or []) or None,
    }
    if tsv and delimiter not in (None, "\t"):
        raise typer.BadParameter("--tsv means --delimiter TAB", param_hint="'--tsv'")
    csv_options: dict[str, Any] = {
        "delimiter": "\t" if tsv else delimiter,
        "null_values": null_value or [""],
        "date_format": date_format,
        "rename_columns": rename_columns,
    }
    _check_paths(paths, format_ == "csv")
    try:
        inputs = [_csv_input(path, format_ == "csv", csv_options) for path in paths]
    except InputError as e:
        raise typer.BadParameter(str(e)) from None
    results: list[LoadResult] = []
    # a dry run into a DuckDB file that does not exist runs on an empty stand-in: no file
    with _dataset(url, verbose, reading="load" if dry_run else None) as ds:
        try:
            for path, data in zip(paths, inputs, strict=True):
                results.append(_load_one(ds, path, table, options, data))
        finally:  # the loads that finished are shown even when a later one fails
            if results:
                render.loads(results, as_json)
    _fail_when_all_rejected(results)


def _csv_input(path: str, as_csv: bool, options: dict[str, Any]) -> CsvFile | None:
    """``path`` with the CSV flags when it is read as CSV, else None (read by its name)."""
    if path == STDIN:
        return csv(sys.stdin.buffer, **options) if as_csv else None
    fmt = ".csv" if as_csv else file_format(Path(path))[0]
    if fmt not in (".csv", ".tsv"):
        return None
    tab = "\t" if fmt == ".tsv" else None
    return csv(path, **{**options, "delimiter": options["delimiter"] or tab})


def _load_one(
    ds: Dataset, path: str, table: str, options: dict[str, Any], data: CsvFile | None
) -> LoadResult:
    if data is not None:
        label = f"loading {path if path != STDIN else '<stdin>'} into {table}"
        with render.LoadProgress(label) as shown:
            return ds.load(data, table, progress=shown, **options)
    if path == STDIN:
        counter = render.Counter()
        with render.LoadProgress(f"loading <stdin> into {table}", counter) as shown:
            return ds.load(_CountedStdin(counter), table, progress=shown, **options)
    with render.LoadProgress(f"loading {path} into {table}") as shown:
        return ds.load(Path(path), table, progress=shown, **options)


def _fail_when_all_rejected(results: list[LoadResult]) -> None:
    """Exit 1 when a load rejected every row it read: it committed (the rows are in the
    quarantine), but nothing reached the table, which is rarely what was meant."""
    empty = [r for r in results if r.rows_in and r.rejected == r.rows_in]
    if not empty:
        return
    r = empty[0]
    more = f" (and in {len(empty) - 1} more load(s))" if len(empty) > 1 else ""
    where = (
        "" if r.status == "dry_run" else f"; see freight rejected {r.table} --load-id {r.load_id}"
    )
    typer.echo(
        f"error: every row was rejected ({r.rejected:,} of {r.rows_in:,} into {r.table}){more}"
        f"{where}",
        err=True,
    )
    raise typer.Exit(1)


# ---------------------------------------------------------------------- reading


@app.command()
def tables(url: Url = DEFAULT_URL, verbose: Verbose = False, as_json: AsJson = False) -> None:
    """List the tables of the dataset."""
    with _dataset(url, verbose, reading="tables") as ds:
        names = ds.tables()
    render.tables(names, as_json)


@app.command()
def schema(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="The table.")],
    url: Url = DEFAULT_URL,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Show a table's columns and their types."""
    with _dataset(url, verbose, reading="schema") as ds:
        columns = ds.schema(table)
    render.schema(table, columns, as_json)


@app.command()
def history(
    table: Annotated[
        str | None,
        typer.Option("--table", "-t", metavar="TABLE", help="Only loads into this table."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, metavar="N", help="Newest N loads; 0 shows all.")
    ] = 20,
    url: Url = DEFAULT_URL,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Show the load journal, newest first."""
    with _dataset(url, verbose, reading="history") as ds:
        records = ds.history(table, limit=limit or None)
    render.history(records, as_json)


@app.command()
def rejected(
    table: Annotated[
        str | None, typer.Argument(metavar="TABLE", help="Only rows meant for this table.")
    ] = None,
    load_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Only rows of this load.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, metavar="N", help="At most N rows; 0 shows all.")
    ] = 50,
    url: Url = DEFAULT_URL,
    verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Show quarantined rows: the row as given and why it was rejected."""
    with _dataset(url, verbose, reading="rejected") as ds:
        rows = ds.rejected(table, load_id=load_id, limit=limit + 1 if limit else None)
    render.rejected(rows[:limit] if limit else rows, len(rows) > limit > 0, as_json)


@app.command()
def health(url: Url = DEFAULT_URL, verbose: Verbose = False, as_json: AsJson = False) -> None:
    """Check that the dataset answers; exit 1 when it does not."""
    with _dataset(url, verbose, reading="health") as ds:
        report = ds.health()
    render.health(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    main()
