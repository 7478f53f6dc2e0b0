"""ERP bulk import benchmark: invoices through the REST API, gunicorn on loopback.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
        .venv/bin/python bench/import.py [--batches 50] [--quick] [--profile]

Builds its own database (`--database`, default kehu_bench_import: dropped and created again as the
owner role of DATABASE_URL), migrates it and creates an organization and a read/write API key
with `manage.py create_org` / `create_api_key`. Starts `gunicorn finance.wsgi:application -w 2`
on 127.0.0.1 with production settings (DEBUG off), creates the customers through
/api/v1/customers/bulk/, then times `--batches` POSTs of 1000 invoices to /api/v1/invoices/bulk/
from `--concurrency` client threads (http.client, keep-alive, bodies encoded beforehand), each
with its own Idempotency-Key as an ERP should send. Prints invoices/s (target ≥ 5,000), stops
gunicorn and merges its figures into bench/results.json under "import".

`--profile` then runs one more batch in this process through Django's test client under cProfile
and prints where the time goes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
from _http import Client, bench_site, django_setup_as_server, gunicorn  # noqa: E402

ROOT = _common.ROOT


def post_all(
    port: int, key: str, path: str, bodies: list[bytes], concurrency: int, idempotency: bool
) -> tuple[float, list[float]]:
    """POST every body from `concurrency` threads; returns wall seconds and each request's seconds."""
    work: queue.Queue[tuple[int, bytes]] = queue.Queue()
    for number, body in enumerate(bodies):
        work.put((number, body))
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        client = Client(port, key)
        while True:
            try:
                number, body = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            status, answer = client.post(path, body, f"bench-{path}-{number}" if idempotency else None)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if status != 200 or len(json.loads(answer)["results"]) != len(json.loads(body)["items"]):
                    failures.append(f"{path} batch {number}: {status} {answer[:300]!r}")

    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        sys.exit("Failed requests:\n" + "\n".join(failures[:5]))
    return wall, latencies


def invoice_batches(
    *, batches: int, batch_size: int, customers: int, lines: int, with_due_date: bool, seed: int
) -> list[bytes]:
    rng = random.Random(seed)
    today = datetime.date.today()
    bodies = []
    number = 0
    for _batch in range(batches):
        items = []
        for _item in range(batch_size):
            number += 1
            issue = today - datetime.timedelta(days=rng.randrange(365))
            item: dict[str, Any] = {
                "external_id": f"ERP-INV-{number:08d}",
                "number": f"INV-{number:08d}",
                "customer_external_id": f"ERP-C-{rng.randrange(customers) + 1:07d}",
                "currency": "CNY",
                "issue_date": issue.isoformat(),
                "description": "Goods as per delivery note",
            }
            if with_due_date:
                item["due_date"] = (issue + datetime.timedelta(days=30)).isoformat()
            if lines:
                item["lines"] = [
                    {
                        "description": f"Item {n}",
                        "quantity": str(rng.randint(1, 20)),
                        "unit_price": f"{rng.randint(100, 100000) / 100:.2f}",
                        "tax_rate": "0.13",
                    }
                    for n in range(lines)
                ]
            else:
                item["total"] = f"{rng.randint(10000, 10000000) / 100:.2f}"
            items.append(item)
        bodies.append(json.dumps({"items": items}).encode())
    return bodies


def customer_batches(customers: int, batch_size: int) -> list[bytes]:
    bodies = []
    for start in range(0, customers, batch_size):
        items = [
            {"external_id": f"ERP-C-{n:07d}", "name": f"ERP customer {n:07d}", "currency": "CNY"}
            for n in range(start + 1, min(customers, start + batch_size) + 1)
        ]
        bodies.append(json.dumps({"items": items}).encode())
    return bodies


def count_invoices(url: str) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        org_id = conn.execute("SELECT id FROM finance_organization WHERE slug = 'bench'").fetchone()[0]
        conn.execute("SELECT set_config('kehu.org_id', %s, false)", [str(org_id)])
        return conn.execute("SELECT count(*) FROM receivables_invoice").fetchone()[0]


