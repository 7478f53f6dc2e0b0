"""Reads of the loyalty program: its rules and tiers (saved, else the defaults, never written by a
read), the points ledger seen by an actor, balances and what expires, a customer's statement, and
the program's home figures.

How points are used: a redemption or a negative adjustment consumes the oldest points first
(FIFO by earning date) among those still valid on its date; an expiry entry closes one earning
("lot") for whatever of it is still unused. So the remaining points of every lot follow from the
ledger alone, whenever the expiry job happens to run.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from crm.models import Customer
from crm.selectors import customers_visible_to
from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance.actors import Actor

EXPIRING_SOON_DAYS = 90

# name, min paid revenue, discount %, extra terms days, multiplier
DEFAULT_TIERS = [
    ("Member", Decimal("0"), Decimal("0"), 0, Decimal("1")),
    ("Silver", Decimal("200000"), Decimal("2"), 7, Decimal("1.25")),
    ("Gold", Decimal("1000000"), Decimal("5"), 15, Decimal("1.5")),
]


# Rules ---------------------------------------------------------------------------------------


def program_for() -> LoyaltyProgram:
    """The current organization's program, or an unsaved one with the defaults (never written)."""
    return LoyaltyProgram.objects.first() or LoyaltyProgram()


def default_tiers() -> list[LoyaltyTier]:
    return [
        LoyaltyTier(
            name=name,
            min_paid_revenue=minimum,
            discount_percent=discount,
            extra_terms_days=days,
            points_multiplier=multiplier,
        )
        for name, minimum, discount, days, multiplier in DEFAULT_TIERS
    ]


def tiers_for() -> list[LoyaltyTier]:
    """The organization's tiers, lowest threshold first; the defaults (unsaved) when it has none."""
    return list(LoyaltyTier.objects.order_by("min_paid_revenue", "id")) or default_tiers()


def tier_named(name: str, tiers: list[LoyaltyTier] | None = None) -> LoyaltyTier | None:
    return next((tier for tier in tiers or tiers_for() if tier.name == name), None)


def multiplier_for(customer: Customer, tiers: list[LoyaltyTier] | None = None) -> Decimal:
    """The points multiplier of the customer's tier; a customer without one earns at the first
    tier's rate."""
    tiers = tiers or tiers_for()
    tier = tier_named(customer.loyalty_tier, tiers) or tiers[0]
    return tier.points_multiplier


# Ledger ----------------------------------------------------------------------------------------


def entries_visible_to(actor: Actor) -> QuerySet[PointsEntry]:
    """Points entries of the customers the actor sees (a sales rep: their own)."""
    entries = PointsEntry.objects.select_related("customer", "created_by")
    if actor.sees_own_customers_only:
        entries = entries.filter(customer__owner_id=actor.user_id)
    return entries


def accounts_visible_to(actor: Actor) -> QuerySet[Customer]:
    """Customers as loyalty accounts (one per customer, even without entries)."""
    return customers_visible_to(actor).order_by("id")


@dataclass
class Lot:
    """An earning (or a positive adjustment) and how much of it is still unused."""

    entry_id: int
    date: datetime.date
    expires_on: datetime.date | None
    points: int
    remaining: int
    closed: bool = False  # an expiry entry closed it

    def valid_on(self, day: datetime.date) -> bool:
        return self.date <= day and (self.expires_on is None or day <= self.expires_on)


def lots_of(entries: Iterable[PointsEntry]) -> list[Lot]:
    """Replay one customer's ledger (any order): FIFO consumption of valid lots; expiry entries close
    their lot."""
    ordered = sorted(entries, key=lambda e: (e.date, e.pk or 0))
    lots: list[Lot] = []
    by_id: dict[int, Lot] = {}
    for entry in ordered:
        if entry.points > 0:
            lot = Lot(entry.pk, entry.date, entry.expires_on, entry.points, entry.points)
            lots.append(lot)
            by_id[entry.pk] = lot
    for entry in ordered:
        if entry.points >= 0:
            continue
        if entry.kind == PointsEntry.Kind.EXPIRED:
            lot = by_id.get(_expired_lot_id(entry.reference))
            if lot is not None:
                lot.remaining = max(0, lot.remaining + entry.points)
                lot.closed = True
            continue
        wanted = -entry.points
        for lot in lots:
            if wanted == 0:
                break
            if lot.closed or lot.remaining == 0 or not lot.valid_on(entry.date):
                continue
            used = min(wanted, lot.remaining)
            lot.remaining -= used
            wanted -= used
    return lots


def _expired_lot_id(reference: str) -> int | None:
    prefix, _sep, value = reference.partition(":")
    return int(value) if prefix == "expiry" and value.isdigit() else None


def available_points(lots: list[Lot], day: datetime.date) -> int:
    """Points the customer may redeem on `day`: unused points of lots valid that day."""
    return sum(lot.remaining for lot in lots if not lot.closed and lot.valid_on(day))


def expiring_points(lots: list[Lot], day: datetime.date, days: int = EXPIRING_SOON_DAYS) -> int:
    """Unused points whose last valid day falls within `days` from `day`."""
    until = day + datetime.timedelta(days=days)
    return sum(
        lot.remaining
        for lot in lots
        if not lot.closed
        and lot.expires_on is not None
        and day <= lot.expires_on <= until
        and lot.date <= day
    )


def lapsed_lots(lots: list[Lot], day: datetime.date) -> list[Lot]:
    """Lots whose last valid day is before `day`, not yet closed by an expiry entry."""
    return [lot for lot in lots if not lot.closed and lot.expires_on is not None and lot.expires_on < day]


