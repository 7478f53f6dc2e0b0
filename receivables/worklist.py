"""The collector's worklist: who to call first, and the writes that organize collecting (who
collects a customer, under which dunning policy, and a snooze).

`worklist()` ranks customers with something overdue by value at risk: the overdue amounts in the
organization's base currency, each weighted by how late it is (1 + days past due / 30, at most 4),
times the customer's risk weight. It runs a fixed number of aggregate queries, however many
customers and invoices there are.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext as _

from crm.models import Customer, FollowUp, Interaction
from crm.selectors import customers_visible_to
from finance import audit
from finance.actors import Actor
from finance.models import Membership, User
from receivables.models import (
    CollectionProfile,
    Dispute,
    DunningPolicy,
    ExchangeRate,
    Invoice,
    PromiseToPay,
    Reminder,
)
from receivables.selectors import open_invoices

ZERO = Decimal("0")
CENT = Decimal("0.01")
MAX_SNOOZE_DAYS = 90
# How much more a late amount weighs per 30 days late, and at most.
LATENESS_PERIOD_DAYS = 30
LATENESS_CAP = Decimal("4")
RISK_WEIGHTS = {"A": Decimal("1.0"), "B": Decimal("1.25"), "C": Decimal("1.5"), "D": Decimal("2.0")}
DEFAULT_RISK_WEIGHT = Decimal("1.0")

# The worklist's collector filter: everyone's customers, those with no collector, or one user's.
ALL = "all"
UNASSIGNED = "unassigned"


# --- Writes ---------------------------------------------------------------------------------------


def _require_visible(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise PermissionDenied(_("This customer belongs to another sales rep."))


def _profile_for(actor: Actor, customer: Customer) -> CollectionProfile:
    """The customer's collection profile, created empty on first use, locked for the change."""
    profile, _created = CollectionProfile.objects.select_for_update().get_or_create(
        customer=customer, defaults={"organization": actor.organization}
    )
    return profile


@transaction.atomic
def collector_assign(
    *, actor: Actor, customers: Iterable[Customer], collector: User | None
) -> list[CollectionProfile]:
    """Make `collector` (a member of the organization; None: nobody) collect each customer.

    Requires collections.assign. One audit event per customer whose collector changed."""
    actor.require("collections.assign")
    if collector is not None and not Membership.objects.filter(user=collector).exists():
        raise ValidationError({"collector": [_("The collector must be a member of this organization.")]})
    profiles = []
    for customer in sorted(customers, key=lambda c: c.pk):
        _require_visible(actor, customer)
        profile = _profile_for(actor, customer)
        previous = profile.collector_id
        if previous != (collector.pk if collector else None):
            profile.collector = collector
            profile.save(update_fields=["collector", "updated_at"])
            audit.record(
                actor=actor,
                action="collections.collector_assigned",
                instance=profile,
                changes={"collector": [previous, collector.pk if collector else None]},
                customer_id=customer.pk,
            )
        profiles.append(profile)
    return profiles


@transaction.atomic
def collection_policy_set(
    *, actor: Actor, customer: Customer, policy: DunningPolicy | None
) -> CollectionProfile:
    """Dun `customer` under `policy` chosen by hand; None goes back to the policy picked by rule.

    Requires collections.assign; an inactive policy is refused."""
    actor.require("collections.assign")
    _require_visible(actor, customer)
    if policy is not None and not policy.is_active:
        raise ValidationError({"policy": [_("This dunning policy is not active.")]})
    profile = _profile_for(actor, customer)
    previous = profile.policy_id
    if previous != (policy.pk if policy else None):
        profile.policy = policy
        profile.save(update_fields=["policy", "updated_at"])
        audit.record(
            actor=actor,
            action="collections.policy_set",
            instance=profile,
            changes={"policy": [previous, policy.pk if policy else None]},
            customer_id=customer.pk,
        )
    return profile


@transaction.atomic
def customer_snooze(*, actor: Actor, customer: Customer, until: datetime.date | None) -> CollectionProfile:
    """Leave a customer alone until a date (after today, at most 90 days ahead); None wakes them.

    Requires collections.work. A snoozed customer sinks to the bottom of the worklist."""
    actor.require("collections.work")
    _require_visible(actor, customer)
    today = actor.organization.local_today()
    if until is not None:
        if until <= today:
            raise ValidationError({"until": [_("Snooze until a date after today.")]})
        if until > today + datetime.timedelta(days=MAX_SNOOZE_DAYS):
            raise ValidationError(
                {"until": [_("Snooze for at most %(days)s days.") % {"days": MAX_SNOOZE_DAYS}]}
            )
    profile = _profile_for(actor, customer)
    previous = profile.snoozed_until
    if previous != until:
        profile.snoozed_until = until
        profile.save(update_fields=["snoozed_until", "updated_at"])
        audit.record(
            actor=actor,
            action="collections.snoozed" if until else "collections.woken",
            instance=profile,
            changes={"snoozed_until": [str(previous) if previous else None, str(until) if until else None]},
            customer_id=customer.pk,
        )
    return profile


