"""Analytics benchmark: the full nightly recompute on 100k customers and 1M invoices, and the
BG/NBD fit on the CDNOW master file against the `lifetimes` package.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
        .venv/bin/python bench/analytics.py [--customers 100000 --invoices 1000000] [--quick]

Builds its own database (`--database`, default kehu_bench_analytics: dropped and created again as
the owner role of DATABASE_URL) with the aging benchmark's generator and COPY loader
(`bench/aging.py`: customers with power-law invoice counts over two years, lognormal amounts, 5 %
in USD with a rate for every day, payments and allocations, some invoices open and overdue).

Then, in a fresh child process (so its peak memory is the recompute's own, not the generator's),
inside the tenant (the app role, under row-level security):

1. **first night**: `analytics_recompute` for today, when every customer's class, segment and
   lifecycle stage is new (so every customer row, class change, timeline note and audit event is
   written);
2. **next night**: the same for the next day, when few figures change (the steady state);
3. the stages of one more recompute timed one by one (load, compute by step, write).

Peak resident memory of the child (`ru_maxrss`) is reported with the times.
Target (docs/performance.md): the full recompute within 30 s and 2 GB.

Finally `bench/cdnow.py` fits BG/NBD on the CDNOW master file (23,570 customers) with our code and
with `lifetimes` installed in the benchmark's own virtualenv (`var/bench-lifetimes-venv`, never a
project dependency): same parameters to three significant figures, and no slower.
Prints a table and merges its figures into bench/results.json under "analytics".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

TARGET_SECONDS = 30
TARGET_GIB = 2.0


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def measure(database_url: str) -> dict[str, Any]:
    """Runs in the child process: the recomputes and their stages."""
    _common.django_setup(database_url)
    from django.db import connection, transaction

    from analytics import runs
    from analytics.compute import compute
    from analytics.ledger import ledger_load
    from analytics.models import AnalyticsRun, ClassChange, CustomerAnalytics
    from finance import tenancy
    from finance.actors import Actor
    from finance.db import owner_mode
    from finance.models import Organization

    org = Organization.objects.get(slug="bench")
    actor = Actor.system(org)
    today = org.local_today()
    figures: dict[str, Any] = {"rss_at_start_gib": round(_rss_gib(), 2)}
    tables = ["analytics_customeranalytics", "analytics_classchange", "crm_customer", "crm_interaction"]
    # A first night again, also with --reuse: inside the tenant (row-level security lets the app
    # role see and delete the organization's rows; the owner would see none under FORCE).
    with tenancy.tenant(org), transaction.atomic(), connection.cursor() as cursor:
        for statement in (
            "DELETE FROM analytics_customeranalytics",
            "DELETE FROM analytics_classchange",
            "DELETE FROM analytics_churnalert",
            "DELETE FROM analytics_analyticsrun",
            "DELETE FROM crm_interaction",
            "UPDATE crm_customer SET abc_class = '', lifecycle_stage = 'prospect'",
        ):
            cursor.execute(statement)
        # The audit log is append-only for the app role (docs/security.md): its rows and their
        # seals go as the owner, still inside the tenant (FORCE row-level security applies).
        with owner_mode():
            cursor.execute("DELETE FROM finance_auditseal")
            cursor.execute("DELETE FROM finance_auditevent")
    _common.analyze_tables([*tables, "finance_auditevent"], vacuum=True)
    with tenancy.tenant(org):
        for name, day in (("first_night", today), ("next_night", today + datetime.timedelta(days=1))):
            if name == "next_night":  # autovacuum's work between two nights
                _common.analyze_tables(tables, vacuum=True)
            started = time.perf_counter()
            run = runs.analytics_recompute(actor=actor, run_date=day)
            seconds = time.perf_counter() - started
            figures[name] = {
                "seconds": round(seconds, 1),
                "peak_rss_gib": round(_rss_gib(), 2),
                "customers": run.customers,
                "invoices": run.invoices,
                "status": run.status,
            }
            print(f"  {name:<12} {seconds:6.1f} s  peak RSS {_rss_gib():.2f} GiB", flush=True)
        figures["models_fit"] = run.models_fit
        figures["warnings"] = run.warnings
        figures["segments"] = run.summary.get("segments")
        figures["lifecycle"] = run.summary.get("lifecycle")
        figures["class_changes"] = ClassChange.objects.count()
        figures["runs"] = AnalyticsRun.objects.count()
        assert figures["class_changes"] >= figures["first_night"]["customers"] // 2, (
            "the first night wrote nothing"
        )
        figures["customer_rows"] = CustomerAnalytics.objects.count()

        stages: dict[str, float] = {}
        started = time.perf_counter()
        ledger = ledger_load(today + datetime.timedelta(days=2))
        stages["load"] = time.perf_counter() - started
        marks: list[tuple[str, float]] = [("start", time.perf_counter())]
        result = compute(
            ledger, runs.params_of_policy(), lambda label: marks.append((label, time.perf_counter()))
        )
        marks.append(("end", time.perf_counter()))
        for (label, at), (_next, until) in zip(marks[1:], marks[2:], strict=False):
            stages[f"compute.{label}"] = until - at
        stages["compute"] = marks[-1][1] - marks[0][1]
        _common.analyze_tables(tables, vacuum=True)
        run, _created = AnalyticsRun.objects.get_or_create(date=today + datetime.timedelta(days=2))
        started = time.perf_counter()
        with transaction.atomic():
            runs._write(actor=actor, run=run, result=result, run_date=run.date)
        stages["write"] = time.perf_counter() - started
        figures["stages_s"] = {k: round(v, 2) for k, v in stages.items()}
        figures["peak_rss_gib"] = round(_rss_gib(), 2)
    connection.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="10k customers, 100k invoices")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument(
        "--database", default="kehu_bench_analytics", help="the bench's own database (dropped!)"
    )
    parser.add_argument("--reuse", action="store_true", help="measure the data of a previous --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--skip-cdnow", action="store_true", help="leave out the CDNOW comparison")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.quick:
        args.customers, args.invoices = 10_000, 100_000
    url = _common.bench_database_url(args.database)
    if args.measure:
        print("RESULT " + json.dumps(measure(url), default=str), flush=True)
        return

    import aging

    reuse = args.reuse and _common.database_exists(url)
    if not reuse:
        _common.recreate_database(url)
    figures: dict[str, Any] = {}
    _common.django_setup(url)
    if not reuse:
        from django.core.management import call_command

        from finance.services import organization_create

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        org = organization_create(
            slug="bench", name="Bench", base_currency="CNY", timezone_name="Asia/Shanghai"
        )
        print(f"Generating {args.customers:,} customers, {args.invoices:,} invoices ...", flush=True)
        data = aging.Dataset(
            customers=args.customers,
            invoices=args.invoices,
            today=org.local_today(),
            seed=args.seed,
            foreign_share=0.05,
        )
        print(f"  generated in {time.perf_counter() - started:.1f} s; loading with COPY:", flush=True)
        aging.load(org, data)
        figures.update(customers=args.customers, invoices=args.invoices, payments=len(data.payments))
        del data
        from django.db import connection

        connection.close()

    print("Recomputing in a child process:", flush=True)
    child = subprocess.run(
        [sys.executable, __file__, "--measure", "--database", args.database],
        env={**os.environ},
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(
        "".join(line + "\n" for line in child.stdout.splitlines() if not line.startswith("RESULT "))
    )
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        sys.exit(f"The measuring process failed ({child.returncode}).")
    result = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
    figures.update(json.loads(result.removeprefix("RESULT ")))
    worst = max(figures["first_night"]["seconds"], figures["next_night"]["seconds"])
    figures["target"] = {"seconds": TARGET_SECONDS, "gib": TARGET_GIB}
    figures["target_met"] = worst <= TARGET_SECONDS and figures["peak_rss_gib"] <= TARGET_GIB

    if not args.skip_cdnow:
        import cdnow

        print("CDNOW master: our BG/NBD against lifetimes ...", flush=True)
        figures["cdnow"] = cdnow.run()

    figures["machine"] = _common.machine(_common.postgres_version())
    rows = [
        ("figure", "value", "target"),
        (
            "first night (every class new)",
            f"{figures['first_night']['seconds']:.1f} s",
            f"≤ {TARGET_SECONDS} s",
        ),
        ("next night (steady state)", f"{figures['next_night']['seconds']:.1f} s", f"≤ {TARGET_SECONDS} s"),
        ("peak memory (child process)", f"{figures['peak_rss_gib']:.2f} GiB", f"≤ {TARGET_GIB:g} GiB"),
    ]
    rows += [(f"  {stage}", f"{seconds:.2f} s", "") for stage, seconds in figures["stages_s"].items()]
    if "cdnow" in figures:
        ours, theirs = figures["cdnow"]["ours"], figures["cdnow"]["lifetimes"]
        rows += [
            ("CDNOW BG/NBD fit, ours", f"{ours['fit_seconds']:.3f} s", "≤ lifetimes"),
            ("CDNOW BG/NBD fit, lifetimes", f"{theirs['fit_seconds']:.3f} s", ""),
            ("same parameters (3 s.f.)", str(figures["cdnow"]["same_3_significant_figures"]), "True"),
        ]
    print(_common.table(rows))
    _common.write_results("analytics" if not args.quick else "analytics_quick", figures)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _common.drop_database(url)


if __name__ == "__main__":
    main()