def copy_baseline(url: str, env: dict[str, str], bodies: list[bytes]) -> dict[str, Any]:
    """The same invoices loaded the fastest way PostgreSQL knows, in the same database and run:
    into a second organization ("bench-copy") with the same customers, COPY into a staging table
    then one INSERT … SELECT under the tenant (row-level security applies, the customer found by
    external id in a join), committed. Returns invoices/s of the invoice load and commit."""
    import aging

    django_setup_as_server(url, env)
    from django.db import connection, transaction

    from finance import tenancy
    from finance.services import organization_create

    items = [item for body in bodies for item in json.loads(body)["items"]]
    customer_ids = sorted({item["customer_external_id"] for item in items})
    org = organization_create(slug="bench-copy", name="Bench (COPY)", base_currency="CNY")
    columns, constants = aging.TABLES["crm_customer"]
    customer_constants = {"customer_group": "''", **constants}
    with tenancy.tenant(org), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy_customer (external_id text) ON COMMIT DROP")
        with cursor.cursor.copy("COPY bench_copy_customer (external_id) FROM STDIN") as copy:
            copy.write("".join(f"{external}\n" for external in customer_ids))
        cursor.execute(
            f"INSERT INTO crm_customer (organization_id, external_id, name, currency,"
            f" {', '.join(customer_constants)}) SELECT %s, external_id, external_id, 'CNY',"
            f" {', '.join(customer_constants.values())} FROM bench_copy_customer",
            [org.pk],
        )
    rows = "".join(
        "\t".join(
            (
                item["external_id"],
                item["number"],
                item["customer_external_id"],
                item["currency"],
                item["issue_date"],
                item.get("due_date", item["issue_date"]),
                item["total"],
            )
        )
        + "\n"
        for item in items
    )
    started = time.perf_counter()
    with tenancy.tenant(org), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy_invoice (external_id text, number text, customer text,"
            " currency text, issue_date date, due_date date, total numeric) ON COMMIT DROP"
        )
        with cursor.cursor.copy("COPY bench_copy_invoice FROM STDIN") as copy:
            copy.write(rows)
        cursor.execute(
            "INSERT INTO receivables_invoice (organization_id, customer_id, external_id, number, currency,"
            " issue_date, due_date, total, allocated_total, description, written_off_total, created_at)"
            " SELECT %s, c.id, s.external_id, s.number, s.currency, s.issue_date, s.due_date, s.total, 0,"
            " '', 0, now() FROM bench_copy_invoice s JOIN crm_customer c ON c.external_id = s.customer",
            [org.pk],
        )
        loaded = cursor.rowcount
    seconds = time.perf_counter() - started
    if loaded != len(items):
        sys.exit(f"COPY baseline loaded {loaded} of {len(items)} invoices")
    return {"invoices": loaded, "seconds": round(seconds, 2), "invoices_per_s": round(loaded / seconds)}


