"""Shared by the benchmarks: the bench database, Django setup, machine facts, results.json.

Benchmarks print their figures; they are never run by `make test` or CI (see docs/performance.md).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_database_url(database: str) -> str:
    """DATABASE_URL (the owner role) with the database name replaced by the bench's own.

    Exits with a message unless DATABASE_URL points at PostgreSQL: the benches measure PostgreSQL
    (COPY, row-level security), and must never touch the development SQLite file.
    """
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        sys.exit(
            "The benchmarks need PostgreSQL: set DATABASE_URL to the owner role, e.g.\n"
            "  DATABASE_URL=postgres://kehu_owner@127.0.0.1:5432/kehu_bench DATABASE_APP_ROLE=kehu_app\n"
            f"(got {url or 'nothing'}; SQLite is not supported)."
        )
    if "bench" not in database:
        sys.exit(f"Refusing {database!r}: the bench database is dropped, so its name must contain 'bench'.")
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _maintenance_connect(url: str):  # noqa: ANN202
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, "")), autocommit=True
    )


def database_exists(url: str) -> bool:
    name = urlsplit(url).path.lstrip("/")
    with _maintenance_connect(url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def recreate_database(url: str) -> None:
    """Drop and create the bench database, as the owner role of DATABASE_URL (it has CREATEDB)."""
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with _maintenance_connect(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with _maintenance_connect(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def django_setup(url: str) -> None:
    """Django with the project's settings against the bench database (DEBUG off: no query log)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finance.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("DATABASE_APP_ROLE"):
        print("warning: DATABASE_APP_ROLE is not set: queries run as the owner role.", file=sys.stderr)
    import django

    django.setup()


def analyze_tables(tables: list[str], *, vacuum: bool = False) -> None:
    """ANALYZE (or VACUUM ANALYZE) tables as their owner (the app role may not), as autovacuum would
    after a load; VACUUM also sets the visibility map that index-only scans rely on."""
    from django.db import connection

    from finance.db import owner_mode

    with owner_mode(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} {table}")


@contextmanager
def counting_queries() -> Iterator[Counter[str]]:
    """Count the statements run on the default connection, by their first word (cheap: no SQL kept)."""
    from django.db import connection

    counts: Counter[str] = Counter()

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        counts[sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counts


def _meminfo_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(pg_version: str | None = None) -> dict[str, object]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": _meminfo_gib(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "postgresql": pg_version,
    }


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def write_results(key: str, data: dict[str, object]) -> None:
    """Merge `data` under `key` into bench/results.json, keeping the other benches' entries."""
    results: dict[str, object] = {}
    if RESULTS.exists():
        try:
            results = json.loads(RESULTS.read_text(encoding="utf-8"))
        except ValueError:
            results = {}
    results[key] = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), **data}
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted sample lies (nearest rank, no interpolation)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def table(rows: list[tuple[str, ...]]) -> str:
    """A plain text table, the first row as header."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
