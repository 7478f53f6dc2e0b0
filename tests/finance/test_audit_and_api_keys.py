"""Audit events for every write; API keys hashed, scoped, revocable; the organization endpoint."""

import pytest
from rest_framework.test import APIClient

from finance import tenancy
from finance.models import ApiKey, AuditEvent
from tests.conftest import login, make_key
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_write_records_who_what_and_the_changed_fields(api, org):
    created = api.post("/api/v1/customers/", {"name": "Audited"}, format="json", HTTP_X_REQUEST_ID="req-42")
    customer_id = created.json()["id"]
    api.patch(f"/api/v1/customers/{customer_id}/", {"name": "Audited 2", "industry": "Food"}, format="json")
    with tenancy.tenant(org):
        events = list(AuditEvent.objects.filter(customer_id=customer_id).order_by("id"))
    assert [e.action for e in events] == ["customer.created", "customer.updated"]
    assert events[0].request_id == "req-42"
    assert events[0].actor_api_key_id is not None
    assert events[1].changes == {"name": ["Audited", "Audited 2"], "industry": ["", "Food"]}


def test_audit_api_is_read_only_and_filtered_by_customer(client, org, members, api):
    first = api.post("/api/v1/customers/", {"name": "One"}, format="json").json()["id"]
    api.post("/api/v1/customers/", {"name": "Two"}, format="json")
    login(client, members["auditor"])
    response = client.get("/api/v1/audit-events/", {"customer": first})
    assert response.status_code == 200
    assert {e["customer_id"] for e in response.json()["results"]} == {first}
    assert client.post("/api/v1/audit-events/", {}, content_type="application/json").status_code in (403, 405)
    page = client.get(f"/customers/{first}/audit/")
    assert page.status_code == 200 and b"customer.created" in page.content


def test_audit_events_of_another_organization_are_invisible(api, outsider_api, outsider_org):
    outsider_api.post("/api/v1/customers/", {"name": "Theirs"}, format="json")
    with tenancy.tenant(outsider_org):
        event = AuditEvent.objects.first()
    assert api.get(f"/api/v1/audit-events/{event.pk}/").status_code in (403, 404)


def test_api_keys_are_stored_hashed_and_shown_by_prefix(org):
    raw = make_key(org, ["read"])
    with tenancy.tenant(org):
        key = ApiKey.objects.get()
    assert raw.startswith(f"kehu_{key.prefix}.")
    assert raw not in key.hashed_key and len(key.hashed_key) == 64


def test_revoked_key_and_forged_keys_are_401(org):
    raw = make_key(org, ["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/customers/").status_code == 200
    with tenancy.tenant(org):
        key = ApiKey.objects.get()
        key.revoked_at = key.created_at
        key.save()
    assert client.get("/api/v1/customers/").status_code == 401
    for forged in [raw[:-2] + "xx", "kehu_zzzzzzzz.abc", "garbage", "kehu_" + "é" * 10, "a b c"]:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert client.get("/api/v1/customers/").status_code == 401


def test_key_use_is_recorded(org, api):
    api.get("/api/v1/customers/")
    with tenancy.tenant(org):
        assert ApiKey.objects.get().last_used_at is not None


def test_api_keys_page_creates_shows_once_and_revokes(client, org, members):
    login(client, members["admin"])
    response = client.post("/settings/api-keys/", {"name": "ERP", "scopes": ["read", "write"]})
    assert response.status_code == 200
    raw = response.context["new_key"]
    assert raw.startswith("kehu_") and raw.encode() in response.content
    assert raw.encode() not in client.get("/settings/api-keys/").content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/organization/").json()["slug"] == org.slug
    with tenancy.tenant(org):
        key = ApiKey.objects.get(name="ERP")
    client.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert api.get("/api/v1/organization/").status_code == 401


def test_another_organizations_key_cannot_be_revoked(client, org, members, outsider_org):
    make_key(outsider_org, ["read"])
    with tenancy.tenant(outsider_org):
        key = ApiKey.objects.get()
    login(client, members["owner"])
    assert client.post(f"/settings/api-keys/{key.pk}/revoke/").status_code == 404
    with tenancy.tenant(outsider_org):
        assert ApiKey.objects.get().revoked_at is None


def test_organization_endpoint_returns_the_keys_organization(api, org):
    body = api.get("/api/v1/organization/").json()
    assert body["slug"] == "acme" and body["base_currency"] == "CNY" and body["timezone"] == "Asia/Shanghai"


def test_customer_detail_of_other_tenant_is_indistinguishable_from_missing(api, outsider_customer):
    missing = api.get("/api/v1/customers/999999999/")
    theirs = api.get(f"/api/v1/customers/{outsider_customer.pk}/")
    assert missing.status_code == theirs.status_code == 404
    assert missing.json() == theirs.json()
    assert b"Secret Outsider" not in theirs.content


def test_weird_ids_and_query_strings_never_500(api, org):
    CustomerFactory(organization=org)
    for url in [
        "/api/v1/customers/99999999999999999999999/",
        "/api/v1/customers/-1/",
        "/api/v1/customers/abc/",
        "/api/v1/customers/?owner=99999999999999999999999",
        "/api/v1/customers/?owner=abc",
        "/api/v1/customers/?cursor=garbage",
        "/api/v1/customers/?page_size=-5",
        "/api/v1/customers/?ordering=secret_field",
        "/api/v1/customers/?search=%00",
        "/api/v1/customers/?updated_since=yesterday",
        "/api/v1/customers/?lifecycle_stage=nope",
        "/api/v1/contacts/?customer=1e400",
    ]:
        assert api.get(url).status_code < 500, url
