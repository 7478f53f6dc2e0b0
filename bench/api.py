"""API latency benchmark: list and detail endpoints under gunicorn against a bare Django JSON view.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
        .venv/bin/python bench/api.py [--quick] [--concurrency 20] [--requests 2000] [--keep|--reuse]

Builds its own database (`--database`, default kehu_bench_api), with `manage.py migrate`,
`create_org` and `create_api_key` as an operator would, then generates a mid-size company's volume
and times the generation (target: under two minutes):

- the organization "bench": 100k customers, 1M invoices, their payments and ~1M allocations
  (bench/aging.py's seeded ledger, loaded with COPY under row-level security), and 500k
  interactions (COPY as well);
- 200 small organizations beside it (with the ORM, a few customers each), so the large one is not
  alone in its tables.

Then it starts `gunicorn finance.wsgi:application -w 2` on loopback with production settings, and
`--concurrency` client threads (keep-alive connections, a closed loop) send `--requests` requests
to each endpoint in turn:

- the baseline, `GET /bench/bare/`: a bare Django JSON view behind the same middleware, without
  DRF, authentication or a query (bench/_projected.py's `bare` patch, bench only);
- `GET /api/v1/customers/`, `/api/v1/invoices/`, `/api/v1/interactions/` (the first page of 50);
- `GET /api/v1/customers/{id}/` and `/api/v1/invoices/{id}/` for random ids.

It prints p50, p95, p99 and throughput of each, the ratio of each p95 to the baseline's, and the
peak resident memory of the gunicorn master and workers, and merges the figures into
bench/results.json under "api". Target (issue 9): list API p95 ≤ 100 ms at 20 concurrent clients.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import _http  # noqa: E402
import aging  # noqa: E402

TARGET_LIST_P95_MS = 100
KINDS = ("call", "email", "visit", "meeting", "note")


# --- Data -------------------------------------------------------------------------------------


def interaction_rows(customers: int, count: int, today: datetime.date, seed: int) -> Any:
    rng = random.Random(seed)
    start = datetime.datetime.combine(today - datetime.timedelta(days=730), datetime.time(9), datetime.UTC)
    for n in range(1, count + 1):
        customer = 1 + int(customers * rng.random() ** 1.6)
        when = start + datetime.timedelta(minutes=rng.randrange(730 * 24 * 60))
        kind = KINDS[n % len(KINDS)]
        summary = f"Follow-up {n} on the account of customer {customer}"
        yield f"{n}\t{customer}\t{kind}\t{when.isoformat()}\t{summary}\n"


def load_interactions(org: Any, customers: int, count: int, seed: int) -> float:
    from django.db import connection, transaction

    from finance import tenancy
    from finance.db import owner_mode

    aging.TABLES["crm_interaction"] = (
        ["id", "customer_id", "kind", "occurred_at", "summary"],
        {"outcome": "''", "next_action": "''", "created_at": "now()"},
    )
    started = time.perf_counter()
    with aging.foreign_keys_dropped(org, ["crm_interaction"], {}), tenancy.tenant(org), transaction.atomic():
        raw = connection.connection.cursor()
        aging.copy_table(
            raw, "crm_interaction", org.pk, interaction_rows(customers, count, org.local_today(), seed)
        )
    with owner_mode(), connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) crm_interaction")
    return time.perf_counter() - started


def reset_sequences(org: Any) -> None:
    """Id sequences past the loaded ids, so the ORM can insert after COPY. Inside the tenant:
    FORCE row-level security hides every row from the owner too when no tenant is set."""
    from django.db import connection

    from finance import tenancy
    from finance.db import owner_mode

    with tenancy.tenant(org), owner_mode(), connection.cursor() as cursor:
        for table in aging.TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )


def small_organizations(count: int) -> float:
    from crm.models import Customer
    from finance import tenancy
    from finance.services import organization_create

    started = time.perf_counter()
    for n in range(count):
        org = organization_create(slug=f"small-{n:03d}", name=f"Small Org {n:03d}", base_currency="CNY")
        with tenancy.tenant(org):
            Customer.objects.bulk_create(
                [Customer(organization=org, name=f"Small {n}-{c}", external_id=f"S{n}-{c}") for c in range(5)]
            )
    return time.perf_counter() - started


def generate(org: Any, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    data = aging.Dataset(
        customers=args.customers,
        invoices=args.invoices,
        today=org.local_today(),
        seed=args.seed,
        foreign_share=0.05,
    )
    build_s = time.perf_counter() - started
    load_s = aging.load(org, data)
    sizes = {"payments": len(data.payments), "allocations": data.allocation_count}
    del data
    interactions_s = load_interactions(org, args.customers, args.interactions, args.seed)
    print(f"  crm_interaction            {args.interactions:>9,} rows  {interactions_s:6.1f} s", flush=True)
    reset_sequences(org)
    small_s = small_organizations(args.small_orgs)
    print(f"  {args.small_orgs} small organizations           {small_s:6.1f} s", flush=True)
    total = time.perf_counter() - started
    return {
        "customers": args.customers,
        "invoices": args.invoices,
        "interactions": args.interactions,
        "small_organizations": args.small_orgs,
        **sizes,
        "generate_s": round(total, 1),
        "generate_parts_s": {
            "ledger_in_memory": round(build_s, 1),
            **{k: round(v, 1) for k, v in load_s.items()},
            "crm_interaction": round(interactions_s, 1),
            "small_organizations": round(small_s, 1),
        },
    }


# --- Load -------------------------------------------------------------------------------------


def hammer(
    port: int, key: str, paths: Callable[[random.Random], str], *, concurrency: int, requests: int
) -> dict:
    """`concurrency` threads, each with its own keep-alive connection, GET the next path until
    `requests` are sent (a closed loop)."""
    issued = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    def run(seed: int) -> None:
        rng = random.Random(seed)
        client = _http.Client(port, key)
        mine: list[tuple[float, int]] = []
        while True:
            with lock:
                if next(issued, None) is None:
                    break
            path = paths(rng)
            started = time.perf_counter()
            try:
                status, _body = client.get(path)
            except (OSError, http.client.HTTPException):
                status = 0
                client = _http.Client(port, key)
            mine.append((time.perf_counter() - started, status))
        with lock:
            for elapsed, status in mine:
                latencies.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    ms = lambda value: round(value * 1000, 1)  # noqa: E731
    return {
        "requests": len(ordered),
        "requests_per_s": round(len(ordered) / wall, 1),
        "p50_ms": ms(_common.percentile(ordered, 0.50)),
        "p95_ms": ms(_common.percentile(ordered, 0.95)),
        "p99_ms": ms(_common.percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1]),
        "non_200": sum(n for status, n in statuses.items() if status != 200),
    }


def peak_rss_mib(pid: int) -> dict[str, int]:
    """VmHWM of the gunicorn master and of each worker, in MiB."""
    figures: dict[str, int] = {}
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for name, each in [("master", pid), *((f"worker{i + 1}", int(c)) for i, c in enumerate(children))]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                figures[name] = round(int(line.split()[1]) / 1024)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    parser.add_argument("--small-orgs", type=int, default=200)
    parser.add_argument(
        "--quick", action="store_true", help="10k customers, 100k invoices, 50k interactions, 20 orgs"
    )
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20, help="seconds per endpoint (wrk)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint (--python-client)")
    parser.add_argument(
        "--python-client", action="store_true", help="Python threads instead of wrk as the load generator"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="CONN_MAX_AGE of the server (0: a connection per request)",
    )
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--database", default="kehu_bench_api")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="generate and keep the database (the dataset `make bench` shares), measure nothing",
    )
    parser.add_argument("--reuse", action="store_true", help="measure the data of a previous --keep run")
    args = parser.parse_args()
    if args.quick:
        args.customers, args.invoices, args.interactions, args.small_orgs = 10_000, 100_000, 50_000, 20

    url = _common.bench_database_url(args.database)
    reuse = args.reuse and _common.database_exists(url)
    env, key = _http.bench_site(url, name="api", reuse=reuse, conn_max_age=args.conn_max_age)
    _http.django_setup_as_server(url, env)
    from finance.models import Organization

    org = Organization.objects.get(slug="bench")
    figures: dict[str, Any] = {}
    if not reuse:
        print(f"Generating {args.customers:,} customers, {args.invoices:,} invoices, ...", flush=True)
        figures.update(generate(org, args))
        print(f"Generated in {figures['generate_s']} s (target 120 s).", flush=True)
        if args.generate_only:
            from django.db import connections

            figures["machine"] = _common.machine(_http.server_version(url))
            _common.write_results("dataset" if not args.quick else "dataset_quick", figures)
            connections.close_all()
            return
    elif args.generate_only:
        sys.exit(f"{args.database} exists and --reuse was given: nothing to generate.")

    customers, invoices = args.customers, args.invoices
    rng = random.Random(args.seed)
    endpoints: dict[str, list[str]] = {
        "bare Django JSON view": ["/bench/bare/"],
        "GET /customers/ (50)": ["/api/v1/customers/?page_size=50"],
        "GET /invoices/ (50)": ["/api/v1/invoices/?page_size=50"],
        "GET /interactions/ (50)": ["/api/v1/interactions/?page_size=50"],
        "GET /customers/{id}/": [f"/api/v1/customers/{rng.randint(1, customers)}/" for _ in range(5000)],
        "GET /invoices/{id}/": [f"/api/v1/invoices/{rng.randint(1, invoices)}/" for _ in range(5000)],
    }
    generator = "wrk" if _http.WRK and not args.python_client else "python threads"
    print(f"Load: {generator}, {args.concurrency} connections, gunicorn -w {args.workers}", flush=True)

    def load(port: int, paths: list[str], concurrency: int, seconds: int, requests: int) -> dict:
        if generator == "wrk":
            return _http.wrk_load(port, key, paths, concurrency=concurrency, seconds=seconds)
        return hammer(port, key, lambda rng: rng.choice(paths), concurrency=concurrency, requests=requests)

    results: dict[str, dict] = {}
    with _http.gunicorn(env, key, workers=args.workers, patches=["bare"]) as server:
        for paths in endpoints.values():  # imports, first queries, connection setup
            load(server.port, paths, 2, 2, 50)
        for name, paths in endpoints.items():
            results[name] = load(server.port, paths, args.concurrency, args.seconds, args.requests)
            print(
                f"  {name:<26} p50 {results[name]['p50_ms']:7.1f}  p95 {results[name]['p95_ms']:7.1f}"
                f"  p99 {results[name]['p99_ms']:7.1f} ms  {results[name]['requests_per_s']:6.1f} req/s"
                f"  {results[name]['non_200']} not 200",
                flush=True,
            )
        memory = peak_rss_mib(server.pid)
    bare = results["bare Django JSON view"]
    for figures_of in results.values():
        figures_of["p95_vs_bare"] = round(figures_of["p95_ms"] / bare["p95_ms"], 2)
    lists = [results[n] for n in results if n.endswith("(50)")]
    worst_list_p95 = max(r["p95_ms"] for r in lists)
    rows = [("endpoint", "p50 ms", "p95 ms", "req/s", "p95 / bare")]
    rows += [
        (name, str(r["p50_ms"]), str(r["p95_ms"]), str(r["requests_per_s"]), f"{r['p95_vs_bare']}×")
        for name, r in results.items()
    ]
    print(_common.table(rows))
    print(f"list p95 {worst_list_p95} ms (target ≤ {TARGET_LIST_P95_MS} ms at {args.concurrency} clients)")
    print(f"peak RSS (MiB): {memory}")
    _common.write_results(
        "api" if not args.quick else "api_quick",
        {
            **figures,
            "concurrency": args.concurrency,
            "load_generator": generator,
            "seconds_per_endpoint": args.seconds if generator == "wrk" else None,
            "requests_per_endpoint": args.requests if generator != "wrk" else None,
            "gunicorn_workers": args.workers,
            "conn_max_age": args.conn_max_age,
            "endpoints": results,
            "worst_list_p95_ms": worst_list_p95,
            "target_list_p95_ms": TARGET_LIST_P95_MS,
            "target_met": worst_list_p95 <= TARGET_LIST_P95_MS,
            "web_peak_rss_mib": memory,
            "machine": _common.machine(_http.server_version(url)),
        },
    )
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _common.drop_database(url)


if __name__ == "__main__":
    main()
