"""The ledger as arrays: what one analytics run reads, in a fixed number of queries.

Every amount is in the organization's base currency, in integer cents: each document converted at
the latest exchange rate on or before its own date and rounded half-up to the cent (the rule of
`docs/metrics.md`). A document whose currency has no rate on or before its date is left out and
named in `warnings`, never counted at 1.0.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connections
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast

from crm.models import Customer, CustomerStatus
from finance.tenancy import current_organization
from receivables.models import CreditNote, Dispute, ExchangeRate, Invoice, Payment


@dataclass
class Documents:
    """One kind of document as aligned arrays: customer id, day number (date.toordinal()) and
    base-currency cents."""

    customer: np.ndarray
    day: np.ndarray
    cents: np.ndarray

    @classmethod
    def empty(cls) -> Documents:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.customer)


@dataclass
class Ledger:
    today: datetime.date
    customer_ids: np.ndarray  # active customers, ascending
    owner_ids: np.ndarray  # 0 when the customer has no owner
    invoices: Documents
    credit_notes: Documents
    payments: Documents
    overdue_cents: np.ndarray  # aligned with customer_ids
    open_disputes: np.ndarray  # aligned with customer_ids
    delay_trend: np.ndarray  # days, NaN when unknown; aligned with customer_ids
    # From the experience app (NaN when the customer has no such data): mean satisfaction 0-1 over
    # 12 months, service issues in 90 days, and the share of 12 months' earned loyalty points left
    # to expire.
    satisfaction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    service_issues: np.ndarray = field(default_factory=lambda: np.zeros(0))
    points_expired_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[dict[str, str]] = field(default_factory=list)


def _cents(amount_field: str) -> Cast:
    # ROUND before the cast: SQLite keeps decimals as floating point (12.34 * 100 = 1233.999...).
    return Cast(Func(F(amount_field) * 100, function="ROUND"), BigIntegerField())


class _Rates:
    """Each currency's rates by date, for converting many documents at once."""

    def __init__(self, base: str) -> None:
        self.base = base
        by_currency: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
        for currency, date, rate in ExchangeRate.objects.order_by("currency", "date").values_list(
            "currency", "date", "rate"
        ):
            by_currency[currency].append((date.toordinal(), rate))
        self.days = {c: np.array([d for d, _r in rows], np.int64) for c, rows in by_currency.items()}
        self.rates = {c: np.array([float(r) for _d, r in rows]) for c, rows in by_currency.items()}

    def convert(
        self, currencies: np.ndarray, days: np.ndarray, cents: np.ndarray, kind: str, warnings: list
    ) -> tuple[np.ndarray, np.ndarray]:
        """Base-currency cents per document, and a mask of the documents that could be converted."""
        result = cents.copy()
        keep = np.ones(len(cents), bool)
        for currency in np.unique(currencies):
            if currency == self.base:
                continue
            mask = currencies == currency
            rate_days = self.days.get(currency)
            if rate_days is None:
                positions = np.full(mask.sum(), -1)
            else:
                positions = np.searchsorted(rate_days, days[mask], side="right") - 1
            missing = positions < 0
            if missing.any():
                keep_idx = np.flatnonzero(mask)[missing]
                keep[keep_idx] = False
                warnings.append(
                    {
                        "code": "missing_rate",
                        "kind": kind,
                        "currency": str(currency),
                        "count": str(int(missing.sum())),
                        "first_date": datetime.date.fromordinal(int(days[mask][missing].min())).isoformat(),
                    }
                )
            ok = ~missing
            rates = self.rates[currency][positions[ok]] if rate_days is not None else np.zeros(0)
            converted = np.floor(cents[mask][ok] * rates + 0.5 + 1e-9).astype(np.int64)
            idx = np.flatnonzero(mask)[ok]
            result[idx] = converted
        return result[keep], keep


