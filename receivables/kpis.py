"""Receivables KPIs for a period: DSO (countback and simple), best-possible DSO, ADD, CEI, percent
overdue, write-off ratio. The formulas, and a worked example the tests reproduce, are in
docs/metrics.md.

Every amount is in the organization's base currency, each document converted at the rate of its
own date and rounded to cents (as the aging report does), and summed by SQL aggregation.
Receivables ("AR") on a date are the invoices' outstanding amounts as of that date, so a period's
KPIs are reproduced exactly whatever is posted later with a later date.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Case, Count, F, Min, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Round, TruncMonth

from finance.models import Organization
from receivables.models import Invoice, WriteOff
from receivables.selectors import (
    AMOUNT,
    MissingExchangeRates,
    _missing_rates,
    _rate_at,
    _with_base_rate,
    invoices_as_of,
)

ZERO = Decimal("0")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal("100")
# Money first, then days (one decimal), then percents (two): the order of the API's fields.
AMOUNT_KEYS = (
    "beginning_ar",
    "credit_sales",
    "ending_ar",
    "ending_current_ar",
    "ending_overdue_ar",
    "write_offs",
)
DAY_KEYS = ("dso_countback", "dso_simple", "best_possible_dso", "add")
PERCENT_KEYS = ("cei", "percent_overdue", "write_off_ratio")


def kpis(
    *,
    organization: Organization,
    date_from: datetime.date,
    date_to: datetime.date,
    customer_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The KPIs of the period `date_from`..`date_to` (both included), for the organization or for
    the customers in `customer_ids`.

    Ratios whose denominator is zero (no sales in the period, nothing outstanding) are None, never
    a division by zero. Raises MissingExchangeRates listing every currency without a rate, and
    ValueError when the period ends before it starts.
    """
    if date_to < date_from:
        raise ValueError("date_to is before date_from")
    base = organization.base_currency
    days = Decimal((date_to - date_from).days + 1)
    missing: list[tuple[str, datetime.date]] = []
    beginning = _receivables_on(date_from - datetime.timedelta(days=1), base, customer_ids, missing)
    ending = _receivables_on(date_to, base, customer_ids, missing)
    monthly_sales, credit_sales = _sales(date_from, date_to, base, customer_ids, missing, ending["oldest"])
    written_off = _write_offs(date_from, date_to, base, customer_ids, missing)
    if missing:
        raise MissingExchangeRates(missing)

    ending_ar, current_ar = ending["total"], ending["current"]
    dso_simple = _days(ending_ar / credit_sales * days) if credit_sales else None
    best_possible = _days(current_ar / credit_sales * days) if credit_sales else None
    collectable = beginning["total"] + credit_sales - current_ar
    return {
        "date_from": date_from,
        "date_to": date_to,
        "days": int(days),
        "currency": base,
        "beginning_ar": beginning["total"],
        "credit_sales": credit_sales,
        "ending_ar": ending_ar,
        "ending_current_ar": current_ar,
        "ending_overdue_ar": ending_ar - current_ar,
        "write_offs": written_off,
        "dso_countback": _days(_countback(ending_ar, date_to, monthly_sales)),
        "dso_simple": dso_simple,
        "best_possible_dso": best_possible,
        "add": dso_simple - best_possible if credit_sales else None,
        "cei": (
            _percent((beginning["total"] + credit_sales - ending_ar) / collectable * HUNDRED)
            if collectable
            else None
        ),
        "percent_overdue": _percent((ending_ar - current_ar) / ending_ar * HUNDRED) if ending_ar else None,
        "write_off_ratio": _percent(written_off / credit_sales * HUNDRED) if credit_sales else None,
    }


def kpis_as_json(figures: dict[str, Any]) -> dict[str, Any]:
    """The KPIs as the API and the snapshots store them: amounts with 2 decimals, days with 1,
    percents with 2, as strings; dates in ISO format; undefined ratios as null."""

    def text(value: Any, places: int) -> str | None:
        return None if value is None else f"{value:.{places}f}"

    return {
        "date_from": figures["date_from"].isoformat(),
        "date_to": figures["date_to"].isoformat(),
        "days": figures["days"],
        "currency": figures["currency"],
        **{key: text(figures[key], 2) for key in AMOUNT_KEYS},
        **{key: text(figures[key], 1) for key in DAY_KEYS},
        **{key: text(figures[key], 2) for key in PERCENT_KEYS},
    }