# --- The worklist ---------------------------------------------------------------------------------


@dataclass
class WorklistRow:
    customer: Customer
    collector: User | None
    overdue: dict[str, Decimal]  # currency → overdue amount
    days_past_due: int  # of the oldest overdue invoice
    value_at_risk: Decimal  # base currency
    unconverted: list[str] = field(default_factory=list)  # currencies with no rate: counted as is
    dunning_level: str = ""
    dunning_date: datetime.date | None = None
    last_contact: datetime.datetime | None = None
    next_action: datetime.date | None = None
    open_promises: int = 0
    promised: dict[str, Decimal] = field(default_factory=dict)  # currency → open promised amount
    open_disputes: int = 0
    snoozed_until: datetime.date | None = None
    is_snoozed: bool = False

    @property
    def missing_rates(self) -> bool:
        return bool(self.unconverted)


def risk_weight(risk_class: str) -> Decimal:
    return RISK_WEIGHTS.get((risk_class or "").strip().upper(), DEFAULT_RISK_WEIGHT)


def lateness_factor(days_past_due: int) -> Decimal:
    """1 on the day after the due date, growing by 1 every 30 days, at most 4."""
    return min(Decimal(1) + Decimal(max(days_past_due, 0)) / LATENESS_PERIOD_DAYS, LATENESS_CAP)


def latest_rates(currencies: Iterable[str], today: datetime.date) -> dict[str, Decimal]:
    """Base-currency units per unit of each currency: its latest rate on or before `today` (one query)."""
    wanted = sorted(set(currencies))
    if not wanted:
        return {}
    latest_date = (
        ExchangeRate.objects.filter(currency=OuterRef("currency"), date__lte=today)
        .order_by("-date")
        .values("date")[:1]
    )
    return {
        rate.currency: rate.rate
        for rate in ExchangeRate.objects.filter(currency__in=wanted, date=Subquery(latest_date))
    }


def _collector_filter(actor: Actor, collector: Any) -> Q | None:
    """None (the default): the actor's own customers if they collect but do not assign, else all."""
    if collector is None:
        collector = (
            actor.user if not actor.can("collections.assign") and actor.can("collections.work") else ALL
        )
    if collector == ALL or collector is None:
        return None
    if collector == UNASSIGNED:
        return Q(collection_profile__isnull=True) | Q(collection_profile__collector__isnull=True)
    return Q(collection_profile__collector=collector)


def _overdue_invoices(today: datetime.date) -> QuerySet[Invoice]:
    return open_invoices().filter(due_date__lt=today)


