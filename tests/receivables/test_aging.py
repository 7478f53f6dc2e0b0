"""The aging report: outstanding as of any date, in buckets, per customer, in base currency.

Hand-built ledgers pin each rule; a hypothesis property test checks on random ledgers that the
report always reconciles with the invoices' own outstanding amounts, computed here in Python.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import tenancy
from finance.actors import Actor
from receivables import selectors, services
from receivables.models import Allocation, CreditNote, Invoice, Payment, WriteOff
from receivables.selectors import MissingExchangeRates, aging_invoices, aging_report, outstanding_as_of
from tests.conftest import login
from tests.factories import CustomerFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
AS_OF = D(2026, 3, 31)
CENT = Decimal("0.01")


def _counter() -> Any:
    n = 0

    def next_number(prefix: str) -> str:
        nonlocal n
        n += 1
        return f"{prefix}-{n}"

    return next_number


_number = _counter()


class Ledger:
    """Posts documents through the services, as the system actor of one organization."""

    def __init__(self, org: Any) -> None:
        self.org = org
        self.actor = Actor.system(org)

    def invoice(
        self, customer: Any, total: str, issue: datetime.date, due: datetime.date, currency: str = "CNY"
    ) -> Invoice:
        with tenancy.tenant(self.org):
            return services.invoice_create(
                actor=self.actor,
                customer=customer,
                number=_number("INV"),
                currency=currency,
                issue_date=issue,
                due_date=due,
                total=total,
            )

    def pay(
        self,
        customer: Any,
        amount: str,
        on: datetime.date,
        currency: str = "CNY",
        to: Invoice | None = None,
        auto: bool = True,
    ) -> Payment:
        allocations = [{"invoice": to, "amount": amount}] if to is not None else None
        with tenancy.tenant(self.org):
            return services.payment_record(
                actor=self.actor,
                customer=customer,
                currency=currency,
                received_on=on,
                amount=amount,
                allocations=allocations,
                auto_allocate=auto,
            )

    def credit(
        self,
        customer: Any,
        total: str,
        on: datetime.date,
        allocations: list[tuple[Invoice, str]] = (),
        currency: str = "CNY",
    ) -> CreditNote:
        with tenancy.tenant(self.org):
            return services.credit_note_create(
                actor=self.actor,
                customer=customer,
                number=_number("CN"),
                currency=currency,
                issue_date=on,
                total=total,
                allocations=[{"invoice": invoice, "amount": amount} for invoice, amount in allocations],
            )

    def allocate(self, invoice: Invoice, amount: str, on: datetime.date, **source: Any) -> Allocation:
        with tenancy.tenant(self.org):
            return services.allocation_create(
                actor=self.actor, invoice=invoice, amount=amount, allocated_on=on, **source
            )

    def write_off(self, invoice: Invoice, amount: str, on: datetime.date) -> WriteOff:
        with tenancy.tenant(self.org):
            return services.invoice_write_off(
                actor=self.actor, invoice=invoice, amount=amount, reason="Uncollectable", written_off_on=on
            )

    def rate(self, currency: str, on: datetime.date, rate: str) -> None:
        with tenancy.tenant(self.org):
            services.exchange_rate_set(actor=self.actor, currency=currency, date=on, rate=rate)

    def report(self, as_of: datetime.date = AS_OF, **filters: Any) -> Any:
        with tenancy.tenant(self.org):
            return aging_report(organization=self.org, as_of=as_of, **filters)


@pytest.fixture
def ledger(org):
    return Ledger(org)


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, name="Alpha", external_id="A-1")


def amounts(row_or_totals: Any) -> dict[str, str]:
    """Buckets (and total) of a row or the totals as plain strings, for readable comparisons."""
    values = row_or_totals if isinstance(row_or_totals, dict) else {**row_or_totals.buckets}
    if not isinstance(row_or_totals, dict):
        values["total"] = row_or_totals.total
        values["unapplied"] = row_or_totals.unapplied
    return {key: f"{value:.2f}" for key, value in values.items()}


# --- Buckets, payments, credits, write-offs, voids ------------------------------------------------


def test_each_invoice_falls_in_the_bucket_of_its_days_past_due(ledger, customer):
    """Partial payments and credit notes reduce an invoice before it is aged."""
    old = ledger.invoice(customer, "1000.00", D(2026, 1, 1), D(2026, 1, 31))  # 59 days late
    ledger.pay(customer, "300.00", D(2026, 2, 10), to=old)
    recent = ledger.invoice(customer, "500.00", D(2026, 3, 1), AS_OF)  # due today: current
    ledger.credit(customer, "200.00", D(2026, 3, 5), allocations=[(recent, "150.00")])
    ledger.invoice(customer, "250.00", D(2025, 11, 1), D(2025, 12, 1))  # 120 days
    ledger.invoice(customer, "80.00", D(2026, 2, 1), D(2026, 3, 3))  # 28 days
    ledger.invoice(customer, "60.00", D(2025, 12, 1), D(2025, 12, 31))  # 90 days

    report = ledger.report()

    assert report.bucket_keys == ["current", "1_30", "31_60", "61_90", "over_90"]
    (row,) = report.rows
    assert (row.customer_id, row.external_id, row.name) == (customer.pk, "A-1", "Alpha")
    assert amounts(row) == {
        "current": "350.00",
        "1_30": "80.00",
        "31_60": "700.00",
        "61_90": "60.00",
        "over_90": "250.00",
        "total": "1440.00",
        "unapplied": "50.00",  # the credit note's unallocated 50, not netted against the invoices
    }
    assert amounts(report.totals) == amounts(row)


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [(-5, "current"), (0, "current"), (1, "1_30"), (30, "1_30"), (31, "31_60"), (60, "31_60")]
    + [(61, "61_90"), (90, "61_90"), (91, "over_90"), (400, "over_90")],
)
def test_bucket_boundaries(ledger, customer, days_late, bucket):
    due = AS_OF - datetime.timedelta(days=days_late)
    ledger.invoice(customer, "10.00", min(due, AS_OF) - datetime.timedelta(days=30), due)
    report = ledger.report()
    assert {k: v for k, v in report.totals.items() if v} == {
        bucket: Decimal("10.00"),
        "total": Decimal("10.00"),
    }


def test_approved_write_offs_reduce_the_balance_and_pending_ones_do_not(ledger, customer, org, members):
    small = ledger.invoice(customer, "100.00", D(2026, 3, 1), AS_OF)
    big = ledger.invoice(customer, "5000.00", D(2026, 3, 1), AS_OF)
    assert ledger.write_off(small, "20.00", D(2026, 3, 10)).status == "approved"  # under the threshold
    pending = ledger.write_off(big, "4000.00", D(2026, 3, 10))
    assert pending.status == "pending"
    assert ledger.report().totals["total"] == Decimal("5080.00")

    checker = Actor(organization=org, role="finance_manager", user=members["finance_manager"])
    with tenancy.tenant(org):
        services.write_off_decide(actor=checker, write_off=pending, approve=True)
    assert ledger.report().totals["total"] == Decimal("1080.00")
    assert ledger.report(D(2026, 3, 9)).totals["total"] == Decimal("5100.00")  # dated the 10th


def test_rejected_write_offs_never_count(ledger, customer, org, members):
    big = ledger.invoice(customer, "5000.00", D(2026, 3, 1), AS_OF)
    pending = ledger.write_off(big, "4000.00", D(2026, 3, 10))
    checker = Actor(organization=org, role="finance_manager", user=members["finance_manager"])
    with tenancy.tenant(org):
        services.write_off_decide(actor=checker, write_off=pending, approve=False)
    assert ledger.report().totals["total"] == Decimal("5000.00")


def test_a_voided_invoice_leaves_reports_from_its_void_date(ledger, customer, org):
    kept = ledger.invoice(customer, "100.00", D(2026, 3, 1), AS_OF)
    voided = ledger.invoice(customer, "40.00", D(2026, 3, 1), AS_OF)
    with tenancy.tenant(org):
        services.invoice_void(actor=ledger.actor, invoice=voided, voided_on=D(2026, 3, 15))
        assert outstanding_as_of(voided, D(2026, 3, 14)) == Decimal("40.00")
        assert outstanding_as_of(voided, D(2026, 3, 15)) == 0
        drill_down = list(aging_invoices(organization=org, as_of=AS_OF, customer_id=customer.pk))
    assert drill_down == [kept]
    assert ledger.report(D(2026, 3, 14)).totals["total"] == Decimal("140.00")
    assert ledger.report(D(2026, 3, 15)).totals["total"] == Decimal("100.00")


def test_fully_settled_invoices_and_their_customers_drop_out(ledger, customer, org):
    invoice = ledger.invoice(customer, "100.10", D(2026, 1, 5), D(2026, 2, 4))
    ledger.pay(customer, "33.37", D(2026, 2, 1), to=invoice)
    ledger.pay(customer, "33.37", D(2026, 2, 2), to=invoice)
    ledger.credit(customer, "33.36", D(2026, 2, 3), allocations=[(invoice, "33.36")])
    report = ledger.report()
    assert report.rows == [] and report.totals["total"] == 0
    with tenancy.tenant(org):
        assert list(aging_invoices(organization=org, as_of=AS_OF)) == []
    assert ledger.report(D(2026, 2, 2)).totals["total"] == Decimal("33.36")


def test_a_back_dated_report_is_unaffected_by_later_allocations(ledger, customer, org):
    invoice = ledger.invoice(customer, "1000.00", D(2026, 1, 1), D(2026, 1, 31))
    ledger.pay(customer, "100.00", D(2026, 1, 20), to=invoice)
    before = ledger.report(D(2026, 2, 28))

    cash = ledger.pay(customer, "500.00", D(2026, 1, 25), auto=False)  # received in January...
    ledger.allocate(invoice, "500.00", D(2026, 3, 10), payment=cash)  # ...applied in March
    ledger.pay(customer, "50.00", D(2026, 3, 1))
    ledger.write_off(invoice, "10.00", D(2026, 3, 20))

    assert ledger.report(D(2026, 2, 28)).totals == {**before.totals, "unapplied": Decimal("500.00")}
    assert before.totals["total"] == Decimal("900.00") and before.totals["unapplied"] == 0
    assert amounts(ledger.report(D(2026, 2, 28)).rows[0]) == {
        **amounts(before.rows[0]),
        "unapplied": "500.00",
    }
    now = ledger.report()
    assert (now.totals["total"], now.totals["unapplied"]) == (Decimal("340.00"), Decimal("0.00"))
    with tenancy.tenant(org):
        assert outstanding_as_of(invoice, D(2026, 2, 28)) == Decimal("900.00")
        assert outstanding_as_of(invoice, D(2026, 3, 10)) == Decimal("350.00")


def test_issue_date_basis_ages_from_the_invoice_date(ledger, customer):
    ledger.invoice(customer, "10.00", D(2026, 3, 1), D(2026, 6, 1))  # 30 days old, not yet due
    ledger.invoice(customer, "20.00", D(2026, 2, 28), D(2026, 3, 1))  # 31 days old
    ledger.invoice(customer, "40.00", D(2025, 12, 31), D(2026, 1, 1))  # 90 days old
    ledger.invoice(customer, "80.00", D(2025, 12, 30), D(2026, 1, 1))  # 91 days old
    report = ledger.report(basis="issue_date")
    assert report.bucket_keys == ["0_30", "31_60", "61_90", "over_90"]
    assert amounts(report.totals) == {
        "0_30": "10.00",
        "31_60": "20.00",
        "61_90": "40.00",
        "over_90": "80.00",
        "total": "150.00",
        "unapplied": "0.00",
    }
    assert ledger.report(basis="due_date").totals["current"] == Decimal("10.00")


def test_buckets_are_configured_per_organization(ledger, customer, org):
    org.settings = {"aging_buckets": [["current", None, 0], ["1_45", 1, 45], ["over_45", 46, None]]}
    org.save()
    ledger.invoice(customer, "10.00", D(2026, 2, 1), D(2026, 2, 14))  # 45 days late
    ledger.invoice(customer, "20.00", D(2026, 2, 1), D(2026, 2, 13))  # 46 days late
    ledger.invoice(customer, "40.00", D(2026, 3, 1), D(2026, 4, 30))
    report = ledger.report()
    assert report.bucket_keys == ["current", "1_45", "over_45"]
    assert amounts(report.totals) == {
        "current": "40.00",
        "1_45": "10.00",
        "over_45": "20.00",
        "total": "70.00",
        "unapplied": "0.00",
    }
    assert ledger.report(basis="issue_date").bucket_keys == ["0_30", "31_60", "61_90", "over_90"]


@pytest.mark.parametrize(
    "configured",
    [
        [["current", None, 0], ["1_30", 1, 30], ["over_45", 46, None]],  # days 31-45 in no bucket
        [["current", None, 0], ["1_30", 1, 30], ["over_20", 20, None]],  # days 20-30 in two
        [["current", None, 0], ["1_30", 1, 30]],  # nothing past 30
        [["a", 1, 30], ["b", 31, None]],  # nothing up to 0
        [["a", None, 0], ["a", 1, None]],  # the same key twice
    ],
)
def test_buckets_that_do_not_cover_every_day_exactly_once_are_refused(ledger, customer, org, configured):
    org.settings = {"aging_buckets": configured}
    org.save()
    ledger.invoice(customer, "10.00", D(2026, 2, 1), D(2026, 2, 14))
    with pytest.raises(ValueError, match="aging_buckets"):
        ledger.report()


def test_the_api_answers_misconfigured_buckets_with_a_400(api, org):
    org.settings = {"aging_buckets": [["current", None, 0], ["1_30", 1, 30]]}
    org.save()
    response = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"})
    assert response.status_code == 400
    assert "aging_buckets" in response.json()


def test_cents_add_up_exactly_on_every_database(ledger, customer, org):
    """SQLite adds decimals as floats (0.10 + 0.20 = 0.30000000000000004): a 0.30 payment used
    as 0.10 + 0.20, or a 0.30 invoice settled by 0.10 paid + 0.20 written off, must still fit
    their CHECK constraints and leave exactly nothing outstanding."""
    first = ledger.invoice(customer, "0.30", D(2026, 3, 1), AS_OF)
    second = ledger.invoice(customer, "0.30", D(2026, 3, 1), AS_OF)
    cash = ledger.pay(customer, "0.30", D(2026, 3, 2), auto=False)
    ledger.allocate(first, "0.10", D(2026, 3, 2), payment=cash)
    ledger.allocate(second, "0.20", D(2026, 3, 2), payment=cash)
    ledger.pay(customer, "0.10", D(2026, 3, 3), to=second)
    ledger.write_off(first, "0.20", D(2026, 3, 4))
    with tenancy.tenant(org):
        cash.refresh_from_db()
        first.refresh_from_db()
        second.refresh_from_db()
        assert list(aging_invoices(organization=org, as_of=AS_OF)) == []
    assert (cash.unapplied, first.outstanding, second.outstanding) == (0, 0, 0)
    assert (first.status, second.status) == ("paid", "paid")
    report = ledger.report()
    assert report.rows == [] and report.totals["total"] == 0


def test_unapplied_cash_and_unallocated_credit_are_shown_apart_from_the_buckets(ledger, customer, org):
    ledger.invoice(customer, "100.00", D(2026, 3, 1), AS_OF)
    ledger.pay(customer, "30.00", D(2026, 3, 2), auto=False)
    ledger.credit(customer, "20.00", D(2026, 3, 3))
    ledger.pay(customer, "5.00", D(2026, 4, 2), auto=False)  # after the report date
    cash_only = CustomerFactory(organization=org, name="Beta")
    ledger.pay(cash_only, "7.50", D(2026, 3, 10))  # nothing to pay: all unapplied
    report = ledger.report()
    rows = {row.name: amounts(row) for row in report.rows}
    assert rows["Alpha"]["total"] == "100.00" and rows["Alpha"]["unapplied"] == "50.00"
    assert rows["Beta"] == {
        "current": "0.00",
        "1_30": "0.00",
        "31_60": "0.00",
        "61_90": "0.00",
        "over_90": "0.00",
        "total": "0.00",
        "unapplied": "7.50",
    }
    assert (report.totals["total"], report.totals["unapplied"]) == (Decimal("100.00"), Decimal("57.50"))


# --- Filters, grouping and drill-down -----------------------------------------------------------


@pytest.fixture
def portfolio(ledger, org, members):
    """Three customers: a rep's retail one (CNY), a wholesale one (CNY + USD), a small one."""
    ledger.rate("USD", D(2026, 1, 1), "7")
    rep = members["sales_rep"]
    retail = CustomerFactory(organization=org, name="Retail", owner=rep, customer_group="retail")
    wholesale = CustomerFactory(organization=org, name="Wholesale", customer_group="wholesale")
    small = CustomerFactory(organization=org, name="Small", customer_group="retail")
    ledger.invoice(retail, "300.00", D(2026, 2, 1), D(2026, 3, 1))
    ledger.pay(retail, "12.00", D(2026, 3, 1), auto=False)
    ledger.invoice(wholesale, "1000.00", D(2026, 1, 1), D(2026, 1, 31))
    ledger.invoice(wholesale, "100.00", D(2026, 3, 1), D(2026, 4, 1), currency="USD")
    ledger.pay(wholesale, "10.00", D(2026, 3, 5), currency="USD", auto=False)
    ledger.invoice(small, "5.00", D(2026, 3, 1), D(2026, 3, 31))
    return {"retail": retail, "wholesale": wholesale, "small": small, "rep": rep}


