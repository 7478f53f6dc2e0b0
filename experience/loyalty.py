"""Writes of the loyalty program: its rules and tiers, points earned on paid invoices, their
expiry, the nightly tiers, redemption as a discount credit note, and manual adjustments.

Guarantees:
- The points ledger is append-only: nothing here updates or deletes a PointsEntry; expiry and
  redemption are negative entries. Every entry has a unique (kind, reference), so an event (an
  invoice settled, a lot lapsing) never earns or expires twice, however often it is replayed.
- Points are earned only on the part of an invoice paid with money: payment allocations. Credit
  notes (including the ones a redemption issues) and write-offs earn nothing.
- A redemption or a negative adjustment locks the customer row first, so two at once cannot spend
  the same points.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, F, Max, OuterRef, Q, Sum, Value
from django.db.models.functions import Cast, Concat
from django.utils import translation
from django.utils.translation import gettext as _

from credit.scoring import add_months
from credit.selectors import to_base
from crm.models import Customer
from crm.services import TimelineEntry, customers_classify_many, interactions_log_many
from experience import loyalty_selectors as selectors
from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance import audit, tenancy
from finance.actors import Actor
from finance.money import quantize
from receivables import services as receivables
from receivables.models import Allocation, ExchangeRate, Invoice

logger = logging.getLogger("kehu.loyalty")

PROGRAM_FIELDS = (
    "is_active",
    "points_per_unit",
    "early_days",
    "early_bonus_percent",
    "expiry_months",
    "point_value",
    "on_time_percent",
)
TIER_FIELDS = (
    "name",
    "min_paid_revenue",
    "discount_percent",
    "extra_terms_days",
    "points_multiplier",
    "benefits",
)
MAX_POINTS = 2_000_000_000  # the points column is a 32-bit integer


def _visible(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise ValidationError({"customer": [_("No customer with this id.")]})


def _clean(instance: Any, exclude: list[str] | None = None) -> None:
    instance.full_clean(exclude=["organization", *(exclude or [])], validate_constraints=False)


# Rules -------------------------------------------------------------------------------------------


@transaction.atomic
def program_update(*, actor: Actor, **fields: Any) -> LoyaltyProgram:
    """Change the program's rules; the first change saves the defaults with it."""
    actor.require("loyalty.manage")
    unknown = set(fields) - set(PROGRAM_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    program = LoyaltyProgram.objects.select_for_update().first() or LoyaltyProgram(
        organization=actor.organization
    )
    before = audit.snapshot(program, list(PROGRAM_FIELDS)) if program.pk else {}
    for name, value in fields.items():
        setattr(program, name, value)
    _clean(program)
    changes = audit.diff(before, audit.snapshot(program, list(PROGRAM_FIELDS)))
    if program.pk and not changes:
        return program
    program.save()
    audit.record(actor=actor, action="loyalty.program_changed", instance=program, changes=changes)
    return program


def _save_tier(actor: Actor, tier: LoyaltyTier, action: str, before: dict[str, Any]) -> LoyaltyTier:
    _clean(tier)
    clashes = LoyaltyTier.objects.exclude(pk=tier.pk)
    errors: dict[str, list[str]] = {}
    if clashes.filter(name=tier.name).exists():
        errors["name"] = [_("Another tier has this name.")]
    if clashes.filter(min_paid_revenue=tier.min_paid_revenue).exists():
        errors["min_paid_revenue"] = [_("Another tier starts at this revenue.")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            tier.save()
    except IntegrityError:
        raise ValidationError({"name": [_("Another tier has this name or threshold.")]}) from None
    audit.record(
        actor=actor,
        action=action,
        instance=tier,
        changes=audit.diff(before, audit.snapshot(tier, list(TIER_FIELDS))),
    )
    return tier


@transaction.atomic
def tier_create(*, actor: Actor, **fields: Any) -> LoyaltyTier:
    """Add a tier. Once an organization has a tier of its own, the default tiers no longer apply."""
    actor.require("loyalty.manage")
    tier = LoyaltyTier(organization=actor.organization, **fields)
    return _save_tier(actor, tier, "loyalty.tier_created", {})


@transaction.atomic
def tier_update(*, actor: Actor, tier: LoyaltyTier, **fields: Any) -> LoyaltyTier:
    """Change a tier. Renaming does not rename customers' tiers: the next tiers run does."""
    actor.require("loyalty.manage")
    tier = LoyaltyTier.objects.select_for_update().get(pk=tier.pk)
    before = audit.snapshot(tier, list(TIER_FIELDS))
    for name, value in fields.items():
        if name not in TIER_FIELDS:
            raise ValidationError({name: [_("This field cannot be changed here.")]})
        setattr(tier, name, value)
    return _save_tier(actor, tier, "loyalty.tier_changed", before)


@transaction.atomic
def tier_delete(*, actor: Actor, tier: LoyaltyTier) -> None:
    actor.require("loyalty.manage")
    audit.record(
        actor=actor, action="loyalty.tier_deleted", instance=tier, changes={"name": [tier.name, None]}
    )
    tier.delete()


@transaction.atomic
def tiers_adopt_defaults(*, actor: Actor) -> list[LoyaltyTier]:
    """Save the default tiers as the organization's own (so they can be edited); a no-op when it
    already has tiers."""
    actor.require("loyalty.manage")
    if LoyaltyTier.objects.exists():
        return selectors.tiers_for()
    return [
        tier_create(actor=actor, **{name: getattr(tier, name) for name in TIER_FIELDS})
        for tier in selectors.default_tiers()
    ]


# Earning -----------------------------------------------------------------------------------------


def _insert(entry: PointsEntry) -> PointsEntry | None:
    """Insert an entry unless one with its (kind, reference) exists: None then."""
    try:
        with transaction.atomic():
            entry.save(force_insert=True)
    except IntegrityError:
        return None
    return entry


@transaction.atomic
def points_earn(*, actor: Actor, invoice: Invoice) -> list[PointsEntry]:
    """Award the points of a settled invoice: floor(paid amount in base currency at the invoice's
    issue-date rate × points per unit × the customer's tier multiplier), dated the last allocation,
    expiring `expiry_months` later; plus the early bonus when the last payment came at least
    `early_days` before the due date. Only payment allocations count (credit notes and write-offs
    earn nothing). Returns the entries written: none for an open, void or already-awarded invoice,
    or an inactive program. Raises ValidationError when no
    exchange rate exists for a foreign-currency invoice."""
    program = selectors.program_for()
    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    if not program.is_active or invoice.voided_on or invoice.outstanding != 0:
        return []
    reference = f"invoice:{invoice.pk}"
    if PointsEntry.objects.filter(kind=PointsEntry.Kind.EARNED, reference=reference).exists():
        return []
    allocations = Allocation.objects.filter(invoice=invoice)
    figures = allocations.aggregate(
        paid=Sum("amount", filter=Q(payment__isnull=False)),
        settled_on=Max("allocated_on"),
        last_paid_on=Max("allocated_on", filter=Q(payment__isnull=False)),
    )
    if not figures["paid"]:
        return []
    paid_base = to_base(figures["paid"], invoice.currency, invoice.issue_date)
    multiplier = selectors.multiplier_for(invoice.customer)
    points = int((paid_base * program.points_per_unit * multiplier).to_integral_value(ROUND_FLOOR))
    if points <= 0:
        return []
    settled_on = figures["settled_on"]
    expires_on = add_months(settled_on, program.expiry_months)
    made = []
    earned = _insert(
        PointsEntry(
            organization=actor.organization,
            customer=invoice.customer,
            kind=PointsEntry.Kind.EARNED,
            points=min(points, MAX_POINTS),
            date=settled_on,
            expires_on=expires_on,
            reference=reference,
            invoice_id=invoice.pk,
            amount=paid_base,
            note=invoice.number,
        )
    )
    if earned is None:
        return []
    made.append(earned)
    early = (invoice.due_date - figures["last_paid_on"]).days >= program.early_days
    bonus = int((Decimal(points) * program.early_bonus_percent / 100).to_integral_value(ROUND_FLOOR))
    if early and bonus > 0:
        entry = _insert(
            PointsEntry(
                organization=actor.organization,
                customer=invoice.customer,
                kind=PointsEntry.Kind.BONUS,
                points=min(bonus, MAX_POINTS),
                date=settled_on,
                expires_on=expires_on,
                reference=reference,
                invoice_id=invoice.pk,
                note=invoice.number,
            )
        )
        if entry is not None:
            made.append(entry)
    audit.record(
        actor=actor,
        action="loyalty.points_earned",
        instance=earned,
        changes={"points": [None, sum(e.points for e in made)], "invoice": [None, invoice.pk]},
        customer_id=invoice.customer_id,
    )
    return made


def on_invoice_settled(sender: Any, invoice: Invoice, **kwargs: Any) -> None:
    """receivables.signals.invoice_settled: award the invoice's points. Runs after the commit that
    settled it, so a failure here (a missing exchange rate) is logged and never undoes the payment;
    the seed or a re-sent signal can award it later (it is idempotent)."""
    organization = tenancy.current_organization()
    try:
        points_earn(actor=Actor.system(organization), invoice=invoice)
    except ValidationError:
        logger.warning("No loyalty points for invoice %s: no exchange rate", invoice.pk)
    except Exception:
        logger.exception("Loyalty points for invoice %s failed", invoice.pk)


# Expiry ------------------------------------------------------------------------------------------


def _expire(actor: Actor, customer_ids: list[int], run_date: datetime.date) -> tuple[int, int]:
    """Write the expiry entries of every lapsed lot of these customers (conflicts ignored: a rerun
    or a concurrent run writes nothing twice). Returns (entries, points)."""
    lots = selectors.customer_lots(customer_ids)
    entries = []
    for customer_id, customer_lots in lots.items():
        for lot in selectors.lapsed_lots(customer_lots, run_date):
            if lot.remaining <= 0:
                continue
            entries.append(
                PointsEntry(
                    organization=actor.organization,
                    customer_id=customer_id,
                    kind=PointsEntry.Kind.EXPIRED,
                    points=-lot.remaining,
                    date=lot.expires_on + datetime.timedelta(days=1),
                    reference=f"expiry:{lot.entry_id}",
                    created_by=actor.user,
                )
            )
    if entries:
        PointsEntry.objects.bulk_create(entries, ignore_conflicts=True)
    return len(entries), -sum(entry.points for entry in entries)


@transaction.atomic
def points_expire(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily job: for every earning whose last valid day is before `run_date`, a negative
    EXPIRED entry (dated the day after) for its still-unused points (redemptions use the oldest
    points first). Idempotent through the entry's reference `expiry:<earning id>`. Also awards
    the recently settled invoices the signal missed (`points_catch_up`)."""
    closed = PointsEntry.objects.filter(
        kind=PointsEntry.Kind.EXPIRED,
        reference=Concat(Value("expiry:"), Cast(OuterRef("pk"), CharField())),
    )
    customer_ids = sorted(
        set(
            PointsEntry.objects.filter(points__gt=0, expires_on__lt=run_date)
            .exclude(Exists(closed))
            .values_list("customer_id", flat=True)
        )
    )
    entries, points = _expire(actor, customer_ids, run_date) if customer_ids else (0, 0)
    awarded = points_catch_up(actor=actor, run_date=run_date)
    return {"customers": len(customer_ids), "entries": entries, "points": points, "awarded": awarded}


CATCH_UP_DAYS = 35


def points_catch_up(*, actor: Actor, run_date: datetime.date) -> int:
    """Award the points of invoices paid in the last weeks that settled without the signal reaching
    us: receivables sends `invoice_settled` on allocations only, not when a write-off closes the
    rest, and a worker may die between the commit and the receiver. Returns the invoices awarded."""
    awarded = PointsEntry.objects.filter(
        kind=PointsEntry.Kind.EARNED,
        reference=Concat(Value("invoice:"), Cast(OuterRef("pk"), CharField())),
    )
    candidates = (
        Invoice.objects.filter(
            voided_on__isnull=True,
            allocated_total__gt=0,
            total__lte=F("allocated_total") + F("written_off_total"),
            allocations__payment__isnull=False,
            allocations__allocated_on__gte=run_date - datetime.timedelta(days=CATCH_UP_DAYS),
        )
        .exclude(Exists(awarded))
        .distinct()
        .order_by("pk")
    )
    count = 0
    for invoice in candidates:
        try:
            if points_earn(actor=actor, invoice=invoice):
                count += 1
        except ValidationError:
            logger.warning("No loyalty points for invoice %s: no exchange rate", invoice.pk)
    return count


# Tiers -------------------------------------------------------------------------------------------


def _base_rates(
    currencies: set[str], run_date: datetime.date
) -> dict[str, list[tuple[datetime.date, Decimal]]]:
    wanted = currencies - {tenancy.current_organization().base_currency}
    rates: dict[str, list[tuple[datetime.date, Decimal]]] = {}
    for currency, date, rate in (
        ExchangeRate.objects.filter(currency__in=wanted, date__lte=run_date)
        .order_by("currency", "date")
        .values_list("currency", "date", "rate")
    ):
        rates.setdefault(currency, []).append((date, rate))
    return rates


def _rate(
    rates: dict[str, list[tuple[datetime.date, Decimal]]], currency: str, day: datetime.date
) -> Decimal:
    if currency == tenancy.current_organization().base_currency:
        return Decimal(1)
    found = None
    for date, rate in rates.get(currency, []):
        if date > day:
            break
        found = rate
    return found if found is not None else Decimal(0)  # no rate: that revenue cannot count


def paid_revenue(run_date: datetime.date) -> dict[int, tuple[Decimal, int, int]]:
    """Per customer: (payments allocated to its invoices in the 365 days to `run_date`, in base
    currency at each invoice's issue-date rate; invoices paid in that window; of them, on time).
    An invoice is on time when its last payment in the window came by its due date and nothing of
    it is left overdue on `run_date`."""
    start = run_date - datetime.timedelta(days=364)
    rows = list(
        Allocation.objects.filter(payment__isnull=False, allocated_on__gte=start, allocated_on__lte=run_date)
        .order_by()
        .values(
            "invoice_id",
            "invoice__customer_id",
            "invoice__currency",
            "invoice__issue_date",
            "invoice__due_date",
            "invoice__total",
            "invoice__allocated_total",
            "invoice__written_off_total",
        )
        .annotate(paid=Sum("amount"), last_paid=Max("allocated_on"))
    )
    rates = _base_rates({row["invoice__currency"] for row in rows}, run_date)
    result: dict[int, list[Any]] = {}
    for row in rows:
        figures = result.setdefault(row["invoice__customer_id"], [Decimal(0), 0, 0])
        figures[0] += row["paid"] * _rate(rates, row["invoice__currency"], row["invoice__issue_date"])
        figures[1] += 1
        settled = row["invoice__total"] <= row["invoice__allocated_total"] + row["invoice__written_off_total"]
        due = row["invoice__due_date"]
        if row["last_paid"] <= due and (settled or due >= run_date):
            figures[2] += 1
    return {
        customer_id: (revenue, count, on_time) for customer_id, (revenue, count, on_time) in result.items()
    }


def tier_for(
    revenue: Decimal, invoices: int, on_time: int, tiers: list[LoyaltyTier], on_time_percent: Decimal
) -> LoyaltyTier | None:
    """The highest tier the revenue reaches; a tier above the first also needs `on_time_percent` of
    the invoices paid on time, or the customer stays one tier lower. None below the first tier or
    without paid revenue."""
    if revenue <= 0:
        return None
    reached = [index for index, tier in enumerate(tiers) if revenue >= tier.min_paid_revenue]
    if not reached:
        return None
    index = reached[-1]
    if index > 0 and invoices and Decimal(on_time) * 100 < on_time_percent * invoices:
        index -= 1
    return tiers[index]


@transaction.atomic
def loyalty_tiers(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily job: every customer's tier from its trailing-12-month paid revenue and on-time
    share, written to crm.Customer.loyalty_tier in bulk (audited); each change is noted on the
    customer's timeline. Customers with nothing paid in the window have no tier."""
    program = selectors.program_for()
    tiers = selectors.tiers_for()
    figures = paid_revenue(run_date)
    current = dict(Customer.objects.values_list("pk", "loyalty_tier"))
    wanted: dict[int, dict[str, str]] = {}
    for customer_id in current:
        revenue, invoices, on_time = figures.get(customer_id, (Decimal(0), 0, 0))
        tier = tier_for(revenue, invoices, on_time, tiers, program.on_time_percent)
        wanted[customer_id] = {"loyalty_tier": tier.name if tier else ""}
    changed = {
        pk: values["loyalty_tier"] for pk, values in wanted.items() if current[pk] != values["loyalty_tier"]
    }
    customers_classify_many(actor=actor, values={pk: wanted[pk] for pk in changed})
    with translation.override(actor.organization.language or None):
        notes = [
            TimelineEntry(
                customer_id=pk,
                kind="note",
                summary=_("Loyalty tier: %(before)s → %(after)s")
                % {
                    "before": current[pk] or _("none"),
                    "after": tier or _("none"),
                },
            )
            for pk, tier in changed.items()
        ]
    if notes:
        interactions_log_many(actor=actor, entries=notes)
    return {
        "customers": len(current),
        "changed": len(changed),
        "members": sum(1 for v in wanted.values() if v["loyalty_tier"]),
    }


# Redemption and adjustment -------------------------------------------------------------------


def _lock(customer: Customer) -> Customer:
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _points(value: Any, field: str = "points") -> int:
    if isinstance(value, bool):
        raise ValidationError({field: [_("Enter a whole number of points.")]})
    try:
        points = int(Decimal(str(value)))
    except Exception:
        raise ValidationError({field: [_("Enter a whole number of points.")]}) from None
    if Decimal(str(value)) != points:
        raise ValidationError({field: [_("Enter a whole number of points.")]})
    if abs(points) > MAX_POINTS:
        raise ValidationError({field: [_("That is more points than anyone can hold.")]})
    return points


def _available_after_expiry(actor: Actor, customer: Customer, today: datetime.date) -> int:
    _expire(actor, [customer.pk], today)
    return selectors.available_points(selectors.customer_lots([customer.pk])[customer.pk], today)


@transaction.atomic
def points_redeem(
    *, actor: Actor, customer: Customer, points: Any, invoice: Invoice | None = None, note: str = ""
) -> PointsEntry:
    """Turn points into a discount credit note of points × point value, in the organization's base
    currency, dated today: applied to `invoice` (up to what is open on it) when it is given and
    open, else left unallocated. Writes the negative REDEEMED entry with the credit note's id, all
    in one transaction, under a lock on the customer row (two redemptions at once cannot overdraw).
    ValidationError on `points` (not above zero, above the balance) or `invoice` (another
    customer's, another currency)."""
    actor.require("loyalty.redeem")
    _visible(actor, customer)
    points = _points(points)
    if points <= 0:
        raise ValidationError({"points": [_("Redeem at least one point.")]})
    organization = actor.organization
    base = organization.base_currency
    if invoice is not None:
        invoice = Invoice.objects.filter(pk=invoice.pk).first()
        if invoice is None or invoice.customer_id != customer.pk:
            raise ValidationError({"invoice": [_("The invoice belongs to another customer.")]})
    customer = _lock(customer)
    today = organization.local_today()
    available = _available_after_expiry(actor, customer, today)
    if points > available:
        raise ValidationError(
            {"points": [_("Only %(available)s points are available.") % {"available": available}]}
        )
    program = selectors.program_for()
    amount = quantize(Decimal(points) * program.point_value, base)
    if amount <= 0:
        raise ValidationError({"points": [_("These points are worth less than one cent.")]})
    allocations = []
    if invoice is not None and invoice.outstanding > 0:
        if invoice.currency != base:
            raise ValidationError(
                {
                    "invoice": [
                        _("Points are redeemed in %(currency)s; this invoice is in another currency.")
                        % {"currency": base}
                    ]
                }
            )
        allocations = [
            {
                "invoice": invoice,
                "amount": min(amount, invoice.outstanding),
                "allocated_on": max(today, invoice.issue_date),
            }
        ]
    credit_note = receivables.credit_note_create(
        actor=actor,
        customer=customer,
        number=f"LOY-{today:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}",
        currency=base,
        issue_date=today,
        total=amount,
        description=_("Loyalty points redeemed: %(points)s") % {"points": points},
        allocations=allocations,
    )
    entry = PointsEntry(
        organization=organization,
        customer=customer,
        kind=PointsEntry.Kind.REDEEMED,
        points=-points,
        date=today,
        reference=f"redemption:{credit_note.pk}",
        invoice_id=invoice.pk if allocations else None,
        credit_note_id=credit_note.pk,
        amount=amount,
        note=note[:300],
        created_by=actor.user,
    )
    entry.save(force_insert=True)
    audit.record(
        actor=actor,
        action="loyalty.points_redeemed",
        instance=entry,
        changes={
            "points": [None, -points],
            "credit_note": [None, credit_note.pk],
            "amount": [None, str(amount)],
        },
        customer_id=customer.pk,
    )
    return entry


@transaction.atomic
def points_adjust(*, actor: Actor, customer: Customer, points: Any, reason: str) -> PointsEntry:
    """Add or remove points by hand, with a reason. Added points expire like earned ones; removed
    points come off the oldest first and cannot take the balance below zero."""
    actor.require("loyalty.adjust")
    _visible(actor, customer)
    points = _points(points)
    errors: dict[str, list[str]] = {}
    if points == 0:
        errors["points"] = [_("Give a number of points other than zero.")]
    if not str(reason).strip():
        errors["reason"] = [_("Give a reason.")]
    if errors:
        raise ValidationError(errors)
    customer = _lock(customer)
    today = actor.organization.local_today()
    available = _available_after_expiry(actor, customer, today)
    if points < 0 and -points > available:
        raise ValidationError(
            {"points": [_("Only %(available)s points are available.") % {"available": available}]}
        )
    program = selectors.program_for()
    entry = PointsEntry(
        organization=actor.organization,
        customer=customer,
        kind=PointsEntry.Kind.ADJUSTED,
        points=points,
        date=today,
        expires_on=add_months(today, program.expiry_months) if points > 0 else None,
        reference=f"adjustment:{uuid.uuid4().hex}",
        note=str(reason).strip()[:300],
        created_by=actor.user,
    )
    entry.save(force_insert=True)
    audit.record(
        actor=actor,
        action="loyalty.points_adjusted",
        instance=entry,
        changes={"points": [None, points], "reason": [None, entry.note]},
        customer_id=customer.pk,
    )
    return entry
