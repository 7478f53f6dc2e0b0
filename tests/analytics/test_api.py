"""The analytics API: /api/v1/analytics/customers/ (latest figures, filters, orderings, a rep's own
customers only), cohorts/ and summary/ (portfolio roles only, the latest run of the caller's own
organization), runs/ (POST queues a recompute after the commit) and churn-alerts/ — with the
outsider's ids, bad input's 400 and a query count that does not grow with the page size."""

from __future__ import annotations

import base64
import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import AnalyticsRun, ChurnAlert, ClassChange, CustomerAnalytics
from analytics.runs import analytics_recompute
from finance import tenancy
from finance.actors import Actor
from tests.analytics.conftest import TODAY, portfolio
from tests.conftest import login, queued_work
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/analytics/customers/"
COHORTS = "/api/v1/analytics/cohorts/"
SUMMARY = "/api/v1/analytics/summary/"
RUNS = "/api/v1/analytics/runs/"
ALERTS = "/api/v1/analytics/churn-alerts/"
DAY = datetime.timedelta(days=1)
FACTORS = [
    {"factor": "prob_alive", "value": 0.15, "severity": 0.85, "weight": 35, "points": 47.6},
    {"factor": "frequency_decline", "value": 0.0, "severity": 1.0, "weight": 20, "points": 28.0},
]
ROW_FIELDS = {
    "customer",
    "customer_external_id",
    "customer_name",
    "owner",
    "computed_on",
    "abc_class",
    "abc_revenue",
    "abc_cash",
    "revenue_12m",
    "cash_12m",
    "currency",
    "first_purchase",
    "last_purchase",
    "purchases",
    "recency_days",
    "frequency_12m",
    "rfm",
    "expected_purchases",
    "horizon_months",
    "prob_alive",
    "expected_order_value",
    "clv",
    "churn_risk",
    "churn_reasons",
    "lifecycle_stage",
    "overdue",
    "value_at_stake",
}
SUMMARY_FIGURES = {
    "customers",
    "buyers",
    "revenue_12m",
    "cash_12m",
    "margin_12m",
    "clv_total",
    "overdue",
    "abc_revenue",
    "abc_cash",
    "segments",
    "lifecycle",
    "concentration",
    "rfm_grid",
    "clv_histogram",
    "churn_bands",
    "at_risk",
    "by_segment",
    "by_class",
    "by_rep",
}


def recompute(org, day=TODAY):
    with tenancy.tenant(org):
        return analytics_recompute(actor=Actor.system(org), run_date=day)


def figures(org, customer=None, **fields):
    """A customer's latest figures written directly: fast, and exactly the values a test needs."""
    customer = customer or CustomerFactory(organization=org)
    values = {
        "run_date": TODAY,
        "purchases": 6,
        "revenue_12m": Decimal("1000.00"),
        "abc_revenue": "B",
        "abc_cash": "B",
        "segment": "loyal",
        "lifecycle_stage": "repeat",
        "churn_risk": 30,
        "churn_factors": FACTORS,
        "clv": Decimal("5000.00"),
        "prob_alive": Decimal("0.8000"),
        "action_value": Decimal("1500.00"),
    }
    values.update(fields)
    with tenancy.tenant(org):
        return CustomerAnalytics.objects.create(organization=org, customer=customer, **values)


def listed(client, url=CUSTOMERS, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def every_page(client, url=CUSTOMERS, **params):
    """Every row, following `next` one small page at a time."""
    response = client.get(url, {**params, "page_size": 2})
    rows = []
    for _page in range(100):
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])
    raise AssertionError(f"the pages never end: {rows}")


def alert(org, customer, *, week=TODAY, risk=70, outcome="pending"):
    with tenancy.tenant(org):
        return ChurnAlert.objects.create(
            organization=org,
            customer=customer,
            week=week,
            raised_on=week,
            churn_risk=risk,
            reasons=FACTORS,
            clv=Decimal("12000.00"),
            window_ends=week + 90 * DAY,
            outcome=outcome,
        )


# --- Customers' figures ------------------------------------------------------------------------


