"""Builders of analytics scenarios: a portfolio of customers with invoice histories written
directly (fast), so runs have something to rank, fit and warn about."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from crm.models import Customer
from finance import tenancy
from receivables.models import CreditNote, Invoice, Payment
from tests.factories import CustomerFactory

TODAY = datetime.date(2026, 11, 23)  # a Monday


def add_invoices(
    org,
    customer: Customer,
    days_ago: list[int],
    amount: str = "1000.00",
    *,
    paid: bool = True,
    currency: str = "CNY",
    due_days: int = 30,
    today: datetime.date = TODAY,
) -> list[Invoice]:
    amounts = [Decimal(a) for a in amount] if isinstance(amount, list) else [Decimal(amount)] * len(days_ago)
    with tenancy.tenant(org):
        start = Invoice.unscoped.filter(organization=org).count()
        invoices = [
            Invoice(
                organization=org,
                customer=customer,
                number=f"INV-{customer.pk}-{start + i}",
                currency=currency,
                issue_date=today - datetime.timedelta(days=ago),
                due_date=today - datetime.timedelta(days=ago) + datetime.timedelta(days=due_days),
                total=amounts[i],
                allocated_total=amounts[i] if paid else Decimal(0),
            )
            for i, ago in enumerate(days_ago)
        ]
        return Invoice.objects.bulk_create(invoices)


def add_credit_note(org, customer: Customer, days_ago: int, amount: str) -> CreditNote:
    with tenancy.tenant(org):
        return CreditNote.objects.create(
            organization=org,
            customer=customer,
            number=f"CN-{customer.pk}-{days_ago}",
            currency="CNY",
            issue_date=TODAY - datetime.timedelta(days=days_ago),
            total=Decimal(amount),
        )


def add_payment(org, customer: Customer, days_ago: int, amount: str) -> Payment:
    with tenancy.tenant(org):
        return Payment.objects.create(
            organization=org,
            customer=customer,
            currency="CNY",
            received_on=TODAY - datetime.timedelta(days=days_ago),
            amount=Decimal(amount),
        )


def portfolio(org, customers: int = 60, seed: int = 3, owner=None) -> list[Customer]:
    """`customers` customers with two years of history: steady buyers of different sizes, some who
    stopped buying months ago (churners), some new this quarter, and two prospects."""
    rng = random.Random(seed)
    made = []
    for index in range(customers):
        customer = CustomerFactory(organization=org, name=f"Customer {index:03d}", owner=owner)
        made.append(customer)
        kind = index % 6
        if index >= customers - 2:
            continue  # prospects: no invoice
        size = rng.choice([200, 500, 1000, 3000, 10000]) * (1 + index % 4)
        if kind == 5:  # churner: bought often, stopped 200-400 days ago
            stop = rng.randint(200, 400)
            days = sorted({stop + rng.randint(0, 300) for _ in range(rng.randint(4, 10))} | {stop})
        elif kind == 4:  # new this quarter
            days = sorted({rng.randint(1, 80) for _ in range(rng.randint(1, 2))})
        else:  # steady: every 20-60 days over up to two years
            gap = rng.randint(20, 60)
            start = rng.randint(200, 720)
            days = list(range(rng.randint(1, gap), start, gap))
        amounts = [f"{size * rng.uniform(0.5, 1.5):.2f}" for _ in days]
        add_invoices(org, customer, days, amounts)
    return made