def test_filters_by_owner_group_currency_and_minimum_balance(ledger, portfolio):
    def names(**filters: Any) -> dict[str, str]:
        return {row.name: f"{row.total:.2f}/{row.unapplied:.2f}" for row in ledger.report(**filters).rows}

    assert names() == {"Retail": "300.00/12.00", "Small": "5.00/0.00", "Wholesale": "1700.00/70.00"}
    assert names(owner_id=portfolio["rep"].pk) == {"Retail": "300.00/12.00"}
    assert names(customer_group="retail") == {"Retail": "300.00/12.00", "Small": "5.00/0.00"}
    assert names(currency="USD") == {"Wholesale": "700.00/70.00"}
    assert names(currency="CNY") == {
        "Retail": "300.00/12.00",
        "Small": "5.00/0.00",
        "Wholesale": "1000.00/0.00",
    }
    assert names(min_balance=Decimal("300.00")) == {"Retail": "300.00/12.00", "Wholesale": "1700.00/70.00"}
    assert names(min_balance=Decimal("300.01")) == {"Wholesale": "1700.00/70.00"}
    report = ledger.report(customer_group="retail", min_balance=Decimal("10"))
    assert report.totals["total"] == Decimal("300.00") and report.totals["unapplied"] == Decimal("12.00")