def customer_lots(customer_ids: list[int]) -> dict[int, list[Lot]]:
    """Every listed customer's lots, from one query."""
    entries: dict[int, list[PointsEntry]] = defaultdict(list)
    for entry in PointsEntry.objects.filter(customer_id__in=customer_ids).only(
        "id", "customer_id", "kind", "points", "date", "expires_on", "reference"
    ):
        entries[entry.customer_id].append(entry)
    return {customer_id: lots_of(entries.get(customer_id, [])) for customer_id in customer_ids}


@dataclass
class Account:
    customer: Customer
    tier: LoyaltyTier | None
    balance: int
    expiring_soon: int


def accounts(customers: list[Customer], today: datetime.date) -> list[Account]:
    """Tier, redeemable balance and points expiring in the next 90 days of each customer: one query
    for the ledger and one for the tiers, whatever their number."""
    tiers = tiers_for()
    lots = customer_lots([customer.pk for customer in customers])
    return [
        Account(
            customer=customer,
            tier=tier_named(customer.loyalty_tier, tiers),
            balance=available_points(lots[customer.pk], today),
            expiring_soon=expiring_points(lots[customer.pk], today),
        )
        for customer in customers
    ]


# Statement -----------------------------------------------------------------------------------


@dataclass
class Statement:
    customer: Customer
    date_from: datetime.date
    date_to: datetime.date
    opening: int
    entries: list[PointsEntry]
    closing: int
    earned: int
    used: int
    expiring_soon: int
    available: int
    tier: LoyaltyTier | None = None
    rows: list[tuple[PointsEntry, int]] = field(default_factory=list)  # entry, running balance


def points_statement(
    *, customer: Customer, date_from: datetime.date, date_to: datetime.date, today: datetime.date
) -> Statement:
    """Opening balance (every entry before `date_from`), the period's entries with a running
    balance, closing balance (opening + the period), and what is redeemable and expiring as of
    `today`. Two queries."""
    all_entries = list(PointsEntry.objects.filter(customer=customer).select_related("created_by"))
    opening = sum(e.points for e in all_entries if e.date < date_from)
    period = sorted((e for e in all_entries if date_from <= e.date <= date_to), key=lambda e: (e.date, e.pk))
    rows = []
    running = opening
    for entry in period:
        running += entry.points
        rows.append((entry, running))
    lots = lots_of(all_entries)
    return Statement(
        customer=customer,
        date_from=date_from,
        date_to=date_to,
        opening=opening,
        entries=period,
        closing=running,
        earned=sum(e.points for e in period if e.points > 0),
        used=-sum(e.points for e in period if e.points < 0),
        expiring_soon=expiring_points(lots, today),
        available=available_points(lots, today),
        tier=tier_named(customer.loyalty_tier),
        rows=rows,
    )


# Home --------------------------------------------------------------------------------------------


@dataclass
class Home:
    tiers: list[dict]
    months: list[dict]
    top: list[dict]
    members: int
    issued: int
    redeemed: int
    expired: int


def loyalty_home(*, actor: Actor, today: datetime.date, months: int = 12, top: int = 10) -> Home:
    """Members by tier, points issued / redeemed / expired per month over the last `months`
    months, and the members with the largest ledger balance: a handful of aggregate queries over
    the customers the actor sees."""
    customers = customers_visible_to(actor)
    tiers = tiers_for()
    counts = dict(
        customers.exclude(loyalty_tier="")
        .order_by()
        .values("loyalty_tier")
        .annotate(n=Count("id"))
        .values_list("loyalty_tier", "n")
    )
    tier_rows = [{"tier": tier, "count": counts.pop(tier.name, 0)} for tier in tiers]
    tier_rows += [{"tier": None, "name": name, "count": n} for name, n in sorted(counts.items())]
    first_month = _month_start(today, months - 1)
    entries = PointsEntry.objects.filter(customer__in=customers)
    monthly = (
        entries.filter(date__gte=first_month)
        .annotate(month=TruncMonth("date"))
        .order_by()
        .values("month")
        .annotate(
            issued=Sum("points", filter=Q(kind__in=["earned", "bonus"])),
            redeemed=Sum("points", filter=Q(kind="redeemed")),
            expired=Sum("points", filter=Q(kind="expired")),
        )
    )
    by_month = {_as_date(row["month"]): row for row in monthly}
    month_rows = []
    for offset in range(months - 1, -1, -1):
        start = _month_start(today, offset)
        row = by_month.get(start, {})
        month_rows.append(
            {
                "month": start,
                "issued": row.get("issued") or 0,
                "redeemed": -(row.get("redeemed") or 0),
                "expired": -(row.get("expired") or 0),
            }
        )
    top_rows = list(
        entries.order_by()
        .values("customer_id", "customer__name", "customer__loyalty_tier")
        .annotate(balance=Sum("points"))
        .filter(balance__gt=0)
        .order_by("-balance", "customer_id")[:top]
    )
    return Home(
        tiers=tier_rows,
        months=month_rows,
        top=top_rows,
        members=sum(row["count"] for row in tier_rows),
        issued=sum(row["issued"] for row in month_rows),
        redeemed=sum(row["redeemed"] for row in month_rows),
        expired=sum(row["expired"] for row in month_rows),
    )


def _month_start(today: datetime.date, months_back: int) -> datetime.date:
    month = today.month - 1 - months_back
    return datetime.date(today.year + month // 12, month % 12 + 1, 1)


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value
