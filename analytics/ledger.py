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

import numpy as np
from django.db.models import BigIntegerField, Count, F, Func, Q, QuerySet
from django.db.models.functions import Cast

from credit.selectors import payment_behaviour
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


def _documents(
    queryset: QuerySet, day_field: str, amount_field: str, kind: str, rates: _Rates, warnings: list
):
    rows = list(
        queryset.order_by()
        .annotate(cents=_cents(amount_field))
        .values_list("customer_id", day_field, "currency", "cents")
    )
    if not rows:
        return Documents.empty()
    customers, days, currencies, cents = zip(*rows, strict=True)
    customer = np.fromiter(customers, np.int64, len(rows))
    day = np.fromiter((d.toordinal() for d in days), np.int64, len(rows))
    converted, keep = rates.convert(
        np.array(currencies, dtype=object), day, np.fromiter(cents, np.int64, len(rows)), kind, warnings
    )
    return Documents(customer[keep], day[keep], converted)


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
    behaviour = payment_behaviour(None, today)
    trend = {
        customer_id: float(values["delay_trend"])
        for customer_id, values in behaviour.items()
        if values.get("delay_trend") is not None
    }
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
        warnings=warnings,
    )