def test_grouped_by_rep_group_and_currency(ledger, portfolio):
    report = ledger.report()
    by_group = report.grouped("customer_group")
    assert by_group["retail"]["total"] == Decimal("305.00")
    assert by_group["wholesale"]["31_60"] == Decimal("1000.00")
    assert by_group["wholesale"]["current"] == Decimal("700.00")
    by_owner = report.grouped("owner_id")
    assert by_owner[portfolio["rep"].pk]["total"] == Decimal("300.00")
    assert report.by_currency == {
        "CNY": {"outstanding": Decimal("1305.00"), "base": Decimal("1305.00")},
        "USD": {"outstanding": Decimal("100.00"), "base": Decimal("700.00")},
    }


def test_drill_down_lists_the_invoices_behind_a_figure(ledger, portfolio, org):
    with tenancy.tenant(org):
        late = aging_invoices(
            organization=org, as_of=AS_OF, customer_id=portfolio["wholesale"].pk, bucket="31_60"
        )
        assert [(i.total, i.outstanding_as_of) for i in late] == [(Decimal("1000.00"), Decimal("1000"))]
        current = aging_invoices(organization=org, as_of=AS_OF, bucket="current")
        assert sorted(i.customer.name for i in current) == ["Small", "Wholesale"]


# --- Currencies ---------------------------------------------------------------------------------