def profile_one_batch(url: str, env: dict[str, str], key: str, body: bytes, patches: list[str]) -> None:
    """One bulk request in this process, through Django's test client, under cProfile."""
    import cProfile
    import pstats

    django_setup_as_server(url, env)
    import _projected

    for name in patches:
        getattr(_projected, name)()
    from django.test import Client as DjangoClient

    client = DjangoClient(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_HOST="127.0.0.1")
    client.get("/api/v1/customers/?limit=1")  # imports and first connection, outside the profile
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    response = client.post("/api/v1/invoices/bulk/", body, content_type="application/json")
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(f"\nProfile of one batch in-process: {response.status_code}, {elapsed:.2f} s (under cProfile)")
    stats = pstats.Stats(profiler)
    shown = os.environ.get("KEHU_PROFILE_FILTER", r"receivables|finance|crm|rest_framework/serializers")
    stats.sort_stats("cumulative").print_stats(shown, int(os.environ.get("KEHU_PROFILE_LINES", "25")))
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=50, help="invoice batches to time")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads")
    parser.add_argument("--lines", type=int, default=0, help="lines per invoice (0: a total only)")
    parser.add_argument("--no-due-date", action="store_true", help="let payment terms set the due date")
    parser.add_argument("--no-idempotency-key", action="store_true")
    parser.add_argument(
        "--conn-max-age", type=int, default=60, help="CONN_MAX_AGE for the server (production default 60)"
    )
    parser.add_argument("--quick", action="store_true", help="10 batches, 2,000 customers")
    parser.add_argument("--profile", action="store_true", help="cProfile one more batch in-process")
    parser.add_argument(
        "--projected",
        action="store_true",
        help="with the fixes proposed in docs/performance.md applied as patches (bench/_projected.py)",
    )
    parser.add_argument(
        "--one-by-one",
        action="store_true",
        help="without the bulk fast path: each invoice through invoice_create, as before it",
    )
    parser.add_argument("--database", default="kehu_bench_import", help="the bench's own database (dropped!)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--seed", type=int, default=20260501)
    args = parser.parse_args()
    if args.quick:
        args.batches, args.customers = 10, 2_000

    url = _common.bench_database_url(args.database)
    env, key = bench_site(url, name="import", conn_max_age=args.conn_max_age)

    invoice_bodies = invoice_batches(
        batches=args.batches + (1 if args.profile else 0),
        batch_size=args.batch_size,
        customers=args.customers,
        lines=args.lines,
        with_due_date=not args.no_due_date,
        seed=args.seed,
    )
    profile_body = invoice_bodies.pop() if args.profile else None

    patches = [
        name for name, wanted in (("projected", args.projected), ("one_by_one", args.one_by_one)) if wanted
    ]
    with gunicorn(env, key, workers=args.workers, patches=patches) as server:
        port = server.port
        print(
            f"gunicorn -w {args.workers} on 127.0.0.1:{port} (pid {server.pid});"
            f" {args.concurrency} client threads{''.join(', ' + p for p in patches)}"
        )
        wall, _latencies = post_all(
            port,
            key,
            "/api/v1/customers/bulk/",
            customer_batches(args.customers, args.batch_size),
            args.concurrency,
            not args.no_idempotency_key,
        )
        print(f"  {args.customers:,} customers in {wall:.1f} s ({args.customers / wall:,.0f}/s)")
        wall, latencies = post_all(
            port, key, "/api/v1/invoices/bulk/", invoice_bodies, args.concurrency, not args.no_idempotency_key
        )

    invoices = args.batches * args.batch_size
    stored = count_invoices(url)
    rate = invoices / wall
    latencies.sort()
    figures: dict[str, Any] = {
        "invoices": invoices,
        "batch_size": args.batch_size,
        "batches": args.batches,
        "customers": args.customers,
        "lines_per_invoice": args.lines,
        "due_date_given": not args.no_due_date,
        "idempotency_key": not args.no_idempotency_key,
        "gunicorn_workers": args.workers,
        "client_threads": args.concurrency,
        "conn_max_age": args.conn_max_age,
        "patches": patches,
        "seconds": round(wall, 2),
        "invoices_per_s": round(rate),
        "batch_latency_s": {
            "median": round(statistics.median(latencies), 3),
            "p95": round(_common.percentile(latencies, 0.95), 3),
            "max": round(latencies[-1], 3),
        },
        "stored_invoices": stored,
        "target_invoices_per_s": 5000,
        "target_met": rate >= 5000,
    }
    print(
        f"  {invoices:,} invoices in {wall:.1f} s: {rate:,.0f} invoices/s"
        f" (batch of {args.batch_size}: median {figures['batch_latency_s']['median']:.2f} s,"
        f" p95 {figures['batch_latency_s']['p95']:.2f} s); {stored:,} stored"
    )
    if stored != invoices:
        print(f"  WARNING: {stored} invoices stored, {invoices} sent")

    print("  the same invoices with COPY (the baseline), in another organization of this database:")
    figures["copy_baseline"] = copy_baseline(url, env, invoice_bodies)
    figures["http_vs_copy"] = round(rate / figures["copy_baseline"]["invoices_per_s"], 3)
    print(
        f"  {figures['copy_baseline']['invoices']:,} invoices in {figures['copy_baseline']['seconds']:.1f} s:"
        f" {figures['copy_baseline']['invoices_per_s']:,} invoices/s; HTTP is"
        f" {figures['http_vs_copy']:.1%} of COPY"
    )
    pg_version = _common.postgres_version()
    if args.profile and profile_body is not None:
        profile_one_batch(url, env, key, profile_body, patches)
    from django.db import connections

    connections.close_all()
    figures["machine"] = _common.machine(pg_version)
    size = [] if (args.batches, args.batch_size) == (50, 1000) else [f"{args.batches}x{args.batch_size}"]
    results_key = "_".join(["import", *patches, *size])
    _common.write_results(results_key, figures)
    if not args.keep:
        _common.drop_database(url)

    print()
    print(
        _common.table(
            [
                ("figure", "target", "result", "met"),
                (
                    f"ERP bulk import ({args.batch_size}/request, {args.workers} workers)",
                    "≥ 5,000 invoices/s",
                    f"{rate:,.0f} invoices/s",
                    "yes" if rate >= 5000 else "NO",
                ),
                (
                    "the same invoices with COPY (baseline)",
                    "",
                    f"{figures['copy_baseline']['invoices_per_s']:,} invoices/s",
                    f"HTTP {figures['http_vs_copy']:.1%}",
                ),
            ]
        )
    )
    print(f"\nWritten to {_common.RESULTS.relative_to(ROOT)} (key '{results_key}').")


if __name__ == "__main__":
    main()
