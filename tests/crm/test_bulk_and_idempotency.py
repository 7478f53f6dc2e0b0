"""ERP contracts: bulk upsert of customers, and Idempotency-Key on every POST."""

import threading

import pytest

from crm.models import Customer
from finance import tenancy
from finance.models import AuditEvent, IdempotencyKey
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
BULK = "/api/v1/customers/bulk/"


def _customers(org):
    with tenancy.tenant(org):
        return {c.external_id: c for c in Customer.objects.all()}


def test_bulk_creates_updates_and_reports_unchanged(api, org):
    CustomerFactory(organization=org, external_id="E-1", name="Old name", country="CN")
    CustomerFactory(organization=org, external_id="E-2", name="Same", country="CN", currency="CNY")
    response = api.post(
        BULK,
        {
            "items": [
                {"external_id": "E-1", "name": "New name"},
                {"external_id": "E-2", "name": "Same"},
                {"external_id": "E-3", "name": "Brand new", "country": "DE", "currency": "EUR"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["external_id"], r["status"]) for r in results] == [
        ("E-1", "updated"),
        ("E-2", "unchanged"),
        ("E-3", "created"),
    ]
    customers = _customers(org)
    assert customers["E-1"].name == "New name"
    assert customers["E-3"].currency == "EUR"
    assert results[2]["id"] == customers["E-3"].pk
    with tenancy.tenant(org):
        assert AuditEvent.objects.filter(
            action="customer.created", object_id=str(customers["E-3"].pk)
        ).exists()


def test_bulk_with_one_invalid_row_writes_nothing_and_reports_per_row(api, org):
    CustomerFactory(organization=org, external_id="E-1", name="Keep me")
    response = api.post(
        BULK,
        {
            "items": [
                {"external_id": "E-1", "name": "Changed"},
                {"external_id": "E-9", "name": "Bad tax id", "country": "CN", "tax_id": "123"},
                {"external_id": "E-10", "name": "Fine"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["items"]
    assert errors[0] == {} and errors[2] == {}
    assert "tax_id" in errors[1]
    customers = _customers(org)
    assert customers["E-1"].name == "Keep me"
    assert set(customers) == {"E-1"}


def test_bulk_rejects_duplicates_missing_ids_and_oversized_batches(api, org):
    response = api.post(
        BULK, {"items": [{"external_id": "D", "name": "a"}, {"external_id": "D", "name": "b"}]}, format="json"
    )
    assert response.status_code == 400
    assert "external_id" in response.json()["items"][1]
    response = api.post(BULK, {"items": [{"name": "no id"}]}, format="json")
    assert response.status_code == 400
    response = api.post(
        BULK, {"items": [{"external_id": f"X{i}", "name": "n"} for i in range(1001)]}, format="json"
    )
    assert response.status_code == 400
    response = api.post(BULK, {"items": []}, format="json")
    assert response.status_code == 400
    response = api.post(BULK, {"items": "nope"}, format="json")
    assert response.status_code == 400
    assert _customers(org) == {}


def test_bulk_upsert_never_touches_another_tenants_customer_with_the_same_external_id(api, org, outsider_org):
    theirs = CustomerFactory(organization=outsider_org, external_id="SHARED", name="Theirs")
    response = api.post(BULK, {"items": [{"external_id": "SHARED", "name": "Mine"}]}, format="json")
    assert response.json()["results"][0]["status"] == "created"
    with tenancy.tenant(outsider_org):
        assert Customer.objects.get(pk=theirs.pk).name == "Theirs"


def test_external_id_is_unique_per_organization_and_a_duplicate_is_a_400(api, org, outsider_org):
    CustomerFactory(organization=outsider_org, external_id="X-1")
    assert (
        api.post("/api/v1/customers/", {"external_id": "X-1", "name": "a"}, format="json").status_code == 201
    )
    response = api.post("/api/v1/customers/", {"external_id": "X-1", "name": "b"}, format="json")
    assert response.status_code == 400
    assert "external_id" in response.json()


def test_oversized_payload_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/customers/", {"name": "x", "notes": "y" * 5000}, format="json")
    assert response.status_code == 413


# --- Idempotency-Key ------------------------------------------------------------------------


def test_same_key_and_body_replays_the_first_response(api, org):
    body = {"external_id": "I-1", "name": "Once"}
    first = api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert len(_customers(org)) == 1


def test_same_key_with_a_different_body_is_a_422(api, org):
    api.post("/api/v1/customers/", {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = api.post("/api/v1/customers/", {"name": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert len(_customers(org)) == 1


def test_a_request_while_the_first_is_in_flight_is_a_409(api, org):
    import hashlib

    body = b'{"name": "Slow"}'
    digest = hashlib.sha256(b"POST /api/v1/customers/\n" + body).hexdigest()
    with tenancy.tenant(org):
        IdempotencyKey.objects.create(key="k-3", request_hash=digest)
    response = api.post(
        "/api/v1/customers/", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 409
    assert _customers(org) == {}


def test_keys_are_scoped_to_the_organization(api, outsider_api, org, outsider_org):
    body = {"name": "Same key elsewhere"}
    assert (
        api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    )
    response = outsider_api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert len(_customers(outsider_org)) == 1


def test_a_failed_validation_is_replayed_too_and_nothing_is_written(api, org):
    body = {"name": ""}
    first = api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    second = api.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


def test_bulk_honours_idempotency_key(api, org):
    body = {"items": [{"external_id": "B-1", "name": "one"}]}
    first = api.post(BULK, body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    second = api.post(BULK, body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert first.json() == second.json()
    assert first.json()["results"][0]["status"] == "created"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_customer(org):
    from django.db import connection
    from rest_framework.test import APIClient

    from tests.conftest import make_key

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    key = make_key(org, ["read", "write"])
    statuses: list[int] = []

    def post() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        try:
            response = client.post(
                "/api/v1/customers/", {"name": "Race"}, format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_customers(org)) == 1
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