def test_list_and_detail_show_each_customers_latest_figures_with_money_as_strings(api, org):
    customers = portfolio(org, 30)
    run = recompute(org)
    assert "error" not in run.models_fit["bgnbd"]
    rows = {row["customer"]: row for row in listed(api, page_size=100)}
    assert set(rows) == {c.pk for c in customers}

    buyer = customers[0]
    row = rows[buyer.pk]
    assert set(row) == ROW_FIELDS
    assert row["customer_external_id"] == buyer.external_id and row["customer_name"] == buyer.name
    assert row["computed_on"] == TODAY.isoformat()
    assert row["currency"] == org.base_currency and row["horizon_months"] == 12
    with tenancy.tenant(org):  # row-level security hides rows outside it
        buyer.refresh_from_db()
    assert row["abc_class"] == buyer.abc_class == row["abc_revenue"]
    for money in ("revenue_12m", "cash_12m", "expected_order_value", "clv", "overdue", "value_at_stake"):
        assert isinstance(row[money], str), money
        Decimal(row[money])
    assert isinstance(row["prob_alive"], str) and 0 <= Decimal(row["prob_alive"]) <= 1
    assert set(row["rfm"]) == {"r", "f", "m", "segment"} and 1 <= row["rfm"]["r"] <= 5
    assert 0 <= row["churn_risk"] <= 100
    reasons = row["churn_reasons"]
    assert reasons and set(reasons[0]) == {"factor", "label", "value", "weight", "points", "reason"}
    assert "history" not in row
    prospect = rows[customers[-1].pk]
    assert prospect["purchases"] == 0 and prospect["clv"] is None and prospect["churn_risk"] is None

    detail = api.get(f"{CUSTOMERS}{buyer.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert set(body) == ROW_FIELDS | {"history"}
    assert body["clv"] == row["clv"]
    with tenancy.tenant(org):
        changes = ClassChange.objects.filter(customer=buyer).count()
    assert changes and len(body["history"]) == changes
    assert set(body["history"][0]) == {"field", "from", "to", "date"}
    assert body["history"][0]["date"] == TODAY.isoformat()


def test_a_sales_rep_sees_only_own_customers_and_no_portfolio_figures(client, org, members):
    rep = members["sales_rep"]
    mine = figures(org, CustomerFactory(organization=org, owner=rep))
    theirs = figures(org, CustomerFactory(organization=org, owner=members["admin"]))
    alert(org, mine.customer)
    alert(org, theirs.customer)
    login(client, rep)
    assert [row["customer"] for row in listed(client)] == [mine.customer_id]
    assert listed(client)[0]["owner"] == rep.pk
    assert client.get(f"{CUSTOMERS}{mine.customer_id}/").status_code == 200
    assert client.get(f"{CUSTOMERS}{theirs.customer_id}/").status_code == 404
    assert [row["customer"] for row in listed(client, ALERTS)] == [mine.customer_id]
    for url in (COHORTS, SUMMARY, RUNS):
        assert client.get(url).status_code == 403, url
    assert client.post(RUNS, {}, content_type="application/json").status_code == 403


def test_another_organizations_customer_is_a_404_and_never_listed(api, org, outsider_org, outsider_customer):
    mine = figures(org)
    figures(outsider_org, outsider_customer)
    alert(outsider_org, outsider_customer)
    assert api.get(f"{CUSTOMERS}{outsider_customer.pk}/").status_code == 404
    for unknown in ("999999", "abc", "-1", "99999999999999999999999", "1.5"):
        assert api.get(f"{CUSTOMERS}{unknown}/").status_code == 404, unknown
    assert [row["customer"] for row in listed(api, page_size=500)] == [mine.customer_id]
    assert listed(api, customer_external_id=outsider_customer.external_id) == []
    assert listed(api, ALERTS, customer=outsider_customer.pk) == []


def test_filters_narrow_the_list(api, org, members):
    rep = members["sales_rep"]
    a = figures(
        org, CustomerFactory(organization=org, abc_class="A", owner=rep), abc_revenue="A", abc_cash="C"
    )
    b = figures(
        org,
        CustomerFactory(organization=org, abc_class="B", external_id="ERP-7"),
        segment="at_risk",
        lifecycle_stage="at_risk",
        churn_risk=80,
        clv=Decimal("20000.00"),
    )
    c = figures(org, churn_risk=None, clv=None, segment="", purchases=0, lifecycle_stage="prospect")

    def customers(**params):
        return {row["customer"] for row in listed(api, **params)}

    assert customers(abc_class="A") == {a.customer_id}
    assert customers(abc_revenue="A") == {a.customer_id}
    assert customers(abc_cash="C") == {a.customer_id}
    assert customers(segment="at_risk") == {b.customer_id}
    assert customers(lifecycle_stage="prospect") == {c.customer_id}
    assert customers(churn_risk_min=50) == {b.customer_id}
    assert customers(churn_risk_max=50) == {a.customer_id}
    assert customers(churn_risk_min=30, churn_risk_max=30) == {a.customer_id}
    assert customers(clv_min="10000") == {b.customer_id}
    assert customers(owner=rep.pk) == {a.customer_id}
    assert customers(customer_external_id="ERP-7") == {b.customer_id}


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("abc_class", "Z"),
        ("abc_revenue", "a"),
        ("segment", "whales"),
        ("lifecycle_stage", "zombie"),
        ("churn_risk_min", "-1"),
        ("churn_risk_max", "101"),
        ("churn_risk_min", "lots"),
        ("clv_min", "1e400"),
        ("clv_min", "NaN"),
        ("owner", "99999999999999999999"),
        ("ordering", "secret_field"),
        ("ordering", "customer__organization__name"),
    ],
)
def test_a_bad_filter_or_ordering_is_a_400_with_the_fields_error(api, org, param, value):
    figures(org)
    response = api.get(CUSTOMERS, {param: value})
    assert response.status_code == 400, response.content
    assert param in response.json()


