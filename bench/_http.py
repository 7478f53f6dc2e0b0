"""Shared by the benchmarks that go through HTTP (import.py, credit.py): the bench site (database,
organization, API key), gunicorn on loopback with production settings, and a keep-alive client.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import _common

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
BENCH_DIR = Path(__file__).resolve().parent
BENCH_REDIS_DB = 13


WRK = shutil.which("wrk")


def wrk_load(port: int, key: str, requests: list[str], *, concurrency: int, seconds: float) -> dict:
    """`wrk -t 2 -c <concurrency> -d <seconds>s` (a closed loop of keep-alive connections, in C, so
    the load generator takes little of the two cores from the server) sending `requests` in turn,
    through bench/wrk.lua, which prints the latency percentiles. A request is a path to GET, or
    "POST <path> <JSON body>" on one line."""
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as listing:
        listing.write("\n".join(requests) + "\n")
    env = {**os.environ, "KEHU_WRK_PATHS": listing.name, "KEHU_WRK_KEY": key}
    result = subprocess.run(
        [
            WRK,
            *("-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"),
            *("--timeout", "30s", "-s", str(Path(__file__).with_name("wrk.lua"))),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(listing.name)
    line = next(line for line in result.stdout.splitlines() if line.startswith("KEHU_WRK "))
    raw = json.loads(line.removeprefix("KEHU_WRK "))
    if raw["non_2xx"] + raw["socket_errors"] > raw["requests"] // 100:
        sys.exit(
            f"wrk: {raw['non_2xx']} answers not 2xx and {raw['socket_errors']} socket errors in"
            f" {raw['requests']} requests to {requests[0][:80]}: the figures would measure failures."
        )
    ms = lambda micro: round(micro / 1000, 1)  # noqa: E731
    return {
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": ms(raw["p50_us"]),
        "p95_ms": ms(raw["p95_us"]),
        "p99_ms": ms(raw["p99_us"]),
        "max_ms": ms(raw["max_us"]),
        "non_200": raw["non_2xx"] + raw["socket_errors"],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(url: str, var_dir: str, conn_max_age: int) -> dict[str, str]:
    """Production settings on loopback: DEBUG off, no HTTPS redirect, the bench database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="finance.settings",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        KEHU_VAR_DIR=var_dir,
        CONN_MAX_AGE=str(conn_max_age),
        # Production needs field-encryption keys; fixed bench-only ones, so `--reuse` still decrypts.
        FIELD_ENCRYPTION_KEYS="1:"
        + base64.urlsafe_b64encode(hashlib.sha256(b"kehu-bench").digest()).decode(),
        BLIND_INDEX_KEY="kehu-bench-only-blind-index-key-not-a-secret",
        # The load generator is one client: the per-key rate limit would answer 429 instead.
        API_KEY_RATE_LIMIT_PER_MINUTE="100000000",
    )
    redis = os.environ.get("REDIS_URL")
    if redis:
        # The cache (rate-limit counters) in Redis as in production, in a database of the bench's
        # own; tasks queued there (none is consumed) are dropped with it by `flush_bench_redis`.
        env["REDIS_URL"] = urlunsplit(urlsplit(redis)._replace(path=f"/{BENCH_REDIS_DB}"))
    else:
        env.pop("REDIS_URL", None)  # the embedded broker and the file cache
    return env


def flush_bench_redis(env: dict[str, str]) -> None:
    """Empty the bench's Redis database (cache entries and the tasks nobody consumed)."""
    if env.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=_common.ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def bench_site(
    url: str, *, name: str, conn_max_age: int = 60, reuse: bool = False
) -> tuple[dict[str, str], str]:
    """Drop and create the bench database, migrate it, create the organization "bench" (base
    currency CNY) and a read/write API key with manage.py, as an operator would; with `reuse`, only
    a new key for the organization of a previous `--keep` run. Returns the server's environment
    and the raw key."""
    if not os.environ.get("DATABASE_APP_ROLE"):
        print("warning: DATABASE_APP_ROLE is not set: requests run as the owner role.", file=sys.stderr)
    if not reuse:
        _common.recreate_database(url)
    env = server_env(url, tempfile.mkdtemp(prefix=f"kehu-bench-{name}-"), conn_max_age)
    if not reuse:
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "create_org", "bench", "--name", "Bench", "--currency", "CNY")
    created = manage(env, "create_api_key", "bench", "--name", "bench", "--scopes", "read,write")
    return env, created.strip().splitlines()[-1]


def django_setup_as_server(url: str, env: dict[str, str]) -> None:
    """Django in this process with the server's settings (production, DEBUG off), against `url`."""
    for name in (
        "DJANGO_ENV",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "KEHU_VAR_DIR",
        "FIELD_ENCRYPTION_KEYS",
        "BLIND_INDEX_KEY",
        "API_KEY_RATE_LIMIT_PER_MINUTE",
        "CONN_MAX_AGE",
    ):
        os.environ[name] = env[name]
    if env.get("REDIS_URL"):  # the bench's own Redis database, as the server's
        os.environ["REDIS_URL"] = env["REDIS_URL"]
    else:
        os.environ.pop("REDIS_URL", None)
    _common.django_setup(url)


class Client:
    """One keep-alive HTTP connection to the server (reopened by http.client when the server
    closes it, as gunicorn's sync workers do after each response)."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes, idempotency_key: str | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        self.connection.request("POST", path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def get(self, path: str) -> tuple[int, bytes]:
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def wait_for_server(port: int, key: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited with {process.returncode}")
        try:
            status, _body = Client(port, key).get("/api/v1/customers/?limit=1")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("gunicorn did not answer in time")


@contextmanager
def gunicorn(
    env: dict[str, str], key: str, *, workers: int, patches: list[str] | None = None
) -> Iterator[subprocess.Popen]:
    """`gunicorn finance.wsgi:application -w <workers>` on a free loopback port (with the bench-only
    patches of bench/_projected.py named in `patches`, through bench/_projected_wsgi.py), answering
    once the block starts; stopped with SIGTERM when it ends. Yields the process; its port is
    `process.port`."""
    port = free_port()
    env = {**env, "KEHU_BENCH_PATCHES": ",".join(patches or [])}
    app = ["--pythonpath", str(BENCH_DIR), "_projected_wsgi:application"] if patches else []
    server = subprocess.Popen(
        [
            GUNICORN,
            *(app or ["finance.wsgi:application"]),
            *("-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "300"),
            *("--worker-tmp-dir", "/dev/shm"),  # as docker-compose.yml: the heartbeat file in memory
        ],
        cwd=_common.ROOT,
        env=env,
    )
    server.port = port  # type: ignore[attr-defined]
    try:
        wait_for_server(port, key, server)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        flush_bench_redis(env)


def server_version(url: str) -> str:
    """PostgreSQL's version, asked over a connection of its own (no Django in this process)."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]