def _days(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def _percent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def _scoped(documents: QuerySet, customer_ids: list[int] | None, field: str = "customer_id") -> QuerySet:
    return documents if customer_ids is None else documents.filter(**{f"{field}__in": customer_ids})


def _aggregate(
    documents: QuerySet, missing: list[tuple[str, datetime.date]], date_field: str, **sums: Any
) -> dict[str, Any]:
    """One aggregate over documents annotated with `base_rate`; documents without a rate are
    counted in the same statement, and listed (a second query) only when there are some."""
    row = documents.aggregate(**sums, without_rate=Count("pk", filter=Q(base_rate__isnull=True)))
    if row.pop("without_rate"):
        missing += _missing_rates(documents, date_field)
    return row


def _receivables_on(
    day: datetime.date, base: str, customer_ids: list[int] | None, missing: list[tuple[str, datetime.date]]
) -> dict[str, Any]:
    """AR on `day`: the total, the part not yet due ("current": due on `day` or later) and the
    oldest issue date among the open invoices."""
    invoices = _with_base_rate(
        _scoped(invoices_as_of(day).filter(outstanding_as_of__gt=0), customer_ids), base, "issue_date"
    ).annotate(base_outstanding=Round(F("outstanding_as_of") * F("base_rate"), 2, output_field=AMOUNT))
    row = _aggregate(
        invoices,
        missing,
        "issue_date",
        total=Sum("base_outstanding"),
        current=Sum("base_outstanding", filter=Q(due_date__gte=day)),
        oldest=Min("issue_date"),
    )
    return {"total": _cents(row["total"]), "current": _cents(row["current"]), "oldest": row["oldest"]}


def _sales(
    date_from: datetime.date,
    date_to: datetime.date,
    base: str,
    customer_ids: list[int] | None,
    missing: list[tuple[str, datetime.date]],
    oldest_open: datetime.date | None,
) -> tuple[dict[datetime.date, Decimal], Decimal]:
    """Credit sales: invoices issued by `date_to` and not voided by then, at their issue date's
    rate. Returns the sales of each calendar month (from the month of the oldest invoice still
    open on `date_to`, as far back as the countback can reach) and the sales of the period."""
    since = min(date_from, oldest_open or date_from).replace(day=1)
    invoices = _with_base_rate(
        _scoped(
            Invoice.objects.filter(issue_date__gte=since, issue_date__lte=date_to).exclude(
                voided_on__lte=date_to
            ),
            customer_ids,
        ),
        base,
        "issue_date",
    ).annotate(base_total=Round(F("total") * F("base_rate"), 2, output_field=AMOUNT))
    without_rate = Count("pk", filter=Q(base_rate__isnull=True))
    rows = list(
        invoices.annotate(month=TruncMonth("issue_date"))
        .order_by()
        .values("month")
        .annotate(
            sales=Sum("base_total"),
            in_period=Sum("base_total", filter=Q(issue_date__gte=date_from)),
            without_rate=without_rate,
        )
        .values_list("month", "sales", "in_period", "without_rate")
    )
    if any(row[3] for row in rows):
        missing += _missing_rates(invoices)
    monthly = {_month(month): _cents(sales) for month, sales, _in_period, _n in rows}
    return monthly, sum((_cents(in_period) for _m, _s, in_period, _n in rows), ZERO)


def _month(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _write_offs(
    date_from: datetime.date,
    date_to: datetime.date,
    base: str,
    customer_ids: list[int] | None,
    missing: list[tuple[str, datetime.date]],
) -> Decimal:
    """Approved write-offs dated in the period, each at its invoice's issue-date rate (the rate the
    invoice's outstanding amount was carried at)."""
    write_offs = _scoped(
        WriteOff.objects.filter(
            status=WriteOff.Status.APPROVED, written_off_on__gte=date_from, written_off_on__lte=date_to
        ),
        customer_ids,
        "invoice__customer_id",
    ).annotate(
        currency=F("invoice__currency"),
        issue_date=F("invoice__issue_date"),
        base_rate=Case(
            When(invoice__currency=base, then=Value(Decimal(1), output_field=AMOUNT)),
            default=_rate_at(OuterRef("invoice__currency"), OuterRef("invoice__issue_date")),
            output_field=AMOUNT,
        ),
    )
    row = _aggregate(
        write_offs,
        missing,
        "issue_date",
        total=Sum(Round(F("amount") * F("base_rate"), 2, output_field=AMOUNT)),
    )
    return _cents(row["total"])


def _countback(ar: Decimal, date_to: datetime.date, monthly_sales: dict[datetime.date, Decimal]) -> Decimal:
    """Days of the most recent sales that make up `ar`: walking back month by month from the month
    of `date_to` (counted up to `date_to`), each month whose sales AR still exceeds adds all its
    days, and the month where AR runs out adds the fraction AR left / that month's sales."""
    remaining, days = ar, ZERO
    month_end = date_to
    earliest = min(monthly_sales, default=date_to.replace(day=1))
    while remaining > 0 and month_end >= earliest:
        month_start = month_end.replace(day=1)
        month_days = Decimal((month_end - month_start).days + 1)
        sales = monthly_sales.get(month_start, ZERO)
        if sales >= remaining:
            return days + remaining / sales * month_days
        days += month_days
        remaining -= sales
        month_end = month_start - datetime.timedelta(days=1)
    return days
