"""Credit reads: exposure in base currency, the metrics the scorecard scores, the credit check,
and the lists of the credit pages and API. Metrics and exposure are computed for many customers
at once (one grouped query per source), so the nightly job and list pages cost a constant number
of queries.
"""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from credit import scorecard
from credit.models import (
    CreditHold,
    CreditPolicy,
    CreditProfile,
    CreditReview,
    CreditStatus,
    FinancialStatement,
    LimitRequest,
    OpenOrder,
)
from credit.ratios import statement_ratios
from crm.models import Customer
from crm.selectors import customers_visible_to
from finance.actors import Actor
from finance.models import Organization
from finance.money import format_amount
from finance.rowcache import MISSING, RowCache
from finance.tenancy import current_organization
from receivables.disputes import invoice_has_active_dispute
from receivables.models import (
    CreditNote,
    CustomerTerms,
    Dispute,
    ExchangeRate,
    Invoice,
    PaymentTerms,
    PromiseToPay,
)
from receivables.selectors import day_of, money_of, open_invoices

ZERO = Decimal("0")
CENT = Decimal("0.01")
YEAR = datetime.timedelta(days=365)
QUARTER = datetime.timedelta(days=91)


# Each organization's credit policy, kept between requests: the credit check reads it on every
# call. Saving or deleting a policy forgets it (credit.receivers), at once and again at commit.
POLICIES = RowCache("credit_policy", seconds=300)


def credit_policy() -> CreditPolicy:
    """The current organization's credit policy; until someone changes it, the defaults (an unsaved
    policy, so reading never writes: `services.policy_update` saves it)."""
    organization_id = current_organization().pk
    policy, generation = POLICIES.get(organization_id)
    if policy is MISSING:
        policy = CreditPolicy.objects.first()
        POLICIES.put(organization_id, policy, generation)
    if policy is None:
        policy = CreditPolicy(
            organization=current_organization(),
            scorecard=scorecard.DEFAULT_SCORECARD,
            class_floors=scorecard.DEFAULT_CLASS_FLOORS,
            review_months=scorecard.DEFAULT_REVIEW_MONTHS,
        )
    return policy


def policy_scorecard(policy: CreditPolicy) -> dict[str, Any]:
    return policy.scorecard or scorecard.DEFAULT_SCORECARD


def policy_class_floors(policy: CreditPolicy) -> dict[str, int]:
    return policy.class_floors or scorecard.DEFAULT_CLASS_FLOORS


def policy_review_months(policy: CreditPolicy) -> dict[str, int]:
    return policy.review_months or scorecard.DEFAULT_REVIEW_MONTHS


# Exchange rates ------------------------------------------------------------------------------


def rates_on(currencies: set[str], day: datetime.date) -> dict[str, Decimal]:
    """Base-currency value of one unit of each currency on `day` (the latest rate on or before it);
    a currency without a rate is missing from the result. Two queries, whatever the currencies."""
    base = current_organization().base_currency
    rates = {base: Decimal(1)}
    wanted = currencies - {base}
    if not wanted:
        return rates
    latest = dict(
        ExchangeRate.objects.filter(currency__in=wanted, date__lte=day)
        .values("currency")
        .annotate(latest=Max("date"))
        .values_list("currency", "latest")
    )
    if latest:
        condition = Q()
        for currency, date in latest.items():
            condition |= Q(currency=currency, date=date)
        rates.update(ExchangeRate.objects.filter(condition).values_list("currency", "rate"))
    return rates


def to_base(amount: Decimal, currency: str, day: datetime.date, field_name: str = "currency") -> Decimal:
    """`amount` in base currency at `day`'s rate; ValidationError on `field_name` without one."""
    rate = rates_on({currency}, day).get(currency)
    if rate is None:
        raise ValidationError(
            {
                field_name: [
                    _("No exchange rate for %(currency)s on or before %(date)s.")
                    % {"currency": currency, "date": day}
                ]
            }
        )
    return (amount * rate).quantize(CENT, ROUND_HALF_UP)


# Exposure ------------------------------------------------------------------------------------


@dataclass
class Exposure:
    receivables: Decimal = ZERO
    orders: Decimal = ZERO
    missing_rates: set[str] = field(default_factory=set)

    @property
    def total(self) -> Decimal:
        return self.receivables + self.orders


