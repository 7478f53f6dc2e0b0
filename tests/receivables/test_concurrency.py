"""Concurrent payments against one invoice, on real PostgreSQL: row locks and CHECK constraints
together keep the invoice from being paid more than once."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import Sum

from finance import tenancy
from finance.actors import Actor
from receivables import services
from receivables.models import Allocation, Payment
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]

THREADS = 50
DAY = datetime.date(2026, 3, 1)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_payments_allocate_one_invoice_exactly_once(org):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        invoice = services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number="RACE-1",
            currency="CNY",
            issue_date=DAY,
            due_date=DAY,
            total="100.00",
        )
    start = threading.Barrier(THREADS)
    refused: list[Exception] = []
    unexpected: list[Exception] = []

    def pay(n: int) -> None:
        # Half pay the invoice explicitly (the losers are refused), half let auto-allocation
        # find it (the losers keep their cash unapplied).
        explicit = [{"invoice": invoice, "amount": "100.00"}] if n % 2 else None
        try:
            with tenancy.tenant(org):
                start.wait(timeout=60)
                services.payment_record(
                    actor=Actor.system(org),
                    customer=customer,
                    currency="CNY",
                    received_on=DAY,
                    amount="100.00",
                    reference=f"race {n}",
                    allocations=explicit,
                )
        except (ValidationError, IntegrityError) as exc:
            refused.append(exc)
        except Exception as exc:  # anything else fails the test below
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert unexpected == []

    with tenancy.tenant(org):
        invoice.refresh_from_db()
        allocated = Allocation.objects.filter(invoice=invoice).aggregate(s=Sum("amount"))["s"]
        payments = list(Payment.objects.all())
        per_payment: dict[Any, Decimal] = dict(
            Allocation.objects.values("payment_id").annotate(s=Sum("amount")).values_list("payment_id", "s")
        )
    assert invoice.outstanding >= 0
    assert allocated <= invoice.total
    assert allocated == invoice.allocated_total == Decimal("100.00")
    assert invoice.outstanding == 0 and invoice.status == "paid"
    # The row locks decide, not the CHECK constraints (the last wall): every explicit payment but
    # a possible winner was refused whole with a clear message, every auto one was recorded.
    # Every loser is refused by validation (per-allocation errors), never by a database error.
    assert all(isinstance(exc, ValidationError) for exc in refused), refused
    assert len(refused) + len(payments) == THREADS
    assert len(refused) in (THREADS // 2 - 1, THREADS // 2)
    assert all(payment.allocated_total == per_payment.get(payment.pk, 0) for payment in payments)
    assert sum(payment.unapplied for payment in payments) == Decimal("100.00") * (len(payments) - 1)
