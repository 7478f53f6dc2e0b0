"""The service API: /api/v1/experience/service-requests/ (shared resource checks, upsert by
external id, notes, actions, filters, a rep's view, Idempotency-Key), sla-policies/ and
service-quality/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from experience import service
from experience.models import ServiceRequest, SlaPolicy
from finance import tenancy
from finance.actors import Actor
from tests.api_mixins import ApiResourceChecks
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/experience/service-requests/"
POLICIES = "/api/v1/experience/sla-policies/"
QUALITY = "/api/v1/experience/service-quality/"


def make_request(org, n=0, **fields):
    with tenancy.tenant(org):
        customer = fields.pop("customer", None) or CustomerFactory(organization=org)
        return service.service_request_create(
            actor=Actor.system(org), customer=customer, subject=f"Question {n}", **fields
        )


class TestServiceRequestResource(ApiResourceChecks):
    url = URL
    model = ServiceRequest
    update_payload = {"priority": "high", "status": "waiting"}

    def make(self, org, n=0):
        return make_request(org, n)

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        return {
            "customer": customer.pk,
            "subject": "Short delivery",
            "priority": "urgent",
            "category": "delivery",
        }

    def invalid_payloads(self, org, outsider_org):
        customer = CustomerFactory(organization=org)
        theirs = CustomerFactory(organization=outsider_org)
        stranger = ContactFactory(customer=CustomerFactory(organization=org))
        return [
            {},
            {"customer": customer.pk},
            {"customer": theirs.pk, "subject": "x"},
            {"customer": customer.pk, "subject": "x", "priority": "asap"},
            {"customer": customer.pk, "subject": "x", "contact": stranger.pk},
            {"customer": customer.pk, "subject": "x", "assignee": 99999999},
            {"customer": customer.pk, "subject": "x" * 301},
            {"customer": "abc", "subject": "x"},
            {"customer": 2**70, "subject": "x"},
            {"customer_external_id": "nope", "subject": "x"},
        ]


def test_create_sets_number_and_deadlines(api, org):
    customer = CustomerFactory(organization=org)
    response = api.post(
        URL, {"customer": customer.pk, "subject": "Help", "priority": "urgent"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "SR-000001"
    assert body["first_response_due"] and body["resolution_due"]
    assert body["notes"] == []


def test_upsert_by_external_id(api, org):
    customer = CustomerFactory(organization=org, external_id="ERP-C1")
    payload = {
        "customer_external_id": "ERP-C1",
        "external_id": "ERP-SR-1",
        "subject": "Broken",
        "priority": "low",
    }
    first = api.post(URL, payload, format="json")
    assert first.status_code == 201, first.content
    second = api.post(URL, {**payload, "priority": "high", "subject": "Broken twice"}, format="json")
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["priority"] == "high" and second.json()["subject"] == "Broken twice"
    other = CustomerFactory(organization=org, external_id="ERP-C2")
    moved = api.post(URL, {**payload, "customer_external_id": other.external_id}, format="json")
    assert moved.status_code == 400 and "customer" in moved.json()
    with tenancy.tenant(org):
        assert ServiceRequest.objects.filter(customer=customer).count() == 1


def test_notes_and_actions(api, org):
    request = make_request(org)
    url = f"{URL}{request.pk}/"
    note = api.post(f"{url}notes/", {"kind": "outbound", "body": "We are on it"}, format="json")
    assert note.status_code == 201, note.content
    assert api.post(f"{url}notes/", {"kind": "shout", "body": "x"}, format="json").status_code == 400
    detail = api.get(url).json()
    assert detail["first_response_at"] and detail["status"] == "open" and len(detail["notes"]) == 1
    assert api.post(f"{url}reopen/").status_code == 400
    assert api.post(f"{url}resolve/").json()["status"] == "resolved"
    assert api.post(f"{url}close/").json()["closed_at"]
    reopened = api.post(f"{url}reopen/").json()
    assert reopened["reopen_count"] == 1 and reopened["resolved_at"] is None


def test_actions_on_another_organizations_request_are_404(api, outsider_org):
    theirs = make_request(outsider_org)
    for suffix in ("notes/", "resolve/", "close/", "reopen/"):
        assert api.post(f"{URL}{theirs.pk}/{suffix}", {"body": "x"}, format="json").status_code == 404


def test_filters(api, org):
    customer = CustomerFactory(organization=org)
    urgent = make_request(org, 1, customer=customer, priority="urgent")
    make_request(org, 2, priority="low")
    with tenancy.tenant(org):
        ServiceRequest.objects.filter(pk=urgent.pk).update(resolution_breached=True)

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(priority="urgent") == {urgent.pk}
    assert ids(customer=customer.pk) == {urgent.pk}
    assert ids(breached="true") == {urgent.pk}
    assert len(ids(breached="false")) == 1
    assert api.get(URL, {"status": "bogus"}).status_code == 400
    assert api.get(URL, {"customer": "-1"}).status_code == 400


def test_rep_sees_own_customers_requests_only(org, members):
    from tests.conftest import login

    mine = make_request(org, 1, customer=CustomerFactory(organization=org, owner=members["sales_rep"]))
    theirs = make_request(org, 2, customer=CustomerFactory(organization=org, owner=members["owner"]))
    client = login(APIClient(), members["sales_rep"])
    listed = {row["id"] for row in client.get(URL).json()["results"]}
    assert listed == {mine.pk}
    assert client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert client.patch(f"{URL}{theirs.pk}/", {"priority": "low"}, format="json").status_code == 404


def test_idempotency_key_replays_the_create(api, org):
    customer = CustomerFactory(organization=org)
    payload = {"customer": customer.pk, "subject": "Once"}
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="sr-1")
    second = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="sr-1")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    with tenancy.tenant(org):
        assert ServiceRequest.objects.count() == 1


def test_sla_policies_read_all_write_owner(api, org, members):
    from tests.conftest import login

    listed = api.get(POLICIES).json()["results"]
    assert [p["priority"] for p in listed] == ["urgent", "high", "normal", "low"]
    assert listed[0]["first_response_minutes"] == 60
    assert api.patch(f"{POLICIES}urgent/", {"warn_percent": 50}, format="json").status_code == 403
    owner = login(APIClient(), members["owner"])
    response = owner.patch(f"{POLICIES}urgent/", {"first_response_minutes": 30}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "priority": "urgent",
        "first_response_minutes": 30,
        "resolution_minutes": 480,
        "warn_percent": 80,
    }
    assert owner.patch(f"{POLICIES}urgent/", {"warn_percent": 100}, format="json").status_code == 400
    assert owner.patch(f"{POLICIES}urgent/", {"resolution_minutes": 10}, format="json").status_code == 400
    assert owner.patch(f"{POLICIES}asap/", {"warn_percent": 50}, format="json").status_code == 404
    with tenancy.tenant(org):
        assert SlaPolicy.objects.get(priority="urgent").first_response_minutes == 30


def test_service_quality_endpoint(api, read_api, org):
    make_request(org)
    response = read_api.get(QUALITY, {"months": 2, "group_by": "category"})
    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    assert row["key"] == "question" and row["opened"] == 1
    assert api.get(QUALITY, {"months": 0}).status_code == 400
    assert api.get(QUALITY, {"group_by": "planet"}).status_code == 400
    assert api.get(QUALITY, {"customer": 2**70}).status_code == 400


def test_outsider_key_sees_nothing(outsider_api, org):
    request = make_request(org)
    assert outsider_api.get(f"{URL}{request.pk}/").status_code == 404
    assert outsider_api.get(URL).json()["results"] == []
    assert outsider_api.get(QUALITY).json()["results"][-1]["opened"] == 0
