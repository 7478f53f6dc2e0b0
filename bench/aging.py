"""Aging benchmark: one organization with 100k customers, 1M invoices and ~1M allocations.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
        .venv/bin/python bench/aging.py [--customers 100000 --invoices 1000000] [--quick]

Builds its own database (`--database`, default kehu_bench: dropped and created again as the owner
role of DATABASE_URL), migrates it, creates the organization with the ORM and loads customers,
invoices, payments and allocations with COPY. Then, in the same run and inside the tenant (so as
the app role, under row-level security), times best of `--repeat`:

- current aging: `aging_report(organization=org, as_of=today)`
- historical aging: `aging_report(organization=org, as_of=<6 months ago>)`
- raw SQL baseline: open amount (total − allocations) per customer, one hand-written query
- for comparison, today's report forced to add up allocations, as a back-dated one does (it reads
  the documents' running totals when nothing is allocated after its date), and the baseline
  as of 6 months ago; each report is checked against its baseline's amounts.

Targets (docs/performance.md): current aging ≤ 2× the baseline; historical aging ≤ 2 s.
Prints a table and merges its figures into bench/results.json under "aging".

PostgreSQL refuses `COPY FROM` into a table with row-level security, so each table is loaded by
COPY into a temporary staging table, then `INSERT … SELECT` into the real table under the tenant
setting: every row passes the policy's WITH CHECK (organization_id = kehu.org_id) and the tables'
CHECK constraints (the denormalised `allocated_total` columns equal the allocations loaded).
"""

from __future__ import annotations

import argparse
import datetime
import io
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

CHUNK = 4 * 1024 * 1024  # characters per COPY write