def test_each_document_converts_at_the_rate_of_its_own_date(ledger, customer):
    ledger.rate("USD", D(2026, 1, 1), "7.0")
    ledger.rate("USD", D(2026, 3, 1), "7.2")
    ledger.rate("EUR", D(2025, 12, 1), "7.8125")
    ledger.invoice(customer, "100.00", D(2026, 2, 1), D(2026, 3, 3), currency="USD")  # 700.00
    march = ledger.invoice(customer, "100.00", D(2026, 3, 10), D(2026, 4, 9), currency="USD")
    ledger.pay(customer, "33.33", D(2026, 3, 20), currency="USD", to=march)  # 66.67 × 7.2 = 480.024
    ledger.invoice(customer, "10.01", D(2026, 1, 2), D(2026, 2, 1), currency="EUR")  # 78.203125
    ledger.invoice(customer, "1.00", D(2026, 3, 1), D(2026, 3, 31))
    ledger.credit(customer, "1.00", D(2026, 3, 1), currency="EUR")  # unallocated: 7.8125
    ledger.rate("USD", D(2026, 3, 31), "9.9")  # a later rate changes no earlier document

    report = ledger.report()

    assert amounts(report.totals) == {
        "current": "481.02",  # 480.02 + 1.00
        "1_30": "700.00",
        "31_60": "78.20",
        "61_90": "0.00",
        "over_90": "0.00",
        "total": "1259.22",
        "unapplied": "7.81",
    }
    assert report.currency == "CNY"
    assert report.by_currency["USD"] == {"outstanding": Decimal("166.67"), "base": Decimal("1180.02")}


