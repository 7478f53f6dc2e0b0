"""Reads of the receivables ledger: outstanding as of any date, aging, balances.

Every figure is computed by SQL aggregation from documents, allocations and write-offs dated up
to the report date, so a back-dated report is reproduced exactly, whatever happened later.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round
from django.utils.translation import gettext as _

from crm.models import Customer
from finance.models import Organization
from finance.tenancy import current_organization
from receivables.models import Allocation, CreditNote, ExchangeRate, Invoice, Payment, WriteOff

ZERO = Decimal("0")
CENT = Decimal("0.01")
AMOUNT = DecimalField(max_digits=30, decimal_places=10)

DUE_DATE_BUCKETS: list[tuple[str, int | None, int | None]] = [
    ("current", None, 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
]
ISSUE_DATE_BUCKETS: list[tuple[str, int | None, int | None]] = [
    ("0_30", None, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
]
BASES = ("due_date", "issue_date")


class MissingExchangeRates(Exception):
    """Amounts cannot be converted: `missing` lists (currency, earliest document date) pairs."""

    def __init__(self, missing: list[tuple[str, datetime.date]]) -> None:
        self.missing = missing
        listed = ", ".join(f"{currency} on or before {day.isoformat()}" for currency, day in missing)
        super().__init__(_("Exchange rates are missing: %(listed)s.") % {"listed": listed})


def buckets_for(organization: Organization, basis: str) -> list[tuple[str, int | None, int | None]]:
    """The organization's buckets (settings `aging_buckets` / `aging_buckets_issue_date`), else
    the defaults. Each is (key, lowest day, highest day) with None for open ends."""
    key = "aging_buckets" if basis == "due_date" else "aging_buckets_issue_date"
    configured = organization.settings.get(key)
    if configured:
        return [(b[0], b[1], b[2]) for b in configured]
    return DUE_DATE_BUCKETS if basis == "due_date" else ISSUE_DATE_BUCKETS


def _rate_at(currency_ref: Any, date_ref: Any) -> Subquery:
    return Subquery(
        ExchangeRate.objects.filter(currency=currency_ref, date__lte=date_ref)
        .order_by("-date")
        .values("rate")[:1],
        output_field=AMOUNT,
    )


def _with_base_rate(documents: QuerySet, base_currency: str, date_field: str) -> QuerySet:
    return documents.annotate(
        base_rate=Case(
            When(currency=base_currency, then=Value(Decimal(1), output_field=AMOUNT)),
            default=_rate_at(OuterRef("currency"), OuterRef(date_field)),
            output_field=AMOUNT,
        )
    )


def invoices_as_of(as_of: datetime.date) -> QuerySet[Invoice]:
    """Invoices that exist on `as_of` (issued, not voided by then), with `paid`, `written_off`
    and `outstanding` as of that date."""
    allocated = (
        Allocation.objects.filter(invoice=OuterRef("pk"), allocated_on__lte=as_of)
        .values("invoice")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    written_off = (
        WriteOff.objects.filter(
            invoice=OuterRef("pk"), status=WriteOff.Status.APPROVED, written_off_on__lte=as_of
        )
        .values("invoice")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return (
        Invoice.objects.filter(issue_date__lte=as_of)
        .exclude(voided_on__lte=as_of)
        .annotate(
            paid=Coalesce(Subquery(allocated, output_field=AMOUNT), Value(ZERO), output_field=AMOUNT),
            written_off_as_of=Coalesce(
                Subquery(written_off, output_field=AMOUNT), Value(ZERO), output_field=AMOUNT
            ),
        )
        .annotate(
            outstanding_as_of=ExpressionWrapper(
                F("total") - F("paid") - F("written_off_as_of"), output_field=AMOUNT
            )
        )
    )


def outstanding_as_of(invoice: Invoice, as_of: datetime.date) -> Decimal:
    """One invoice's outstanding amount on a date (zero before it is issued or once voided)."""
    row = invoices_as_of(as_of).filter(pk=invoice.pk).values_list("outstanding_as_of", flat=True).first()
    return Decimal(row).quantize(CENT) if row is not None else ZERO


def _bucket_condition(basis: str, as_of: datetime.date, low: int | None, high: int | None) -> Q:
    """Days = as_of − (due or issue) date; the bucket holds low ≤ days ≤ high."""
    date_field = "due_date" if basis == "due_date" else "issue_date"
    condition = Q()
    if high is not None:
        condition &= Q(**{f"{date_field}__gte": as_of - datetime.timedelta(days=high)})
    if low is not None:
        condition &= Q(**{f"{date_field}__lte": as_of - datetime.timedelta(days=low)})
    return condition


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class AgingRow:
    customer_id: int
    external_id: str | None
    name: str
    owner_id: int | None
    customer_group: str
    buckets: dict[str, Decimal]
    total: Decimal
    unapplied: Decimal = ZERO


