"""The project's own files agree with each other: compose, requirements, README, CI, deploy checks.

No database: these read files and run `manage.py check` in a subprocess with production settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
REQUIRED_APP_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "EMAIL_URL", "DJANGO_ENV")

# `env.str("NAME", ...)`, `environ.Env().str("NAME", ...)`, `env("NAME")` and plain `os.environ` reads.
_ENV_READ = re.compile(
    r"""\.(?:str|bool|int|float|list|tuple|dict|json|path|url|db|db_url|email|email_url|cache|cache_url)"""
    r"""\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.(?:environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
    r"""|\benv\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def settings_env_vars() -> set[str]:
    source = (ROOT / "finance" / "settings.py").read_text(encoding="utf-8")
    return {next(name for name in match.groups() if name) for match in _ENV_READ.finditer(source)}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def service_env(service: dict) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def service_depends_on(service: dict) -> set[str]:
    depends_on = service.get("depends_on") or {}
    return set(depends_on) if isinstance(depends_on, (list, dict)) else set()


def manage_py_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The current environment without anything the settings read, plus `overrides`.

    `DJANGO_*` goes too: other tests set e.g. `DJANGO_ALLOW_ASYNC_UNSAFE` in this process (for
    Playwright), which the deploy checks rightly reject.
    """
    drop = settings_env_vars()
    env = {
        key: value for key, value in os.environ.items() if key not in drop and not key.startswith("DJANGO_")
    }
    env.update(DJANGO_SETTINGS_MODULE="finance.settings", KEHU_VAR_DIR=str(tmp_path / "var"))
    env.update(overrides)
    return env


def run_manage_py(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


# --- docker-compose.yml -----------------------------------------------------------------------


def test_compose_defines_the_whole_stack() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_app_service_has_the_required_environment(name: str) -> None:
    env = service_env(compose()["services"][name])
    missing = [var for var in REQUIRED_APP_ENV if var not in env]
    assert not missing, f"{name} lacks {missing}"
    assert env["DJANGO_ENV"] == "production"


def test_compose_app_services_share_one_environment() -> None:
    services = compose()["services"]
    environments = [service_env(services[name]) for name in APP_SERVICES]
    assert all(environment == environments[0] for environment in environments)


@pytest.mark.parametrize("name", ["postgres", "redis", "web"])
def test_compose_service_has_a_healthcheck(name: str) -> None:
    healthcheck = compose()["services"][name].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_app_service_waits_for_postgres_and_redis(name: str) -> None:
    service = compose()["services"][name]
    assert {"postgres", "redis"} <= service_depends_on(service)
    depends_on = service["depends_on"]
    if isinstance(depends_on, dict):
        for dependency in ("postgres", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy"


def test_compose_bind_mounts_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# --- requirements -----------------------------------------------------------------------------

_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9.+!*_-]+(\s*;.+)?$")


@pytest.mark.parametrize("filename", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(filename: str) -> None:
    unpinned = []
    for raw_line in (ROOT / filename).read_text(encoding="utf-8").splitlines():
        line = re.sub(r"\s+#.*$", "", raw_line).strip()
        if not line or line.startswith("#") or line.startswith("-r "):
            continue
        if not _PINNED.match(line):
            unpinned.append(line)
    assert not unpinned, f"not pinned with == in {filename}: {unpinned}"


# --- README -----------------------------------------------------------------------------------


def test_settings_env_var_extraction_finds_the_variables() -> None:
    names = settings_env_vars()
    assert {"DATABASE_URL", "SECRET_KEY", "KEHU_VAR_DIR", "EMAIL_URL", "IDEMPOTENCY_KEY_TTL_HOURS"} <= names


def test_readme_starts_with_make_run_and_make_test() -> None:
    head = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    assert "make run" in head
    assert "make test" in head


def test_readme_documents_every_environment_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(name for name in settings_env_vars() if not re.search(rf"\b{name}\b", readme))
    assert not missing, f"README.md does not mention {missing}"


# --- CI ---------------------------------------------------------------------------------------


def test_ci_runs_make_test() -> None:
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run is not executable"
    assert re.search(r"^\s*(exec\s+)?make\s+test\b", script.read_text(encoding="utf-8"), re.MULTILINE)


# --- settings ---------------------------------------------------------------------------------


def test_production_settings_pass_the_deploy_checks(tmp_path: Path) -> None:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    secret_key = "".join(secrets.choice(alphabet) for _ in range(60))
    env = manage_py_env(
        tmp_path,
        DJANGO_ENV="production",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="kehu.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        FIELD_ENCRYPTION_KEYS=f"1:{Fernet.generate_key().decode()}",
        BLIND_INDEX_KEY=Fernet.generate_key().decode(),
    )
    result = run_manage_py("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = manage_py_env(
        tmp_path,
        DJANGO_ENV="production",
        ALLOWED_HOSTS="kehu.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
    )
    result = run_manage_py("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_the_performance_table_is_the_one_report_writes_from_the_results() -> None:
    """docs/performance.md's table of figures against targets is generated from bench/results.json
    by bench/report.py (`make bench` runs it): never edited by hand, never out of step."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    results = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    doc = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    written = doc.split(report.START, 1)[1].split(report.END, 1)[0].strip()
    assert written == report.table(results)
    for key in (
        "calibration",
        "dataset",
        "aging",
        "import",
        "api",
        "credit_check",
        "dunning",
        "analytics",
        "fanout",
    ):
        assert key in results, f"bench/results.json has no figures of {key}"
