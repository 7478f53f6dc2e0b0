"""receivables' part of the demo: a year of invoices, payments (some late, some partial), credit
notes and exchange rates, posted through the same services as the API."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from crm.models import Customer
from finance.actors import Actor
from finance.models import Organization
from receivables import services
from receivables.models import CustomerTerms, PaymentTerms

RATES = {
    "USD": Decimal("7.10"),
    "EUR": Decimal("7.75"),
    "GBP": Decimal("9.05"),
    "JPY": Decimal("0.048"),
    "CAD": Decimal("5.20"),
}


def seed(organization: Organization) -> None:
    rng = random.Random(7)
    actor = Actor.system(organization)
    today = organization.local_today()
    start = today - datetime.timedelta(days=365)
    net30 = PaymentTerms.objects.create(organization=organization, name="Net 30", days=30, is_default=True)
    eom = PaymentTerms.objects.create(organization=organization, name="EOM + 30", kind="eom", days=30)
    for month in range(13):
        day = start + datetime.timedelta(days=30 * month)
        for currency, rate in RATES.items():
            drift = Decimal(1) + Decimal(rng.randint(-30, 30)) / Decimal(1000)
            services.exchange_rate_set(
                actor=actor, currency=currency, date=day, rate=(rate * drift).quantize(Decimal("0.0001"))
            )
    number = 1000
    for index, customer in enumerate(Customer.objects.order_by("id")):
        CustomerTerms.objects.create(
            organization=organization,
            customer=customer,
            terms=eom if index % 4 == 0 else net30,
            statement_opt_in=index % 3 == 0,
        )
        lateness = rng.choice([0, 5, 15, 40, 75])  # this customer's habit, in days after due
        issue = start + datetime.timedelta(days=rng.randint(0, 20))
        while issue < today - datetime.timedelta(days=3):
            number += 1
            amount = (
                Decimal(rng.randint(800, 60000))
                if customer.currency != "JPY"
                else Decimal(rng.randint(80000, 900000))
            )
            invoice = services.invoice_create(
                actor=actor,
                customer=customer,
                number=f"INV-{number}",
                external_id=f"ERP-INV-{number}",
                currency=customer.currency,
                issue_date=issue,
                total=amount,
                description="Goods delivered",
            )
            paid_on = invoice.due_date + datetime.timedelta(days=lateness + rng.randint(-5, 10))
            if paid_on < today and rng.random() < 0.96:
                share = Decimal(1) if rng.random() < 0.8 else Decimal("0.5")
                services.payment_record(
                    actor=actor,
                    customer=customer,
                    currency=customer.currency,
                    received_on=max(paid_on, issue),
                    amount=(invoice.total * share).quantize(Decimal("1.00")),
                    reference=f"Bank {number}",
                    external_id=f"ERP-PAY-{number}",
                    allocations=[
                        {"invoice": invoice, "amount": (invoice.total * share).quantize(Decimal("1.00"))}
                    ],
                )
            invoice.refresh_from_db()
            if rng.random() < 0.06:
                services.credit_note_create(
                    actor=actor,
                    customer=customer,
                    number=f"CN-{number}",
                    currency=customer.currency,
                    issue_date=issue + datetime.timedelta(days=3),
                    total=(invoice.total / 10).quantize(Decimal("1.00")),
                    description="Returned goods",
                    allocations=[
                        {
                            "invoice": invoice,
                            "amount": min(
                                (invoice.total / 10).quantize(Decimal("1.00")), invoice.outstanding
                            ),
                        }
                    ]
                    if invoice.outstanding > 0
                    else [],
                )
            issue += datetime.timedelta(days=rng.randint(20, 45))
    # Snapshots every two weeks of the past year, computed as of each date from the ledger (exact,
    # since aging as of a past date ignores later documents), so the dashboard trend has a history.
    from receivables.jobs import aging_snapshot

    day = start + datetime.timedelta(days=60)
    while day <= today:
        aging_snapshot(actor=actor, run_date=day)
        day += datetime.timedelta(days=14)


def seed_collections(organization: Organization) -> None:
    """The recommended dunning policy as the demo's default, and collectors for the customers."""
    from finance.models import Membership
    from receivables import dunning_policies
    from receivables.models import CollectionProfile

    actor = Actor.system(organization)
    dunning_policies.policy_create_recommended(actor=actor)
    clerk = Membership.objects.filter(role="ar_clerk").select_related("user").first()
    if clerk is None:
        return
    for customer in Customer.objects.order_by("pk")[::2]:
        CollectionProfile.objects.create(organization=organization, customer=customer, collector=clerk.user)
