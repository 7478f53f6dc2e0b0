"""Scoring writes: compute every customer's score, risk class and suggested limit and store them on
the profile, in the day's score record and (the class) on `crm.Customer` for dunning rules.

Run nightly for the whole organization (job `credit_scores`) and for one customer when something
that moves its score happens (a payment, a broken promise, a new statement, an ERP order).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from credit import scorecard, selectors
from credit.models import CreditProfile, FinancialStatement, ScoreRecord
from credit.ratios import statement_ratios
from crm.models import Customer, CustomerStatus
from crm.services import customer_set_classification
from finance.actors import Actor

BATCH = 2000


def profiles_ensure(customers: list[Customer]) -> dict[int, CreditProfile]:
    """Every given customer's profile, creating the missing ones (two queries)."""
    ids = [customer.pk for customer in customers]
    profiles = {p.customer_id: p for p in CreditProfile.objects.filter(customer_id__in=ids)}
    missing = [
        CreditProfile(organization_id=c.organization_id, customer=c)
        for c in customers
        if c.pk not in profiles
    ]
    if missing:
        CreditProfile.objects.bulk_create(missing, ignore_conflicts=True)
        profiles = {p.customer_id: p for p in CreditProfile.objects.filter(customer_id__in=ids)}
    return profiles


def profile_ensure(customer: Customer) -> CreditProfile:
    return profiles_ensure([customer])[customer.pk]


def _statement_caps(
    statement: FinancialStatement | None, today: datetime.date
) -> tuple[Decimal | None, Decimal | None]:
    """Net worth and working capital of the latest statement, in base currency (None without a
    statement or a rate)."""
    if statement is None:
        return None, None
    rate = selectors.rates_on({statement.currency}, today).get(statement.currency)
    if rate is None:
        return None, None
    figures = statement_ratios(statement)
    return statement.equity * rate, figures.working_capital * rate


@transaction.atomic
def score_customers(*, actor: Actor, customers: list[Customer], today: datetime.date) -> dict[str, int]:
    """Score `customers` as of `today`: store score, class, factors and suggested limit on each
    profile and in the day's `ScoreRecord` (replaced by a rerun on the same day), write a changed
    class to the customer, and set the first review date of profiles that have none."""
    policy = selectors.credit_policy()
    card = selectors.policy_scorecard(policy)
    floors = selectors.policy_class_floors(policy)
    review_months = selectors.policy_review_months(policy)
    profiles = profiles_ensure(customers)
    ids = [customer.pk for customer in customers]
    scope = ids if len(ids) < 1000 else None
    exposure = selectors.exposures(scope, today)
    metrics = selectors.customer_metrics(customers, today, exposure)
    terms_days, default_days = selectors.terms_days_for(scope)
    statements = selectors.latest_statements(scope)
    now = timezone.now()
    records: list[ScoreRecord] = []
    reclassified = 0
    for customer in customers:
        profile = profiles[customer.pk]
        result = scorecard.score(metrics[customer.pk], card)
        risk_class = scorecard.risk_class(result.score, floors)
        net_worth, working_capital = _statement_caps(statements.get(customer.pk), today)
        suggestion = scorecard.suggest_limit(
            annual_volume=max(metrics[customer.pk]["purchase_volume"] or Decimal(0), Decimal(0)),
            terms_days=terms_days.get(customer.pk, default_days),
            risk_class_value=risk_class,
            multipliers=card["limit_multipliers"],
            net_worth=net_worth,
            working_capital=working_capital,
            net_worth_cap_pct=policy.net_worth_cap,
            working_capital_cap_pct=policy.working_capital_cap,
            rounding=policy.limit_rounding,
        )
        profile.score = result.score
        profile.risk_class = risk_class
        profile.factors = result.factors_json()
        profile.scored_at = now
        profile.suggested_limit = suggestion.amount
        profile.suggested_reasons = suggestion.reasons
        if profile.next_review_on is None and risk_class:
            profile.next_review_on = add_months(today, review_months[risk_class])
        records.append(
            ScoreRecord(
                organization_id=customer.organization_id,
                customer=customer,
                computed_on=today,
                score=result.score,
                risk_class=risk_class,
                factors=profile.factors,
                suggested_limit=suggestion.amount,
            )
        )
        if customer.risk_class != risk_class:
            customer_set_classification(actor=actor, customer=customer, risk_class=risk_class)
            reclassified += 1
    CreditProfile.objects.bulk_update(
        list(profiles.values()),
        [
            "score",
            "risk_class",
            "factors",
            "scored_at",
            "suggested_limit",
            "suggested_reasons",
            "next_review_on",
        ],
        batch_size=BATCH,
    )
    ScoreRecord.objects.filter(customer_id__in=ids, computed_on=today).delete()
    ScoreRecord.objects.bulk_create(records, batch_size=BATCH)
    return {"scored": len(customers), "reclassified": reclassified}


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last_day in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last_day))
        except ValueError:
            continue
    raise ValueError(day)


def credit_scores(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The nightly job: score every active customer, then place and release automatic holds."""
    from credit import holds

    customers = list(Customer.objects.exclude(status=CustomerStatus.ARCHIVED).order_by("pk"))
    result: dict[str, Any] = {"scored": 0, "reclassified": 0}
    for start in range(0, len(customers), 10 * BATCH):
        part = score_customers(actor=actor, customers=customers[start : start + 10 * BATCH], today=run_date)
        result["scored"] += part["scored"]
        result["reclassified"] += part["reclassified"]
    result.update(holds.holds_refresh(actor=actor, customers=customers, today=run_date))
    return result


def customers_refresh(*, actor: Actor, customers: list[Customer]) -> None:
    """Rescore these customers now and bring their holds and statuses up to date, in one pass."""
    from credit import holds

    if not customers:
        return
    today = actor.organization.local_today()
    score_customers(actor=actor, customers=customers, today=today)
    holds.holds_refresh(actor=actor, customers=customers, today=today)


def customer_refresh(*, actor: Actor, customer: Customer) -> CreditProfile:
    """Rescore one customer now and bring its holds and status up to date."""
    customers_refresh(actor=actor, customers=[customer])
    return CreditProfile.objects.get(customer=customer)