def test_orderings_page_through_every_row_in_order_with_missing_figures_last(api, org):
    risks = [40, None, 90, 10, 40, None, 65]
    for n, risk in enumerate(risks):
        figures(
            org,
            CustomerFactory(organization=org, name=f"Kunde {6 - n}"),
            churn_risk=risk,
            clv=None if risk is None else Decimal(1000 * n),
            revenue_12m=Decimal(100 * n),
            action_value=Decimal(7 * n),
        )

    def values(field, ordering):
        rows = every_page(api, ordering=ordering)
        assert len(rows) == len(risks)
        return [row[field] for row in rows]

    assert values("churn_risk", "-churn_risk") == [90, 65, 40, 40, 10, None, None]
    assert values("churn_risk", "churn_risk") == [None, None, 10, 40, 40, 65, 90]
    clvs = values("clv", "-clv")
    assert clvs[-2:] == [None, None]
    assert [Decimal(v) for v in clvs[:-2]] == sorted((Decimal(v) for v in clvs[:-2]), reverse=True)
    revenues = [Decimal(v) for v in values("revenue_12m", "revenue_12m")]
    assert revenues == sorted(revenues)
    stakes = [Decimal(v) for v in values("value_at_stake", "-value_at_stake")]
    assert stakes == sorted(stakes, reverse=True)
    assert values("customer_name", "customer_name") == [f"Kunde {n}" for n in range(7)]
    default = [row["customer"] for row in every_page(api)]
    assert default == sorted(default)


@pytest.mark.parametrize("ordering", ["churn_risk", "-clv", "customer_name", ""])
def test_a_forged_cursor_is_refused_not_a_500(api, org, ordering):
    figures(org)
    for position in ("abc", "1e999", "-99999999999999999999999", "NaN"):
        cursor = base64.b64encode(f"p={position}".encode()).decode()
        for url in (CUSTOMERS, RUNS, ALERTS):
            response = api.get(
                url, {"ordering": ordering, "cursor": cursor} if url == CUSTOMERS else {"cursor": cursor}
            )
            assert response.status_code in (200, 400, 404), (url, position, response.content)


def test_query_count_does_not_grow_with_the_page_size(api, org, members):
    for n in range(12):
        customer = CustomerFactory(organization=org, owner=members["sales_rep"] if n % 2 else None)
        figures(org, customer, churn_risk=n)
    api.get(CUSTOMERS)  # warm up: the key's first use records last_used_at
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(CUSTOMERS, {"page_size": size, "ordering": "-churn_risk"})
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


# --- Cohorts and summary -----------------------------------------------------------------------