def test_a_missing_rate_is_an_error_that_lists_what_is_missing(ledger, customer):
    ledger.rate("USD", D(2026, 2, 1), "7")
    ledger.invoice(customer, "10.00", D(2026, 1, 15), D(2026, 2, 14), currency="USD")  # before any rate
    ledger.invoice(customer, "10.00", D(2026, 2, 15), D(2026, 3, 14), currency="USD")
    ledger.invoice(customer, "10.00", D(2026, 3, 5), D(2026, 4, 4), currency="EUR")
    ledger.invoice(customer, "10.00", D(2026, 3, 1), D(2026, 3, 31), currency="EUR")
    with pytest.raises(MissingExchangeRates) as error:
        ledger.report()
    assert error.value.missing == [("EUR", D(2026, 3, 1)), ("USD", D(2026, 1, 15))]
    assert "EUR on or before 2026-03-01" in str(error.value)
    assert "USD on or before 2026-01-15" in str(error.value)
    assert ledger.report(D(2026, 1, 14)).totals["total"] == 0  # nothing issued yet: nothing missing


def test_missing_rates_of_unapplied_cash_are_listed_with_those_of_invoices(ledger, customer):
    ledger.invoice(customer, "10.00", D(2026, 3, 5), D(2026, 4, 4), currency="EUR")
    ledger.pay(customer, "10.00", D(2026, 3, 1), currency="USD")
    with pytest.raises(MissingExchangeRates) as error:
        ledger.report()
    assert error.value.missing == [("EUR", D(2026, 3, 5)), ("USD", D(2026, 3, 1))]


def test_the_api_answers_a_missing_rate_with_a_400_naming_it(api, ledger, customer):
    ledger.invoice(customer, "10.00", D(2026, 1, 15), D(2026, 2, 14), currency="USD")
    response = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"})
    assert response.status_code == 400
    body = response.json()
    assert body["missing"] == [{"currency": "USD", "date": "2026-01-15"}]
    assert "USD on or before 2026-01-15" in body["exchange_rates"][0]


# --- The API ------------------------------------------------------------------------------------


def test_the_api_response_has_exactly_the_contracted_shape(api, ledger, customer, org):
    ledger.rate("USD", D(2026, 1, 1), "7.123456")
    ledger.invoice(customer, "100.00", D(2026, 1, 1), D(2026, 1, 31), currency="USD")  # 712.3456
    ledger.invoice(customer, "0.10", D(2026, 3, 1), D(2026, 3, 31))
    ledger.pay(customer, "3.00", D(2026, 3, 2), auto=False)

    response = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31", "basis": "due_date"})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "as_of": "2026-03-31",
        "basis": "due_date",
        "currency": "CNY",
        "buckets": ["current", "1_30", "31_60", "61_90", "over_90"],
        "totals": {
            "current": "0.10",
            "1_30": "0.00",
            "31_60": "712.35",
            "61_90": "0.00",
            "over_90": "0.00",
            "total": "712.45",
            "unapplied": "3.00",
        },
        "customers": [
            {
                "customer": customer.pk,
                "external_id": "A-1",
                "name": "Alpha",
                "current": "0.10",
                "1_30": "0.00",
                "31_60": "712.35",
                "61_90": "0.00",
                "over_90": "0.00",
                "total": "712.45",
                "unapplied": "3.00",
            }
        ],
    }


def test_the_api_defaults_to_today_in_the_organizations_timezone_and_the_due_date_basis(api, org):
    body = api.get("/api/v1/reports/aging/").json()
    assert body["as_of"] == org.local_today().isoformat()
    assert body["basis"] == "due_date"
    assert body["totals"] == {k: "0.00" for k in [*body["buckets"], "total", "unapplied"]}
    assert body["customers"] == []
    issue_basis = api.get("/api/v1/reports/aging/", {"basis": "issue_date"}).json()
    assert issue_basis["buckets"] == ["0_30", "31_60", "61_90", "over_90"]


@pytest.mark.parametrize(
    "query",
    [
        {"as_of": "2026-02-30"},
        {"as_of": "yesterday"},
        {"basis": "payment_date"},
        {"currency": "ZZZ9"},
        {"min_balance": "lots"},
        {"owner": "-1"},
        {"owner": "99999999999999999999999"},
    ],
)
def test_the_api_refuses_bad_parameters_with_a_400(api, query):
    assert api.get("/api/v1/reports/aging/", query).status_code == 400


