"""Fixtures every test may use: an organization with a member per role, and an outsider org.

Tests run inside the organization's tenant context (`in_org`), as a request or task would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from finance.models import Organization, Role
from finance.services import api_key_create
from tests.factories import CustomerFactory, MembershipFactory, OrganizationFactory

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache (the tests' is in memory): on SQLite a rolled-back
    test's ids come again, and cached rows (finance.rowcache) are keyed by them."""
    cache.clear()


@dataclass
class RedisCache:
    """The real Redis of REDIS_URL as the cache, under a key prefix of the test's own."""

    prefix: str
    server: Any

    def keys(self, pattern: str) -> list[bytes]:
        """The test's keys matching `pattern` (after the prefix and Django's version)."""
        return self.server.keys(f"{self.prefix}:*{pattern}")


@pytest.fixture
def redis_cache(settings: Any) -> Iterator[RedisCache]:
    """Production's cache for one test (skipped without REDIS_URL); its keys go afterwards."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs the Redis of REDIS_URL")
    import redis

    prefix = f"kehu-test-{uuid.uuid4().hex}"
    backend = "django.core.cache.backends.redis.RedisCache"
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": url, "KEY_PREFIX": prefix}}
    redis_cache = RedisCache(prefix, redis.Redis.from_url(url))
    yield redis_cache
    leftovers = redis_cache.server.keys(f"{prefix}:*")
    if leftovers:
        redis_cache.server.delete(*leftovers)


@pytest.fixture
def org(db: Any) -> Organization:
    return OrganizationFactory(slug="acme", name="Acme Trading")


@pytest.fixture
def outsider_org(db: Any) -> Organization:
    return OrganizationFactory(slug="outsider", name="Outsider Ltd")


@pytest.fixture
def in_org(org: Organization) -> Iterator[Organization]:
    with tenancy.tenant(org):
        yield org


@pytest.fixture
def members(org: Organization) -> dict[str, Any]:
    """One user per role in `org`, keyed by role."""
    return {
        role: MembershipFactory(organization=org, role=role, user__email=f"{role}@acme.test").user
        for role in Role.values
    }


@pytest.fixture
def outsider(outsider_org: Organization) -> Any:
    return MembershipFactory(organization=outsider_org, role="owner", user__email="owner@outsider.test").user


def actor_for(org: Organization, user: Any, role: str) -> Actor:
    return Actor(organization=org, role=role, user=user)


@pytest.fixture
def owner_actor(org: Organization, members: dict[str, Any]) -> Actor:
    return actor_for(org, members["owner"], "owner")


@pytest.fixture
def rep_actor(org: Organization, members: dict[str, Any]) -> Actor:
    return actor_for(org, members["sales_rep"], "sales_rep")


def make_key(org: Organization, scopes: list[str]) -> str:
    with tenancy.tenant(org):
        _key, raw = api_key_create(actor=Actor.system(org), name=f"key {scopes}", scopes=scopes)
    return raw


@pytest.fixture
def api(org: Organization) -> APIClient:
    """An API client with a read+write key of `org`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(org, ['read', 'write'])}")
    return client


@pytest.fixture
def read_api(org: Organization) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(org, ['read'])}")
    return client


@pytest.fixture
def outsider_api(outsider_org: Organization) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(outsider_org, ['read', 'write'])}")
    return client


@pytest.fixture
def outsider_customer(outsider_org: Organization) -> Any:
    return CustomerFactory(organization=outsider_org, name="Secret Outsider Customer", external_id="SHARED-1")


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


@pytest.fixture
def real_broker() -> Iterator[None]:
    """Tasks go through the configured broker (Redis in CI) to a real worker, not run eagerly."""
    from finance.celery import app

    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = True


def queued_work(callbacks: list) -> list:
    """The on-commit callbacks that are a request's own work, leaving out the audit sealing that
    follows every transaction with audit events (finance/auditchain.py)."""
    return [callback for callback in callbacks if not hasattr(callback, "kehu_audit_organizations")]
