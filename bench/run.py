"""`make bench`: every benchmark of issue 9, on one generated dataset where they share it, then the
table of figures against targets in docs/performance.md.

    DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/run.py [--quick] [--keep] [--only aging,api]

1. `api.py --generate-only` generates the mid-size company once, with COPY, into the database
   `kehu_bench` (timed against the two-minute target): one organization with 100k customers, 1M
   invoices, their payments and ~1M allocations, 500k interactions, and 200 small organizations.
2. `aging.py`, `api.py` and `analytics.py` measure that same database (`--reuse`): the aging report
   against its raw SQL, the API under gunicorn and wrk against a bare view, the nightly recompute
   (last: it writes the customers' classes).
3. The benches whose figure needs data of another shape build their own database and drop it:
   `import.py` (an empty organization that an ERP fills over HTTP, then the same invoices by COPY
   for the ratio), `credit.py` (credit profiles, orders and payment habits), `dunning.py` (100k
   invoices all overdue, contacts with e-mail addresses) and `fanout.py` (200 organizations at 23:00
   in their own time zones, one broken on purpose, two real Celery workers).
4. `report.py` writes the table into docs/performance.md.

Each step is a child process that prints its own figures and merges them into bench/results.json;
a step that fails is reported and the others still run (the exit status is then 1).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402

SHARED = "kehu_bench"


def steps(quick: bool) -> list[tuple[str, list[str]]]:
    size = ["--quick"] if quick else []
    shared = ["--database", SHARED, "--keep"]
    return [
        ("dataset", ["api.py", "--generate-only", *shared, *size]),
        ("aging", ["aging.py", "--reuse", *shared, *size]),
        ("api", ["api.py", "--reuse", *shared, *size]),
        ("analytics", ["analytics.py", "--reuse", *shared, *size]),
        ("import", ["import.py", *size]),
        ("credit", ["credit.py", *size]),
        ("dunning", ["dunning.py", *size]),
        ("fanout", ["fanout.py", *size]),
    ]


def calibrate(url: str) -> dict[str, float]:
    """How fast the machine is right now, in two fixed pieces of work: a pure Python loop and a
    PostgreSQL aggregate over generated rows (best of 3). The machine is a virtual one shared with
    other work: the same bench varies by a third between hours, and these say by how much."""
    import psycopg

    def best(work: Callable[[], object]) -> float:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            runs.append(time.perf_counter() - started)
        return round(min(runs), 3)

    with psycopg.connect(
        url.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"
    ) as conn:
        postgres_s = best(lambda: conn.execute("SELECT sum(i) FROM generate_series(1, 5000000) i").fetchone())
    return {
        "python_loop_s": best(lambda: sum(i * i for i in range(5_000_000))),
        "postgres_series_s": postgres_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every bench at its small size")
    parser.add_argument("--keep", action="store_true", help=f"keep the shared database {SHARED}")
    parser.add_argument("--only", default="", help="comma-separated steps (dataset is run when needed)")
    args = parser.parse_args()
    shared_url = _common.bench_database_url(SHARED)
    wanted = {name for name in args.only.split(",") if name}
    plan = steps(args.quick)
    if wanted:
        needs_data = bool(wanted & {"aging", "api", "analytics"})
        if needs_data and not _common.database_exists(shared_url):
            wanted.add("dataset")
        plan = [step for step in plan if step[0] in wanted]
    if any(name == "dataset" for name, _cmd in plan):
        _common.drop_database(shared_url)

    calibration = {"before": calibrate(shared_url)}
    print(f"Machine speed before: {calibration['before']}", flush=True)
    failed: list[str] = []
    timings: list[tuple[str, float]] = []
    for name, command in plan:
        print(f"\n=== {name}: bench/{' '.join(command)}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(BENCH / command[0]), *command[1:]], check=False)
        timings.append((name, time.perf_counter() - started))
        if result.returncode:
            failed.append(name)
            print(f"=== {name} failed with exit status {result.returncode}", flush=True)
            if name == "dataset":
                break
    calibration["after"] = calibrate(shared_url)
    print(f"Machine speed after: {calibration['after']}", flush=True)
    _common.write_results("calibration", {**calibration, "machine": _common.machine(None)})
    if not args.keep:
        _common.drop_database(shared_url)
    subprocess.run([sys.executable, str(BENCH / "report.py")], check=False)
    print(_common.table([("step", "minutes"), *((n, f"{s / 60:.1f}") for n, s in timings)]))
    if failed:
        sys.exit(f"Failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