def test_before_the_first_run_cohorts_and_summary_are_empty(read_api, org):
    cohorts = read_api.get(COHORTS)
    assert cohorts.status_code == 200
    assert cohorts.json() == {"date": None, "months": [], "sizes": [], "matrix": [], "retention": []}
    summary = read_api.get(SUMMARY)
    assert summary.status_code == 200
    body = summary.json()
    assert body["date"] is None and body["computed_at"] is None
    assert body["currency"] == org.base_currency
    assert body["customers"] == 0 and body["revenue_12m"] == "0.00"
    assert body["where_to_act"] == [] and body["models"] == {}
    assert body["alerts"]["decided"] == 0 and body["alerts"]["precision"] is None


def test_cohorts_and_summary_come_from_the_callers_own_latest_run(api, org, outsider_org, outsider_api):
    portfolio(org, 30)
    run = recompute(org)
    portfolio(outsider_org, 8, seed=9)
    recompute(outsider_org)

    cohorts = api.get(COHORTS).json()
    assert cohorts["date"] == TODAY.isoformat()
    assert len(cohorts["months"]) == len(cohorts["sizes"]) == len(cohorts["matrix"]) == 24
    assert cohorts["months"][-1] == "2026-11"
    assert cohorts["sizes"] == run.summary["cohorts"]["sizes"]
    for size, counts, shares in zip(cohorts["sizes"], cohorts["matrix"], cohorts["retention"], strict=True):
        assert len(shares) == len(counts)
        if size:
            assert shares[0] == "100.0"
            half_up = [(Decimal(n) * 100 / size).quantize(Decimal("0.1"), ROUND_HALF_UP) for n in counts]
            assert shares == [str(share) for share in half_up]
        else:
            assert set(shares) <= {None}

    response = api.get(SUMMARY)
    assert response.status_code == 200
    body = response.json()
    assert SUMMARY_FIGURES | {
        "date",
        "computed_at",
        "currency",
        "models",
        "warnings",
        "alerts",
        "where_to_act",
    } == set(body)
    assert body["date"] == TODAY.isoformat() and body["computed_at"]
    assert body["customers"] == 30 and body["buyers"] == 28
    assert body["revenue_12m"] == run.summary["revenue_12m"]
    assert all(
        isinstance(body[m], str) for m in ("revenue_12m", "cash_12m", "margin_12m", "clv_total", "overdue")
    )
    assert all(isinstance(edge, str) for edge in body["clv_histogram"]["edges"])
    assert all(
        isinstance(row["revenue"], str) for row in body["by_segment"] + body["by_class"] + body["by_rep"]
    )
    assert {"bgnbd", "gamma_gamma"} <= set(body["models"])
    stakes = [Decimal(row["value_at_stake"]) for row in body["where_to_act"]]
    assert 0 < len(stakes) <= 20 and stakes == sorted(stakes, reverse=True)
    assert set(body["where_to_act"][0]) == {
        "customer",
        "customer_external_id",
        "customer_name",
        "churn_risk",
        "clv",
        "overdue",
        "value_at_stake",
        "reasons",
    }
    assert body["where_to_act"][0]["reasons"]

    theirs = outsider_api.get(SUMMARY).json()
    assert theirs["customers"] == 8
    mine = {row["customer"] for row in body["where_to_act"]}
    assert not mine & {row["customer"] for row in theirs["where_to_act"]}


# --- Runs --------------------------------------------------------------------------------------


