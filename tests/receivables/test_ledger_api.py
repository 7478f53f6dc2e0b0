"""The receivables ERP contract: invoices, payments, credit notes, allocations, write-offs, voids,
exchange rates, bulk upserts, and outstanding as of any date."""

import datetime
from decimal import Decimal

import pytest

from finance import tenancy
from receivables.models import Allocation, Invoice, Payment
from tests.api_mixins import ApiResourceChecks
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def invoice(api, customer, number, total, issue="2026-01-01", due="2026-01-31", currency="CNY", **extra):
    response = api.post(
        "/api/v1/invoices/",
        {
            "customer": customer.pk,
            "number": number,
            "currency": currency,
            "issue_date": issue,
            "due_date": due,
            "total": total,
            **extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, external_id="C-1")


class TestInvoicesApi(ApiResourceChecks):
    url = "/api/v1/invoices/"
    model = Invoice
    updatable = False

    def make(self, org, n=0):
        from finance.actors import Actor
        from receivables.services import invoice_create

        customer = CustomerFactory(organization=org)
        with tenancy.tenant(org):
            return invoice_create(
                actor=Actor.system(org),
                customer=customer,
                number=f"INV-{customer.pk}-{n}",
                currency="CNY",
                issue_date=datetime.date(2026, 1, 1),
                total="100.00",
            )

    def create_payload(self, org):
        customer = CustomerFactory(organization=org)
        return {
            "customer": customer.pk,
            "number": "N-1",
            "currency": "CNY",
            "issue_date": "2026-01-01",
            "total": "10.00",
        }

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org, external_id="THEIRS")
        mine = CustomerFactory(organization=org)
        base = {"number": "X", "currency": "CNY", "issue_date": "2026-01-01", "total": "10.00"}
        return [
            {**base, "customer": theirs.pk},
            {**base, "customer_external_id": "THEIRS"},
            {**base, "customer": mine.pk, "total": "-5"},
            {**base, "customer": mine.pk, "total": "0"},
            {**base, "customer": mine.pk, "total": "abc"},
            {**base, "customer": mine.pk, "total": "1e30"},
            {**base, "customer": mine.pk, "currency": "ZZZ9"},
            {**base, "customer": mine.pk, "due_date": "2025-12-01"},
            {**base, "customer": mine.pk, "issue_date": "2026-02-30"},
            {**base},
            {
                **base,
                "customer": mine.pk,
                "total": "10.00",
                "lines": [{"description": "a", "quantity": "1", "unit_price": "5"}],
            },
        ]


