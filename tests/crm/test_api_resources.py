"""Every crm API resource through the shared checks, plus what is particular to each."""

import datetime

import pytest

from crm.models import Contact, Customer, FollowUp, Interaction
from finance import tenancy
from tests.api_mixins import ApiResourceChecks
from tests.factories import ContactFactory, CustomerFactory, FollowUpFactory, InteractionFactory

pytestmark = pytest.mark.django_db


class TestCustomersApi(ApiResourceChecks):
    url = "/api/v1/customers/"
    model = Customer
    update_payload = {"name": "Renamed Ltd", "customer_group": "Key accounts"}

    def make(self, org, n=0):
        return CustomerFactory(organization=org)

    def create_payload(self, org):
        return {"external_id": "ERP-1", "name": "华东机电", "country": "CN", "tax_id": "91310000775785552L"}

    def invalid_payloads(self, org, outsider_org):
        return [
            {},
            {"name": ""},
            {"name": "x" * 201},
            {"name": "Bad tax", "country": "CN", "tax_id": "91310000775785551L"},
            {"name": "Bad country", "country": "XX"},
            {"name": "Bad currency", "currency": "ABC"},
            {"name": "Bad stage", "lifecycle_stage": "winner"},
            {"name": "Wrong type", "tags": "not-a-list"},
            {"name": "Null byte\x00"},
            {"name": "Bad email", "email": "nope"},
            {"name": "Owner elsewhere", "owner": 10**30},
            {"name": 12.5, "tags": [{"a": 1}]},
        ]


class TestContactsApi(ApiResourceChecks):
    url = "/api/v1/contacts/"
    model = Contact
    update_payload = {"title": "CFO", "is_billing": True}

    def make(self, org, n=0):
        return ContactFactory(customer=CustomerFactory(organization=org))

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        return {
            "customer": customer.pk,
            "name": "Li Na",
            "email": "li@example.com",
            "preferred_language": "zh-hans",
        }

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org)
        mine = CustomerFactory(organization=org)
        return [
            {"customer": theirs.pk, "name": "Sneaky"},
            {"customer": mine.pk, "name": ""},
            {"customer": "abc", "name": "x"},
            {"customer": mine.pk, "name": "x", "preferred_language": "klingon"},
        ]


class TestInteractionsApi(ApiResourceChecks):
    url = "/api/v1/interactions/"
    model = Interaction
    updatable = False

    def make(self, org, n=0):
        return InteractionFactory(customer=CustomerFactory(organization=org))

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        return {"customer": customer.pk, "kind": "call", "summary": "Discussed the order"}

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org)
        mine = CustomerFactory(organization=org)
        other_contact = ContactFactory(customer=CustomerFactory(organization=org))
        return [
            {"customer": theirs.pk, "kind": "call", "summary": "x"},
            {"customer": mine.pk, "kind": "shout", "summary": "x"},
            {"customer": mine.pk, "kind": "call", "summary": ""},
            {"customer": mine.pk, "kind": "call", "summary": "x", "contact": other_contact.pk},
            {"customer": mine.pk, "kind": "call", "summary": "x", "next_action_due": "2026-13-40"},
            {"customer": mine.pk, "kind": "call", "summary": "x", "next_action": "call"},
        ]

    def test_next_action_with_due_date_creates_a_follow_up(self, api, org):
        customer = CustomerFactory(organization=org)
        response = api.post(
            self.url,
            {
                "customer": customer.pk,
                "kind": "visit",
                "summary": "Site visit",
                "next_action": "Send quote",
                "next_action_due": "2026-12-01",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        follow_up_id = response.json()["follow_up"]
        with tenancy.tenant(org):
            follow_up = FollowUp.objects.get(pk=follow_up_id)
        assert follow_up.title == "Send quote"
        assert follow_up.due_date == datetime.date(2026, 12, 1)


class TestFollowUpsApi(ApiResourceChecks):
    url = "/api/v1/follow-ups/"
    model = FollowUp
    update_payload = {"done": True}

    def make(self, org, n=0):
        return FollowUpFactory(customer=CustomerFactory(organization=org))

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        return {"customer": customer.pk, "title": "Call back", "due_date": "2026-12-01"}

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org)
        mine = CustomerFactory(organization=org)
        return [
            {"customer": theirs.pk, "title": "x", "due_date": "2026-12-01"},
            {"customer": mine.pk, "title": "", "due_date": "2026-12-01"},
            {"customer": mine.pk, "title": "x", "due_date": "tomorrow"},
        ]

    def test_marking_done_stamps_done_at(self, api, org):
        follow_up = self.make(org)
        response = api.patch(f"{self.url}{follow_up.pk}/", {"done": True}, format="json")
        assert response.json()["done_at"]
        response = api.patch(f"{self.url}{follow_up.pk}/", {"done": False}, format="json")
        assert response.json()["done_at"] is None