def worklist(
    *,
    actor: Actor,
    today: datetime.date,
    collector: User | str | None = None,
    include_snoozed: bool = True,
    customer_ids: Iterable[int] | None = None,
) -> list[WorklistRow]:
    """One row per customer visible to the actor with something overdue on `today`, highest value
    at risk first; snoozed customers (snoozed_until after today) last, or left out.

    `collector`: None for the actor's default (their own customers for a collector who cannot
    assign, everyone's for the rest), "all", "unassigned", or a user. Six queries, whatever the
    number of customers. `customer_ids` narrows it to some customers (one row, after an action).
    """
    customers = customers_visible_to(actor)
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    condition = _collector_filter(actor, collector)
    if condition is not None:
        customers = customers.filter(condition)
    if not include_snoozed:
        customers = customers.exclude(collection_profile__snoozed_until__gt=today)

    # 1. Overdue amounts by customer, currency and due date (the lateness factor needs the date).
    groups = list(
        _overdue_invoices(today)
        .filter(customer__in=customers)
        .order_by()
        .values("customer_id", "currency", "due_date")
        .annotate(open=Sum(F("total") - F("allocated_total") - F("written_off_total")))
    )
    if not groups:
        return []
    customer_ids = sorted({g["customer_id"] for g in groups})

    # 2. Exchange rates of the currencies concerned.
    base = actor.organization.base_currency
    rates = latest_rates((g["currency"] for g in groups if g["currency"] != base), today)

    # 3. The customers, with their latest reminder, last contact and next follow-up.
    last_reminder = Reminder.objects.filter(customer=OuterRef("pk")).order_by("-run_date", "-id")
    by_customer = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=customer_ids)
        .select_related("owner")
        .annotate(
            dunning_level=Subquery(last_reminder.values("level__name")[:1]),
            dunning_date=Subquery(last_reminder.values("run_date")[:1]),
            last_contact=Subquery(
                Interaction.objects.filter(customer=OuterRef("pk"))
                .order_by("-occurred_at")
                .values("occurred_at")[:1]
            ),
            next_follow_up=Subquery(
                FollowUp.objects.filter(customer=OuterRef("pk"), done=False)
                .order_by("due_date")
                .values("due_date")[:1]
            ),
        )
    }
    # 4. Collection profiles (collector, snooze).
    profiles = {
        p.customer_id: p
        for p in CollectionProfile.objects.filter(customer_id__in=customer_ids).select_related("collector")
    }
    # 5. Open promises by customer and currency.
    promises: dict[int, dict[str, Any]] = defaultdict(lambda: {"count": 0, "amounts": {}, "first": None})
    for row in (
        PromiseToPay.objects.filter(customer_id__in=customer_ids, status=PromiseToPay.Status.OPEN)
        .order_by()
        .values("customer_id", "currency")
        .annotate(count=Count("id"), amount=Sum("amount"), first=Min("promised_date"))
    ):
        entry = promises[row["customer_id"]]
        entry["count"] += row["count"]
        entry["amounts"][row["currency"]] = _cents(row["amount"])
        entry["first"] = min(filter(None, [entry["first"], row["first"]]), default=None)
    # 6. Disputes open or in review.
    disputes = dict(
        Dispute.objects.filter(customer_id__in=customer_ids, status__in=Dispute.ACTIVE)
        .order_by()
        .values("customer_id")
        .annotate(count=Count("id"))
        .values_list("customer_id", "count")
    )

    rows: dict[int, WorklistRow] = {}
    weighted: dict[int, Decimal] = defaultdict(Decimal)
    for group in groups:
        customer = by_customer.get(group["customer_id"])
        if customer is None:
            continue
        amount = _cents(group["open"])
        if amount <= 0:
            continue
        currency = group["currency"]
        days_past_due = (today - group["due_date"]).days
        row = rows.get(customer.pk)
        if row is None:
            profile = profiles.get(customer.pk)
            promised = promises.get(customer.pk, {"count": 0, "amounts": {}, "first": None})
            snoozed_until = profile.snoozed_until if profile else None
            row = rows[customer.pk] = WorklistRow(
                customer=customer,
                collector=profile.collector if profile else None,
                overdue={},
                days_past_due=0,
                value_at_risk=ZERO,
                dunning_level=customer.dunning_level or "",
                dunning_date=customer.dunning_date,
                last_contact=customer.last_contact,
                next_action=min(
                    filter(None, [customer.next_follow_up, snoozed_until, promised["first"]]), default=None
                ),
                open_promises=promised["count"],
                promised=promised["amounts"],
                open_disputes=disputes.get(customer.pk, 0),
                snoozed_until=snoozed_until,
                is_snoozed=bool(snoozed_until and snoozed_until > today),
            )
        row.overdue[currency] = row.overdue.get(currency, ZERO) + amount
        row.days_past_due = max(row.days_past_due, days_past_due)
        if currency == base:
            rate = Decimal(1)
        elif currency in rates:
            rate = rates[currency]
        else:
            rate = Decimal(1)
            if currency not in row.unconverted:
                row.unconverted.append(currency)
        weighted[customer.pk] += amount * rate * lateness_factor(days_past_due)

    for customer_id, row in rows.items():
        row.value_at_risk = (weighted[customer_id] * risk_weight(row.customer.risk_class)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        row.overdue = dict(sorted(row.overdue.items()))
    return sorted(
        rows.values(), key=lambda r: (r.is_snoozed, -r.value_at_risk, r.customer.name, r.customer.pk)
    )


def _cents(value: Any) -> Decimal:
    """Rounded to cents: SQLite sums decimals as floats."""
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CollectionSummary:
    """One customer's collection state, for the customer page's panel."""

    profile: CollectionProfile | None
    last_reminder: Reminder | None
    open_promises: list[PromiseToPay]
    active_disputes: list[Dispute]

    @property
    def collector(self) -> User | None:
        return self.profile.collector if self.profile else None

    @property
    def snoozed_until(self) -> datetime.date | None:
        return self.profile.snoozed_until if self.profile else None


def collection_summary(*, customer: Customer) -> CollectionSummary:
    """The collector, policy and snooze, the latest reminder (level, date, delivery), open promises
    and disputes in progress of one customer (four queries)."""
    return CollectionSummary(
        profile=CollectionProfile.objects.filter(customer=customer)
        .select_related("collector", "policy")
        .first(),
        last_reminder=Reminder.objects.filter(customer=customer)
        .select_related("level", "message", "invoice")
        .order_by("-run_date", "-id")
        .first(),
        open_promises=list(
            PromiseToPay.objects.filter(customer=customer, status=PromiseToPay.Status.OPEN).order_by(
                "promised_date", "id"
            )
        ),
        active_disputes=list(
            Dispute.objects.filter(customer=customer, status__in=Dispute.ACTIVE)
            .select_related("invoice")
            .order_by("opened_on", "id")
        ),
    )