def test_invoice_by_customer_external_id_with_lines_and_terms(api, customer):
    response = api.post(
        "/api/v1/invoices/",
        {
            "external_id": "ERP-INV-1",
            "number": "INV-1",
            "customer_external_id": "C-1",
            "currency": "CNY",
            "issue_date": "2026-01-15",
            "lines": [
                {"description": "Widget", "quantity": "3", "unit_price": "3.335", "tax_rate": "0.13"},
                {"description": "Service", "quantity": "1", "unit_price": "100"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    # 3 × 3.335 × 1.13 = 11.30565 → 11.31; total = sum of rounded lines.
    assert body["total"] == "111.31"
    assert body["outstanding"] == "111.31" and body["status"] == "open"
    assert body["due_date"] == "2026-02-14"  # net 30 by default
    assert body["customer"] == customer.pk


def test_payment_auto_allocates_oldest_due_first_and_leaves_the_rest_unapplied(api, customer, org):
    late = invoice(api, customer, "A", "100.00", issue="2026-01-01", due="2026-01-10")
    early = invoice(api, customer, "B", "50.00", issue="2026-01-02", due="2026-01-05")
    response = api.post(
        "/api/v1/payments/",
        {
            "external_id": "PAY-1",
            "customer": customer.pk,
            "currency": "CNY",
            "received_on": "2026-02-01",
            "amount": "120.00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    payment = response.json()
    assert [(a["invoice"], a["amount"]) for a in payment["allocations"]] == [
        (early["id"], "50.00"),
        (late["id"], "70.00"),
    ]
    assert payment["unapplied"] == "0.00"
    assert api.get(f"/api/v1/invoices/{late['id']}/").json()["outstanding"] == "30.00"
    assert api.get(f"/api/v1/invoices/{late['id']}/").json()["status"] == "partially_paid"
    assert api.get(f"/api/v1/invoices/{early['id']}/").json()["status"] == "paid"
    over = api.post(
        "/api/v1/payments/",
        {"customer": customer.pk, "currency": "CNY", "received_on": "2026-02-02", "amount": "50.00"},
        format="json",
    ).json()
    assert over["unapplied"] == "20.00"


def test_outstanding_as_of_a_past_date_ignores_later_payments(api, customer):
    inv = invoice(api, customer, "A", "100.00", issue="2026-01-01", due="2026-01-31")
    api.post(
        "/api/v1/payments/",
        {"customer": customer.pk, "currency": "CNY", "received_on": "2026-03-01", "amount": "40.00"},
        format="json",
    )
    assert (
        api.get(f"/api/v1/invoices/{inv['id']}/", {"as_of": "2026-02-15"}).json()["outstanding"] == "100.00"
    )
    assert api.get(f"/api/v1/invoices/{inv['id']}/", {"as_of": "2026-03-01"}).json()["outstanding"] == "60.00"
    assert api.get(f"/api/v1/invoices/{inv['id']}/", {"as_of": "2025-12-31"}).json()["outstanding"] == "0.00"
    assert api.get(f"/api/v1/invoices/{inv['id']}/", {"as_of": "not-a-date"}).status_code == 400


def test_explicit_allocations_and_credit_notes(api, customer):
    inv = invoice(api, customer, "A", "100.00", issue="2026-01-01")
    note = api.post(
        "/api/v1/credit-notes/",
        {
            "external_id": "CN-1",
            "number": "CN-1",
            "customer": customer.pk,
            "currency": "CNY",
            "issue_date": "2026-01-05",
            "total": "30.00",
            "allocations": [{"invoice": inv["id"], "amount": "25.00"}],
        },
        format="json",
    )
    assert note.status_code == 201, note.content
    assert note.json()["unallocated"] == "5.00"
    assert note.json()["allocations"][0]["allocated_on"] == "2026-01-05"
    payment = api.post(
        "/api/v1/payments/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "received_on": "2026-01-10",
            "amount": "500.00",
            "auto_allocate": False,
        },
        format="json",
    ).json()
    assert payment["unapplied"] == "500.00"
    later = api.post(
        "/api/v1/allocations/",
        {"invoice": inv["id"], "payment": payment["id"], "amount": "75.00", "allocated_on": "2026-01-20"},
        format="json",
    )
    assert later.status_code == 201, later.content
    assert api.get(f"/api/v1/invoices/{inv['id']}/").json()["status"] == "paid"
    again = api.post(
        "/api/v1/allocations/",
        {"invoice": inv["id"], "payment": payment["id"], "amount": "0.01"},
        format="json",
    )
    assert again.status_code == 400


def test_allocation_rules(api, customer, org):
    inv = invoice(api, customer, "A", "100.00", issue="2026-01-10")
    usd = invoice(api, customer, "U", "100.00", issue="2026-01-10", currency="USD")
    other_customer = CustomerFactory(organization=org)
    payment = api.post(
        "/api/v1/payments/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "received_on": "2026-01-12",
            "amount": "500.00",
            "auto_allocate": False,
        },
        format="json",
    ).json()
    theirs = api.post(
        "/api/v1/payments/",
        {
            "customer": other_customer.pk,
            "currency": "CNY",
            "received_on": "2026-01-12",
            "amount": "5.00",
            "auto_allocate": False,
        },
        format="json",
    ).json()
    cases = [
        {"invoice": inv["id"], "payment": payment["id"], "amount": "100.01"},  # more than outstanding
        {"invoice": usd["id"], "payment": payment["id"], "amount": "1.00"},  # other currency
        {
            "invoice": inv["id"],
            "payment": payment["id"],
            "amount": "1.00",
            "allocated_on": "2026-01-11",
        },  # before payment
        {"invoice": inv["id"], "payment": theirs["id"], "amount": "1.00"},  # another customer's cash
        {"invoice": inv["id"], "amount": "1.00"},  # no source
    ]
    for body in cases:
        response = api.post("/api/v1/allocations/", body, format="json")
        assert response.status_code == 400, (body, response.content)
    with tenancy.tenant(org):
        assert not Allocation.objects.exists()


def test_void_only_without_allocations(api, customer):
    inv = invoice(api, customer, "A", "100.00")
    paid = invoice(api, customer, "B", "100.00")
    api.post(
        "/api/v1/payments/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "received_on": "2026-02-01",
            "amount": "10.00",
            "allocations": [{"invoice": paid["id"], "amount": "10.00"}],
        },
        format="json",
    )
    assert api.post(f"/api/v1/invoices/{paid['id']}/void/", {}, format="json").status_code == 400
    voided = api.post(f"/api/v1/invoices/{inv['id']}/void/", {"voided_on": "2026-02-01"}, format="json")
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    assert voided.json()["outstanding"] == "0.00"


def test_write_off_needs_another_approver_above_the_threshold(client, api, customer, org, members):
    from tests.conftest import login

    small = invoice(api, customer, "S", "100.00")
    big = invoice(api, customer, "L", "5000.00")
    response = api.post(
        f"/api/v1/invoices/{small['id']}/write-off/", {"amount": "20.00", "reason": "Rounding"}, format="json"
    )
    assert response.json()["status"] == "approved"
    assert api.get(f"/api/v1/invoices/{small['id']}/").json()["outstanding"] == "80.00"
    login(client, members["ar_clerk"])
    response = client.post(
        f"/api/v1/invoices/{big['id']}/write-off/",
        {"amount": "4000.00", "reason": "Bankrupt"},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert api.get(f"/api/v1/invoices/{big['id']}/").json()["outstanding"] == "5000.00"
    from django.core.exceptions import ValidationError

    from finance.actors import Actor
    from receivables import services
    from receivables.models import WriteOff

    with tenancy.tenant(org):
        write_off = WriteOff.objects.get(status="pending")
        maker_as_checker = Actor(organization=org, role="finance_manager", user=members["ar_clerk"])
        with pytest.raises(ValidationError):
            services.write_off_decide(actor=maker_as_checker, write_off=write_off, approve=True)
        checker = Actor(organization=org, role="finance_manager", user=members["finance_manager"])
        services.write_off_decide(actor=checker, write_off=write_off, approve=True)
    assert api.get(f"/api/v1/invoices/{big['id']}/").json()["outstanding"] == "1000.00"
    assert (
        api.post(
            f"/api/v1/invoices/{big['id']}/write-off/", {"amount": "1000.01", "reason": "x"}, format="json"
        ).status_code
        == 400
    )


def test_exchange_rates(api):
    assert (
        api.post(
            "/api/v1/exchange-rates/", {"currency": "USD", "date": "2026-01-01", "rate": "7.1"}, format="json"
        ).status_code
        == 201
    )
    again = api.post(
        "/api/v1/exchange-rates/", {"currency": "USD", "date": "2026-01-01", "rate": "7.2"}, format="json"
    )
    assert again.status_code == 201 and again.json()["rate"] == "7.2000000000"
    assert (
        api.post(
            "/api/v1/exchange-rates/", {"currency": "CNY", "date": "2026-01-01", "rate": "1"}, format="json"
        ).status_code
        == 400
    )
    assert (
        api.post(
            "/api/v1/exchange-rates/", {"currency": "USD", "date": "2026-01-01", "rate": "-1"}, format="json"
        ).status_code
        == 400
    )
    assert len(api.get("/api/v1/exchange-rates/").json()["results"]) == 1


def test_bulk_invoices_and_payments(api, customer, org):
    items = [
        {
            "external_id": f"E{i}",
            "number": f"N{i}",
            "customer_external_id": "C-1",
            "currency": "CNY",
            "issue_date": "2026-01-01",
            "total": "10.00",
        }
        for i in range(3)
    ]
    first = api.post("/api/v1/invoices/bulk/", {"items": items}, format="json")
    assert first.status_code == 200, first.content
    assert [r["status"] for r in first.json()["results"]] == ["created"] * 3
    items[0]["description"] = "changed"
    second = api.post("/api/v1/invoices/bulk/", {"items": items}, format="json").json()["results"]
    assert [r["status"] for r in second] == ["updated", "unchanged", "unchanged"]
    items[1]["total"] = "11.00"
    items.append({**items[2], "external_id": "NEW", "number": "NEW"})
    bad = api.post("/api/v1/invoices/bulk/", {"items": items}, format="json")
    assert bad.status_code == 400
    assert "total" in bad.json()["items"][1]
    with tenancy.tenant(org):
        assert Invoice.objects.count() == 3
    pays = api.post(
        "/api/v1/payments/bulk/",
        {
            "items": [
                {
                    "external_id": "P1",
                    "customer": customer.pk,
                    "currency": "CNY",
                    "received_on": "2026-02-01",
                    "amount": "15.00",
                }
            ]
        },
        format="json",
    )
    assert pays.status_code == 200, pays.content
    with tenancy.tenant(org):
        assert Payment.objects.get().allocated_total == Decimal("15.00")


def test_outsider_cannot_touch_documents(api, outsider_api, customer):
    inv = invoice(api, customer, "A", "100.00")
    assert outsider_api.get(f"/api/v1/invoices/{inv['id']}/").status_code == 404
    assert outsider_api.post(f"/api/v1/invoices/{inv['id']}/void/", {}, format="json").status_code == 404
    assert (
        outsider_api.post(
            f"/api/v1/invoices/{inv['id']}/write-off/", {"amount": "1", "reason": "x"}, format="json"
        ).status_code
        == 404
    )
    outsider_customer = outsider_api.post("/api/v1/customers/", {"name": "O"}, format="json").json()["id"]
    response = outsider_api.post(
        "/api/v1/payments/",
        {
            "customer": outsider_customer,
            "currency": "CNY",
            "received_on": "2026-02-01",
            "amount": "10.00",
            "allocations": [{"invoice": inv["id"], "amount": "10.00"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert api.get(f"/api/v1/invoices/{inv['id']}/").json()["outstanding"] == "100.00"


def test_each_bad_allocation_given_with_a_payment_is_reported_on_its_own_row(api, customer, org):
    first = invoice(api, customer, "A", "100.00")
    second = invoice(api, customer, "B", "10.00")
    response = api.post(
        "/api/v1/payments/",
        {
            "customer": customer.pk,
            "currency": "CNY",
            "received_on": "2026-02-01",
            "amount": "200.00",
            "allocations": [
                {"invoice": first["id"], "amount": "50.00"},
                {"invoice": second["id"], "amount": "20.00"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["allocations"]
    assert errors[0] == {} and "amount" in errors[1]
    with tenancy.tenant(org):
        assert not Payment.objects.exists() and not Allocation.objects.exists()
