"""Write the table of every issue-9 figure against its target, from bench/results.json, into
docs/performance.md between its `<!-- bench:table -->` and `<!-- /bench:table -->` markers.

    .venv/bin/python bench/report.py [--check]

`make bench` runs it last. Each row names the bench and the key its figures came from, the
machine they were measured on and the date; a figure no bench has written yet says so. `--check`
prints the table without writing it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:table -->", "<!-- /bench:table -->"

Row = tuple[str, str, str, str]  # figure, target, result, met


def _machine(figures: dict[str, Any]) -> str:
    machine = figures.get("machine") or {}
    postgres = f" PostgreSQL {str(machine['postgresql']).split(' ')[0]}," if machine.get("postgresql") else ""
    return (
        f"{machine.get('nproc', '?')} cores {machine.get('cpu', '?')}, {machine.get('ram_gib', '?')} GiB,"
        f"{postgres} Python {machine.get('python', '?')}"
    )


def _yes(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def dataset(f: dict[str, Any]) -> list[Row]:
    parts = f.get("generate_parts_s", {})
    return [
        (
            "Data generation with COPY: one organization of {customers:,} customers, {invoices:,} invoices,"
            " {payments:,} payments, {allocations:,} allocations, {interactions:,} interactions, and"
            " {small_organizations} small organizations".format(**f),
            "< 120 s",
            f"{f['generate_s']:.1f} s (of which adding the foreign keys back and checking them: "
            f"{parts.get('foreign_keys', 0):.1f} s)",
            _yes(f["generate_s"] < 120),
        )
    ]


def aging(f: dict[str, Any]) -> list[Row]:
    current, baseline = f["current_aging"]["best_s"], f["baseline_sql"]["best_s"]
    historical, hist_base = f["historical_aging"]["best_s"], f["historical_baseline_sql"]["best_s"]
    return [
        (
            f"Current aging, {f['invoices']:,} invoices, against a raw SQL aggregate in the same run",
            "≤ 2× raw SQL",
            f"{current:.2f} s = {f['current_vs_baseline']:.2f}× the raw SQL ({baseline:.2f} s)",
            _yes(f["targets"]["current_aging_le_2x_baseline"]),
        ),
        (
            f"Historical aging as of {f['as_of_historical']}",
            "≤ 2 s",
            f"{historical:.2f} s ({historical / hist_base:.2f}× its raw SQL, {hist_base:.2f} s)",
            _yes(f["targets"]["historical_aging_le_2s"]),
        ),
    ]


def bulk_import(f: dict[str, Any]) -> list[Row]:
    result = f"{f['invoices_per_s']:,} invoices/s ({f['invoices']:,} in batches of {f['batch_size']:,})"
    if "copy_baseline" in f:
        result += (
            f"; COPY of the same invoices {f['copy_baseline']['invoices_per_s']:,}/s:"
            f" HTTP is {f['http_vs_copy']:.1%} of COPY"
        )
    return [("ERP bulk import over HTTP, gunicorn -w 2", "≥ 5,000 invoices/s", result, _yes(f["target_met"]))]


def api(f: dict[str, Any]) -> list[Row]:
    endpoints = f["endpoints"]
    bare = endpoints["bare Django JSON view"]
    lists = {name: r for name, r in endpoints.items() if name.endswith("(50)")}
    details = {name: r for name, r in endpoints.items() if name.endswith("{id}/")}
    generator = f.get("load_generator", "python threads")
    list_text = "; ".join(
        f"{name.removeprefix('GET ').removesuffix(' (50)')} p95 {_ms(r['p95_ms'])}"
        f" ({r['requests_per_s']:,.0f}/s, {r['p95_vs_bare']}× bare)"
        for name, r in lists.items()
    )
    detail_text = "; ".join(
        f"{name.removeprefix('GET ')} p50 {_ms(r['p50_ms'])}, p95 {_ms(r['p95_ms'])}"
        f" ({r['requests_per_s']:,.0f}/s)"
        for name, r in details.items()
    )
    clients = f"{f['concurrency']} clients ({generator}), gunicorn -w {f['gunicorn_workers']}"
    return [
        (
            f"List API, pages of 50, {clients}",
            "p95 ≤ 100 ms",
            f"{list_text}; bare Django JSON view p95 {_ms(bare['p95_ms'])} ({bare['requests_per_s']:,.0f}/s)",
            _yes(f["worst_list_p95_ms"] <= f["target_list_p95_ms"]),
        ),
        (f"Detail API, {clients}", "(none)", detail_text, "—"),
        (
            "Peak memory of the web processes",
            "(none)",
            ", ".join(f"{name} {mib} MiB" for name, mib in f["web_peak_rss_mib"].items()),
            "—",
        ),
    ]


def credit(f: dict[str, Any]) -> list[Row]:
    http = f.get("http", {})
    loops, offered = http.get("closed_loop", {}), http.get("open_loop", {})
    if not loops:
        return []
    runs = [
        f"{c} client{'s' if c != '1' else ''}: p95 {_ms(r['check']['p95_ms'])}"
        f" ({r['check']['requests_per_s']:,.0f}/s)"
        for c, r in sorted(loops.items(), key=lambda item: int(item[0]))
    ]
    runs += [
        f"{rate} checks/s offered (open loop): p95 {_ms(r['check']['p95_ms'])}"
        for rate, r in sorted(offered.items(), key=lambda item: float(item[0]))
    ]
    selector = f["selector"]
    queries = selector["queries_per_call"]
    if isinstance(queries, dict):  # {queries: calls}
        counts = sorted(int(n) for n in queries)
        queries = f"{counts[0]}–{counts[-1]}" if counts[0] != counts[-1] else str(counts[0])
    steady = all((f.get("target_met_open_loop") or {"": False}).values()) and f.get("target_met_one_client")
    saturated = f["target_met"]
    met = (
        "yes"
        if steady and saturated
        else (
            f"yes below saturation; **no** at {f['target_concurrency']} saturating clients"
            if steady
            else "**no**"
        )
    )
    return [
        (
            f"Credit check over HTTP (`POST /api/v1/credit/check/`), {f['customers']:,} customers",
            f"p95 ≤ {f['target_p95_ms']} ms",
            f"{'; '.join(runs)}; the check in process p50 {_ms(selector['p50_ms'])},"
            f" p95 {_ms(selector['p95_ms'])}, {queries} queries",
            met,
        )
    ]


def dunning(f: dict[str, Any]) -> list[Row]:
    first, second = f["first_run"], f["second_run"]
    return [
        (
            f"Dunning run, {f['invoices']:,} overdue invoices of {f['customers']:,} customers",
            "≤ 60 s",
            f"{first['seconds']:.1f} s ({first['result']['recorded']:,} reminders); the second run"
            f" sends {second['emails_sent']} in {second['seconds']:.1f} s",
            _yes(all(f["targets"].values())),
        )
    ]


def analytics(f: dict[str, Any]) -> list[Row]:
    first, following = f["first_night"], f["next_night"]
    return [
        (
            f"Analytics recompute, {first['customers']:,} customers / {first['invoices']:,} invoices",
            f"≤ {f['target']['seconds']} s, ≤ {f['target']['gib']:g} GiB",
            f"{first['seconds']:.1f} s first night, {following['seconds']:.1f} s the next;"
            f" {f['peak_rss_gib']:.2f} GiB peak",
            _yes(f["target_met"]),
        )
    ]


def fanout(f: dict[str, Any]) -> list[Row]:
    return [
        (
            f"Scheduler fan-out, {f['organizations']} organizations × {f['jobs_per_organization']} jobs,"
            f" {f['workers']} Celery workers",
            "completes; one failure stops no other",
            f"{f['done'] + f['failed']:,} jobs in {f['elapsed_s']:.1f} s ({f['jobs_per_s']:.0f}/s);"
            f" {f['failed']} failed (the broken organization's), isolated: {f['failure_isolated']};"
            f" worker peak {', '.join(str(m) for m in f['worker_peak_rss_mib'])} MiB",
            _yes(f["complete"] and f["failure_isolated"]),
        )
    ]


def calibration(f: dict[str, Any]) -> list[Row]:
    before, after = f["before"], f["after"]
    return [
        (
            "Machine speed during the run (fixed work: a Python loop; a PostgreSQL sum over 5M generated"
            " rows; best of 3), before and after the benches",
            "(none)",
            f"Python {before['python_loop_s']:.2f} s → {after['python_loop_s']:.2f} s;"
            f" PostgreSQL {before['postgres_series_s']:.2f} s → {after['postgres_series_s']:.2f} s",
            "—",
        )
    ]


SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], list[Row]]]] = [
    ("calibration", "run.py", calibration),
    ("dataset", "api.py --generate-only", dataset),
    ("aging", "aging.py", aging),
    ("import", "import.py", bulk_import),
    ("api", "api.py", api),
    ("credit_check", "credit.py", credit),
    ("dunning", "dunning.py", dunning),
    ("analytics", "analytics.py", analytics),
    ("fanout", "fanout.py", fanout),
]


def table(results: dict[str, Any]) -> str:
    lines = [
        "| Figure | Target | Result | Met | Bench (results key) | Machine | Date |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, bench, rows_of in SECTIONS:
        figures = results.get(key)
        if figures is None:
            lines.append(f"| (not measured yet) | | | | `{bench}` (`{key}`) | | |")
            continue
        for figure, target, result, met in rows_of(figures):
            cells = [figure, target, result, met, f"`{bench}` (`{key}`)", _machine(figures)]
            lines.append(f"| {' | '.join(cells)} | {str(figures.get('date', ''))[:10]} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="print the table, write nothing")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    rendered = table(results)
    if args.check:
        print(rendered)
        return
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.exit(f"{DOC} has no {START} … {END} markers.")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{rendered}\n{END}{tail}", encoding="utf-8")
    print(f"Wrote the table of {len(rendered.splitlines()) - 2} figures into {DOC.relative_to(ROOT)}.")


if __name__ == "__main__":
    main()
