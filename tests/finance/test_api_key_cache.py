"""API keys kept between requests (finance.selectors.API_KEYS, finance.rowcache): a request with a
key known to the cache reads neither the key nor its organization, and every change made through
Kehu (revoke, rotate, expiry, a saved organization) is seen by the very next request."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from finance.models import ApiKey
from finance.selectors import API_KEYS
from finance.services import api_key_revoke, api_key_rotate
from tests.conftest import make_key

pytestmark = pytest.mark.django_db


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def key_reads(client: APIClient, path: str = "/api/v1/organization/") -> tuple[int, int]:
    """(status, statements that read API keys or set the key-lookup context) of one request."""
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path).status_code
    sql = [q["sql"] for q in captured.captured_queries]
    return status, sum('"finance_apikey"' in s and s.lstrip().startswith("SELECT") for s in sql)


def warm(client: APIClient) -> None:
    """Use the key once (read, its use recorded and kept), then from the cache."""
    assert key_reads(client) == (200, 1)
    assert key_reads(client) == (200, 0)


def the_key(org) -> ApiKey:
    with tenancy.tenant(org):
        return ApiKey.objects.get()


def test_a_known_key_is_not_read_again(org):
    client = client_for(make_key(org, ["read"]))
    assert key_reads(client) == (200, 1)
    assert key_reads(client) == (200, 0)
    assert key_reads(client) == (200, 0)
    assert client.get("/api/v1/organization/").json()["slug"] == "acme"


def test_a_wrong_secret_is_refused_even_with_the_prefix_cached(org):
    raw = make_key(org, ["read"])
    client = client_for(raw)
    warm(client)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw[:-3]}xyz")
    status, reads = key_reads(client)
    assert status == 401 and reads == 1  # the database decides, not the cache


def test_revoking_refuses_the_next_request(org):
    client = client_for(make_key(org, ["read"]))
    warm(client)
    with tenancy.tenant(org):
        api_key_revoke(actor=Actor.system(org), key=the_key(org))
    assert client.get("/api/v1/organization/").status_code == 401


def test_rotating_without_overlap_refuses_the_old_key_at_once(org, members):
    old_client = client_for(make_key(org, ["read"]))
    warm(old_client)
    owner = Actor(organization=org, role="owner", user=members["owner"])
    with tenancy.tenant(org):
        _new, new_raw = api_key_rotate(actor=owner, key=the_key(org), overlap_hours=0)
    assert old_client.get("/api/v1/organization/").status_code == 401
    assert client_for(new_raw).get("/api/v1/organization/").status_code == 200


def test_a_saved_organization_is_seen_by_the_next_request(org):
    client = client_for(make_key(org, ["read"]))
    warm(client)
    assert client.get("/api/v1/organization/").json()["timezone"] == "Asia/Shanghai"
    org.timezone = "Europe/Berlin"
    org.name = "Acme Europe"
    org.save()
    body = client.get("/api/v1/organization/").json()
    assert (body["timezone"], body["name"]) == ("Europe/Berlin", "Acme Europe")


def test_a_changed_rate_limit_applies_to_the_next_request(org):
    client = client_for(make_key(org, ["read"]))
    warm(client)
    key = the_key(org)
    key.rate_limit_per_minute = 1
    with tenancy.tenant(org):
        key.save(update_fields=["rate_limit_per_minute"])
    assert client.get("/api/v1/organization/").status_code == 429


def test_use_is_still_recorded_once_a_minute(org):
    client = client_for(make_key(org, ["read"]))
    client.get("/api/v1/organization/")
    first = the_key(org).last_used_at
    assert first is not None
    later = first + timezone.timedelta(seconds=61)
    with mock.patch("finance.services.timezone.now", return_value=later):
        client.get("/api/v1/organization/")
    assert the_key(org).last_used_at == later
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/organization/").status_code == 200
    # Kept with its new time: neither read again nor touched again within the minute.
    assert not [q for q in captured.captured_queries if '"finance_apikey"' in q["sql"]]


def test_a_cache_outage_falls_back_to_the_database(org):
    client = client_for(make_key(org, ["read"]))
    warm(client)
    with mock.patch("finance.rowcache.cache.get_many", side_effect=ConnectionError("down")):
        assert key_reads(client) == (200, 1)
    with tenancy.tenant(org):
        api_key_revoke(actor=Actor.system(org), key=the_key(org))
    with mock.patch("finance.rowcache.cache.get_many", side_effect=ConnectionError("down")):
        assert client.get("/api/v1/organization/").status_code == 401


def test_another_organizations_key_is_its_own(org, outsider_org):
    ours, theirs = client_for(make_key(org, ["read"])), client_for(make_key(outsider_org, ["read"]))
    warm(ours)
    warm(theirs)
    for _ in range(2):
        assert ours.get("/api/v1/organization/").json()["slug"] == "acme"
        assert theirs.get("/api/v1/organization/").json()["slug"] == "outsider"


def test_in_redis_an_entry_expires_and_a_revoke_is_seen_at_once(org, redis_cache):
    """Production keeps the keys in Redis: the entry lives a minute at most, its generation stays."""
    client = client_for(make_key(org, ["read"]))
    warm(client)
    key = the_key(org)
    (entry,) = redis_cache.keys(f"kehu:row:*:apikey:{key.prefix}")
    assert 0 < redis_cache.server.ttl(entry) <= API_KEYS.seconds == 60
    with tenancy.tenant(org):
        api_key_revoke(actor=Actor.system(org), key=key)
    (generation,) = redis_cache.keys(f"kehu:row:*:apikey:{key.prefix}:generation")
    assert redis_cache.server.ttl(generation) == -1  # no expiry: an entry never outlives its generation
    assert client.get("/api/v1/organization/").status_code == 401
