"""Security events: one JSON line per sign-in, failure, lockout, sign-out, bad key, denial, foreign
id, throttle and expired session, with ids, the route and a keyed hash of the address, and never
an email, a name or a raw address."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from finance import security_events, tenancy
from finance.middleware import SESSION_SEEN_KEY
from finance.models import ApiKey
from tests.conftest import PASSWORD, login, make_key

pytestmark = pytest.mark.django_db

CLIENT_IP = "203.0.113.77"
LOGIN = "/accounts/login/"
BASE_FIELDS = {
    "timestamp",
    "event",
    "outcome",
    "organization_id",
    "user_id",
    "api_key_prefix",
    "request_id",
    "method",
    "route",
    "status",
    "client_hash",
}
# Other tenants' rows are invisible to the application role on PostgreSQL (row-level security),
# so a foreign id cannot be told from a missing one there; the ORM-level check runs on SQLite.
needs_visible_foreign_rows = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="row-level security hides other tenants' rows"
)


class SecurityLog:
    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.security for r in self.handler.records if hasattr(r, "security")]  # type: ignore[attr-defined]

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    def one(self, event: str) -> dict[str, Any]:
        found = self.named(event)
        assert len(found) == 1, (event, self.events)
        return found[0]

    def lines(self) -> str:
        formatter = security_events.JsonFormatter()
        return "\n".join(formatter.format(r) for r in self.handler.records if hasattr(r, "security"))


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> Iterator[SecurityLog]:
    logger = logging.getLogger("kehu.security")
    logger.addHandler(caplog.handler)
    try:
        yield SecurityLog(caplog.handler)
    finally:
        logger.removeHandler(caplog.handler)


def assert_no_personal_data(log: SecurityLog, *secrets: str) -> None:
    text = log.lines()
    for line in text.splitlines():
        assert set(json.loads(line)) >= BASE_FIELDS  # every line is a whole JSON object
    for secret in (CLIENT_IP, "@acme.test", "@outsider.test", *secrets):
        assert secret not in text


def test_sign_in_sign_out_and_failure(client, org, members, security_log):
    user = members["sales_rep"]  # a role that needs no second factor: signed in at the password step
    client.post(LOGIN, {"username": user.email, "password": "wrong"}, REMOTE_ADDR=CLIENT_IP)
    failed = security_log.one("login.failed")
    assert failed["outcome"] == "failure" and failed["user_id"] is None
    assert failed["username_hash"] == security_events.keyed_hash(user.email)
    assert failed["client_hash"] == security_events.keyed_hash(CLIENT_IP)
    assert failed["route"] == "/accounts/login/" and failed["method"] == "POST"

    client.post(LOGIN, {"username": user.email, "password": PASSWORD}, REMOTE_ADDR=CLIENT_IP)
    succeeded = security_log.one("login.succeeded")
    assert succeeded["outcome"] == "success" and succeeded["user_id"] == user.pk
    assert succeeded["request_id"]

    client.post("/accounts/logout/", REMOTE_ADDR=CLIENT_IP)
    assert security_log.one("logout")["user_id"] == user.pk
    assert_no_personal_data(security_log, user.first_name, PASSWORD)


def test_lockout_is_logged_with_the_hashed_username(client, org, members, security_log):
    email = members["owner"].email
    for _ in range(5):
        client.post(LOGIN, {"username": email, "password": "wrong"}, REMOTE_ADDR=CLIENT_IP)
    locked = security_log.one("login.locked_out")
    assert locked["username_hash"] == security_events.keyed_hash(email)
    assert security_log.named("throttled") == []  # axes' 429 is a lockout, not a rate limit
    assert_no_personal_data(security_log)


def test_bad_api_keys_are_logged_with_the_prefix_only_when_it_parses(org, security_log):
    raw = make_key(org, ["read"])
    prefix = raw.split(".")[0].removeprefix("kehu_")
    client = APIClient(REMOTE_ADDR=CLIENT_IP)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw[:-3]}xyz")
    assert client.get("/api/v1/customers/?secret=1").status_code == 401
    unknown = security_log.one("apikey.auth_failed")
    assert unknown["api_key_prefix"] == prefix and unknown["reason"] == "unknown"
    assert unknown["route"] == "/api/v1/customers/" and unknown["status"] == 401

    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert client.get("/api/v1/customers/").status_code == 401
    garbage = security_log.named("apikey.auth_failed")[-1]
    assert garbage["api_key_prefix"] is None and garbage["reason"] == "malformed"

    with tenancy.tenant(org):
        key = ApiKey.objects.get()
        key.revoked_at = key.created_at
        key.save(update_fields=["revoked_at"])  # forgets the key cached by the requests above
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/customers/").status_code == 401
    revoked = security_log.named("apikey.auth_failed")[-1]
    assert revoked["reason"] == "revoked" and revoked["organization_id"] == org.pk
    assert_no_personal_data(security_log, raw, raw[:-3], "secret=1")


def test_denied_api_access_is_logged(read_api, org, security_log):
    response = read_api.post("/api/v1/customers/", {"name": "X"}, format="json", REMOTE_ADDR=CLIENT_IP)
    assert response.status_code == 403
    denied = security_log.one("access.denied")
    assert denied["organization_id"] == org.pk and denied["api_key_prefix"]
    assert denied["route"] == "/api/v1/customers/" and denied["method"] == "POST"
    assert denied["status"] == 403 and denied["user_id"] is None
    assert_no_personal_data(security_log)


def test_denied_browser_page_is_logged(client, org, members, security_log):
    login(client, members["sales_rep"])
    assert client.get("/settings/api-keys/", REMOTE_ADDR=CLIENT_IP).status_code == 403
    denied = security_log.one("access.denied")
    assert denied["user_id"] == members["sales_rep"].pk and denied["organization_id"] == org.pk
    assert denied["route"] == "/settings/api-keys/" and denied["api_key_prefix"] is None
    assert_no_personal_data(security_log)


@needs_visible_foreign_rows
def test_another_tenants_id_on_the_api_is_a_plain_404_and_logged(api, org, outsider_customer, security_log):
    foreign = api.get(f"/api/v1/customers/{outsider_customer.pk}/", REMOTE_ADDR=CLIENT_IP)
    missing = api.get("/api/v1/customers/987654321/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    event = security_log.one("access.foreign_id")
    assert event["object_type"] == "crm.customer" and event["object_id"] == outsider_customer.pk
    assert event["organization_id"] == org.pk  # the asking tenant, never the owner's
    assert event["route"] == "/api/v1/customers/{pk}/" and event["status"] == 404
    assert_no_personal_data(security_log, outsider_customer.name)


@needs_visible_foreign_rows
def test_another_tenants_id_on_the_customer_page_is_logged(
    client, org, members, outsider_customer, security_log
):
    login(client, members["owner"])
    assert client.get(f"/customers/{outsider_customer.pk}/", REMOTE_ADDR=CLIENT_IP).status_code == 404
    assert client.get("/customers/987654321/").status_code == 404
    event = security_log.one("access.foreign_id")  # the missing id is not "foreign"
    assert event["user_id"] == members["owner"].pk and event["route"] == "/customers/{pk}/"
    assert_no_personal_data(security_log, outsider_customer.name)


def test_a_missing_id_is_not_a_foreign_id(api, org, security_log):
    assert api.get("/api/v1/customers/987654321/").status_code == 404
    assert security_log.named("access.foreign_id") == []


def test_throttled_requests_are_logged(org, settings, security_log):
    cache.clear()
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 1
    client = APIClient(REMOTE_ADDR=CLIENT_IP)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(org, ['read'])}")
    assert client.get("/api/v1/customers/").status_code == 200
    assert client.get("/api/v1/customers/").status_code == 429
    throttled = security_log.one("throttled")
    assert (
        throttled["status"] == 429 and throttled["api_key_prefix"] and throttled["organization_id"] == org.pk
    )
    assert_no_personal_data(security_log)


def test_an_expired_session_is_logged(client, org, members, security_log):
    login(client, members["owner"])
    session = client.session
    session[SESSION_SEEN_KEY] = int(time.time()) - 31 * 60
    session.save()
    assert client.get("/customers/", REMOTE_ADDR=CLIENT_IP).status_code == 302
    expired = security_log.one("session.expired")
    assert expired["user_id"] == members["owner"].pk and expired["route"] == "/customers/"
    assert_no_personal_data(security_log)


def test_emit_hashes_personal_fields_and_drops_secrets(security_log):
    record = security_events.emit(
        "mfa.failed", username="Someone@Example.com", token="123456", password="x", attempts=3
    )
    assert record["username_hash"] == security_events.keyed_hash("someone@example.com")
    assert "token" not in record and "password" not in record and record["attempts"] == 3
    assert record["timestamp"].endswith("+00:00")
    line = json.loads(security_log.lines())
    assert line["event"] == "mfa.failed" and "Someone" not in security_log.lines()
