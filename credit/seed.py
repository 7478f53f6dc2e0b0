"""credit's part of the demo: every customer scored from its seeded year of invoices, limits set
through requests approved by a second person, statements for a few customers, one request
waiting in the approval inbox, open ERP orders, and the holds and reviews that follow."""

from __future__ import annotations

import datetime
from decimal import Decimal

from credit import holds, limits, scoring, services
from credit.models import CreditProfile
from crm.models import Customer
from finance.actors import Actor
from finance.models import Membership, Organization

STATEMENTS = [
    # current assets, inventory, total assets, current liabilities, total liabilities, equity,
    # retained earnings, revenue, EBIT, interest, net income (CNY)
    (
        "8200000",
        "2100000",
        "15500000",
        "3900000",
        "6200000",
        "9300000",
        "4100000",
        "31000000",
        "2300000",
        "260000",
        "1650000",
    ),
    (
        "3100000",
        "1300000",
        "9800000",
        "3600000",
        "7900000",
        "1900000",
        "250000",
        "12500000",
        "420000",
        "380000",
        "30000",
    ),
    (
        "1200000",
        "500000",
        "2600000",
        "1700000",
        "2500000",
        "100000",
        "-400000",
        "4200000",
        "-90000",
        "140000",
        "-210000",
    ),
]


def _member(organization: Organization, role: str) -> Actor | None:
    membership = Membership.objects.filter(role=role).select_related("user").order_by("pk").first()
    if membership is None:
        return None
    return Actor(organization=organization, role=role, user=membership.user)


def seed(organization: Organization) -> None:
    system = Actor.system(organization)
    today = organization.local_today()
    clerk = _member(organization, "ar_clerk") or system
    approvers = [a for a in (_member(organization, "finance_manager"), _member(organization, "owner")) if a]
    approver = approvers[0] if approvers else None
    customers = list(Customer.objects.order_by("pk"))
    if not customers:
        return
    for customer, figures in zip(customers, STATEMENTS, strict=False):
        names = (
            "current_assets inventory total_assets current_liabilities total_liabilities equity "
            "retained_earnings revenue ebit interest_expense net_income"
        ).split()
        services.statement_create(
            actor=clerk if clerk.user else system,
            customer=customer,
            fiscal_year=today.year - 1,
            period_end=datetime.date(today.year - 1, 12, 31),
            currency="CNY",
            source="Audited annual report",
            **{name: Decimal(value) for name, value in zip(names, figures, strict=True)},
        )
    scoring.score_customers(actor=system, customers=customers, today=today)
    profiles = {p.customer_id: p for p in CreditProfile.objects.all()}
    if approver is not None:
        for index, customer in enumerate(customers):
            suggested = profiles[customer.pk].suggested_limit
            if suggested is None or index % 7 == 6:
                continue  # a few customers stay without a limit: their orders go to review
            amount = max(suggested, Decimal(10000)) if index % 5 else max(suggested // 3, Decimal(5000))
            request = limits.limit_request_create(
                actor=clerk,
                customer=customer,
                requested_limit=amount,
                reason="Opening limit from the scorecard",
            )
            able = [a for a in approvers if limits.may_approve(a, request) is None]
            if request.status == "pending" and able:
                limits.limit_request_approve(actor=able[0], request=request, note="As suggested")
        waiting = customers[1]
        limits.limit_request_create(
            actor=clerk,
            customer=waiting,
            requested_limit=(profiles[waiting.pk].suggested_limit or Decimal(50000)) * 2 + Decimal(10000),
            reason="Peak season: the customer doubled its orders.",
        )
    for index, customer in enumerate(customers[:6]):
        services.order_upsert(
            actor=system,
            external_id=f"ERP-SO-{5001 + index}",
            customer=customer,
            amount=Decimal(20000 + 15000 * index),
            currency="CNY",
            status="open",
        )
    holds.holds_refresh(actor=system, customers=customers, today=today)
    if approver is not None and len(customers) > 4:
        holds.hold_place(actor=approver, customer=customers[4], detail="Bank returned the last cheque.")
    for profile in CreditProfile.objects.filter(risk_class__in=["D", "E"])[:3]:
        profile.next_review_on = today - datetime.timedelta(days=2)
        profile.save(update_fields=["next_review_on"])
    services.credit_reviews(actor=system, run_date=today)
