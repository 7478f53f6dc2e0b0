"""Applying a credit note's unallocated credit, or a payment's unapplied cash, in the browser."""

import datetime
from decimal import Decimal

import pytest

from finance import tenancy
from finance.actors import Actor
from receivables import services
from receivables.models import Invoice
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(org):
    customer = CustomerFactory(organization=org)
    actor = Actor.system(org)
    with tenancy.tenant(org):
        invoice = services.invoice_create(
            actor=actor,
            customer=customer,
            number="A-1",
            currency="CNY",
            issue_date=datetime.date(2026, 1, 1),
            total="100.00",
        )
        note = services.credit_note_create(
            actor=actor,
            customer=customer,
            number="CN-1",
            currency="CNY",
            issue_date=datetime.date(2026, 1, 2),
            total="30.00",
        )
    return customer, invoice, note


def test_apply_a_credit_note_to_an_invoice(client, org, members, ledger):
    customer, invoice, note = ledger
    login(client, members["ar_clerk"])
    page = client.get(f"/receivables/customers/{customer.pk}/apply/")
    assert page.status_code == 200 and b"CN-1" in page.content
    response = client.post(
        f"/receivables/customers/{customer.pk}/apply/",
        {
            "source": f"credit_note:{note.pk}",
            "invoice": invoice.pk,
            "amount": "30.00",
            "allocated_on": "2026-01-05",
        },
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        assert Invoice.objects.get().outstanding == Decimal("70.00")


def test_too_much_or_too_early_is_refused(client, org, members, ledger):
    customer, invoice, note = ledger
    login(client, members["ar_clerk"])
    for amount, day in (("30.01", "2026-01-05"), ("10.00", "2026-01-01")):
        response = client.post(
            f"/receivables/customers/{customer.pk}/apply/",
            {
                "source": f"credit_note:{note.pk}",
                "invoice": invoice.pk,
                "amount": amount,
                "allocated_on": day,
            },
        )
        assert response.status_code == 400
    with tenancy.tenant(org):
        assert Invoice.objects.get().outstanding == Decimal("100.00")


def test_only_posting_roles_and_never_another_organization(client, org, members, ledger, outsider_customer):
    customer, _invoice, _note = ledger
    login(client, members["sales_rep"])
    assert client.get(f"/receivables/customers/{customer.pk}/apply/").status_code == 403
    login(client, members["owner"])
    assert client.get(f"/receivables/customers/{outsider_customer.pk}/apply/").status_code == 404