class EpochDays(Func):
    """Days since 1970-01-01 of a date column, computed by the database (one integer per row is
    much cheaper to fetch than a date object)."""

    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s - DATE '1970-01-01')", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def _fetch_numbers(queryset: QuerySet) -> list[tuple[int, ...]]:
    """The rows of an all-integer query straight from the cursor (no per-row ORM converters)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _documents(
    queryset: QuerySet, day_field: str, amount_field: str, kind: str, rates: _Rates, warnings: list
) -> Documents:
    """One query for the documents in base currency, one for the others (usually few)."""
    queryset = queryset.order_by().annotate(day_number=EpochDays(day_field), cents=_cents(amount_field))
    base_rows = _fetch_numbers(
        queryset.filter(currency=rates.base).values_list("customer_id", "day_number", "cents")
    )
    foreign_rows = list(
        queryset.exclude(currency=rates.base).values_list("customer_id", "day_number", "cents", "currency")
    )
    base = np.array(base_rows, dtype=np.int64).reshape(-1, 3)
    customer, day, cents = base[:, 0], base[:, 1] + EPOCH_ORDINAL, base[:, 2]
    if foreign_rows:
        numbers = np.array([row[:3] for row in foreign_rows], dtype=np.int64)
        currencies = np.array([row[3] for row in foreign_rows], dtype=object)
        converted, keep = rates.convert(
            currencies, numbers[:, 1] + EPOCH_ORDINAL, numbers[:, 2], kind, warnings
        )
        customer = np.concatenate([customer, numbers[keep, 0]])
        day = np.concatenate([day, numbers[keep, 1] + EPOCH_ORDINAL])
        cents = np.concatenate([cents, converted])
    return Documents(customer, day, cents)


def _delay_trend(today: datetime.date, rates: _Rates) -> dict[int, float]:
    """Payment slowdown, by the credit scorecard's definition of its delay trend (credit's
    `payment_behaviour`), vectorised for a whole organization: the amount-weighted days late of
    the invoices that fell due in the last 91 days, minus the same for the 91 days before. A paid
    invoice counts until its last payment (or approved write-off), an open one until today."""
    window = today - datetime.timedelta(days=182)
    queryset = (
        Invoice.objects.filter(
            customer__status=CustomerStatus.ACTIVE,
            voided_on__isnull=True,
            due_date__gt=window,
            due_date__lte=today,
        )
        .order_by()
        .annotate(
            due_number=EpochDays("due_date"),
            issue_number=EpochDays("issue_date"),
            cents=_cents("total"),
            settled=Case(
                When(total__lte=F("allocated_total") + F("written_off_total"), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            paid_number=EpochDays(Max("allocations__allocated_on")),
            written_off_number=EpochDays(
                Max("write_offs__written_off_on", filter=Q(write_offs__status="approved"))
            ),
        )
        .values_list(
            "customer_id",
            "due_number",
            "issue_number",
            "cents",
            "settled",
            "paid_number",
            "written_off_number",
            "currency",
        )
    )
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return {}
    numbers = np.array([row[:7] for row in rows], dtype=np.float64)
    currencies = np.array([row[7] for row in rows], dtype=object)
    customer, due, issue, cents, settled = (numbers[:, i] for i in range(5))
    paid = np.fmax(numbers[:, 5], numbers[:, 6])  # NaN (no payment) loses to a number
    today_number = today.toordinal() - EPOCH_ORDINAL
    paid = np.where(settled == 1, np.where(np.isnan(paid), due, paid), today_number)
    keep = ~((settled == 0) & (due == today_number))  # not late yet
    weights, converted = rates.convert(
        currencies, issue.astype(np.int64) + EPOCH_ORDINAL, cents.astype(np.int64), "invoice", []
    )
    customer, due, paid, keep = customer[converted], due[converted], paid[converted], keep[converted]
    frame = pd.DataFrame(
        {
            "customer": customer[keep].astype(np.int64),
            "recent": due[keep] > today_number - 91,
            "weight": weights[keep].astype(np.float64),
            "late": (paid - due)[keep],
        }
    )
    frame["weighted"] = frame["weight"] * frame["late"]
    sums = frame.groupby(["customer", "recent"])[["weighted", "weight"]].sum()
    counts = frame.groupby(["customer", "recent"])["late"].agg(["sum", "size"])
    average = (sums["weighted"] / sums["weight"]).where(sums["weight"] > 0, counts["sum"] / counts["size"])
    table = average.unstack("recent")
    if True not in table.columns or False not in table.columns:
        return {}
    trend = (table[True].round(1) - table[False].round(1)).dropna()
    return {int(k): float(v) for k, v in trend.items()}


def _experience_signals(today: datetime.date) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """Satisfaction, service issues and loyalty activity per customer, from the experience app's
    records (a few grouped queries; analytics comes after experience, so it may read them)."""
    from experience.models import PointsEntry, ServiceRequest, SurveyResponse

    year_ago = today - datetime.timedelta(days=365)
    quarter_ago = today - datetime.timedelta(days=91)
    satisfaction: dict[int, float] = {}
    rows = (
        SurveyResponse.objects.filter(customer__status=CustomerStatus.ACTIVE, responded_at__date__gt=year_ago)
        .order_by()
        .values("customer_id", "survey__kind")
        .annotate(total=Sum("score"), count=Count("pk"))
    )
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        # NPS 0-10 → score / 10; CSAT 1-5 → (score - 1) / 4; averaged over all responses.
        if row["survey__kind"] == "nps":
            normalised = row["total"] / 10
        else:
            normalised = (row["total"] - row["count"]) / 4
        sums[row["customer_id"]][0] += normalised
        sums[row["customer_id"]][1] += row["count"]
    satisfaction = {customer: total / count for customer, (total, count) in sums.items() if count}
    service = dict(
        ServiceRequest.objects.filter(customer__status=CustomerStatus.ACTIVE, opened_at__date__gt=year_ago)
        .order_by()
        .values("customer_id")
        .annotate(
            issues=Count("pk", filter=Q(opened_at__date__gt=quarter_ago, first_response_breached=True))
            + Count("pk", filter=Q(opened_at__date__gt=quarter_ago, resolution_breached=True))
            + Count("pk", filter=Q(opened_at__date__gt=quarter_ago, category="complaint"))
            + Sum("reopen_count", filter=Q(opened_at__date__gt=quarter_ago), default=0)
        )
        .values_list("customer_id", "issues")
    )
    earned = dict(
        PointsEntry.objects.filter(
            kind__in=["earned", "bonus"], date__gt=year_ago - datetime.timedelta(days=365)
        )
        .order_by()
        .values("customer_id")
        .annotate(points=Sum("points"))
        .values_list("customer_id", "points")
    )
    expired = dict(
        PointsEntry.objects.filter(kind="expired", date__gt=year_ago)
        .order_by()
        .values("customer_id")
        .annotate(points=Sum("points"))
        .values_list("customer_id", "points")
    )
    loyalty = {
        customer: min(1.0, -expired.get(customer, 0) / points)
        for customer, points in earned.items()
        if points > 0
    }
    return satisfaction, {k: float(v) for k, v in service.items()}, loyalty


def _aligned(customer_ids: np.ndarray, values: dict[int, float], dtype: type, fill: float) -> np.ndarray:
    result = np.full(len(customer_ids), fill, dtype=dtype)
    if values:
        keys = np.fromiter(values.keys(), np.int64, len(values))
        positions = np.searchsorted(customer_ids, keys)
        inside = (positions < len(customer_ids)) & (
            customer_ids[np.minimum(positions, len(customer_ids) - 1)] == keys
        )
        result[positions[inside]] = np.fromiter(values.values(), dtype, len(values))[inside]
    return result


def ledger_load(today: datetime.date) -> Ledger:
    """Read everything a run needs for the current organization's active customers."""
    base = current_organization().base_currency
    warnings: list[dict[str, str]] = []
    rows = list(
        Customer.objects.filter(status=CustomerStatus.ACTIVE).order_by("pk").values_list("pk", "owner_id")
    )
    customer_ids = np.fromiter((pk for pk, _owner in rows), np.int64, len(rows))
    owner_ids = np.fromiter((owner or 0 for _pk, owner in rows), np.int64, len(rows))
    active = Q(customer__status=CustomerStatus.ACTIVE)
    rates = _Rates(base)
    invoices = _documents(
        Invoice.objects.filter(active, voided_on__isnull=True, issue_date__lte=today),
        "issue_date",
        "total",
        "invoice",
        rates,
        warnings,
    )
    credit_notes = _documents(
        CreditNote.objects.filter(active, voided_on__isnull=True, issue_date__lte=today),
        "issue_date",
        "total",
        "credit_note",
        rates,
        warnings,
    )
    payments = _documents(
        Payment.objects.filter(active, received_on__lte=today),
        "received_on",
        "amount",
        "payment",
        rates,
        warnings,
    )
    overdue_documents = _documents(
        Invoice.objects.filter(
            active,
            voided_on__isnull=True,
            due_date__lt=today,
            total__gt=F("allocated_total") + F("written_off_total"),
        ).annotate(open_amount=F("total") - F("allocated_total") - F("written_off_total")),
        "issue_date",
        "open_amount",
        "overdue_invoice",
        rates,
        warnings,
    )
    overdue: dict[int, float] = defaultdict(float)
    for customer_id, cents in zip(overdue_documents.customer, overdue_documents.cents, strict=True):
        overdue[int(customer_id)] += int(cents)
    disputes = dict(
        Dispute.objects.filter(active, status__in=Dispute.ACTIVE)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("customer_id", "n")
    )
    trend = _delay_trend(today, rates)
    satisfaction, service, loyalty = _experience_signals(today)
    return Ledger(
        today=today,
        customer_ids=customer_ids,
        owner_ids=owner_ids,
        invoices=invoices,
        credit_notes=credit_notes,
        payments=payments,
        overdue_cents=_aligned(customer_ids, overdue, np.int64, 0),
        open_disputes=_aligned(customer_ids, disputes, np.int64, 0),
        delay_trend=_aligned(customer_ids, trend, np.float64, np.nan),
        satisfaction=_aligned(customer_ids, satisfaction, np.float64, np.nan),
        service_issues=_aligned(customer_ids, service, np.float64, np.nan),
        points_expired_share=_aligned(customer_ids, loyalty, np.float64, np.nan),
        warnings=warnings,
    )