@dataclass
class AgingReport:
    as_of: datetime.date
    basis: str
    currency: str
    bucket_keys: list[str]
    rows: list[AgingRow]
    totals: dict[str, Decimal]
    by_currency: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def grouped(self, attribute: str) -> dict[Any, dict[str, Decimal]]:
        """Bucket totals by `owner_id` or `customer_group` (sums of the customer rows)."""
        groups: dict[Any, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        for row in self.rows:
            target = groups[getattr(row, attribute)]
            for key, amount in row.buckets.items():
                target[key] += amount
            target["total"] += row.total
            target["unapplied"] += row.unapplied
        return {k: dict(v) for k, v in groups.items()}


def aging_report(
    *,
    organization: Organization,
    as_of: datetime.date,
    basis: str = "due_date",
    owner_id: int | None = None,
    customer_group: str = "",
    currency: str = "",
    min_balance: Decimal | None = None,
    customer_ids: list[int] | None = None,
) -> AgingReport:
    """Aged receivables per customer in the base currency (rate at each document's date).

    Each invoice's outstanding amount as of `as_of` is converted and rounded to cents, then
    falls in exactly one bucket, so each customer's buckets add up to its total and the report's
    totals add up to the sum of every invoice's outstanding amount. Unapplied cash and
    unallocated credit are shown separately, not netted. Raises MissingExchangeRates.
    """
    if basis not in BASES:
        raise ValueError(f"Unknown basis {basis!r}")
    base = organization.base_currency
    buckets = buckets_for(organization, basis)
    invoices = invoices_as_of(as_of).filter(outstanding_as_of__gt=0)
    if owner_id:
        invoices = invoices.filter(customer__owner_id=owner_id)
    if customer_group:
        invoices = invoices.filter(customer__customer_group=customer_group)
    if currency:
        invoices = invoices.filter(currency=currency)
    if customer_ids is not None:
        invoices = invoices.filter(customer_id__in=customer_ids)
    invoices = _with_base_rate(invoices, base, "issue_date")
    _raise_for_missing_rates(invoices)
    invoices = invoices.annotate(
        base_outstanding=Round(F("outstanding_as_of") * F("base_rate"), 2, output_field=AMOUNT)
    )
    bucket_sums = {
        key: Coalesce(
            Sum("base_outstanding", filter=_bucket_condition(basis, as_of, low, high)),
            Value(ZERO),
            output_field=AMOUNT,
        )
        for key, low, high in buckets
    }
    per_customer = (
        invoices.order_by()
        .values("customer_id")
        .annotate(total=Sum("base_outstanding"), **{f"b_{k}": v for k, v in bucket_sums.items()})
    )
    if min_balance is not None:
        per_customer = per_customer.filter(total__gte=min_balance)
    amounts = {row["customer_id"]: row for row in per_customer}

    unapplied = _unapplied_by_customer(organization, as_of, currency)
    customer_ids_shown = set(amounts) | (
        {c for c, v in unapplied.items() if v} if min_balance is None else set()
    )
    customers = Customer.objects.filter(pk__in=customer_ids_shown)
    if owner_id:
        customers = customers.filter(owner_id=owner_id)
    if customer_group:
        customers = customers.filter(customer_group=customer_group)
    rows = []
    for customer in customers.order_by("name", "id").values(
        "id", "external_id", "name", "owner_id", "customer_group"
    ):
        amount_row = amounts.get(customer["id"], {})
        row_buckets = {key: _money(amount_row.get(f"b_{key}")) for key, _low, _high in buckets}
        rows.append(
            AgingRow(
                customer_id=customer["id"],
                external_id=customer["external_id"],
                name=customer["name"],
                owner_id=customer["owner_id"],
                customer_group=customer["customer_group"],
                buckets=row_buckets,
                total=sum(row_buckets.values(), ZERO),
                unapplied=_money(unapplied.get(customer["id"])),
            )
        )
    totals = {key: sum((r.buckets[key] for r in rows), ZERO) for key, _low, _high in buckets}
    totals["total"] = sum((r.total for r in rows), ZERO)
    totals["unapplied"] = sum((r.unapplied for r in rows), ZERO)
    by_currency = {
        row["currency"]: {"outstanding": _money(row["outstanding"]), "base": _money(row["base"])}
        for row in invoices.order_by()
        .values("currency")
        .annotate(outstanding=Sum("outstanding_as_of"), base=Sum("base_outstanding"))
    }
    return AgingReport(
        as_of=as_of,
        basis=basis,
        currency=base,
        bucket_keys=[key for key, _low, _high in buckets],
        rows=rows,
        totals=totals,
        by_currency=by_currency,
    )


def _raise_for_missing_rates(documents: QuerySet, date_field: str = "issue_date") -> None:
    missing = list(
        documents.filter(base_rate__isnull=True)
        .order_by()
        .values("currency")
        .annotate(first=Min(date_field))
        .values_list("currency", "first")
    )
    if missing:
        raise MissingExchangeRates(sorted(missing))


def _unapplied_by_customer(
    organization: Organization, as_of: datetime.date, currency: str
) -> dict[int, Decimal]:
    """Cash received and credit issued by `as_of` that no allocation dated by then has used, in
    base currency (rate at the document's date)."""
    base = organization.base_currency
    result: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for model, date_field, amount_field, link in (
        (Payment, "received_on", "amount", "payment"),
        (CreditNote, "issue_date", "total", "credit_note"),
    ):
        used = (
            Allocation.objects.filter(**{link: OuterRef("pk")}, allocated_on__lte=as_of)
            .values(link)
            .annotate(s=Sum("amount"))
            .values("s")
        )
        documents = model.objects.filter(**{f"{date_field}__lte": as_of})
        if model is CreditNote:
            documents = documents.exclude(voided_on__lte=as_of)
        if currency:
            documents = documents.filter(currency=currency)
        documents = documents.annotate(
            left=ExpressionWrapper(
                F(amount_field)
                - Coalesce(Subquery(used, output_field=AMOUNT), Value(ZERO), output_field=AMOUNT),
                output_field=AMOUNT,
            )
        ).filter(left__gt=0)
        documents = _with_base_rate(documents, base, date_field)
        _raise_for_missing_rates(documents, date_field)
        for row in (
            documents.annotate(base_left=Round(F("left") * F("base_rate"), 2, output_field=AMOUNT))
            .order_by()
            .values("customer_id")
            .annotate(s=Sum("base_left"))
        ):
            result[row["customer_id"]] += Decimal(row["s"] or 0)
    return result


def aging_invoices(
    *,
    organization: Organization,
    as_of: datetime.date,
    basis: str = "due_date",
    customer_id: int | None = None,
    bucket: str = "",
) -> QuerySet[Invoice]:
    """Drill-down: the open invoices behind a customer's (or a bucket's) figure."""
    invoices = invoices_as_of(as_of).filter(outstanding_as_of__gt=0).select_related("customer")
    if customer_id:
        invoices = invoices.filter(customer_id=customer_id)
    for key, low, high in buckets_for(organization, basis):
        if key == bucket:
            invoices = invoices.filter(_bucket_condition(basis, as_of, low, high))
    return invoices.order_by("due_date", "id")


@dataclass(frozen=True)
class CustomerBalance:
    outstanding: dict[str, Decimal]
    overdue: dict[str, Decimal]
    unapplied: dict[str, Decimal]
    recent_invoices: list[Invoice]
    recent_payments: list[Payment]


def customer_balance(*, customer: Customer) -> CustomerBalance:
    """A customer's open balance by currency (now), overdue part, unapplied cash, recent documents."""
    today = current_organization().local_today()
    open_invoices = Invoice.objects.filter(customer=customer, voided_on__isnull=True)
    outstanding: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for row in (
        open_invoices.order_by()
        .values("currency")
        .annotate(
            open=Sum(F("total") - F("allocated_total") - F("written_off_total")),
            late=Sum(
                F("total") - F("allocated_total") - F("written_off_total"), filter=Q(due_date__lt=today)
            ),
        )
    ):
        if row["open"]:
            outstanding[row["currency"]] = _money(row["open"])
            overdue[row["currency"]] = _money(row["late"])
    unapplied = {
        row["currency"]: _money(row["left"])
        for row in Payment.objects.filter(customer=customer)
        .order_by()
        .values("currency")
        .annotate(left=Sum(F("amount") - F("allocated_total")))
        if row["left"]
    }
    return CustomerBalance(
        outstanding=outstanding,
        overdue=overdue,
        unapplied=unapplied,
        recent_invoices=list(open_invoices.order_by("-issue_date", "-id")[:5]),
        recent_payments=list(Payment.objects.filter(customer=customer).order_by("-received_on", "-id")[:5]),
    )


def customer_has_documents(customer: Customer) -> bool:
    return (
        Invoice.objects.filter(customer=customer).exists()
        or Payment.objects.filter(customer=customer).exists()
        or CreditNote.objects.filter(customer=customer).exists()
    )
