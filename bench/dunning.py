"""Dunning benchmark: one organization, 20k customers with 100k overdue invoices, one daily run.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
        .venv/bin/python bench/dunning.py [--customers 20000 --invoices 100000] [--quick] [--profile]

Builds its own database (`--database`, default kehu_bench_dunning: dropped and created again as the
owner role of DATABASE_URL), migrates it, creates the organization with the ORM and the recommended
dunning policy (`policy_create_recommended`, the organization's default), then generates the data
with `bulk_create` inside `tenancy.tenant(org)` (as the app role, under row-level security):

- customers, each with a billing contact that has an email (a quarter of them prefer Chinese);
- invoices all overdue on the run date, 1–120 days past due; how late depends on the customer
  (40 % at most 20 days, 30 % at most 44, 30 % up to 120), so every level of the policy is reached:
  friendly reminder, first, second (statement attached, collector task), final notice (statement,
  task, credit hold, 100.00 minimum);
- a few open disputes and open promises to pay (their invoices are left alone).

Then, inside the tenant, times `dunning_run(actor=Actor.system(org), run_date=<today>)` twice: the
first run records and delivers every reminder; the second must send nothing. Email goes through
Django's locmem backend (kept in memory, no SMTP server), so the figures measure Kehu, not a mail
server; the PDF statements are rendered and attached as in production. The plan alone
(`dunning_plan`) is timed before, with its query count.

Target (docs/performance.md): first run ≤ 60 s; second run sends 0 messages.
Prints a table and merges its figures into bench/results.json under "dunning".
`--profile` runs the first run under cProfile and prints where the time goes.
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

BATCH = 5000  # rows per bulk_create statement
TARGET_S = 60


# --- Data -------------------------------------------------------------------------------------


def generate(
    org: Any, *, customers: int, invoices: int, disputes: int, promises: int, seed: int
) -> dict[str, int]:
    """Customers, billing contacts, overdue invoices, disputes and promises, with bulk_create."""
    from crm.models import Contact, Customer
    from finance import tenancy
    from receivables.models import Dispute, Invoice, PromiseInvoice, PromiseToPay

    rng = random.Random(seed)
    run_date = org.local_today()
    with tenancy.tenant(org):
        created = Customer.objects.bulk_create(
            [
                Customer(
                    organization=org,
                    external_id=f"C{n:07d}",
                    name=f"Customer {n:07d}",
                    currency="CNY",
                    customer_group=("A", "B", "C", "", "")[n % 5],
                )
                for n in range(1, customers + 1)
            ],
            batch_size=BATCH,
        )
        customer_ids = [c.pk for c in created]
        Contact.objects.bulk_create(
            [
                Contact(
                    organization=org,
                    customer_id=pk,
                    name=f"Accounts payable {n:07d}",
                    email=f"ap{n:07d}@customer.example",
                    preferred_language="zh-hans" if n % 4 == 0 else "en",
                    is_billing=True,
                    is_primary=True,
                )
                for n, pk in enumerate(customer_ids, start=1)
            ],
            batch_size=BATCH,
        )
        # How late a customer pays: the most days past due of its invoices.
        latest = [rng.choice((20,) * 4 + (44,) * 3 + (120,) * 3) for _ in customer_ids]
        rows: list[Invoice] = []
        for n in range(invoices):
            index = n % customers if n < customers else rng.randrange(customers)
            days_past_due = rng.randint(1, latest[index])
            due = run_date - datetime.timedelta(days=days_past_due)
            rows.append(
                Invoice(
                    organization=org,
                    customer_id=customer_ids[index],
                    number=f"INV-{n + 1:08d}",
                    currency="CNY",
                    issue_date=due - datetime.timedelta(days=30),
                    due_date=due,
                    total=Decimal(max(100, int(rng.lognormvariate(8.9, 1.0) * 100))) / 100,
                )
            )
        invoice_rows = Invoice.objects.bulk_create(rows, batch_size=BATCH)
        del rows

        picked = rng.sample(invoice_rows, disputes + promises)
        Dispute.objects.bulk_create(
            [
                Dispute(
                    organization=org,
                    invoice_id=inv.pk,
                    customer_id=inv.customer_id,
                    reason=Dispute.Reason.PRICING,
                    opened_on=run_date - datetime.timedelta(days=3),
                )
                for inv in picked[:disputes]
            ],
            batch_size=BATCH,
        )
        promised = picked[disputes:]
        promise_rows = PromiseToPay.objects.bulk_create(
            [
                PromiseToPay(
                    organization=org,
                    customer_id=inv.customer_id,
                    currency=inv.currency,
                    amount=inv.total,
                    promised_date=run_date + datetime.timedelta(days=7),
                    recorded_on=run_date - datetime.timedelta(days=1),
                )
                for inv in promised
            ],
            batch_size=BATCH,
        )
        PromiseInvoice.objects.bulk_create(
            [
                PromiseInvoice(organization=org, promise_id=promise.pk, invoice_id=inv.pk)
                for promise, inv in zip(promise_rows, promised, strict=True)
            ],
            batch_size=BATCH,
        )
    return {
        "customers": len(customer_ids),
        "contacts": len(customer_ids),
        "invoices": len(invoice_rows),
        "disputes": disputes,
        "promises": promises,
    }


def analyze() -> None:
    """ANALYZE the loaded tables as the owner (the app role may not), as a nightly autovacuum would."""
    _common.analyze_tables(
        [
            "crm_customer",
            "crm_contact",
            "receivables_invoice",
            "receivables_dispute",
            "receivables_promisetopay",
            "receivables_promiseinvoice",
        ]
    )


# --- Measuring --------------------------------------------------------------------------------


DELIVERY_SAMPLE_BATCHES = 2


def timed_run(org: Any, run_date: datetime.date, *, profile: bool = False) -> dict[str, Any]:
    """One `dunning_run` inside the tenant: its result, seconds, statements and emails sent."""
    import cProfile
    import pstats

    from django.core import mail

    from finance import tenancy
    from finance.actors import Actor
    from receivables import tasks
    from receivables.dunning import dunning_run, messages_deliver
    from receivables.models import DunningMessage

    mail.outbox = []
    profiler = cProfile.Profile() if profile else None
    # The run queues delivery for the Celery workers; here the queue is a list, and a sample of
    # it is delivered inline afterwards to measure what a worker spends per message.
    queued: list[dict[str, Any]] = []
    original = tasks.deliver_dunning_messages.apply_async
    tasks.deliver_dunning_messages.apply_async = lambda kwargs, **_options: queued.append(kwargs)
    try:
        with tenancy.tenant(org), _common.counting_queries() as counts:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = dunning_run(actor=Actor.system(org), run_date=run_date)
            if profiler:
                profiler.disable()
            seconds = time.perf_counter() - started
    finally:
        tasks.deliver_dunning_messages.apply_async = original
    sample = [message_id for batch in queued[:DELIVERY_SAMPLE_BATCHES] for message_id in batch["message_ids"]]
    delivery_seconds = 0.0
    if sample:
        with tenancy.tenant(org):
            delivery_started = time.perf_counter()
            messages_deliver(actor=Actor.system(org), message_ids=sample)
            delivery_seconds = time.perf_counter() - delivery_started
            # The rest is what the workers would deliver meanwhile: marked sent, so the second run
            # shows what a rerun after a complete delivery does.
            DunningMessage.objects.filter(status=DunningMessage.Status.PENDING).update(
                status=DunningMessage.Status.SENT, attempts=1
            )
    total_queued = sum(len(batch["message_ids"]) for batch in queued)
    per_message = delivery_seconds / len(sample) if sample else 0.0
    result["delivery"] = {
        "batches_queued": len(queued),
        "sample_delivered": len(sample),
        "sample_seconds": round(delivery_seconds, 2),
        "seconds_per_message": round(per_message, 4),
        "worker_seconds_for_all": round(per_message * total_queued, 1),
    }
    emails = len(mail.outbox)
    attachments = sum(len(message.attachments) for message in mail.outbox)
    mail.outbox = []
    if profiler:
        print(f"\nProfile of the first run ({seconds:.1f} s under cProfile):")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(r"receivables|finance|crm|weasyprint/__init__", 30)
        stats.sort_stats("tottime").print_stats(20)
    return {
        "seconds": round(seconds, 2),
        "result": result,
        "queries": sum(counts.values()),
        "queries_by_kind": dict(counts.most_common()),
        "emails_sent": emails,
        "statements_attached": attachments,
    }


def measure(org: Any, *, profile: bool) -> dict[str, Any]:
    from django.db.models import Count

    from crm.models import FollowUp
    from finance import tenancy
    from receivables.dunning import dunning_plan
    from receivables.models import DunningMessage, Reminder

    run_date = org.local_today()
    figures: dict[str, Any] = {"run_date": run_date.isoformat()}
    with tenancy.tenant(org), _common.counting_queries() as counts:
        started = time.perf_counter()
        plan = dunning_plan(organization=org, run_date=run_date)
        figures["plan"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "queries": sum(counts.values()),
            "messages": len(plan.messages),
            "invoices_listed": sum(len(m.invoices) for m in plan.messages),
            "by_level": dict(Counter(m.level.name for m in plan.messages).most_common()),
        }
    del plan
    print(
        f"  plan (dunning_plan alone)    {figures['plan']['seconds']:6.2f} s, "
        f"{figures['plan']['queries']} queries, {figures['plan']['messages']:,} messages",
        flush=True,
    )
    for name, run_profile in (("first_run", profile), ("second_run", False)):
        run = timed_run(org, run_date, profile=run_profile)
        figures[name] = run
        result = run["result"]
        print(
            f"  {name.replace('_', ' '):<28} {run['seconds']:6.2f} s, {run['queries']:,} queries;"
            f" recorded {result['recorded']:,}, queued {result['queued']:,}, flagged {result['flagged']:,}",
            flush=True,
        )
        delivery = result["delivery"]
        print(
            f"  {'':<28} delivery sample: {delivery['sample_delivered']:,} messages in"
            f" {delivery['sample_seconds']:.1f} s ({delivery['seconds_per_message'] * 1000:.0f} ms each,"
            f" {run['emails_sent']:,} emails, {run['statements_attached']:,} with a statement);"
            f" all {result['queued']:,} ≈ {delivery['worker_seconds_for_all']:,.0f} worker-seconds",
            flush=True,
        )
    with tenancy.tenant(org):
        figures["reminders"] = Reminder.objects.count()
        figures["messages_by_status"] = dict(
            DunningMessage.objects.values_list("status").annotate(n=Count("pk")).order_by("status")
        )
        figures["follow_ups"] = FollowUp.objects.count()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--disputes", type=int, default=200, help="open disputes on random invoices")
    parser.add_argument("--promises", type=int, default=200, help="open promises on random invoices")
    parser.add_argument("--quick", action="store_true", help="2k customers, 10k invoices")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument(
        "--database", default="kehu_bench_dunning", help="the bench's own database (dropped!)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--profile", action="store_true", help="cProfile the first run")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.invoices, args.disputes, args.promises = 2_000, 10_000, 20, 20

    url = _common.bench_database_url(args.database)
    _common.recreate_database(url)
    _common.django_setup(url)

    from django.conf import settings
    from django.core.management import call_command

    from finance import tenancy
    from finance.actors import Actor
    from finance.services import organization_create
    from receivables.dunning_policies import policy_create_recommended

    # Measure Kehu, not a mail server: messages are kept in memory (django.core.mail.outbox).
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    figures: dict[str, Any] = {"email_backend": settings.EMAIL_BACKEND}
    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        org = organization_create(
            slug="bench", name="Bench", base_currency="CNY", timezone_name="Asia/Shanghai"
        )
        with tenancy.tenant(org):
            policy = policy_create_recommended(actor=Actor.system(org))
        print(f"Migrated in {time.perf_counter() - started:.1f} s; policy “{policy.name}” (default).")
        print(
            f"Generating {args.customers:,} customers, {args.invoices:,} overdue invoices,"
            f" {args.disputes} disputes, {args.promises} promises (bulk_create) ...",
            flush=True,
        )
        started = time.perf_counter()
        figures.update(
            generate(
                org,
                customers=args.customers,
                invoices=args.invoices,
                disputes=args.disputes,
                promises=args.promises,
                seed=args.seed,
            )
        )
        analyze()
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        print(f"  generated in {figures['generate_s']:.1f} s", flush=True)
        print(f"Dunning runs on {org.local_today()}, email via {settings.EMAIL_BACKEND} (no SMTP):")
        figures.update(measure(org, profile=args.profile))
        pg_version = _common.postgres_version()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _common.drop_database(url)

    first, second = figures["first_run"], figures["second_run"]
    second_sent = second["result"]["recorded"] + second["result"]["queued"] + second["emails_sent"]
    figures["targets"] = {
        "first_run_le_60s": first["seconds"] <= TARGET_S,
        "second_run_sends_nothing": second_sent == 0,
    }
    figures["machine"] = _common.machine(pg_version)
    full_size = (args.customers, args.invoices) == (20_000, 100_000)
    results_key = "dunning" if full_size else f"dunning_{args.customers}_{args.invoices}"
    if args.profile:
        results_key += "_profiled"
    _common.write_results(results_key, figures)

    print()
    print(
        _common.table(
            [
                ("figure", "target", "result", "met"),
                ("data generation (bulk_create)", "-", f"{figures['generate_s']:.1f} s", "-"),
                (
                    "dunning plan alone",
                    "-",
                    f"{figures['plan']['seconds']:.2f} s, {figures['plan']['queries']} queries",
                    "-",
                ),
                (
                    f"first run{' (under cProfile)' if args.profile else ''}",
                    f"≤ {TARGET_S} s",
                    f"{first['seconds']:.1f} s, {first['queries']:,} queries",
                    "yes" if first["seconds"] <= TARGET_S else "NO",
                ),
                (
                    "  messages recorded / queued for the workers",
                    "-",
                    f"{first['result']['recorded']:,} / {first['result']['queued']:,}",
                    "-",
                ),
                (
                    "  delivery per message (a worker; sample)",
                    "-",
                    f"{first['result']['delivery']['seconds_per_message'] * 1000:.0f} ms;"
                    f" all ≈ {first['result']['delivery']['worker_seconds_for_all']:,.0f} worker-seconds",
                    "-",
                ),
                ("  reminders (invoice × level)", "-", f"{figures['reminders']:,}", "-"),
                (
                    "  emails sent in the sample (locmem backend)",
                    "-",
                    f"{first['emails_sent']:,} ({first['statements_attached']:,} with a PDF statement)",
                    "-",
                ),
                (
                    "second run",
                    "sends 0",
                    f"{second['seconds']:.1f} s, {second_sent} sent",
                    "yes" if second_sent == 0 else "NO",
                ),
            ]
        )
    )
    print(f"\nWritten to {_common.RESULTS.relative_to(_common.ROOT)} (key '{results_key}').")


if __name__ == "__main__":
    main()