def test_the_api_filters(api, portfolio):
    def names(**query: Any) -> list[str]:
        response = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31", **query})
        assert response.status_code == 200, response.content
        return [row["name"] for row in response.json()["customers"]]

    assert names() == ["Retail", "Small", "Wholesale"]
    assert names(owner=portfolio["rep"].pk) == ["Retail"]
    assert names(customer_group="retail") == ["Retail", "Small"]
    assert names(currency="USD") == ["Wholesale"]
    assert names(min_balance="100") == ["Retail", "Wholesale"]


def test_a_sales_rep_sees_only_their_own_customers(client, members, portfolio, ledger, org):
    """Not even the name of another rep's customer whose only activity is unapplied cash."""
    cash_only = CustomerFactory(organization=org, name="Cash Only", owner=members["owner"])
    ledger.pay(cash_only, "9.00", D(2026, 3, 3))
    login(client, members["sales_rep"])
    response = client.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["name"] for row in body["customers"]] == ["Retail"]
    assert body["totals"]["total"] == "300.00" and body["totals"]["unapplied"] == "12.00"
    login(client, members["finance_manager"])
    body = client.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"}).json()
    assert [row["name"] for row in body["customers"]] == ["Cash Only", "Retail", "Small", "Wholesale"]


def test_another_organizations_documents_never_appear(api, outsider_api, ledger, customer, outsider_org):
    ledger.invoice(customer, "100.00", D(2026, 3, 1), AS_OF)
    theirs = CustomerFactory(organization=outsider_org, name="Secret Outsider Customer")
    their_ledger = Ledger(outsider_org)
    their_ledger.invoice(theirs, "999.00", D(2026, 3, 1), AS_OF)
    their_ledger.pay(theirs, "1.00", D(2026, 3, 2), auto=False)

    mine = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"}).json()
    assert [row["name"] for row in mine["customers"]] == ["Alpha"]
    assert mine["totals"]["total"] == "100.00" and mine["totals"]["unapplied"] == "0.00"
    assert "Secret" not in str(mine)
    assert ledger.report().totals["total"] == Decimal("100.00")
    outside = outsider_api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"}).json()
    assert [row["name"] for row in outside["customers"]] == ["Secret Outsider Customer"]


def test_the_query_count_does_not_grow_with_the_number_of_customers(api, ledger, org):
    ledger.rate("USD", D(2026, 1, 1), "7")

    def add_customers(n: int) -> None:
        for _i in range(n):
            customer = CustomerFactory(organization=org)
            ledger.invoice(customer, "10.00", D(2026, 1, 1), D(2026, 1, 31))
            ledger.invoice(customer, "10.00", D(2026, 3, 1), D(2026, 3, 31), currency="USD")
            ledger.pay(customer, "1.00", D(2026, 3, 2), auto=False)

    def count() -> tuple[int, int]:
        api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"})  # warm up the key's last_used_at
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"})
        assert response.status_code == 200
        return len(response.json()["customers"]), len(queries)

    add_customers(3)
    three = count()
    add_customers(12)
    fifteen = count()
    assert (three[0], fifteen[0]) == (3, 15)
    assert three[1] == fifteen[1], (three, fifteen)


def test_the_rep_view_keeps_a_constant_query_count_too(client, members, ledger, org):
    def add_customers(n: int) -> None:
        for _i in range(n):
            customer = CustomerFactory(organization=org, owner=members["sales_rep"])
            ledger.invoice(customer, "10.00", D(2026, 1, 1), D(2026, 1, 31))

    login(client, members["sales_rep"])
    counts = []
    for n in (3, 12):
        add_customers(n)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- Property: the report always reconciles with the invoices -----------------------------------

