"""Scheduler fan-out benchmark: 200 organizations, every daily job, two real Celery workers.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/fanout.py [--organizations 200] [--quick]

Builds its own database (`--database`, default kehu_bench_fanout), migrates it, and creates the
organizations with the ORM, each with a few customers and invoices (some overdue) so that the
jobs have work. Each organization's timezone is chosen so that it is 23:00 there when the bench
runs: every daily job is due for every organization. One organization is broken on purpose (its
`aging_buckets` setting is not a list of days), so its aging snapshot fails.

Then two Celery worker processes are started (`celery -A finance worker -c 1`, no -Q: they consume
every queue), on database 15 of REDIS_URL's Redis server (`--redis-db`; a database of its own,
since the bench purges its queues), and the real beat entry `finance.dispatch_jobs` is sent once.
The bench waits until every organization has a finished JobRun (done or failed) for every job, and reports:

- the time from dispatch to the last job finished, and jobs per second;
- done and failed runs, and that the only failure is the broken organization's aging snapshot
  (one organization's failure stops no other, nor its own other jobs);
- the peak resident memory of each worker (VmHWM of the worker and its pool children).

Target (docs/performance.md, issue 9): completes on 2 workers, one failure isolated.
Merges its figures into bench/results.json under "fanout".
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timezone_at_23() -> str:
    """An Etc/GMT zone where the local time is now between 23:00 and 23:59."""
    hour = datetime.datetime.now(datetime.UTC).hour
    offset = (23 - hour + 12) % 24 - 12  # UTC+offset, within -12..+11
    if offset == 0:
        return "Etc/UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # Etc/GMT-8 is UTC+8


def build(organizations: int, customers: int) -> tuple[list[Any], Any]:
    from crm.models import Customer
    from finance import tenancy
    from finance.actors import Actor
    from finance.services import organization_create
    from receivables import services

    zone = timezone_at_23()
    created = []
    for n in range(organizations):
        org = organization_create(
            slug=f"fan-{n:03d}", name=f"Fan-out Org {n:03d}", base_currency="CNY", timezone_name=zone
        )
        with tenancy.tenant(org):
            actor = Actor.system(org)
            today = org.local_today()
            for c in range(customers):
                customer = Customer.objects.create(
                    organization=org, name=f"Customer {n}-{c}", external_id=f"F{n}-{c}", currency="CNY"
                )
                for i, days in enumerate((-40, -10, 15)):
                    services.invoice_create(
                        actor=actor,
                        customer=customer,
                        number=f"F{n}-{c}-{i}",
                        currency="CNY",
                        issue_date=today + datetime.timedelta(days=days - 30),
                        due_date=today + datetime.timedelta(days=days),
                        total=Decimal("1000.00") + c,
                    )
        created.append(org)
    broken = created[len(created) // 2]
    broken.settings = {**(broken.settings or {}), "aging_buckets": "not a list of days"}
    broken.save(update_fields=["settings"])
    return created, broken


def worker_rss_peak_kib(pid: int) -> int:
    """VmHWM of a process and its children (the prefork pool), in KiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def finished_runs(orgs: list[Any]) -> dict[str, int]:
    from finance import tenancy
    from finance.models import JobRun

    counts = {"done": 0, "failed": 0, "running": 0}
    for org in orgs:
        with tenancy.tenant(org):
            for status in JobRun.objects.values_list("status", flat=True):
                counts[status] = counts.get(status, 0) + 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--organizations", type=int, default=200)
    parser.add_argument("--customers", type=int, default=3, help="customers per organization")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--quick", action="store_true", help="20 organizations")
    parser.add_argument("--database", default="kehu_bench_fanout")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis database for the broker")
    args = parser.parse_args()
    if args.quick:
        args.organizations = 20
    # A Redis database of its own (the bench purges its queues): REDIS_URL's server, database 15.
    server = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    redis_url = urlunsplit((server.scheme, server.netloc, f"/{args.redis_db}", "", ""))
    os.environ["REDIS_URL"] = redis_url

    url = _common.bench_database_url(args.database)
    _common.recreate_database(url)
    _common.django_setup(url)
    from django.core.management import call_command

    from finance.celery import app
    from finance.jobs import JOBS
    from finance.tasks import dispatch_jobs

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    orgs, broken = build(args.organizations, args.customers)
    generate_s = time.monotonic() - started
    expected = len(orgs) * len(JOBS)
    print(
        f"{len(orgs)} organizations, {len(JOBS)} daily jobs each: {expected} tasks;"
        f" built in {generate_s:.1f} s"
    )

    app.control.purge()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(args.workers)]
    workers = [
        subprocess.Popen(
            [
                str(ROOT / ".venv/bin/celery"),
                "-A",
                "finance",
                "worker",
                "-c",
                "1",
                "--loglevel",
                "WARNING",
                "-n",
                f"fanout{i}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: a worker writing to a full pipe nobody reads would stall.
            stderr=logs[i],
        )
        for i in range(args.workers)
    ]
    peaks = [0] * len(workers)
    try:
        time.sleep(3)
        dispatched_at = time.monotonic()
        dispatch_jobs.delay()
        counts: dict[str, int] = {}
        while time.monotonic() - dispatched_at < args.timeout:
            time.sleep(1)
            peaks = [max(p, worker_rss_peak_kib(w.pid)) for p, w in zip(peaks, workers, strict=True)]
            counts = finished_runs(orgs)
            if counts.get("done", 0) + counts.get("failed", 0) >= expected and not counts.get("running"):
                break
        elapsed = time.monotonic() - dispatched_at
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()

    from finance import tenancy
    from finance.models import JobRun

    failures = []
    for org in orgs:
        with tenancy.tenant(org):
            failures += [
                (org.slug, job)
                for job in JobRun.objects.filter(status="failed").values_list("job", flat=True)
            ]
    isolated = failures == [(broken.slug, "aging_snapshot")]
    complete = counts.get("done", 0) + counts.get("failed", 0) == expected
    rows = [
        ("figure", "result"),
        ("organizations x jobs", f"{len(orgs)} x {len(JOBS)} = {expected}"),
        ("workers", f"{args.workers} (celery prefork, concurrency 1 each)"),
        ("dispatch to last job", f"{elapsed:.1f} s ({expected / elapsed:.1f} jobs/s)"),
        ("done / failed", f"{counts.get('done', 0)} / {counts.get('failed', 0)}"),
        ("failures", ", ".join(f"{s}:{j}" for s, j in failures) or "none"),
        ("one failure isolated", "yes" if isolated else "NO"),
        ("worker peak RSS", ", ".join(f"{p / 1024:.0f} MiB" for p in peaks)),
    ]
    print(_common.table(rows))
    _common.write_results(
        "fanout",
        {
            "organizations": len(orgs),
            "jobs_per_organization": len(JOBS),
            "tasks": expected,
            "workers": args.workers,
            "generate_s": round(generate_s, 1),
            "elapsed_s": round(elapsed, 1),
            "jobs_per_s": round(expected / elapsed, 1),
            "done": counts.get("done", 0),
            "failed": counts.get("failed", 0),
            "failures": failures,
            "failure_isolated": isolated,
            "complete": complete,
            "worker_peak_rss_mib": [round(p / 1024) for p in peaks],
            "machine": _common.machine(_common.postgres_version()),
        },
    )
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _common.drop_database(url)
    if not (complete and isolated):
        for log in logs:
            log.seek(0)
            print(log.read()[-3000:], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
