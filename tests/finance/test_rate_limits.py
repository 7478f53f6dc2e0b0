"""Rate limits per API key (its own, its organization's or the default) and per signed-in user:
429 with Retry-After over the limit, and the remaining budget in every answer's headers."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from finance.services import api_key_create
from tests.conftest import login, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def client_for(raw: str, ip: str = "198.51.100.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_key_over_its_limit_gets_429_while_another_key_is_unaffected(org, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 3
    busy = client_for(make_key(org, ["read"]))
    other = client_for(make_key(org, ["read"]))  # same address: the limit is per key, not per IP
    remaining = [busy.get("/api/v1/customers/")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = busy.get("/api/v1/customers/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Limit"] == "3" and refused["X-RateLimit-Remaining"] == "0"
    assert "throttled" in refused.json()["detail"].lower()
    answer = other.get("/api/v1/customers/")
    assert answer.status_code == 200 and answer["X-RateLimit-Remaining"] == "2"


def test_the_keys_own_limit_wins_over_the_default(org, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 1000
    with tenancy.tenant(org):
        _key, raw = api_key_create(
            actor=Actor.system(org), name="slow ERP", scopes=["read"], rate_limit_per_minute=2
        )
    client = client_for(raw)
    assert client.get("/api/v1/customers/")["X-RateLimit-Limit"] == "2"
    assert client.get("/api/v1/customers/").status_code == 200
    assert client.get("/api/v1/customers/").status_code == 429


def test_the_organization_setting_is_the_keys_default(org, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 1000
    org.settings = {"api_rate_limit_per_minute": 5}
    org.save()
    response = client_for(make_key(org, ["read"])).get("/api/v1/customers/")
    assert response["X-RateLimit-Limit"] == "5"


def test_a_signed_in_user_has_a_per_user_limit(client, org, members, settings):
    settings.API_USER_RATE_LIMIT_PER_MINUTE = 2
    login(client, members["owner"])
    assert client.get("/api/v1/customers/")["X-RateLimit-Limit"] == "2"
    assert client.get("/api/v1/customers/").status_code == 200
    assert client.get("/api/v1/customers/").status_code == 429
    other = APIClient()
    login(other, members["admin"])
    assert other.get("/api/v1/customers/").status_code == 200


def test_refused_requests_do_not_count(org, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 1
    client = client_for("kehu_zzzzzzzz.not-a-real-key")
    for _ in range(3):
        assert client.get("/api/v1/customers/").status_code == 401
    assert client_for(make_key(org, ["read"])).get("/api/v1/customers/").status_code == 200


def test_browser_pages_are_not_rate_limited(client, org, members, settings):
    settings.API_USER_RATE_LIMIT_PER_MINUTE = 1
    login(client, members["owner"])
    for _ in range(3):
        response = client.get("/customers/")
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response


def test_the_keys_page_sets_a_rate_limit(client, org, members):
    login(client, members["admin"])
    response = client.post(
        "/settings/api-keys/", {"name": "ERP", "scopes": ["read"], "rate_limit_per_minute": "0"}
    )
    assert response.status_code == 200 and "rate_limit_per_minute" in response.context["form"].errors
    response = client.post(
        "/settings/api-keys/", {"name": "ERP", "scopes": ["read"], "rate_limit_per_minute": "42"}
    )
    assert client_for(response.context["new_key"]).get("/api/v1/customers/")["X-RateLimit-Limit"] == "42"


def test_the_counts_in_redis_take_one_round_trip_and_limit_alike(org, settings, redis_cache):
    """Production counts in Redis (INCR and EXPIRE in one pipeline): the same 3-then-429, the
    counter expiring after its window."""
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 3
    busy = client_for(make_key(org, ["read"]))
    remaining = [busy.get("/api/v1/customers/")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    assert busy.get("/api/v1/customers/").status_code == 429
    keys = redis_cache.keys("throttle:key:*")
    assert len(keys) == 1
    assert int(redis_cache.server.get(keys[0])) == 4
    assert 0 < redis_cache.server.ttl(keys[0]) <= 65