def exposures(customer_ids: list[int] | None, today: datetime.date) -> dict[int, Exposure]:
    """Open receivables plus open ERP orders per customer, in base currency at today's rates.
    A currency with no rate is left out of the sums and named in `missing_rates`. Three or four
    queries for any number of customers (`None` means all)."""
    invoices = open_invoices()
    orders = OpenOrder.objects.filter(status=OpenOrder.Status.OPEN)
    if customer_ids is not None:
        invoices = invoices.filter(customer_id__in=customer_ids)
        orders = orders.filter(customer_id__in=customer_ids)
    open_amounts = (
        invoices.order_by()
        .values("customer_id", "currency")
        .annotate(amount=Sum(F("total") - F("allocated_total") - F("written_off_total")))
    )
    order_amounts = orders.order_by().values("customer_id", "currency").annotate(amount=Sum("amount"))
    return _in_base(list(open_amounts), list(order_amounts), today)


def _in_base(
    open_amounts: list[dict], order_amounts: list[dict], today: datetime.date
) -> dict[int, Exposure]:
    """Exposures from rows of (customer_id, currency, amount) of open invoices and open orders."""
    rows = [("receivables", row) for row in open_amounts] + [("orders", row) for row in order_amounts]
    rates = rates_on({row["currency"] for _kind, row in rows}, today)
    result: dict[int, Exposure] = defaultdict(Exposure)
    for kind, row in rows:
        exposure = result[row["customer_id"]]
        rate = rates.get(row["currency"])
        if rate is None:
            exposure.missing_rates.add(row["currency"])
            continue
        amount = (Decimal(row["amount"]) * rate).quantize(CENT, ROUND_HALF_UP)
        setattr(exposure, kind, getattr(exposure, kind) + amount)
    return result


def exposure_of(customer: Customer, today: datetime.date) -> Exposure:
    return exposures([customer.pk], today).get(customer.pk, Exposure())


# The credit check's one statement on invoices and orders, written once per process: the ORM's
# building and compiling of the two grouped queries it replaces cost about twice their execution
# (bench/credit.py --profile). The organization is named in every part, as the tenant manager
# would (row-level security checks it again); tests/credit/test_check_api.py holds it to the
# grouped querysets of `exposures` and `oldest_past_due`.
@functools.cache
def _position_sql(db: str) -> str:
    quote = connections[db].ops.quote_name
    invoices, disputes, orders = (quote(m._meta.db_table) for m in (Invoice, Dispute, OpenOrder))
    amount = "i.total - i.allocated_total - i.written_off_total"
    statuses = ", ".join(["%s"] * len(Dispute.ACTIVE))
    return f"""
        SELECT 'invoice', i.currency, SUM({amount}),
               MIN(CASE WHEN i.due_date < %s AND NOT EXISTS (
                   SELECT 1 FROM {disputes} d
                   WHERE d.organization_id = i.organization_id AND d.invoice_id = i.id
                     AND d.status IN ({statuses})
               ) THEN i.due_date END)
        FROM {invoices} i
        WHERE i.organization_id = %s AND i.customer_id = %s AND i.voided_on IS NULL
          AND i.total > i.allocated_total + i.written_off_total
        GROUP BY i.currency
        UNION ALL
        SELECT 'order', o.currency, SUM(o.amount), NULL
        FROM {orders} o
        WHERE o.organization_id = %s AND o.customer_id = %s AND o.status = %s
        GROUP BY o.currency
    """


def position_of(customer: Customer, today: datetime.date) -> tuple[Exposure, int | None]:
    """`exposure_of` and `oldest_past_due` of one customer, in one statement (the credit check's
    path): its open invoices and open orders summed per currency, the oldest due date of its
    overdue undisputed invoices; then the rates."""
    organization_id = current_organization().pk
    db = router.db_for_read(Invoice)
    connection = connections[db]
    params = [
        connection.ops.adapt_datefield_value(today),
        *Dispute.ACTIVE,
        organization_id,
        customer.pk,
        organization_id,
        customer.pk,
        OpenOrder.Status.OPEN,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_position_sql(db), params)
        rows = cursor.fetchall()
    sums: dict[str, list[dict[str, Any]]] = {"invoice": [], "order": []}
    dues = []
    for kind, currency, amount, oldest_due in rows:
        sums[kind].append({"customer_id": customer.pk, "currency": currency, "amount": money_of(amount)})
        if oldest_due is not None:
            dues.append(day_of(oldest_due))
    exposure = _in_base(sums["invoice"], sums["order"], today).get(customer.pk, Exposure())
    return exposure, (today - min(dues)).days if dues else None