def test_the_owner_queues_a_recompute_that_runs_after_the_commit(
    client, org, members, django_capture_on_commit_callbacks
):
    portfolio(org, 30)
    login(client, members["owner"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(RUNS, {"date": TODAY.isoformat()}, content_type="application/json")
        assert response.status_code == 202, response.content
        queued = response.json()
        assert queued["date"] == TODAY.isoformat() and queued["status"] == "queued"
        again = client.post(RUNS, {"date": TODAY.isoformat()}, content_type="application/json")
        assert again.status_code == 200 and again.json()["id"] == queued["id"]
    assert len(queued_work(callbacks)) == 1

    run = client.get(f"{RUNS}{queued['id']}/").json()
    assert run["status"] == "done" and run["customers"] == 30 and run["step"] == run["steps"]
    assert run["seconds"] is not None and run["error"] == "" and "bgnbd" in run["models_fit"]
    assert [r["id"] for r in listed(client, RUNS)] == [queued["id"]]
    assert len(listed(client)) == 30


def test_a_run_defaults_to_the_organizations_today_and_honours_idempotency_key(
    client, org, members, django_capture_on_commit_callbacks
):
    login(client, members["finance_manager"])
    headers = {"HTTP_IDEMPOTENCY_KEY": "run-1"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(RUNS, {}, content_type="application/json", **headers)
        replay = client.post(RUNS, {}, content_type="application/json", **headers)
    assert first.status_code == 202
    assert first.json()["date"] == org.local_today().isoformat()
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert len(queued_work(callbacks)) == 1


def test_a_form_post_with_idempotency_key_in_the_browser_session_is_not_a_500(
    org, members, django_capture_on_commit_callbacks
):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    login(browser, members["owner"])
    browser.get("/analytics/")
    token = browser.cookies["csrftoken"].value
    headers = {"HTTP_IDEMPOTENCY_KEY": "form-run", "HTTP_X_CSRFTOKEN": token}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = browser.post(RUNS, {"date": TODAY.isoformat()}, **headers)
        replay = browser.post(RUNS, {"date": TODAY.isoformat()}, **headers)
    assert first.status_code == 202, first.content
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert len(queued_work(callbacks)) == 1


@pytest.mark.parametrize(
    "body",
    [{"date": "2999-01-01"}, {"date": "tomorrow"}, {"date": "2026-13-01"}, {"date": None}, ["2026-11-01"]],
)
def test_a_bad_or_future_date_is_a_400_and_queues_nothing(client, org, members, body):
    login(client, members["admin"])
    response = client.post(RUNS, body, content_type="application/json")
    assert response.status_code == 400, response.content
    with tenancy.tenant(org):
        assert not AnalyticsRun.objects.exists()


def test_tomorrow_in_the_organizations_timezone_is_the_future(client, org, members):
    login(client, members["owner"])
    tomorrow = org.local_today() + DAY
    response = client.post(RUNS, {"date": tomorrow.isoformat()}, content_type="application/json")
    assert response.status_code == 400 and "date" in response.json()


def test_api_keys_read_runs_but_cannot_start_one(api, read_api, org):
    recompute(org)
    assert api.post(RUNS, {}, format="json").status_code == 403
    assert read_api.post(RUNS, {}, format="json").status_code == 403
    runs = listed(read_api, RUNS)
    assert len(runs) == 1 and runs[0]["status"] == "done"


def test_another_organizations_run_is_a_404_and_never_listed(api, outsider_org):
    theirs = recompute(outsider_org)
    assert api.get(f"{RUNS}{theirs.pk}/").status_code == 404
    assert api.get(f"{RUNS}99999999999999999999999/").status_code == 404
    assert listed(api, RUNS) == []


@pytest.mark.parametrize("url", [CUSTOMERS, COHORTS, SUMMARY, RUNS, ALERTS])
def test_no_key_is_a_401(client, url):
    assert client.get(url).status_code == 401


# --- Churn alerts ------------------------------------------------------------------------------


def test_churn_alerts_list_explained_reasons_and_filters(api, org):
    buyer = CustomerFactory(organization=org, name="华东机电")
    other = CustomerFactory(organization=org)
    this_week = alert(org, buyer)
    last_week = alert(org, other, week=TODAY - 7 * DAY, outcome="retained")
    rows = listed(api, ALERTS)
    assert [row["id"] for row in rows] == [last_week.pk, this_week.pk]  # newest first
    row = next(r for r in rows if r["id"] == this_week.pk)
    assert row["customer"] == buyer.pk and row["customer_name"] == "华东机电"
    assert row["customer_external_id"] == buyer.external_id
    assert row["clv"] == "12000.00" and row["churn_risk"] == 70 and row["outcome"] == "pending"
    assert row["week"] == TODAY.isoformat() and row["window_ends"] == (TODAY + 90 * DAY).isoformat()
    assert [r["factor"] for r in row["reasons"]] == ["prob_alive", "frequency_decline"]
    assert row["reasons"][0]["reason"]

    assert [r["id"] for r in listed(api, ALERTS, outcome="retained")] == [last_week.pk]
    assert [r["id"] for r in listed(api, ALERTS, week=TODAY.isoformat())] == [this_week.pk]
    assert [r["id"] for r in listed(api, ALERTS, customer=other.pk)] == [last_week.pk]
    for param, value in (("outcome", "maybe"), ("week", "soon"), ("customer", "x")):
        response = api.get(ALERTS, {param: value})
        assert response.status_code == 400 and param in response.json()
