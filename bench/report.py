"""Turns ``cases.run_all`` results into the results table, the targets and the details."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.adapters import TOOLS

DEST_TITLE = {"duckdb": "DuckDB", "postgres": "PostgreSQL"}


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def fmt_rows(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return f"{n:,}"


@dataclass
class Line:
    label: str
    cells: dict[str, str]  # tool -> text
    freight_raw: float | None = None
    dlt_freight: float | None = None
    target: str = ""
    verdict: str = ""  # PASS / MISS / n/a / ""


@dataclass
class Target:
    dest: str
    name: str
    text: str
    verdict: str
    value: str


class Report:
    def __init__(self, results: dict) -> None:
        self.results = results
        self.notes: list[str] = []
        self.sections: dict[str, list[Line]] = {}
        self.targets: list[Target] = []
        for dest, r in results.items():
            self.sections[dest] = self._lines(dest, r)

    # -- helpers ----------------------------------------------------------------------------
    def _cell(
        self,
        dest: str,
        case: str,
        tool: str,
        res: dict | None,
        value: float | None,
        suffix: str = "",
    ) -> str:
        if res is None:
            return "-"
        if "skipped" in res:
            self._note(f"{dest} {case} {tool}: skipped: {res['skipped']}")
            return "skipped"
        if "error" in res:
            self._note(f"{dest} {case} {tool}: error: {res['error']}")
            return "error"
        return fmt_s(value) + suffix

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @staticmethod
    def _ok(res: dict | None) -> bool:
        return bool(res) and "skipped" not in res and "error" not in res

    def _verdict(
        self, dest: str, name: str, value: float | None, op: str, limit: float, text: str
    ) -> str:
        if value is None:
            verdict = "n/a"
        elif op == "<=":
            verdict = "PASS" if value <= limit else "MISS"
        else:
            verdict = "PASS" if value >= limit else "MISS"
        self.targets.append(Target(dest, name, text, verdict, fmt_ratio(value)))
        return verdict

    # -- the table --------------------------------------------------------------------------
    def _lines(self, dest: str, r: dict) -> list[Line]:
        lines: list[Line] = []
        get = lambda case, tool: (r.get(case) or {}).get(tool)  # noqa: E731

        def ratios(case: str, key: str, per_row: str | None = None):
            f, raw, d = (get(case, t) for t in TOOLS)
            fv = f[key] if self._ok(f) else None
            rv = raw[key] if self._ok(raw) else None
            dv = d[key] if self._ok(d) else None
            if per_row and fv is not None and dv is not None:
                fv_row, dv_row = fv / f[per_row], dv / d[per_row]
                return (fv / rv if rv else None), (dv_row / fv_row if fv_row else None)
            return (
                (fv / rv) if fv is not None and rv else None,
                (dv / fv) if dv is not None and fv else None,
            )

        if "cold" in r:
            small = "100-row"
            for key, label in (("wall", "process wall"), ("total", "in-process")):
                fr, df = ratios("cold", key)
                lines.append(
                    Line(
                        f"(1) cold {small} merge, {label}, median",
                        {
                            t: self._cell(
                                dest,
                                "cold",
                                t,
                                get("cold", t),
                                get("cold", t).get(key) if self._ok(get("cold", t)) else None,
                            )
                            for t in TOOLS
                        },
                        fr,
                        df,
                        "freight/raw <= 1.5",
                        self._verdict(
                            dest,
                            f"(1) cold, {label}",
                            fr,
                            "<=",
                            1.5,
                            "cold 100-row merge within 1.5x of raw",
                        ),
                    )
                )
        if "warm" in r:
            fr, df = ratios("warm", "median")
            w = next((v for v in r["warm"].values() if self._ok(v)), {})
            n = f"{w.get('loads', len(w.get('times', ())))} x {w.get('rounds', 1)}" if w else "0"
            lines.append(
                Line(
                    f"(2) warm 100-row merge, median of {n}",
                    {
                        t: self._cell(
                            dest,
                            "warm",
                            t,
                            get("warm", t),
                            get("warm", t).get("median") if self._ok(get("warm", t)) else None,
                        )
                        for t in TOOLS
                    },
                    fr,
                    df,
                    "freight/raw <= 1.5",
                    self._verdict(
                        dest, "(2) warm", fr, "<=", 1.5, "warm 100-row merge within 1.5x of raw"
                    ),
                )
            )
            self._verdict(
                dest, "(2) warm vs dlt", df, ">=", 20, "warm merge at least 20x faster than dlt"
            )
        if "bulk" in r:
            for key, what in (("append", "append"), ("merge", "merge")):
                f = get("bulk", "freight")
                raw = get("bulk", "raw")
                ref = f if self._ok(f) else raw if self._ok(raw) else f or raw or {}
                n = ref.get("rows" if key == "append" else "merge_rows", 0)
                rows_key = "rows" if key == "append" else "merge_rows"
                label = f"(3) {what} {fmt_rows(n)} dicts" if n else f"(3) {what}"
                if key == "merge":
                    label += " (half upd/half new)"
                fr, df = ratios("bulk", key, per_row=rows_key)
                cells = {}
                for t in TOOLS:
                    res = get("bulk", t)
                    val = res.get(key) if self._ok(res) else None
                    suffix = ""
                    if res and res.get(rows_key) and res.get(rows_key) != n:
                        suffix = f" @{fmt_rows(res[rows_key])}*"
                        self._note(
                            f"{dest} {t} bulk ran on {fmt_rows(res[rows_key])} rows (marked *, "
                            f"capped by --dlt-bulk-rows); its ratio compares time per row."
                        )
                    cells[t] = self._cell(dest, "bulk", t, res, val, suffix)
                lines.append(
                    Line(
                        label,
                        cells,
                        fr,
                        df,
                        "freight/raw <= 1.5",
                        self._verdict(
                            dest,
                            f"(3) bulk {what}",
                            fr,
                            "<=",
                            1.5,
                            f"bulk {what} within 1.5x of raw",
                        ),
                    )
                )
            # like for like: raw creates its table with the key (paying for the index in its
            # append), freight's append has no key, so its first merge builds the index
            f, raw = get("bulk", "freight"), get("bulk", "raw")
            if self._ok(f) and self._ok(raw) and f.get("rows") == raw.get("rows"):
                both = {
                    t: res["append"] + res["merge"] for t, res in (("freight", f), ("raw", raw))
                }
                lines.append(
                    Line(
                        "(3) append + merge together (info)",
                        {t: f"{v:.4g}" for t, v in both.items()},
                        both["freight"] / both["raw"],
                    )
                )
        limit = r.get("stream_capped_limit")
        if "stream" in r:
            lines += self._stream_lines(dest, r["stream"], "", judged=not r.get("stream_capped"))
        if r.get("stream_capped"):
            lines += self._stream_lines(
                dest, r["stream_capped"], f", DuckDB memory_limit {limit}", judged=True
            )
        return lines

    def _stream_lines(self, dest: str, runs: dict, suffix: str, judged: bool) -> list[Line]:
        """(4): peak RSS of the streamed appends, their ratio, and (info) the same less the
        table blocks DuckDB's buffer manager keeps cached after writing them (it evicts them
        only under its memory_limit, 80% of RAM by default). ``judged``: these runs carry
        the verdict (the capped ones when they ran: what freight itself holds)."""
        lines: list[Line] = []
        peaks: dict[str, dict[int, float]] = {}
        for tool, res in runs.items():
            if self._ok(res):
                peaks[tool] = {int(k): v["peak_rss_mb"] for k, v in res.items()}
            else:
                self._cell(dest, "stream", tool, res, None)  # records the reason
        sizes = sorted({n for p in peaks.values() for n in p})
        for n in sizes:
            lines.append(
                Line(
                    f"(4) streamed append {fmt_rows(n)}{suffix}: peak RSS MB",
                    {t: f"{p[n]:.0f}" for t, p in peaks.items() if n in p},
                )
            )
        ratio = {t: p[max(p)] / p[min(p)] for t, p in peaks.items() if len(p) == 2}
        label = (
            f"(4) peak RSS {fmt_rows(sizes[-1])} / {fmt_rows(sizes[0])}{suffix}"
            if len(sizes) == 2
            else f"(4) streamed append peak RSS{suffix}"
        )
        cells = {t: f"{v:.2f}x" for t, v in ratio.items()}
        for t in ("freight", "raw"):
            if t not in cells:
                cells[t] = self._cell(dest, "stream", t, runs.get(t), None)
        if judged:
            lines.append(
                Line(
                    label,
                    cells,
                    None,
                    None,
                    "freight ratio <= 1.3 (flat)",
                    self._verdict(
                        dest,
                        "(4) flat RSS",
                        ratio.get("freight"),
                        "<=",
                        1.3,
                        f"streamed append memory flat (big peak within 1.3x of base{suffix})",
                    ),
                )
            )
        else:
            lines.append(Line(label + " (info)", cells))
        own: dict[str, dict[int, float]] = {}
        for tool, res in runs.items():
            if self._ok(res) and all(v.get("duckdb_buffer_mb") is not None for v in res.values()):
                own[tool] = {
                    int(k): v["peak_rss_mb"] - v["duckdb_buffer_mb"] for k, v in res.items()
                }
        if any(len(p) == 2 for p in own.values()):
            lines.append(
                Line(
                    f"(4) same{suffix}, less DuckDB's buffer pool (info)",
                    {t: f"{p[max(p)] / p[min(p)]:.2f}x" for t, p in own.items() if len(p) == 2},
                )
            )
        return lines

    # -- rendering --------------------------------------------------------------------------
    HEAD = (
        "case",
        "freight s",
        "raw s",
        "dlt s",
        "freight/raw",
        "dlt/freight",
        "target",
        "verdict",
    )

    def _rows(self, dest: str) -> list[tuple[str, ...]]:
        return [
            (
                ln.label,
                ln.cells.get("freight", ""),
                ln.cells.get("raw", ""),
                ln.cells.get("dlt", ""),
                fmt_ratio(ln.freight_raw) if ln.freight_raw else "",
                fmt_ratio(ln.dlt_freight) if ln.dlt_freight else "",
                ln.target,
                ln.verdict,
            )
            for ln in self.sections[dest]
        ]

    def text(self) -> str:
        out = []
        for dest in self.sections:
            rows = [self.HEAD, *self._rows(dest)]
            widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEAD))]
            out.append(f"\n{DEST_TITLE[dest]}")
            for j, row in enumerate(rows):
                cells = [row[0].ljust(widths[0])] + [
                    c.rjust(w) for c, w in zip(row[1:6], widths[1:6], strict=True)
                ]
                cells += [row[6].ljust(widths[6]), row[7]]
                out.append("  ".join(cells).rstrip())
                if j == 0:
                    out.append("  ".join("-" * w for w in widths))
        out.append("\nTargets")
        for t in self.targets:
            out.append(f"  {t.verdict:4}  {DEST_TITLE[t.dest]} {t.name}: {t.text} ({t.value})")
        if self.notes:
            out.append("\nNotes")
            out.extend(f"  {n}" for n in self.notes)
        out.append("\nDetails")
        out.extend("  " + d for d in self.details())
        return "\n".join(out)

    def markdown(self, meta: dict | None = None) -> str:
        out = []
        if meta:
            m, v = meta["machine"], meta["versions"]
            out.append(
                f"Run {meta['started'][:16].replace('T', ' ')} UTC: `{meta['command']}` "
                f"({meta['seconds']:.0f}s; load average {m['load_avg'][0]:.2f} at the start, "
                f"{meta['load_avg_end'][0]:.2f} at the end).\n"
            )
            out.append(
                f"Machine: {m.get('nproc')} CPUs ({m.get('cpu', '?')}), "
                f"{m.get('ram_gib', '?')} GiB RAM, {m['platform']}, Python {m['python']}.\n"
            )
            out.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
        for dest in self.sections:
            out.append(f"\n### {DEST_TITLE[dest]}\n")
            out.append("| " + " | ".join(self.HEAD) + " |")
            out.append("|" + "|".join(["---"] + ["---:"] * 5 + ["---", "---"]) + "|")
            for row in self._rows(dest):
                out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        out.append("\n### Targets\n")
        out.append("| destination | target | value | verdict |")
        out.append("|---|---|---:|---|")
        for t in self.targets:
            out.append(
                f"| {DEST_TITLE[t.dest]} | {t.name}: {t.text} | {t.value} | **{t.verdict}** |"
            )
        if self.notes:
            out.append("\nNotes:\n")
            out.extend(f"- {n}" for n in self.notes)
        out.append("\n### Details\n")
        out.extend(f"- {d}" for d in self.details())
        return "\n".join(out) + "\n"

    def details(self) -> list[str]:
        d: list[str] = []
        ms = lambda x: f"{x * 1000:.1f}ms"  # noqa: E731
        for dest, r in self.results.items():
            title = DEST_TITLE[dest]
            for tool, res in (r.get("cold") or {}).items():
                if self._ok(res):
                    check = _check(res)
                    d.append(
                        f"{title} cold {tool}: wall {ms(res['wall'])} = import {ms(res['import'])} + "
                        f"connect {ms(res['connect'])} + load {ms(res['load'])} + close {ms(res['close'])} "
                        f"+ interpreter/spawn {ms(res['wall'] - res['total'])} (medians of {res['runs']}); "
                        f"walls {', '.join(ms(w) for w in res['walls'])}; rows {check}"
                        + _counts(res.get("detail"))
                    )
            for tool, res in (r.get("warm") or {}).items():
                if self._ok(res):
                    check = _check(res)
                    rounds = ", ".join(ms(x) for x in res.get("round_medians", ()))
                    d.append(
                        f"{title} warm {tool}: median {ms(res['median'])}, min {ms(res['min'])}, "
                        f"first {ms(res['first'])}, mean {ms(statistics.mean(res['times']))}; "
                        f"round medians {rounds or '-'}; "
                        f"rows {check}" + _counts(res.get("detail"))
                    )
            for tool, res in (r.get("bulk") or {}).items():
                if self._ok(res):
                    check = _check(res)
                    d.append(
                        f"{title} bulk {tool}: append {res['rows'] / res['append']:,.0f} rows/s, "
                        f"merge {res['merge_rows'] / res['merge']:,.0f} rows/s, process peak RSS "
                        f"{res['peak_rss_mb']:.0f} MB (includes the input lists); rows {check}"
                        + _counts(res.get("merge_detail"), "merge")
                    )
            capped = f", DuckDB memory_limit {r.get('stream_capped_limit')}"
            for key, suffix in (("stream", ""), ("stream_capped", capped)):
                for tool, res in (r.get(key) or {}).items():
                    if not self._ok(res):
                        continue
                    for n, v in sorted(((int(k), v) for k, v in res.items())):
                        d.append(
                            f"{title} stream {tool} {fmt_rows(n)}{suffix}: {v['seconds']:.1f}s "
                            f"({n / v['seconds']:,.0f} rows/s), RSS before load "
                            f"{v['baseline_rss_mb']:.0f} MB, peak {v['peak_rss_mb']:.0f} MB, "
                            f"DuckDB buffer pool at the end {v.get('duckdb_buffer_mb') or 0:.0f} MB, "
                            f"rows {'ok' if v['count'] == n else v['count']}"
                        )
        return d


def _check(res: dict) -> str:
    """Whether a case's table ended with the rows it should hold."""
    if res["count"] == res["expected"]:
        return "ok"
    return f"MISMATCH {res['count']} != {res['expected']}"


def _counts(detail: dict | None, what: str = "last load") -> str:
    if not detail or "inserted" not in detail:
        return ""
    return (
        f"; freight {what}: inserted {detail['inserted']}, updated {detail['updated']}, "
        f"unchanged {detail['unchanged']}"
    )