def utilisation(exposure: Decimal, limit: Decimal | None) -> Decimal | None:
    """Exposure as a percentage of the limit; None without a limit (or a zero one)."""
    if not limit:
        return None
    return (exposure / limit * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)


# Past due ------------------------------------------------------------------------------------


def oldest_past_due(customer_ids: list[int] | None, today: datetime.date) -> dict[int, int]:
    """Days past due of each customer's oldest open overdue invoice, disputed invoices left out."""
    invoices = open_invoices().filter(due_date__lt=today).exclude(invoice_has_active_dispute())
    if customer_ids is not None:
        invoices = invoices.filter(customer_id__in=customer_ids)
    return {
        row["customer_id"]: (today - row["oldest"]).days
        for row in invoices.order_by().values("customer_id").annotate(oldest=Min("due_date"))
    }


# Metrics for the scorecard -------------------------------------------------------------------


def _terms_days(customer_ids: list[int] | None) -> tuple[dict[int, int], int]:
    default = PaymentTerms.objects.filter(is_default=True).values_list("days", flat=True).first()
    own = CustomerTerms.objects.all()
    if customer_ids is not None:
        own = own.filter(customer_id__in=customer_ids)
    return dict(own.values_list("customer_id", "terms__days")), default if default is not None else 30


def _weighted(rows: list[tuple[Decimal, int]]) -> Decimal | None:
    weight = sum((w for w, _days in rows), ZERO)
    if not rows:
        return None
    if not weight:
        return (Decimal(sum(days for _w, days in rows)) / len(rows)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return (sum(w * days for w, days in rows) / weight).quantize(Decimal("0.1"), ROUND_HALF_UP)


def payment_behaviour(customer_ids: list[int] | None, today: datetime.date) -> dict[int, dict[str, Decimal]]:
    """From the invoices that fell due in the last 12 months: amount-weighted average days late
    (paid ones by their last payment's date, open ones counting up to today; negative means early),
    the share paid late, the worst delay, and the change in average days late between the last
    quarter and the one before."""
    invoices = Invoice.objects.filter(
        voided_on__isnull=True, due_date__gt=today - YEAR, due_date__lte=today
    ).exclude(due_date=today, total__gt=F("allocated_total") + F("written_off_total"))
    if customer_ids is not None:
        invoices = invoices.filter(customer_id__in=customer_ids)
    rows = (
        invoices.order_by()
        .annotate(
            last_paid=Max("allocations__allocated_on"),
            last_written_off=Max("write_offs__written_off_on", filter=Q(write_offs__status="approved")),
        )
        .values_list(
            "customer_id",
            "currency",
            "total",
            "due_date",
            "allocated_total",
            "written_off_total",
            "last_paid",
            "last_written_off",
        )
    )
    rows = list(rows)
    rates = rates_on({row[1] for row in rows}, today)
    by_customer: dict[int, list[tuple[Decimal, int, datetime.date]]] = defaultdict(list)
    for customer_id, currency, total, due_date, allocated, written_off, last_paid, last_written_off in rows:
        settled = allocated + written_off >= total
        if settled:
            dates = [d for d in (last_paid, last_written_off) if d is not None]
            paid_on = max(dates) if dates else due_date
        else:
            paid_on = today
        weight = total * rates.get(currency, Decimal(1))
        by_customer[customer_id].append((weight, (paid_on - due_date).days, due_date))
    metrics: dict[int, dict[str, Decimal]] = {}
    last_quarter, quarter_before = today - QUARTER, today - 2 * QUARTER
    for customer_id, items in by_customer.items():
        delays = [(w, days) for w, days, _due in items]
        late = sum(1 for _w, days in delays if days > 0)
        recent = _weighted([(w, days) for w, days, due in items if due > last_quarter])
        earlier = _weighted([(w, days) for w, days, due in items if quarter_before < due <= last_quarter])
        metrics[customer_id] = {
            "avg_days_late": _weighted(delays),
            "late_share": (Decimal(late) * 100 / len(delays)).quantize(Decimal("0.1"), ROUND_HALF_UP),
            "worst_delay": Decimal(max(max(days for _w, days in delays), 0)),
            "delay_trend": None if recent is None or earlier is None else recent - earlier,
        }
    return metrics


def _grouped(
    queryset: QuerySet, customer_ids: list[int] | None, **aggregates: Any
) -> dict[int, dict[str, Any]]:
    if customer_ids is not None:
        queryset = queryset.filter(customer_id__in=customer_ids)
    return {
        row["customer_id"]: row for row in queryset.order_by().values("customer_id").annotate(**aggregates)
    }


def _base_amount_sums(
    queryset: QuerySet, customer_ids: list[int] | None, today: datetime.date
) -> dict[int, Decimal]:
    if customer_ids is not None:
        queryset = queryset.filter(customer_id__in=customer_ids)
    rows = list(queryset.order_by().values("customer_id", "currency").annotate(amount=Sum("total")))
    rates = rates_on({row["currency"] for row in rows}, today)
    sums: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        sums[row["customer_id"]] += (row["amount"] * rates.get(row["currency"], Decimal(1))).quantize(CENT)
    return sums


def customer_metrics(
    customers: list[Customer], today: datetime.date, exposure_by_customer: dict[int, Exposure]
) -> dict[int, dict[str, Any]]:
    """The scorecard's inputs per customer (factor key → value or None). A fixed number of
    queries for any number of customers."""
    ids = [customer.pk for customer in customers]
    scope = ids if len(ids) < 1000 else None  # the nightly run reads the whole tenant at once
    behaviour = payment_behaviour(scope, today)
    promises = _grouped(
        PromiseToPay.objects.filter(resolved_on__gt=today - YEAR),
        scope,
        kept=Count("pk", filter=Q(status=PromiseToPay.Status.KEPT)),
        broken=Count("pk", filter=Q(status=PromiseToPay.Status.BROKEN)),
    )
    disputed = _grouped(Dispute.objects.filter(opened_on__gt=today - YEAR), scope, count=Count("pk"))
    issued = _grouped(
        Invoice.objects.filter(voided_on__isnull=True, issue_date__gt=today - YEAR),
        scope,
        count=Count("pk"),
    )
    first_invoice = _grouped(Invoice.objects.filter(voided_on__isnull=True), scope, first=Min("issue_date"))
    invoiced = _base_amount_sums(
        Invoice.objects.filter(voided_on__isnull=True, issue_date__gt=today - YEAR), scope, today
    )
    credited = _base_amount_sums(
        CreditNote.objects.filter(voided_on__isnull=True, issue_date__gt=today - YEAR), scope, today
    )
    profiles = (
        {p.customer_id: p for p in CreditProfile.objects.filter(customer_id__in=ids)}
        if scope
        else {p.customer_id: p for p in CreditProfile.objects.all()}
    )
    statements = latest_statements(scope)
    metrics: dict[int, dict[str, Any]] = {}
    for customer in customers:
        pk = customer.pk
        values: dict[str, Any] = dict.fromkeys(scorecard.FACTORS)
        values.update(behaviour.get(pk, {}))
        promise_counts = promises.get(pk)
        if promise_counts and promise_counts["kept"] + promise_counts["broken"]:
            resolved = promise_counts["kept"] + promise_counts["broken"]
            values["kept_promises"] = (Decimal(promise_counts["kept"]) * 100 / resolved).quantize(
                Decimal("0.1")
            )
        issued_count = issued.get(pk, {}).get("count", 0)
        if issued_count:
            disputes = disputed.get(pk, {}).get("count", 0)
            values["dispute_rate"] = (Decimal(disputes) * 100 / issued_count).quantize(Decimal("0.1"))
        first = first_invoice.get(pk, {}).get("first")
        since = min(first, customer.created_at.date()) if first else customer.created_at.date()
        values["tenure"] = Decimal((today - since).days * 12 // 365)
        if first is not None:
            values["purchase_volume"] = invoiced.get(pk, ZERO) - credited.get(pk, ZERO)
        profile = profiles.get(pk)
        limit = profile.effective_limit(today) if profile else None
        exposure = exposure_by_customer.get(pk, Exposure())
        values["utilisation"] = utilisation(exposure.total, limit)
        if profile and profile.external_rating:
            values["external_rating"] = profile.external_rating
        statement = statements.get(pk)
        if statement is not None:
            figures = statement_ratios(statement)
            values["z_score"] = figures.z_score
            values["current_ratio"] = figures.current_ratio
            values["debt_to_equity"] = figures.debt_to_equity
            values["interest_coverage"] = figures.interest_coverage
        metrics[pk] = values
    return metrics


def latest_statements(customer_ids: list[int] | None) -> dict[int, FinancialStatement]:
    statements = FinancialStatement.objects.order_by("customer_id", "-fiscal_year")
    if customer_ids is not None:
        statements = statements.filter(customer_id__in=customer_ids)
    latest: dict[int, FinancialStatement] = {}
    for statement in statements:
        latest.setdefault(statement.customer_id, statement)
    return latest


def terms_days_for(customer_ids: list[int] | None) -> tuple[dict[int, int], int]:
    """Each customer's payment terms in days (own terms, else the organization default)."""
    return _terms_days(customer_ids)


# The credit check ----------------------------------------------------------------------------


@dataclass
class CreditCheck:
    decision: str  # approve, review, hold
    currency: str
    amount: Decimal
    limit: Decimal | None
    exposure: Decimal
    available: Decimal | None
    reasons: list[str]
    codes: list[str]
    profile: CreditProfile | None


HOLD, REVIEW, APPROVE = "hold", "review", "approve"


def _money(amount: Decimal, currency: str) -> str:
    return format_amount(amount, currency)


def credit_check(*, customer: Customer, amount: Decimal, currency: str) -> CreditCheck:
    """Whether to accept an order of `amount` in `currency` now: "hold" when the customer is
    blocked or on hold, too far past due, or the order would take exposure over the limit;
    "review" when no limit is set, the order would take utilisation above the policy's review
    level, invoices are overdue, the customer is on watch, a review is overdue or a rate is
    missing; else "approve". Reads only; amounts in base currency."""
    organization = current_organization()
    today = organization.local_today()
    base = organization.base_currency
    policy = credit_policy()
    amount_base = to_base(amount, currency, today)
    profile = CreditProfile.objects.filter(customer=customer).first()
    exposure, past_due = position_of(customer, today)
    limit = profile.effective_limit(today) if profile else None
    after = exposure.total + amount_base
    holds: list[tuple[str, str]] = []
    reviews: list[tuple[str, str]] = []
    if profile and profile.blocked:
        holds.append(("blocked", _("The customer is blocked.")))
    for hold in CreditHold.objects.filter(customer=customer, released_at__isnull=True).order_by("placed_at"):
        holds.append(
            (f"hold_{hold.reason}", _("On hold: %(reason)s.") % {"reason": hold.get_reason_display()})
        )
    if (
        past_due is not None
        and past_due > policy.max_days_past_due
        and not any(code == f"hold_{CreditHold.Reason.PAST_DUE}" for code, _text in holds)
    ):
        holds.append(
            (
                "past_due",
                _("An invoice is %(days)s days past due (the policy allows %(max)s).")
                % {"days": past_due, "max": policy.max_days_past_due},
            )
        )
    elif past_due is not None and past_due > 0:
        reviews.append(("overdue", _("An invoice is %(days)s days past due.") % {"days": past_due}))
    if limit is None:
        reviews.append(("no_limit", _("No credit limit is set.")))
    elif after > limit:
        holds.append(
            (
                "over_limit",
                _("The order takes exposure to %(after)s, over the limit of %(limit)s by %(over)s.")
                % {
                    "after": _money(after, base),
                    "limit": _money(limit, base),
                    "over": _money(after - limit, base),
                },
            )
        )
    elif limit and after * 100 > limit * policy.review_utilisation:
        reviews.append(
            (
                "high_utilisation",
                _("The order takes utilisation to %(pct)s %% (review above %(review)s %%).")
                % {"pct": utilisation(after, limit), "review": policy.review_utilisation.normalize()},
            )
        )
    if profile and profile.status == CreditStatus.WATCH:
        reviews.append(("watch", _("The customer is on watch.")))
    if profile and profile.next_review_on and profile.next_review_on < today:
        reviews.append(
            ("review_overdue", _("The credit review was due on %(date)s.") % {"date": profile.next_review_on})
        )
    if exposure.missing_rates:
        reviews.append(
            (
                "missing_rates",
                _("No exchange rate for %(currencies)s: exposure leaves those amounts out.")
                % {"currencies": ", ".join(sorted(exposure.missing_rates))},
            )
        )
    if holds:
        decision, found = HOLD, holds + reviews
    elif reviews:
        decision, found = REVIEW, reviews
    else:
        decision = APPROVE
        found = [
            (
                "within_limit",
                _("Within the limit: %(left)s left after this order.")
                % {"left": _money(limit - after, base)},
            )
        ]
    return CreditCheck(
        decision=decision,
        currency=base,
        amount=amount_base,
        limit=limit,
        exposure=exposure.total,
        available=None if limit is None else limit - exposure.total,
        reasons=[text for _code, text in found],
        codes=[code for code, _text in found],
        profile=profile,
    )


# Lists for pages and the API -----------------------------------------------------------------


def profiles_visible_to(actor: Actor) -> QuerySet[CreditProfile]:
    """Credit profiles of the customers the actor may see; none without "credit.view"."""
    if not actor.can("credit.view"):
        return CreditProfile.objects.none()
    return CreditProfile.objects.filter(customer__in=customers_visible_to(actor)).select_related("customer")


def limit_requests_visible_to(actor: Actor) -> QuerySet[LimitRequest]:
    if not actor.can("credit.view"):
        return LimitRequest.objects.none()
    return LimitRequest.objects.filter(customer__in=customers_visible_to(actor)).select_related(
        "customer", "requested_by", "decided_by"
    )


def statements_visible_to(actor: Actor) -> QuerySet[FinancialStatement]:
    if not actor.can("credit.view"):
        return FinancialStatement.objects.none()
    return FinancialStatement.objects.filter(customer__in=customers_visible_to(actor)).select_related(
        "customer"
    )


def orders_visible_to(actor: Actor) -> QuerySet[OpenOrder]:
    if not actor.can("credit.view"):
        return OpenOrder.objects.none()
    return OpenOrder.objects.filter(customer__in=customers_visible_to(actor)).select_related("customer")


def active_holds(customer_ids: list[int] | None = None) -> QuerySet[CreditHold]:
    holds = CreditHold.objects.filter(released_at__isnull=True)
    if customer_ids is not None:
        holds = holds.filter(customer_id__in=customer_ids)
    return holds.select_related("customer").order_by("-placed_at", "-id")


def reviews_due(today: datetime.date, *, within_days: int = 30) -> QuerySet[CreditReview]:
    return (
        CreditReview.objects.filter(
            completed_on__isnull=True, due_on__lte=today + datetime.timedelta(days=within_days)
        )
        .select_related("customer")
        .order_by("due_on", "id")
    )


@dataclass(frozen=True)
class Dashboard:
    holds: list[CreditHold]
    reviews: list[CreditReview]
    pending_requests: int
    top_utilisation: list[dict[str, Any]]
    class_counts: dict[str, int]
    status_counts: dict[str, int]
    total_limit: Decimal
    total_exposure: Decimal


def credit_dashboard(*, actor: Actor, today: datetime.date) -> Dashboard:
    """The credit dashboard: active holds, reviews due, pending requests, the customers using the
    most of their limits, and how many customers sit in each risk class and status."""
    visible = customers_visible_to(actor)
    profiles = profiles_visible_to(actor)
    class_counts = {c: 0 for c in scorecard.CLASSES}
    class_counts[""] = 0
    for row in profiles.order_by().values("risk_class").annotate(n=Count("pk")):
        class_counts[row["risk_class"]] = row["n"]
    status_counts = {s: 0 for s in CreditStatus.values}
    for row in profiles.order_by().values("status").annotate(n=Count("pk")):
        status_counts[row["status"]] = row["n"]
    limited = list(
        profiles.filter(credit_limit__isnull=False).only(
            "customer_id", "credit_limit", "temporary_limit", "temporary_limit_expires_on", "customer__name"
        )
    )
    exposure = exposures([p.customer_id for p in limited] if len(limited) < 1000 else None, today)
    rows = []
    total_limit = total_exposure = ZERO
    for profile in limited:
        limit = profile.effective_limit(today) or ZERO
        used = exposure.get(profile.customer_id, Exposure()).total
        total_limit += limit
        total_exposure += used
        rows.append(
            {
                "customer": profile.customer,
                "limit": limit,
                "exposure": used,
                "utilisation": utilisation(used, limit),
                "available": limit - used,
            }
        )
    rows.sort(key=lambda row: (row["utilisation"] is None, -(row["utilisation"] or 0)))
    return Dashboard(
        holds=list(active_holds().filter(customer__in=visible)[:50]),
        reviews=list(reviews_due(today).filter(customer__in=visible)[:50]),
        pending_requests=limit_requests_visible_to(actor).filter(status=LimitRequest.Status.PENDING).count(),
        top_utilisation=rows[:20],
        class_counts=class_counts,
        status_counts=status_counts,
        total_limit=total_limit,
        total_exposure=total_exposure,
    )


def organization_base(organization: Organization | None = None) -> str:
    return (organization or current_organization()).base_currency
