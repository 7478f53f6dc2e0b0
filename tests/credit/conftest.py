"""Builders of credit scenarios: customers with invoices paid on known dates."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from crm.models import Customer
from finance import tenancy
from finance.actors import Actor
from receivables import services
from tests.factories import CustomerFactory

TODAY = datetime.date(2026, 11, 20)


@pytest.fixture
def actor(org):
    return Actor.system(org)


def customer(org, name="华东机电", **fields) -> Customer:
    return CustomerFactory(organization=org, name=name, **fields)


def invoice(org, customer, number, due, total="1000.00", currency="CNY", paid_on=None, paid="all"):
    """An invoice due on `due`; paid in full (or `paid` of it) on `paid_on` when given."""
    with tenancy.tenant(org):
        actor = Actor.system(org)
        document = services.invoice_create(
            actor=actor,
            customer=customer,
            number=number,
            currency=currency,
            issue_date=due - datetime.timedelta(days=30),
            due_date=due,
            total=total,
        )
        if paid_on is not None:
            amount = Decimal(total) if paid == "all" else Decimal(paid)
            services.payment_record(
                actor=actor,
                customer=customer,
                amount=amount,
                currency=currency,
                received_on=paid_on,
                allocations=[{"invoice": document, "amount": amount}],
            )
        return document
