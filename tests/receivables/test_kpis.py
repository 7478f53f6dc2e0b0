"""Receivables KPIs against the worked example of docs/metrics.md, built through the services."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import tenancy
from finance.actors import Actor
from receivables import services
from receivables.kpis import kpis, kpis_as_json
from receivables.selectors import MissingExchangeRates, aging_report
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

D = datetime.date
PERIOD = {"date_from": D(2026, 1, 1), "date_to": D(2026, 3, 31)}
APRIL = {"date_from": D(2026, 4, 1), "date_to": D(2026, 4, 30)}


def _invoice(actor: Actor, customer: Any, number: str, total: str, issue: D, due: D, currency: str = "CNY"):
    return services.invoice_create(
        actor=actor,
        customer=customer,
        number=number,
        currency=currency,
        issue_date=issue,
        due_date=due,
        total=total,
    )


def _pay(actor: Actor, invoice: Any, amount: str, on: D) -> None:
    services.payment_record(
        actor=actor,
        customer=invoice.customer,
        currency=invoice.currency,
        received_on=on,
        amount=amount,
        allocations=[{"invoice": invoice, "amount": amount}],
    )


def build_worked_example(org: Any, customer: Any) -> None:
    """The ledger of docs/metrics.md, "Worked example"."""
    with tenancy.tenant(org):
        actor = Actor.system(org)
        services.exchange_rate_set(actor=actor, currency="USD", date=D(2026, 1, 1), rate="7.00")
        services.exchange_rate_set(actor=actor, currency="USD", date=D(2026, 3, 1), rate="7.30")
        inv0 = _invoice(actor, customer, "INV-0", "1000.00", D(2025, 12, 1), D(2025, 12, 31))
        inv1 = _invoice(actor, customer, "INV-1", "2000.00", D(2026, 1, 10), D(2026, 2, 9))
        inv2 = _invoice(actor, customer, "INV-2", "300.00", D(2026, 2, 5), D(2026, 3, 7), "USD")
        inv3 = _invoice(actor, customer, "INV-3", "3000.00", D(2026, 3, 10), D(2026, 4, 9))
        _invoice(actor, customer, "INV-4", "900.00", D(2026, 3, 20), D(2026, 4, 19))
        inv5 = _invoice(actor, customer, "INV-5", "500.00", D(2026, 2, 10), D(2026, 3, 12))
        services.invoice_void(actor=actor, invoice=inv5, voided_on=D(2026, 2, 12))
        _pay(actor, inv0, "1000.00", D(2026, 1, 15))
        _pay(actor, inv1, "1500.00", D(2026, 2, 20))
        services.credit_note_create(
            actor=actor,
            customer=customer,
            number="CN-1",
            currency="CNY",
            issue_date=D(2026, 3, 15),
            total="400.00",
            allocations=[{"invoice": inv3, "amount": "400.00"}],
        )
        write_off = services.invoice_write_off(
            actor=actor, invoice=inv2, amount="100.00", reason="Damaged goods", written_off_on=D(2026, 3, 20)
        )
        assert write_off.status == "approved"
        _pay(actor, inv1, "500.00", D(2026, 4, 5))


@pytest.fixture
def alpha(org):
    customer = CustomerFactory(organization=org, name="Alpha")
    build_worked_example(org, customer)
    return customer


def figures(org: Any, **arguments: Any) -> dict[str, Any]:
    with tenancy.tenant(org):
        return kpis(organization=org, **{**PERIOD, **arguments})


WORKED_EXAMPLE = {
    "days": 90,
    "currency": "CNY",
    "beginning_ar": Decimal("1000.00"),
    "credit_sales": Decimal("8000.00"),
    "ending_ar": Decimal("5400.00"),
    "ending_current_ar": Decimal("3500.00"),
    "ending_overdue_ar": Decimal("1900.00"),
    "write_offs": Decimal("700.00"),
    "dso_simple": Decimal("60.8"),
    "best_possible_dso": Decimal("39.4"),
    "add": Decimal("21.4"),
    "dso_countback": Decimal("51.0"),
    "cei": Decimal("65.45"),
    "percent_overdue": Decimal("35.19"),
    "write_off_ratio": Decimal("8.75"),
}


@pytest.mark.parametrize(("kpi", "expected"), WORKED_EXAMPLE.items(), ids=WORKED_EXAMPLE)
def test_each_figure_of_the_worked_example(org, alpha, kpi, expected):
    assert figures(org)[kpi] == expected


def test_the_worked_example_in_full(org, alpha):
    assert figures(org) == {**PERIOD, **WORKED_EXAMPLE}


def test_ending_ar_is_the_aging_reports_total(org, alpha):
    with tenancy.tenant(org):
        report = aging_report(organization=org, as_of=PERIOD["date_to"])
        beginning = aging_report(organization=org, as_of=D(2025, 12, 31))
    result = figures(org)
    assert result["ending_ar"] == report.totals["total"]
    assert result["ending_current_ar"] == report.totals["current"]
    assert result["beginning_ar"] == beginning.totals["total"]


APRIL_EXAMPLE = {
    "days": 30,
    "beginning_ar": Decimal("5400.00"),
    "credit_sales": Decimal("0.00"),
    "ending_ar": Decimal("4900.00"),
    "ending_current_ar": Decimal("0.00"),
    "ending_overdue_ar": Decimal("4900.00"),
    "write_offs": Decimal("0.00"),
    "dso_simple": None,
    "best_possible_dso": None,
    "add": None,
    "dso_countback": Decimal("74.3"),
    "cei": Decimal("9.26"),
    "percent_overdue": Decimal("100.00"),
    "write_off_ratio": None,
}


@pytest.mark.parametrize(("kpi", "expected"), APRIL_EXAMPLE.items(), ids=APRIL_EXAMPLE)
def test_countback_reaches_before_a_period_without_sales(org, alpha, kpi, expected):
    assert figures(org, **APRIL)[kpi] == expected


def test_per_customer_figures_and_the_organizations(org, alpha):
    beta = CustomerFactory(organization=org, name="Beta")
    with tenancy.tenant(org):
        _invoice(Actor.system(org), beta, "B-1", "1000.00", D(2026, 3, 1), D(2026, 3, 31))
    assert figures(org, customer_ids=[alpha.pk]) == {**PERIOD, **WORKED_EXAMPLE}
    only_beta = figures(org, customer_ids=[beta.pk])
    assert {k: only_beta[k] for k in ("credit_sales", "ending_ar", "ending_current_ar")} == {
        "credit_sales": Decimal("1000.00"),
        "ending_ar": Decimal("1000.00"),
        "ending_current_ar": Decimal("1000.00"),
    }
    assert only_beta["dso_simple"] == only_beta["best_possible_dso"] == Decimal("90.0")
    assert only_beta["add"] == Decimal("0.0")
    assert only_beta["dso_countback"] == Decimal("31.0")  # all of March's sales are still owed
    assert only_beta["cei"] is None  # nothing was collectable: 0 + 1,000 − 1,000 current
    assert only_beta["percent_overdue"] == Decimal("0.00")
    both = figures(org)
    assert both["credit_sales"] == Decimal("9000.00") and both["ending_ar"] == Decimal("6400.00")
    assert both["dso_simple"] == Decimal("64.0")  # 6,400 / 9,000 × 90
    assert figures(org, customer_ids=[]) == {
        **PERIOD,
        "days": 90,
        "currency": "CNY",
        **dict.fromkeys(
            ["beginning_ar", "credit_sales", "ending_ar", "ending_current_ar", "ending_overdue_ar"],
            Decimal("0.00"),
        ),
        "write_offs": Decimal("0.00"),
        "dso_countback": Decimal("0.0"),
        **dict.fromkeys(["dso_simple", "best_possible_dso", "add", "cei", "percent_overdue"], None),
        "write_off_ratio": None,
    }


def test_later_postings_with_later_dates_change_nothing(org, alpha):
    before = figures(org)
    with tenancy.tenant(org):
        actor = Actor.system(org)
        late = _invoice(actor, alpha, "LATE", "123.00", D(2026, 4, 2), D(2026, 5, 2))
        _pay(actor, late, "23.00", D(2026, 4, 3))
        inv2 = alpha.invoices.get(number="INV-2")
        _pay(actor, inv2, "50.00", D(2026, 4, 4))
        inv3 = alpha.invoices.get(number="INV-3")
        services.invoice_write_off(
            actor=actor, invoice=inv3, amount="10.00", reason="x", written_off_on=D(2026, 4, 6)
        )
        services.exchange_rate_set(actor=actor, currency="USD", date=D(2026, 4, 1), rate="9")
    assert figures(org) == before


def test_a_missing_rate_is_an_error_listing_it(org, alpha):
    with tenancy.tenant(org):
        _invoice(Actor.system(org), alpha, "EUR-1", "10.00", D(2026, 2, 1), D(2026, 3, 1), "EUR")
        with pytest.raises(MissingExchangeRates) as error:
            kpis(organization=org, **PERIOD)
    assert error.value.missing == [("EUR", D(2026, 2, 1))]


def test_only_the_documents_a_figure_needs_need_a_rate(org):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        actor = Actor.system(org)
        paid_off = _invoice(actor, customer, "OLD", "10.00", D(2025, 10, 1), D(2025, 10, 31), "GBP")
        _pay(actor, paid_off, "10.00", D(2025, 11, 1))
        assert figures(org)["credit_sales"] == Decimal("0.00")  # settled before the period: no rate needed
        open_one = _invoice(actor, customer, "OLD-2", "10.00", D(2025, 11, 1), D(2025, 11, 30), "GBP")
        services.invoice_write_off(
            actor=actor, invoice=open_one, amount="1.00", reason="x", written_off_on=D(2026, 1, 5)
        )  # pending: without a rate there is no base amount to compare with the threshold
        services.write_off_decide(actor=actor, write_off=open_one.write_offs.get(), approve=True)
        with pytest.raises(MissingExchangeRates) as error:
            kpis(organization=org, **PERIOD)
    # Needed by beginning AR, ending AR, the countback's months and the write-offs: listed once.
    assert error.value.missing == [("GBP", D(2025, 11, 1))]


def test_a_period_that_ends_before_it_starts_is_refused(org):
    with tenancy.tenant(org), pytest.raises(ValueError):
        kpis(organization=org, date_from=D(2026, 2, 1), date_to=D(2026, 1, 31))


def test_json_form_has_fixed_decimals_and_nulls(org, alpha):
    assert kpis_as_json(figures(org, **APRIL)) == {
        "date_from": "2026-04-01",
        "date_to": "2026-04-30",
        "days": 30,
        "currency": "CNY",
        "beginning_ar": "5400.00",
        "credit_sales": "0.00",
        "ending_ar": "4900.00",
        "ending_current_ar": "0.00",
        "ending_overdue_ar": "4900.00",
        "write_offs": "0.00",
        "dso_countback": "74.3",
        "dso_simple": None,
        "best_possible_dso": None,
        "add": None,
        "cei": "9.26",
        "percent_overdue": "100.00",
        "write_off_ratio": None,
    }


# --- The API ------------------------------------------------------------------------------------

URL = "/api/v1/reports/kpis/"


def test_the_api_returns_the_worked_example(api, org, alpha):
    response = api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "date_from": "2026-01-01",
        "date_to": "2026-03-31",
        "days": 90,
        "currency": "CNY",
        "beginning_ar": "1000.00",
        "credit_sales": "8000.00",
        "ending_ar": "5400.00",
        "ending_current_ar": "3500.00",
        "ending_overdue_ar": "1900.00",
        "write_offs": "700.00",
        "dso_countback": "51.0",
        "dso_simple": "60.8",
        "best_possible_dso": "39.4",
        "add": "21.4",
        "cei": "65.45",
        "percent_overdue": "35.19",
        "write_off_ratio": "8.75",
    }


def test_the_api_defaults_to_the_90_days_ending_today(api, org):
    body = api.get(URL).json()
    today = org.local_today()
    assert body["date_to"] == today.isoformat()
    assert body["date_from"] == (today - datetime.timedelta(days=89)).isoformat()
    assert body["days"] == 90
    only_to = api.get(URL, {"to": "2026-03-31"}).json()
    assert (only_to["date_from"], only_to["days"]) == ("2026-01-01", 90)
    only_from = api.get(URL, {"from": today.isoformat()}).json()
    assert only_from["days"] == 1


def test_the_api_per_customer(api, org, alpha, outsider_customer):
    beta = CustomerFactory(organization=org)
    mine = api.get(URL, {"from": "2026-01-01", "to": "2026-03-31", "customer": alpha.pk})
    assert mine.status_code == 200 and mine.json()["cei"] == "65.45"
    theirs = api.get(URL, {"from": "2026-01-01", "to": "2026-03-31", "customer": beta.pk})
    assert theirs.status_code == 200 and theirs.json()["ending_ar"] == "0.00"
    assert api.get(URL, {"customer": outsider_customer.pk}).status_code == 404
    assert api.get(URL, {"customer": 10**12}).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-02-30"},
        {"to": "soon"},
        {"from": "2026-03-01", "to": "2026-02-01"},
        {"customer": "abc"},
        {"customer": "0"},
        {"customer": "99999999999999999999999"},
    ],
)
def test_the_api_refuses_bad_parameters(api, query):
    response = api.get(URL, query)
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict)


def test_the_api_answers_a_missing_rate_with_a_400(api, org, alpha):
    with tenancy.tenant(org):
        _invoice(Actor.system(org), alpha, "EUR-1", "10.00", D(2026, 2, 1), D(2026, 3, 1), "EUR")
    response = api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"})
    assert response.status_code == 400
    assert response.json()["missing"] == [{"currency": "EUR", "date": "2026-02-01"}]


def test_a_sales_rep_sees_the_figures_of_their_own_customers_only(client, org, members, alpha):
    mine = CustomerFactory(organization=org, owner=members["sales_rep"])
    with tenancy.tenant(org):
        _invoice(Actor.system(org), mine, "REP-1", "250.00", D(2026, 3, 1), D(2026, 3, 31))
    login(client, members["sales_rep"])
    body = client.get(URL, {"from": "2026-01-01", "to": "2026-03-31"}).json()
    assert (body["credit_sales"], body["ending_ar"]) == ("250.00", "250.00")
    assert client.get(URL, {"customer": alpha.pk}).status_code == 404
    assert client.get(URL, {"customer": mine.pk}).status_code == 200


def test_another_organization_sees_none_of_it(outsider_api, alpha):
    body = outsider_api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"}).json()
    assert (body["credit_sales"], body["ending_ar"], body["beginning_ar"]) == ("0.00", "0.00", "0.00")


def test_the_query_count_does_not_grow_with_the_number_of_customers(api, org):
    with tenancy.tenant(org):
        services.exchange_rate_set(actor=Actor.system(org), currency="USD", date=D(2025, 1, 1), rate="7")

    def add_customers(n: int) -> None:
        with tenancy.tenant(org):
            actor = Actor.system(org)
            for _i in range(n):
                customer = CustomerFactory(organization=org)
                invoice = _invoice(
                    actor, customer, f"K-{customer.pk}", "100.00", D(2026, 1, 5), D(2026, 2, 4)
                )
                _invoice(actor, customer, f"U-{customer.pk}", "10.00", D(2026, 2, 5), D(2026, 3, 4), "USD")
                _pay(actor, invoice, "40.00", D(2026, 2, 1))
                services.invoice_write_off(
                    actor=actor, invoice=invoice, amount="5.00", reason="x", written_off_on=D(2026, 3, 1)
                )

    counts = []
    for n in (3, 12):
        add_customers(n)
        api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"})  # warm up the key's last_used_at
        with CaptureQueriesContext(connection) as queries:
            response = api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"})
        assert response.status_code == 200
        counts.append(len(queries))
    assert response.json()["credit_sales"] == "2550.00"  # 15 × (100 + 10 × 7)
    assert counts[0] == counts[1], counts
