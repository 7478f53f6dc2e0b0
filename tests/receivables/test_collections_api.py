"""The collections API: /api/v1/promises/ and /api/v1/disputes/ — the shared resource checks, the
outsider's ids, a sales rep's view, actions, filters, Idempotency-Key and query counts."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from receivables import disputes
from receivables.models import CreditNote, Dispute, PromiseToPay
from tests.api_mixins import ApiResourceChecks
from tests.conftest import login
from tests.factories import CustomerFactory
from tests.receivables.test_promises import make_invoice, make_promise, pay

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def make_dispute(org, n=0, **fields):
    customer = fields.pop("customer", None) or CustomerFactory(organization=org)
    invoice = make_invoice(org, customer, number=f"D-INV-{customer.pk}-{n}")
    with tenancy.tenant(org):
        return disputes.dispute_open(actor=Actor.system(org), invoice=invoice, reason="pricing", **fields)


def make_customer_promise(org, n=0):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer, number=f"P-INV-{customer.pk}-{n}")
    return make_promise(org, customer, amount=f"{100 + n}.00", days_ahead=n)


class TestPromisesApi(ApiResourceChecks):
    url = "/api/v1/promises/"
    model = PromiseToPay
    updatable = False

    def make(self, org, n=0):
        return make_customer_promise(org, n)

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        make_invoice(org, customer)
        return {
            "customer": customer.pk,
            "currency": "CNY",
            "amount": "250.00",
            "promised_date": (org.local_today() + 5 * DAY).isoformat(),
        }

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org, external_id="THEIRS")
        their_invoice = make_invoice(outsider_org, theirs)
        mine = CustomerFactory(organization=org)
        my_invoice = make_invoice(org, mine)
        someone_elses_invoice = make_invoice(org, CustomerFactory(organization=org))
        today = org.local_today()
        base = {"customer": mine.pk, "currency": "CNY", "amount": "10.00", "promised_date": today.isoformat()}
        return [
            {**base, "customer": theirs.pk},
            {**base, "customer": None, "customer_external_id": "THEIRS"},
            {key: value for key, value in base.items() if key != "customer"},
            {**base, "invoices": [their_invoice.pk]},
            {**base, "invoices": [my_invoice.pk, 2**70]},
            {**base, "invoices": [someone_elses_invoice.pk]},
            {**base, "invoices": "all"},
            {**base, "amount": "-5"},
            {**base, "amount": "0"},
            {**base, "amount": "abc"},
            {**base, "amount": "1e30"},
            {**base, "currency": "ZZZ9"},
            {**base, "currency": "USD"},
            {**base, "promised_date": (today - DAY).isoformat()},
            {**base, "promised_date": (today + 400 * DAY).isoformat()},
            {**base, "promised_date": "2026-02-30"},
        ]


class TestDisputesApi(ApiResourceChecks):
    url = "/api/v1/disputes/"
    model = Dispute
    update_payload = {"description": "The customer sent photos", "status": "in_review"}

    def make(self, org, n=0):
        return make_dispute(org, n)

    def create_payload(self, org):
        invoice = make_invoice(org, CustomerFactory(organization=org))
        return {"invoice": invoice.pk, "reason": "quantity", "amount": "10.00", "description": "Short by 2"}

    def invalid_payloads(self, org, outsider_org):
        their_invoice = make_invoice(outsider_org, CustomerFactory(organization=outsider_org))
        invoice = make_invoice(org, CustomerFactory(organization=org), total="100.00")
        disputed = make_dispute(org, 99).invoice
        return [
            {"invoice": their_invoice.pk, "reason": "pricing"},
            {"invoice_external_id": "nope", "reason": "pricing"},
            {"reason": "pricing"},
            {"invoice": invoice.pk, "reason": "because"},
            {"invoice": invoice.pk, "reason": "pricing", "amount": "100.01"},
            {"invoice": invoice.pk, "reason": "pricing", "amount": "-1"},
            {"invoice": invoice.pk, "reason": "pricing", "target_date": "2000-01-01"},
            {"invoice": invoice.pk, "reason": "pricing", "owner": 2**40},
            {"invoice": disputed.pk, "reason": "quantity"},
        ]


# --- Promises ------------------------------------------------------------------------------------


def test_another_tenants_invoice_id_reads_as_does_not_exist(api, org, outsider_org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer)
    theirs = make_invoice(outsider_org, CustomerFactory(organization=outsider_org))
    response = api.post(
        "/api/v1/promises/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "amount": "1.00",
            "promised_date": org.local_today().isoformat(),
            "invoices": [theirs.pk],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in str(response.json()["invoices"])
    assert "Secret" not in response.content.decode()


def test_create_by_customer_external_id_with_invoices_and_money_as_strings(api, org):
    customer = CustomerFactory(organization=org, external_id="ERP-C-9")
    first = make_invoice(org, customer)
    make_invoice(org, customer)
    promised = org.local_today() + 3 * DAY
    response = api.post(
        "/api/v1/promises/",
        {
            "customer_external_id": "ERP-C-9",
            "external_id": "PTP-1",
            "currency": "CNY",
            "amount": "1234.5",
            "promised_date": promised.isoformat(),
            "invoices": [first.pk],
            "note": "By bank transfer",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "1234.50" and body["paid_amount"] == "0.00"
    assert body["invoices"] == [first.pk]
    assert body["customer"] == customer.pk
    assert body["source"] == "api" and body["status"] == "open" and body["grace_days"] == 2
    assert api.get(f"/api/v1/promises/{body['id']}/").json() == body


def test_a_service_refusal_is_a_400_with_field_errors(api, org):
    customer = CustomerFactory(organization=org)  # no open invoice at all
    response = api.post(
        "/api/v1/promises/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "amount": "5",
            "promised_date": org.local_today().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["invoices"]


def test_idempotency_key_replays_the_first_promise(api, org):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer)
    payload = {
        "customer": customer.pk,
        "currency": "CNY",
        "amount": "99.00",
        "promised_date": org.local_today().isoformat(),
    }
    first = api.post("/api/v1/promises/", payload, format="json", HTTP_IDEMPOTENCY_KEY="ptp-abc")
    again = api.post("/api/v1/promises/", payload, format="json", HTTP_IDEMPOTENCY_KEY="ptp-abc")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    different = api.post(
        "/api/v1/promises/", {**payload, "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="ptp-abc"
    )
    assert different.status_code == 422
    with tenancy.tenant(org):
        assert PromiseToPay.objects.count() == 1


def test_cancel_an_open_promise_once(api, org, outsider_api):
    promise = make_customer_promise(org)
    assert outsider_api.post(f"/api/v1/promises/{promise.pk}/cancel/", {}, format="json").status_code == 404
    response = api.post(f"/api/v1/promises/{promise.pk}/cancel/", {"reason": "Recorded twice"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["invoices"]
    again = api.post(f"/api/v1/promises/{promise.pk}/cancel/", {}, format="json")
    assert again.status_code == 400
    assert "status" in again.json()


def test_promise_filters(api, org):
    today = org.local_today()
    soon = make_customer_promise(org, 1)
    later = make_customer_promise(org, 20)
    with tenancy.tenant(org):
        PromiseToPay.objects.filter(pk=later.pk).update(status="kept")

    def ids(**params):
        response = api.get("/api/v1/promises/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="open") == {soon.pk}
    assert ids(customer=later.customer_id) == {later.pk}
    assert ids(promised_before=(today + 5 * DAY).isoformat()) == {soon.pk}
    assert ids(promised_after=(today + 5 * DAY).isoformat()) == {later.pk}
    assert api.get("/api/v1/promises/", {"status": "nope"}).status_code == 400
    assert api.get("/api/v1/promises/", {"customer": "2" * 30}).status_code == 400


# --- Disputes --------------------------------------------------------------------------------------


def test_dispute_resolve_creates_a_credit_note_that_reduces_outstanding(api, org):
    dispute = make_dispute(org, amount="400.00")
    response = api.post(
        f"/api/v1/disputes/{dispute.pk}/resolve/",
        {"credit_amount": "150.00", "resolution": "Half the damaged goods credited"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "resolved" and body["credit_note"]
    assert api.get(f"/api/v1/invoices/{dispute.invoice_id}/").json()["outstanding"] == "850.00"
    note = api.get(f"/api/v1/credit-notes/{body['credit_note']}/").json()
    assert note["total"] == "150.00"
    assert (
        api.post(f"/api/v1/disputes/{dispute.pk}/reject/", {"resolution": "x"}, format="json").status_code
        == 400
    )


def test_dispute_resolve_and_reject_refuse_bad_input(api, org):
    dispute = make_dispute(org, amount="400.00")
    for payload in [{"credit_amount": "400.01"}, {"credit_amount": "0"}, {"credit_amount": "abc"}, {}]:
        response = api.post(f"/api/v1/disputes/{dispute.pk}/resolve/", payload, format="json")
        assert response.status_code == 400, (payload, response.content)
    assert api.post(f"/api/v1/disputes/{dispute.pk}/reject/", {}, format="json").status_code == 400
    with tenancy.tenant(org):
        assert CreditNote.objects.count() == 0
    rejected = api.post(
        f"/api/v1/disputes/{dispute.pk}/reject/", {"resolution": "Not our fault"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_dispute_partial_amount_above_outstanding_is_a_400(api, org):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer, total="500.00")
    pay(org, invoice, "450.00", org.local_today())
    response = api.post(
        "/api/v1/disputes/", {"invoice": invoice.pk, "reason": "pricing", "amount": "60.00"}, format="json"
    )
    assert response.status_code == 400
    assert "amount" in response.json()
    ok = api.post(
        "/api/v1/disputes/", {"invoice": invoice.pk, "reason": "pricing", "amount": "50.00"}, format="json"
    )
    assert ok.status_code == 201
    second = api.post("/api/v1/disputes/", {"invoice": invoice.pk, "reason": "tax"}, format="json")
    assert second.status_code == 400
    assert second.json() == {"invoice": ["This invoice already has a dispute in progress."]}


def test_dispute_patch_cannot_resolve(api, org):
    dispute = make_dispute(org)
    response = api.patch(f"/api/v1/disputes/{dispute.pk}/", {"status": "resolved"}, format="json")
    assert response.status_code == 400
    assert api.put(f"/api/v1/disputes/{dispute.pk}/", {}, format="json").status_code in (403, 405)


def test_dispute_filters(api, org):
    first = make_dispute(org, 1)
    second = make_dispute(org, 2)
    with tenancy.tenant(org):
        Dispute.objects.filter(pk=second.pk).update(reason="tax", status="rejected")

    def ids(**params):
        response = api.get("/api/v1/disputes/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="open") == {first.pk}
    assert ids(reason="tax") == {second.pk}
    assert ids(invoice=first.invoice_id) == {first.pk}
    assert ids(customer=second.customer_id) == {second.pk}


# --- Roles and scale ---------------------------------------------------------------------------------


def test_a_sales_rep_sees_and_disputes_only_own_customers(org, members):
    rep_user = members["sales_rep"]
    own = CustomerFactory(organization=org, owner=rep_user)
    own_invoice = make_invoice(org, own)
    mine = make_promise(org, own)
    others = make_customer_promise(org, 1)
    their_dispute = make_dispute(org, 2)
    client = login(APIClient(), rep_user)

    listed = client.get("/api/v1/promises/").json()["results"]
    assert [row["id"] for row in listed] == [mine.pk]
    assert client.get(f"/api/v1/promises/{others.pk}/").status_code == 404
    assert client.get(f"/api/v1/disputes/{their_dispute.pk}/").status_code == 404
    assert client.get("/api/v1/disputes/").json()["results"] == []
    recorded = client.post(
        "/api/v1/promises/",
        {
            "customer": own.pk,
            "currency": "CNY",
            "amount": "1",
            "promised_date": org.local_today().isoformat(),
        },
        format="json",
    )
    assert recorded.status_code == 403
    opened = client.post("/api/v1/disputes/", {"invoice": own_invoice.pk, "reason": "quality"}, format="json")
    assert opened.status_code == 201, opened.content
    refused = client.post(
        "/api/v1/disputes/", {"invoice": their_dispute.invoice_id, "reason": "quality"}, format="json"
    )
    assert refused.status_code == 400
    assert "does not exist" in str(refused.json()["invoice"])
    resolve = client.post(
        f"/api/v1/disputes/{opened.json()['id']}/resolve/", {"credit_amount": "1"}, format="json"
    )
    assert resolve.status_code == 403


@pytest.mark.parametrize(
    "url,make", [("/api/v1/promises/", make_customer_promise), ("/api/v1/disputes/", make_dispute)]
)
def test_list_query_count_does_not_grow_with_rows(api, org, url, make):
    for n in range(3):
        make(org, n)
    api.get(url)  # warm up: the key's first use records last_used_at
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(url).json()["results"]) == 3
    for n in range(3, 20):
        make(org, n)
    with CaptureQueriesContext(connection) as many:
        assert len(api.get(url).json()["results"]) == 20
    assert len(few) == len(many), [q["sql"] for q in many]