START = D(2026, 1, 1)
FOREIGN = ["USD", "EUR", "JPY"]
BUCKETS = [("current", None, 0), ("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("over_90", 91, None)]


def _days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def _rate_on(
    rates: dict[str, list[tuple[datetime.date, Decimal]]], currency: str, on: datetime.date
) -> Decimal:
    if currency == "CNY":
        return Decimal(1)
    return max((day, rate) for day, rate in rates[currency] if day <= on)[1]


def _expected(org: Any, as_of: datetime.date, rates: dict[str, Any]) -> dict[int, dict[str, Decimal]]:
    """Each customer's buckets, total and unapplied, from the raw rows, in plain Python. A customer
    is listed with an open invoice (even one worth less than a cent in base currency) or with
    unapplied money worth at least a cent."""
    with tenancy.tenant(org):
        invoices = list(Invoice.objects.all())
        allocations = list(Allocation.objects.all())
        write_offs = list(WriteOff.objects.filter(status=WriteOff.Status.APPROVED))
        payments = list(Payment.objects.all())
        notes = list(CreditNote.objects.all())
    expected: dict[int, dict[str, Decimal]] = {}
    with_open_invoices: set[int] = set()

    def row(customer_id: int) -> dict[str, Decimal]:
        return expected.setdefault(
            customer_id,
            {**{key: Decimal(0) for key, _lo, _hi in BUCKETS}, "total": Decimal(0), "unapplied": Decimal(0)},
        )

    for invoice in invoices:
        if invoice.issue_date > as_of or (invoice.voided_on and invoice.voided_on <= as_of):
            continue
        outstanding = (
            invoice.total
            - sum(
                (a.amount for a in allocations if a.invoice_id == invoice.pk and a.allocated_on <= as_of),
                Decimal(0),
            )
            - sum(
                (w.amount for w in write_offs if w.invoice_id == invoice.pk and w.written_off_on <= as_of),
                Decimal(0),
            )
        )
        assert outstanding >= 0
        if outstanding == 0:
            continue
        with_open_invoices.add(invoice.customer_id)
        base = (outstanding * _rate_on(rates, invoice.currency, invoice.issue_date)).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
        days_late = (as_of - invoice.due_date).days
        (key,) = [
            k for k, lo, hi in BUCKETS if (lo is None or days_late >= lo) and (hi is None or days_late <= hi)
        ]
        row(invoice.customer_id)[key] += base
        row(invoice.customer_id)["total"] += base
    for document, amount, day, link in [(p, p.amount, p.received_on, "payment_id") for p in payments] + [
        (n, n.total, n.issue_date, "credit_note_id") for n in notes
    ]:
        if day > as_of:
            continue
        left = amount - sum(
            (a.amount for a in allocations if getattr(a, link) == document.pk and a.allocated_on <= as_of),
            Decimal(0),
        )
        if left > 0:
            base = (left * _rate_on(rates, document.currency, day)).quantize(CENT, rounding=ROUND_HALF_UP)
            row(document.customer_id)["unapplied"] += base
    return {
        customer_id: values
        for customer_id, values in expected.items()
        if customer_id in with_open_invoices or values["unapplied"]
    }


def _report_as_dict(report: Any) -> dict[int, dict[str, Decimal]]:
    return {
        row.customer_id: {**row.buckets, "total": row.total, "unapplied": row.unapplied}
        for row in report.rows
    }


amounts_strategy = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000"), places=2)
offsets = st.integers(min_value=0, max_value=150)
fractions = st.sampled_from([Decimal("0.1"), Decimal("0.333"), Decimal("0.5"), Decimal("1"), Decimal("1.25")])
STEPS = ["invoice", "invoice", "invoice", "pay", "pay", "pay", "credit", "allocate", "allocate"]
STEPS += ["write_off", "approve", "void"]


def _source_date(source: Payment | CreditNote) -> datetime.date:
    return source.received_on if isinstance(source, Payment) else source.issue_date


def _random_ledger(data: Any, org: Any, customers: list[Any], currencies: list[str]) -> list[Invoice]:
    """Posts random documents through the services; payments, credits, allocations and
    write-offs mostly aim at existing invoices, so that most of them are accepted."""
    ledger = Ledger(org)
    approver = UserFactory()
    invoices: list[Invoice] = []
    sources: list[Payment | CreditNote] = []
    for _step in range(data.draw(st.integers(10, 30), label="steps")):
        kind = data.draw(st.sampled_from(STEPS), label="step")
        target = data.draw(st.sampled_from(invoices), label="invoice") if invoices else None
        if target is not None:
            target.refresh_from_db()
        later = _days(data.draw(st.integers(0, 90), label="days after"))
        amount = data.draw(amounts_strategy, label="amount")
        part = (target.outstanding * data.draw(fractions, label="part")) if target is not None else amount
        try:
            if kind == "invoice" or target is None:
                day = START + _days(data.draw(offsets, label="issued"))
                due = day + _days(data.draw(st.integers(0, 60), label="terms"))
                customer = data.draw(st.sampled_from(customers), label="customer")
                currency = data.draw(st.sampled_from(currencies), label="currency")
                invoices.append(ledger.invoice(customer, str(amount), day, due, currency))
            elif kind == "pay":
                explicit = data.draw(st.booleans(), label="explicit")
                sources.append(
                    ledger.pay(
                        target.customer,
                        str(part or amount),
                        target.issue_date + later,
                        target.currency,
                        to=target if explicit and part <= target.outstanding else None,
                        auto=data.draw(st.booleans(), label="auto"),
                    )
                )
            elif kind == "credit":
                applied = [(target, str(part))] if part and data.draw(st.booleans(), label="apply") else []
                total = max(part, amount) if applied else amount
                sources.append(
                    ledger.credit(
                        target.customer, str(total), target.issue_date + later, applied, target.currency
                    )
                )
            elif kind == "allocate":
                matching = [
                    s
                    for s in sources
                    if s.customer_id == target.customer_id and s.currency == target.currency
                ]
                if matching:
                    source = data.draw(st.sampled_from(matching), label="source")
                    source.refresh_from_db()
                    left = source.unapplied if isinstance(source, Payment) else source.unallocated
                    on = max(target.issue_date, _source_date(source)) + later
                    key = "payment" if isinstance(source, Payment) else "credit_note"
                    ledger.allocate(target, str(min(part, left) or amount), on, **{key: source})
            elif kind == "write_off" and target.outstanding > 0:
                size = data.draw(st.sampled_from(["part", "all", "large"]), label="write-off")
                value = {"part": part, "all": target.outstanding, "large": min(target.outstanding, amount)}[
                    size
                ]
                ledger.write_off(target, str(min(value, target.outstanding)), target.issue_date + later)
            elif kind == "approve":
                pending = list(WriteOff.objects.filter(status=WriteOff.Status.PENDING).order_by("pk"))
                if pending:
                    checker = Actor(organization=org, role="finance_manager", user=approver)
                    write_off = data.draw(st.sampled_from(pending), label="pending")
                    services.write_off_decide(actor=checker, write_off=write_off, approve=True)
            elif kind == "void":
                services.invoice_void(actor=ledger.actor, invoice=target, voided_on=target.issue_date + later)
        except ValidationError:
            pass  # a refused operation (over-allocation, void with payments...) leaves no trace
    return invoices


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_report_always_reconciles_with_the_invoices(db, data):
    org = OrganizationFactory(base_currency="CNY", settings={"write_off_approval_threshold": "500"})
    customers = [
        CustomerFactory(organization=org) for _i in range(data.draw(st.integers(1, 3), label="customers"))
    ]
    ledger = Ledger(org)
    currencies = [
        "CNY",
        *data.draw(st.lists(st.sampled_from(FOREIGN), max_size=3, unique=True), label="foreign"),
    ]
    rates: dict[str, list[tuple[datetime.date, Decimal]]] = {}
    for currency in currencies[1:]:
        days = [0, *data.draw(st.lists(offsets, max_size=3, unique=True), label=f"{currency} rate days")]
        for day in sorted(set(days)):
            rate = data.draw(
                st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("20"), places=4), label="rate"
            )
            ledger.rate(currency, START + _days(day), str(rate))
            rates.setdefault(currency, []).append((START + _days(day), rate))

    with tenancy.tenant(org):
        invoices = _random_ledger(data, org, customers, currencies)

        report_dates = data.draw(st.lists(st.integers(-10, 220), min_size=1, max_size=3), label="report days")
        for as_of in [START + _days(n) for n in report_dates]:
            report = aging_report(organization=org, as_of=as_of)
            for row in report.rows:
                assert sum(row.buckets.values(), Decimal(0)) == row.total
            for key in [*report.bucket_keys, "total", "unapplied"]:
                assert report.totals[key] == sum(
                    (
                        (row.buckets | {"total": row.total, "unapplied": row.unapplied})[key]
                        for row in report.rows
                    ),
                    Decimal(0),
                )
            assert (
                sum((report.totals[key] for key in report.bucket_keys), Decimal(0)) == report.totals["total"]
            )
            expected = _expected(org, as_of, rates)
            assert _report_as_dict(report) == expected
            # Summed up to the date, or the running totals less what was settled after it: whichever
            # way `_settling` picks, for the organization and for one customer (LATERAL), the same.
            for settling in (selectors.SUM_BY, selectors.TOTALS_LESS_LATER):
                with mock.patch.object(selectors, "_settling", lambda _as_of, way=settling: way):
                    assert _report_as_dict(aging_report(organization=org, as_of=as_of)) == expected
                    one = customers[0].pk
                    scoped = aging_report(organization=org, as_of=as_of, customer_ids=[one])
                    assert _report_as_dict(scoped) == {k: v for k, v in expected.items() if k == one}
            for invoice in invoices:
                assert outstanding_as_of(invoice, as_of) >= 0

        # Cash received and applied after the earliest report date leaves that report unchanged.
        as_of = START + _days(min(report_dates))
        before = _report_as_dict(aging_report(organization=org, as_of=as_of))
        later = max(as_of, *(i.issue_date for i in invoices), START) + _days(1)
        for customer in customers:
            for currency in currencies:
                ledger.pay(customer, "1000000.00", later, currency)
        assert _report_as_dict(aging_report(organization=org, as_of=as_of)) == before
        assert all(row.total == 0 for row in aging_report(organization=org, as_of=later + _days(200)).rows)


def test_a_sales_rep_without_customers_gets_an_empty_report(client, org, members):
    from tests.conftest import login

    login(client, members["sales_rep"])
    response = client.get("/api/v1/reports/aging/", {"as_of": "2026-06-30"})
    assert response.status_code == 200
    body = response.json()
    assert body["customers"] == [] and body["totals"]["total"] == "0.00"


def test_a_write_off_that_clears_an_invoice_sends_invoice_settled(
    ledger, customer, org, django_capture_on_commit_callbacks
):
    from receivables import signals

    settled = []

    def receiver(sender, invoice, **kwargs):
        settled.append(invoice.pk)

    signals.invoice_settled.connect(receiver)
    try:
        invoice = ledger.invoice(customer, "100.00", D(2026, 3, 1), AS_OF)
        with django_capture_on_commit_callbacks(execute=True):
            ledger.write_off(invoice, "40.00", D(2026, 3, 10))
        assert settled == []
        with django_capture_on_commit_callbacks(execute=True):
            ledger.write_off(invoice, "60.00", D(2026, 3, 11))
        assert settled == [invoice.pk]
    finally:
        signals.invoice_settled.disconnect(receiver)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL planner settings")
def test_the_planner_hint_of_a_back_dated_report_ends_with_its_statement(ledger, customer, org):
    """Organization-wide, a report that reads the running totals less what was settled after its
    date turns hash joins off for its invoice statement alone: the connection's settings are as
    before, also inside a caller's transaction."""
    invoice = ledger.invoice(customer, "100.00", D(2026, 1, 1), D(2026, 1, 31))
    ledger.pay(customer, "100.00", D(2026, 3, 1), to=invoice)
    with transaction.atomic(), tenancy.tenant(org), connection.cursor() as cursor:
        with mock.patch.object(selectors, "_settling", lambda _as_of: selectors.TOTALS_LESS_LATER):
            report = aging_report(organization=org, as_of=D(2026, 2, 1))
        cursor.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_hashagg')")
        assert cursor.fetchone() == ("on", "on")
    assert report.totals["total"] == Decimal("100.00")