def months_ago(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- Data -------------------------------------------------------------------------------------


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class Dataset:
    """Deterministic (seeded) ledger, kept as COPY text per staging table.

    - Customers: `foreign_share` of them invoice in USD (daily USD rates are loaded), the rest in
      the base currency CNY. Invoices per customer are skewed (a few large accounts).
    - Invoices: issued over the last two years, net 30 or 60; ids in issue-date order, as an ERP
      feed would insert them.
    - Each invoice is paid on its due date ± lateness (92 %: in full, 12 % of those in two parts;
      4 %: a part only; 4 %: never); nothing is allocated after today, so recent invoices are open.
    - Payments group 1–4 allocations of one customer made within two weeks; 3 % carry unapplied
      cash on top. Allocations are dated on their payment's date.
    """

    def __init__(
        self, *, customers: int, invoices: int, today: datetime.date, seed: int, foreign_share: float
    ) -> None:
        self.today = today
        rng = random.Random(seed)
        start = today - datetime.timedelta(days=730)
        start_ord, today_ord = start.toordinal(), today.toordinal()
        self.rate_start = start - datetime.timedelta(days=31)
        self._dates: dict[int, str] = {}

        counts = [0] * customers
        for _ in range(invoices):
            counts[int(customers * rng.random() ** 1.6)] += 1
        currency = ["USD" if rng.random() < foreign_share else "CNY" for _ in range(customers)]
        groups = ["A", "B", "C", "", ""]
        self.customers = [
            (c + 1, f"C{c + 1:07d}", f"Customer {c + 1:07d}", currency[c], groups[c % 5])
            for c in range(customers)
        ]

        # (issue, due, customer, cents, currency, allocations as ((day, cents), ...))
        documents: list[tuple[int, int, int, int, str, tuple[tuple[int, int], ...]]] = []
        for c in range(customers):
            for _ in range(counts[c]):
                issue = start_ord + rng.randrange(731)
                due = issue + (30 if rng.random() < 0.7 else 60)
                cents = max(100, int(rng.lognormvariate(8.9, 1.0) * 100))
                pay_day = max(issue, due + int(rng.gauss(7, 25)))
                fate = rng.random()
                allocations: tuple[tuple[int, int], ...] = ()
                if fate < 0.92:
                    if rng.random() < 0.12:
                        first = max(1, cents * rng.randint(30, 70) // 100)
                        allocations = ((issue + (pay_day - issue) // 2, first), (pay_day, cents - first))
                    else:
                        allocations = ((pay_day, cents),)
                elif fate < 0.96:
                    allocations = ((pay_day, max(1, cents * rng.randint(20, 80) // 100)),)
                allocations = tuple(a for a in allocations if a[0] <= today_ord)
                documents.append((issue, due, c + 1, cents, currency[c], allocations))
        documents.sort(key=itemgetter(0))
        self.invoices = documents

        # Allocations with their invoice id, grouped by customer and date into payments.
        flat = sorted(
            (doc[2], day, invoice_id, cents)
            for invoice_id, doc in enumerate(documents, start=1)
            for day, cents in doc[5]
        )
        payments: list[list[Any]] = []  # [day, customer, cents, allocated cents, currency, allocs]
        open_payment: list[Any] | None = None
        for customer, day, invoice_id, cents in flat:
            if (
                open_payment is None
                or open_payment[1] != customer
                or len(open_payment[5]) >= open_payment[6]
                or day - open_payment[7] > 14
                or any(a[0] == invoice_id for a in open_payment[5])
            ):
                open_payment = [day, customer, 0, 0, currency[customer - 1], [], rng.randint(1, 4), day]
                payments.append(open_payment)
            open_payment[0] = max(open_payment[0], day)
            open_payment[3] += cents
            open_payment[5].append((invoice_id, cents))
        for payment in payments:
            payment[2] = payment[3]
            if rng.random() < 0.03:
                payment[2] += max(100, payment[3] * rng.randint(1, 20) // 100)
        payments.sort(key=itemgetter(0))
        self.payments = payments
        self.allocation_count = len(flat)

    def _date(self, ordinal: int) -> str:
        text = self._dates.get(ordinal)
        if text is None:
            text = self._dates[ordinal] = datetime.date.fromordinal(ordinal).isoformat()
        return text

    def customer_rows(self) -> Iterable[str]:
        for pk, external_id, name, currency, group in self.customers:
            yield f"{pk}\t{external_id}\t{name}\t{currency}\t{group}\n"

    def invoice_rows(self) -> Iterable[str]:
        date = self._date
        for pk, (issue, due, customer, cents, currency, allocations) in enumerate(self.invoices, start=1):
            allocated = sum(a[1] for a in allocations)
            yield (
                f"{pk}\t{customer}\tINV{pk:08d}\tINV-{pk:08d}\t{currency}\t{date(issue)}\t{date(due)}"
                f"\t{money(cents)}\t{money(allocated)}\n"
            )

    def payment_rows(self) -> Iterable[str]:
        date = self._date
        for pk, (day, customer, cents, allocated, currency, *_rest) in enumerate(self.payments, start=1):
            yield (
                f"{pk}\t{customer}\tPAY{pk:08d}\t{currency}\t{date(day)}"
                f"\t{money(cents)}\t{money(allocated)}\n"
            )

    def allocation_rows(self) -> Iterable[str]:
        date = self._date
        pk = 0
        for payment_id, payment in enumerate(self.payments, start=1):
            day = date(payment[0])
            for invoice_id, cents in payment[5]:
                pk += 1
                yield f"{pk}\t{invoice_id}\t{payment_id}\t{money(cents)}\t{day}\n"

    def rate_rows(self) -> Iterable[str]:
        rng = random.Random(7)
        rate = 7.1
        day = self.rate_start
        pk = 0
        while day <= self.today:
            pk += 1
            rate = max(6.5, min(7.6, rate + rng.uniform(-0.02, 0.02)))
            yield f"{pk}\tUSD\t{day.isoformat()}\t{rate:.6f}\n"
            day += datetime.timedelta(days=1)


# --- Loading ----------------------------------------------------------------------------------

# table: (staged columns, {other column: SQL value}); %(org)s is the organization's id.
TABLES: dict[str, tuple[list[str], dict[str, str]]] = {
    "crm_customer": (
        ["id", "external_id", "name", "currency", "customer_group"],
        {
            "legal_name": "''",
            "tax_id": "''",
            "tax_id_index": "''",
            "bank_account": "''",
            "country": "'CN'",
            "email": "''",
            "phone": "''",
            "billing_address": "''",
            "industry": "''",
            "lifecycle_stage": "'repeat'",
            "status": "'active'",
            "tags": "'[]'::jsonb",
            "notes": "''",
            "abc_class": "''",
            "risk_class": "''",
            "loyalty_tier": "''",
            "created_at": "now()",
            "updated_at": "now()",
        },
    ),
    "receivables_exchangerate": (["id", "currency", "date", "rate"], {}),
    "receivables_invoice": (
        [
            "id",
            "customer_id",
            "external_id",
            "number",
            "currency",
            "issue_date",
            "due_date",
            "total",
            "allocated_total",
        ],
        {"description": "''", "written_off_total": "0", "created_at": "now()"},
    ),
    "receivables_payment": (
        ["id", "customer_id", "external_id", "currency", "received_on", "amount", "allocated_total"],
        {"method": "'bank_transfer'", "reference": "''", "created_at": "now()"},
    ),
    "receivables_allocation": (
        ["id", "invoice_id", "payment_id", "amount", "allocated_on"],
        {"created_at": "now()"},
    ),
}


def copy_table(cursor: Any, table: str, org_id: int, rows: Iterable[str]) -> int:
    """COPY into a staging table, then INSERT … SELECT into `table` (row-level security applies)."""
    columns, constants = TABLES[table]
    stage = f"bench_stage_{table}"
    column_list = ", ".join(columns)
    cursor.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"
    )
    count = 0
    with cursor.copy(f"COPY {stage} ({column_list}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write(row)
            count += 1
            if buffer.tell() >= CHUNK:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    targets = ["organization_id", *columns, *constants]
    values = [str(int(org_id)), *columns, *constants.values()]
    cursor.execute(f"INSERT INTO {table} ({', '.join(targets)}) SELECT {', '.join(values)} FROM {stage}")
    return count


@contextmanager
def foreign_keys_dropped(org: Any, tables: Iterable[str], seconds: dict[str, float]) -> Iterator[None]:
    """Drop the foreign keys of `tables` for the block and add them back after it, as the owner.

    PostgreSQL's advice for a bulk load ("Populating a Database: remove foreign key constraints"):
    adding a foreign key back checks every row in one join, where a deferred key queues a trigger
    event per row and runs one lookup for each at commit (43 s of the two minutes for 3M rows).

    The keys are added back inside the tenant of `org`, whose rows the block loaded: under FORCE
    row-level security PostgreSQL's check of a new foreign key sees only the rows the policies let
    the owner see, so without a tenant it would see none and accept anything (tried: a child row
    pointing nowhere was accepted). Inside the tenant every loaded row is checked against the
    parents it may reference (its own organization's); a violation stops the bench."""
    from django.db import connection

    from finance import tenancy
    from finance.db import owner_mode

    with owner_mode(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY conrelid, conname",
            [list(tables)],
        )
        keys = cursor.fetchall()
        for table, name, _definition in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    try:
        yield
    finally:
        started = time.perf_counter()
        with tenancy.tenant(org), owner_mode(), connection.cursor() as cursor:
            for table, name, definition in keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        seconds["foreign_keys"] = time.perf_counter() - started
        print(f"  foreign keys (added back, checked)   {seconds['foreign_keys']:6.1f} s", flush=True)


def load(org: Any, data: Dataset) -> dict[str, float]:
    """Load every table inside the tenant, in one transaction, with the tables' foreign keys dropped
    meanwhile (`foreign_keys_dropped`); then reset the id sequences and VACUUM ANALYZE as the owner
    (the app role may do neither)."""
    from django.db import connection, transaction

    from finance import tenancy
    from finance.db import owner_mode

    seconds: dict[str, float] = {}
    with foreign_keys_dropped(org, TABLES, seconds):
        with tenancy.tenant(org), transaction.atomic():
            raw = connection.connection.cursor()
            for table, rows in (
                ("crm_customer", data.customer_rows()),
                ("receivables_exchangerate", data.rate_rows()),
                ("receivables_invoice", data.invoice_rows()),
                ("receivables_payment", data.payment_rows()),
                ("receivables_allocation", data.allocation_rows()),
            ):
                started = time.perf_counter()
                count = copy_table(raw, table, org.pk, rows)
                seconds[table] = time.perf_counter() - started
                print(f"  {table:<26} {count:>9,} rows  {seconds[table]:6.1f} s", flush=True)
            started = time.perf_counter()
        seconds["commit"] = time.perf_counter() - started
        print(f"  commit                               {seconds['commit']:6.1f} s", flush=True)
    started = time.perf_counter()
    with owner_mode(), connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for table in TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    seconds["vacuum_analyze"] = time.perf_counter() - started
    print(f"  VACUUM ANALYZE                       {seconds['vacuum_analyze']:6.1f} s", flush=True)
    return seconds


# --- Measuring --------------------------------------------------------------------------------

BASELINE_SQL = """
SELECT i.customer_id, SUM(i.total - COALESCE(a.paid, 0)) AS open_amount
FROM receivables_invoice i
LEFT JOIN (
    SELECT invoice_id, SUM(amount) AS paid
    FROM receivables_allocation
    WHERE allocated_on <= %(as_of)s
    GROUP BY invoice_id
) a ON a.invoice_id = i.id
WHERE i.issue_date <= %(as_of)s
  AND (i.voided_on IS NULL OR i.voided_on > %(as_of)s)
  AND i.total - COALESCE(a.paid, 0) > 0
GROUP BY i.customer_id
"""

# The same figure from the running totals kept on each invoice: a floor, valid for "now" only.
DENORMALISED_SQL = """
SELECT customer_id, SUM(total - allocated_total - written_off_total)
FROM receivables_invoice
WHERE voided_on IS NULL AND total > allocated_total + written_off_total
GROUP BY customer_id
"""


def raw_query(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchall()


def ledger_only(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """`fn` with the report forced to add up allocations, as when something is allocated after
    its date (for comparison: today's report otherwise reads the documents' running totals)."""
    from receivables import selectors

    original = selectors._settling
    selectors._settling = lambda as_of: selectors.SUM_BY
    try:
        return fn(**kwargs)
    finally:
        selectors._settling = original


def best_of(repeat: int, runs: dict[str, Callable[[], Any]]) -> dict[str, tuple[list[float], Any]]:
    """Each function's times over `repeat` rounds, every round running each function once (so a
    burst of other load on the machine hits all figures alike), and its last result."""
    timed: dict[str, tuple[list[float], Any]] = {name: ([], None) for name in runs}
    for _round in range(repeat):
        for name, fn in runs.items():
            started = time.perf_counter()
            result = fn()
            timed[name] = ([*timed[name][0], time.perf_counter() - started], result)
    return timed


def explain_slowest(fn: Callable[[], Any], top: int = 2) -> None:
    """Run `fn` capturing its SQL, then EXPLAIN (ANALYZE, BUFFERS) the slowest statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    statements = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:top]
    for statement in statements:
        print(f"\n--- {float(statement['time']):.3f} s ---\n{statement['sql']}\n")
        for (line,) in raw_query("EXPLAIN (ANALYZE, BUFFERS) " + statement["sql"].replace("%", "%%")):
            print(line)


def measure(org: Any, *, repeat: int, explain: bool) -> dict[str, Any]:
    from decimal import Decimal

    from finance import tenancy
    from receivables.selectors import aging_report

    today = org.local_today()
    past = months_ago(today, 6)
    figures: dict[str, Any] = {"as_of_current": today.isoformat(), "as_of_historical": past.isoformat()}
    with tenancy.tenant(org):
        runs = {
            "baseline_sql": lambda: raw_query(BASELINE_SQL, {"as_of": today}),
            "current_aging": lambda: aging_report(organization=org, as_of=today),
            "historical_aging": lambda: aging_report(organization=org, as_of=past),
            "current_aging_from_ledger": lambda: ledger_only(aging_report, organization=org, as_of=today),
            "historical_baseline_sql": lambda: raw_query(BASELINE_SQL, {"as_of": past}),
            "denormalised_sql": lambda: raw_query(DENORMALISED_SQL),
        }
        results: dict[str, Any] = {}
        for name, (times, results[name]) in best_of(repeat, runs).items():
            best = min(times)
            figures[name] = {"best_s": round(best, 4), "runs_s": [round(t, 4) for t in times]}
            listed = ", ".join(f"{t:.3f}" for t in times)
            print(f"  {name:<26} best {best:7.3f} s   runs {listed}", flush=True)

        # The report and the baseline must agree on the money, or the comparison means nothing.
        for report_name, baseline_name in (
            ("current_aging", "baseline_sql"),
            ("current_aging_from_ledger", "baseline_sql"),
            ("historical_aging", "historical_baseline_sql"),
        ):
            report = results[report_name]
            outstanding = sum((v["outstanding"] for v in report.by_currency.values()), Decimal(0))
            baseline = sum((row[1] for row in results[baseline_name]), Decimal(0))
            figures[report_name]["customers"] = len(report.rows)
            figures[report_name]["outstanding"] = str(outstanding)
            figures[report_name]["matches_baseline"] = outstanding == baseline and len(
                [r for r in report.rows if r.total]
            ) == len(results[baseline_name])
            if not figures[report_name]["matches_baseline"]:
                print(
                    f"  WARNING: {report_name} outstanding {outstanding} ({len(report.rows)} customers)"
                    f" != baseline {baseline} ({len(results[baseline_name])} customers)",
                    flush=True,
                )
        if explain:
            print("\nEXPLAIN ANALYZE, current aging:")
            explain_slowest(runs["current_aging"])
            print("\nEXPLAIN ANALYZE, historical aging:")
            explain_slowest(runs["historical_aging"])
            print("\nEXPLAIN ANALYZE, baseline:")
            for (line,) in raw_query("EXPLAIN (ANALYZE, BUFFERS) " + BASELINE_SQL, {"as_of": today}):
                print(line)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="10k customers, 100k invoices")
    parser.add_argument("--foreign-share", type=float, default=0.05, help="share of USD customers")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument("--database", default="kehu_bench", help="the bench's own database (dropped!)")
    parser.add_argument("--reuse", action="store_true", help="measure the data of a previous --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the slowest SQL")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.invoices = 10_000, 100_000

    url = _common.bench_database_url(args.database)
    reuse = args.reuse and _common.database_exists(url)
    if not reuse:
        _common.recreate_database(url)
    _common.django_setup(url)

    from django.core.management import call_command

    from finance.models import Organization
    from finance.services import organization_create

    figures: dict[str, Any] = {}
    if reuse:
        org = Organization.objects.get(slug="bench")
        print(f"Reusing {args.database}.")
    else:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        org = organization_create(
            slug="bench", name="Bench", base_currency="CNY", timezone_name="Asia/Shanghai"
        )
        print(f"Generating {args.customers:,} customers, {args.invoices:,} invoices ...", flush=True)
        data = Dataset(
            customers=args.customers,
            invoices=args.invoices,
            today=org.local_today(),
            seed=args.seed,
            foreign_share=args.foreign_share,
        )
        print(f"  generated in {time.perf_counter() - started:.1f} s; loading with COPY:", flush=True)
        load_seconds = load(org, data)
        figures.update(
            customers=args.customers,
            invoices=args.invoices,
            payments=len(data.payments),
            allocations=data.allocation_count,
            foreign_share=args.foreign_share,
            load_s={k: round(v, 1) for k, v in load_seconds.items()},
        )
        del data

    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database())), current_setting('work_mem'),"
                " current_setting('shared_buffers'), current_setting('max_parallel_workers_per_gather')"
            )
            size, work_mem, shared_buffers, workers = cursor.fetchone()
        print(
            f"Database {size}; work_mem {work_mem}, shared_buffers {shared_buffers},"
            f" parallel workers per gather {workers}"
        )
        print(f"Timing (best of {args.repeat} rounds, each running every figure once):", flush=True)
        figures.update(measure(org, repeat=args.repeat, explain=args.explain))
        pg_version = _common.postgres_version()
        from finance import tenancy

        with tenancy.tenant(org), connection.cursor() as cursor:  # the sizes, also after --reuse
            for table, name in (
                ("crm_customer", "customers"),
                ("receivables_invoice", "invoices"),
                ("receivables_payment", "payments"),
                ("receivables_allocation", "allocations"),
            ):
                cursor.execute(f"SELECT count(*) FROM {table}")
                figures[name] = cursor.fetchone()[0]
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _common.drop_database(url)

    baseline = figures["baseline_sql"]["best_s"]
    current = figures["current_aging"]["best_s"]
    from_ledger = figures["current_aging_from_ledger"]["best_s"]
    historical = figures["historical_aging"]["best_s"]
    ratio = current / baseline if baseline else float("inf")
    figures["current_vs_baseline"] = round(ratio, 2)
    figures["targets"] = {
        "current_aging_le_2x_baseline": ratio <= 2,
        "historical_aging_le_2s": historical <= 2,
    }
    figures["machine"] = _common.machine(pg_version)
    full_size = (figures["customers"], figures["invoices"]) == (100_000, 1_000_000)
    results_key = "aging" if full_size else f"aging_{figures['customers']}_{figures['invoices']}"
    _common.write_results(results_key, figures)

    print()
    print(
        _common.table(
            [
                ("figure", "target", "result", "met"),
                ("raw SQL baseline (now)", "-", f"{baseline:.3f} s", "-"),
                (
                    "current aging",
                    "≤ 2× baseline",
                    f"{current:.3f} s ({ratio:.2f}×)",
                    "yes" if ratio <= 2 else "NO",
                ),
                (
                    "current aging, allocations added up",
                    "-",
                    f"{from_ledger:.3f} s ({from_ledger / baseline:.2f}×)",
                    "-",
                ),
                (
                    f"historical aging ({figures['as_of_historical']})",
                    "≤ 2 s",
                    f"{historical:.3f} s",
                    "yes" if historical <= 2 else "NO",
                ),
            ]
        )
    )
    print(f"\nWritten to {_common.RESULTS.relative_to(_common.ROOT)} (key '{results_key}').")


if __name__ == "__main__":
    main()
