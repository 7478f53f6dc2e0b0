"""analytics' part of the demo: a second year of history for half the customers, new customers
acquired month by month (so the cohort matrix has rows), customers who stopped buying (so churn
warnings and the "churned" stage have members), the first recompute, and churn alerts: a round
raised three months ago (now settled, so alert precision has figures) and this week's."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from analytics.alerts import alerts_raise, alerts_settle
from analytics.runs import analytics_recompute
from crm import services as crm_services
from crm.models import Customer
from finance.actors import Actor
from finance.models import Membership, Organization
from receivables import services

NEW_CUSTOMERS = [
    # name, months since the first purchase, months since the last one (None: still buying)
    ("杭州新禾包装有限公司", 2, None),
    ("苏州启明光电有限公司", 3, None),
    ("宁波海川物流有限公司", 5, None),
    ("无锡恒泰电气有限公司", 6, 4),
    ("Lumen Optics GmbH", 8, None),
    ("合肥万通材料有限公司", 9, None),
    ("Pacific Rim Tools Pty Ltd", 11, 7),
    ("青岛北海食品有限公司", 14, 8),
    ("武汉长江化工有限公司", 18, 9),
    ("Nordic Marine Supply AB", 20, 11),
    ("成都天府纺织有限公司", 22, 13),
    ("厦门鹭岛电子有限公司", 24, 23),
]


def _invoice_and_pay(
    actor: Actor,
    customer: Customer,
    number: str,
    issue: datetime.date,
    amount: Decimal,
    today: datetime.date,
    rng: random.Random,
    *,
    pay: bool = True,
) -> None:
    invoice = services.invoice_create(
        actor=actor,
        customer=customer,
        number=number,
        external_id=f"ERP-{number}",
        currency="CNY",
        issue_date=issue,
        total=amount,
        description="Goods delivered",
    )
    paid_on = invoice.due_date + datetime.timedelta(days=rng.randint(-5, 20))
    if pay and paid_on < today:
        services.payment_record(
            actor=actor,
            customer=customer,
            currency="CNY",
            received_on=max(paid_on, issue),
            amount=amount,
            reference=f"Bank {number}",
            external_id=f"ERP-PAY-{number}",
            allocations=[{"invoice": invoice, "amount": amount}],
        )


def seed(organization: Organization) -> None:
    rng = random.Random(6)
    system = Actor.system(organization)
    today = organization.local_today()
    reps = [
        m.user
        for m in Membership.objects.filter(role="sales_rep").select_related("user").order_by("user__email")
    ]
    existing = list(Customer.objects.order_by("pk"))
    number = 5000
    # A second year of history for every other customer (in base currency, paid on time).
    for customer in existing[::2]:
        issue = today - datetime.timedelta(days=rng.randint(560, 720))
        while issue < today - datetime.timedelta(days=380):
            number += 1
            _invoice_and_pay(
                system, customer, f"INV-H{number}", issue, Decimal(rng.randint(2000, 40000)), today, rng
            )
            issue += datetime.timedelta(days=rng.randint(25, 50))
    # New customers, one acquisition month each; some stopped buying.
    for index, (name, first_months, last_months) in enumerate(NEW_CUSTOMERS):
        customer = crm_services.customer_create(
            actor=system,
            external_id=f"ERP-C{2001 + index}",
            name=name,
            country="CN",
            currency="CNY",
            customer_group="New accounts" if last_months is None else "Key accounts",
            owner=reps[index % len(reps)] if reps else None,
        )
        issue = today - datetime.timedelta(days=30 * first_months - rng.randint(0, 10))
        stop = today - datetime.timedelta(days=30 * last_months) if last_months is not None else today
        size = Decimal(rng.choice([3000, 8000, 15000, 30000]))
        while issue <= stop and issue < today:
            number += 1
            amount = (size * Decimal(rng.randint(80, 120)) / 100).quantize(Decimal("1.00"))
            # A churner's last invoice is often left unpaid: overdue balance at stake.
            last = issue + datetime.timedelta(days=40) > stop
            _invoice_and_pay(
                system, customer, f"INV-N{number}", issue, amount, today, rng, pay=not (last and index % 2)
            )
            issue += datetime.timedelta(days=rng.randint(25, 40))
    analytics_recompute(actor=system, run_date=today)
    # A round of alerts three months ago, settled today (bought again or not), then this week's.
    alerts_raise(actor=system, today=today - datetime.timedelta(days=98))
    alerts_settle(actor=system, today=today)
    alerts_raise(actor=system, today=today)
