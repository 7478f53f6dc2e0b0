"""Analytics pages through Django's test client: the dashboard (portfolio roles and sales reps),
the recompute button and its progress, the customer list with its CSV and XLSX exports, the
settings, and the panel on the customer page. Who may open and do what, that a rep only ever sees
their own customers, that another organization's customers and runs never show, that bad settings
answer 400 with nothing written, and that the list and the dashboard make as many queries for
many rows as for few."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from analytics.models import AnalyticsPolicy, AnalyticsRun, CustomerAnalytics
from analytics.runs import analytics_recompute
from crm.models import Customer
from finance import tenancy
from finance.actors import Actor
from finance.models import Role
from tests.analytics.conftest import TODAY, add_invoices, portfolio
from tests.conftest import login, queued_work

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
PORTFOLIO_ROLES = {"owner", "admin", "finance_manager", "ar_clerk", "auditor"}
POLICY_ROLES = {"owner", "admin", "finance_manager"}


def recompute(org, day=TODAY):
    with tenancy.tenant(org):
        return analytics_recompute(actor=Actor.system(org), run_date=day)


def rename(customers, prefix: str) -> list[Customer]:
    for index, customer in enumerate(customers):
        customer.name = f"{prefix} {index:03d}"
        with tenancy.tenant(customer.organization):  # row-level security hides rows outside it
            Customer.objects.filter(pk=customer.pk).update(name=customer.name)
    return customers


@pytest.fixture
def books(org, members):
    """36 customers of the admin's and 12 of the sales rep's, with two years of invoices, computed."""
    theirs = rename(portfolio(org, 36, seed=3, owner=members["admin"]), "Admin customer")
    mine = rename(portfolio(org, 12, seed=5, owner=members["sales_rep"]), "Rep customer")
    run = recompute(org)
    assert run.status == AnalyticsRun.Status.DONE
    return {"theirs": theirs, "mine": mine, "run": run}


@pytest.fixture
def outsiders(outsider_org):
    """Another organization with its own computed customers, which must never show."""
    customers = rename(portfolio(outsider_org, 12, seed=7), "Secret outsider")
    recompute(outsider_org)
    return customers


def page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def figures(org, **filters) -> list[CustomerAnalytics]:
    with tenancy.tenant(org):
        return list(CustomerAnalytics.objects.filter(**filters).select_related("customer"))


# --- Who may open what --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_for_the_roles_allowed(client, org, members, books, role):
    login(client, members[role])
    assert client.get("/analytics/").status_code == 200
    assert client.get("/analytics/customers/").status_code == 200
    assert client.get("/analytics/settings/").status_code == (200 if role in POLICY_ROLES else 403)
    run = books["run"]
    assert client.get(f"/analytics/runs/{run.pk}/progress/").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, books):
    for url in ("/analytics/", "/analytics/customers/", "/analytics/settings/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_sidenav_links_the_analytics_dashboard_and_the_placeholder_is_gone(client, members, books):
    login(client, members["owner"])
    page = page_of(client, "/analytics/")
    assert 'href="/analytics/" class="active">Analytics</a>' in page
    assert "/modules/analytics/" not in page
    assert client.get("/modules/analytics/").status_code == 404


# --- Dashboard --------------------------------------------------------------------------------------


def test_before_the_first_run_the_dashboard_explains_and_offers_the_recompute(client, org, members):
    portfolio(org, 4)
    login(client, members["owner"])
    page = page_of(client, "/analytics/")
    assert 'data-testid="analytics-empty"' in page and "No figures yet" in page
    assert 'action="/analytics/runs/"' in page and 'data-testid="recompute"' in page
    login(client, members["sales_rep"])
    page = page_of(client, "/analytics/")
    assert 'data-testid="analytics-empty"' in page and 'data-testid="recompute"' not in page


def test_the_owner_sees_the_portfolio_figures_charts_and_breakdowns(client, org, members, books):
    login(client, members["owner"])
    page = page_of(client, "/analytics/")
    summary = books["run"].summary
    for testid in (
        "stat-buyers",
        "stat-revenue",
        "stat-margin",
        "stat-clv",
        "stat-at-risk",
        "stat-concentration",
        "where-to-act",
        "risk-list",
        "by-segment",
        "by-class",
        "by-rep",
        "alert-outcomes",
        "model-fit",
    ):
        assert f'data-testid="{testid}"' in page, testid
    for chart in ("chart-pareto", "chart-rfm", "chart-clv", "chart-churn", "chart-cohorts"):
        section = page.split(f'data-testid="{chart}"', 1)[1].split("</section>", 1)[0]
        assert "<svg" in section, chart
    revenue = Decimal(summary["revenue_12m"])
    assert f"{revenue:,.0f}" in page  # thousands separators
    hhi = summary["concentration"]["hhi"]
    reading = "unconcentrated" if hhi < 1500 else "moderately" if hhi <= 2500 else "highly"
    assert reading in page.split('data-testid="hhi-reading"', 1)[1][:60]
    # Reps by name, not by id; the model's parameters in the details.
    by_rep = page.split('data-testid="by-rep"', 1)[1].split("</section>", 1)[0]
    assert str(members["sales_rep"]) in by_rep and str(members["admin"]) in by_rep
    fit = page.split('data-testid="model-fit"', 1)[1]
    assert "<dt>α</dt>" in fit
    if "error" in books["run"].models_fit["gamma_gamma"]:  # B2B order sizes: the usual fallback
        assert "each customer's own average purchase is used instead" in fit.replace("&#x27;", "'")
    else:
        assert "<dt>γ</dt>" in fit


def test_where_to_act_lists_value_at_stake_highest_first(client, org, members, books):
    login(client, members["owner"])
    page = page_of(client, "/analytics/")
    section = page.split('data-testid="where-to-act"', 1)[1].split("</section>", 1)[0]
    with tenancy.tenant(org):
        expected = list(
            CustomerAnalytics.objects.filter(action_value__gt=0)
            .order_by("-action_value", "customer_id")
            .values_list("customer_id", flat=True)[:10]
        )
    assert expected
    listed = [int(part.split('"', 1)[0]) for part in section.split('data-customer="')[1:]]
    assert listed == expected


def test_a_rep_sees_only_their_own_customers_and_no_portfolio_figures(client, org, members, books):
    login(client, members["sales_rep"])
    page = page_of(client, "/analytics/")
    assert "Rep customer" in page
    assert "Admin customer" not in page
    for testid in (
        "analytics-stats",
        "chart-pareto",
        "chart-cohorts",
        "by-rep",
        "alert-outcomes",
        "model-fit",
    ):
        assert f'data-testid="{testid}"' not in page, testid
    assert 'data-testid="recompute"' not in page
    assert f"{books['run'].customers} customers" not in page  # no organization-wide count either
    mine = {c.pk for c in books["mine"]}
    listed = {int(part.split('"', 1)[0]) for part in page.split('data-customer="')[1:]}
    assert listed and listed <= mine


def test_another_organizations_customers_and_runs_never_show(client, org, members, books, outsiders):
    login(client, members["owner"])
    for url in ("/analytics/", "/analytics/customers/?sort=risk", "/analytics/customers/?export=csv"):
        assert "Secret outsider" not in client.get(url).content.decode("utf-8-sig"), url
    with tenancy.tenant(outsiders[0].organization):
        outsider_run = AnalyticsRun.objects.get()
    assert client.get(f"/analytics/runs/{outsider_run.pk}/progress/").status_code == 404
    assert "Secret outsider" not in page_of(client, f"/analytics/?run={outsider_run.pk}")


def test_without_a_fitted_model_the_pages_say_so_instead_of_failing(client, org, members):
    customers = portfolio(org, 5)  # too few customers for the BG/NBD model
    run = recompute(org)
    assert "error" in run.models_fit["bgnbd"]
    login(client, members["owner"])
    page = page_of(client, "/analytics/")
    assert 'data-testid="clv-not-fitted"' in page
    assert "Not enough purchase history to fit the model" in page
    panel = page_of(client, f"/customers/{customers[0].pk}/")
    assert 'data-testid="analytics-not-fitted"' in panel


# --- Recompute and progress ---------------------------------------------------------------------------


def test_the_recompute_button_queues_the_run_and_its_progress_shows_done(
    client, org, members, django_capture_on_commit_callbacks
):
    portfolio(org, 20)
    login(client, members["finance_manager"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/analytics/runs/")
    assert len(queued_work(callbacks)) == 1
    with tenancy.tenant(org):
        run = AnalyticsRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/analytics/?run={run.pk}"
    assert run.status == AnalyticsRun.Status.DONE and run.date == org.local_today()
    assert run.customers == 20
    dashboard = page_of(client, response["Location"])
    assert 'data-testid="run-progress"' in dashboard and 'data-status="done"' in dashboard
    fragment = page_of(client, f"/analytics/runs/{run.pk}/progress/")
    assert 'data-testid="run-done"' in fragment and "hx-trigger" not in fragment
    assert f'max="{run.steps}" value="{run.steps}"' in fragment
    assert "Show the new figures" in fragment


def test_a_second_request_while_a_run_is_under_way_does_not_start_another(
    client, org, members, django_capture_on_commit_callbacks
):
    login(client, members["owner"])
    with tenancy.tenant(org):
        AnalyticsRun.objects.create(date=org.local_today(), status=AnalyticsRun.Status.RUNNING, steps=7)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/analytics/runs/", follow=True)
    assert callbacks == []
    assert "A recompute is already under way." in response.content.decode()


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - POLICY_ROLES))
def test_roles_without_the_right_cannot_recompute(
    client, org, members, role, django_capture_on_commit_callbacks
):
    login(client, members[role])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post("/analytics/runs/").status_code == 403
    assert callbacks == []
    with tenancy.tenant(org):
        assert not AnalyticsRun.objects.exists()


def test_a_running_run_polls_and_names_its_step_in_words(client, org, members):
    with tenancy.tenant(org):
        run = AnalyticsRun.objects.create(
            date=TODAY, status=AnalyticsRun.Status.RUNNING, step=3, steps=7, step_label="lifetime_value"
        )
    login(client, members["owner"])
    fragment = page_of(client, f"/analytics/runs/{run.pk}/progress/")
    assert f'hx-get="/analytics/runs/{run.pk}/progress/"' in fragment and 'hx-trigger="every 1s"' in fragment
    assert 'max="7" value="3"' in fragment
    assert "Step 4 of 7: Fitting the lifetime value models" in fragment
    # The dashboard shows the run under way without being asked.
    assert 'data-status="running"' in page_of(client, "/analytics/")


def test_a_failed_run_stops_polling_and_hides_the_internals(client, org, members):
    with tenancy.tenant(org):
        run = AnalyticsRun.objects.create(
            date=TODAY, status=AnalyticsRun.Status.FAILED, steps=7, error="KeyError('secret_column')"
        )
    login(client, members["owner"])
    fragment = page_of(client, f"/analytics/runs/{run.pk}/progress/")
    assert 'data-testid="run-failed"' in fragment and "hx-trigger" not in fragment
    assert "secret_column" not in fragment and "KeyError" not in fragment


# --- Customer list and exports ------------------------------------------------------------------------


def rows_listed(page: str) -> list[int]:
    body = page.split('data-testid="analytics-customers"', 1)[1]
    return [int(part.split('"', 1)[0]) for part in body.split('data-customer="')[1:]]


def test_the_list_filters_and_sorts(client, org, members, books):
    login(client, members["owner"])
    everyone = figures(org)
    risky = sorted(
        (row for row in everyone if row.churn_risk is not None and row.churn_risk >= 50),
        key=lambda row: (-row.churn_risk, -row.action_value, row.customer.name),
    )
    listed = rows_listed(page_of(client, "/analytics/customers/?risk_min=50&sort=risk"))
    assert listed == [row.customer_id for row in risky][:25]

    segment = next(row.segment for row in everyone if row.segment)
    listed = rows_listed(page_of(client, f"/analytics/customers/?segment={segment}"))
    assert listed and set(listed) <= {row.customer_id for row in everyone if row.segment == segment}

    listed = rows_listed(page_of(client, "/analytics/customers/?stage=prospect"))
    assert set(listed) == {row.customer_id for row in everyone if row.lifecycle_stage == "prospect"}

    listed = rows_listed(page_of(client, "/analytics/customers/?abc=A&sort=revenue"))
    a_rows = sorted((row for row in everyone if row.abc_revenue == "A"), key=lambda row: -row.revenue_12m)
    assert listed == [row.customer_id for row in a_rows][:25]

    listed = rows_listed(page_of(client, f"/analytics/customers/?owner={members['sales_rep'].pk}&sort=clv"))
    assert set(listed) == {c.pk for c in books["mine"]}


def test_a_rep_lists_only_their_own_customers_and_cannot_filter_by_owner(client, org, members, books):
    login(client, members["sales_rep"])
    page = page_of(client, f"/analytics/customers/?owner={members['admin'].pk}")
    assert 'name="owner"' not in page
    assert set(rows_listed(page)) == {c.pk for c in books["mine"]}
    assert "Admin customer" not in page


def test_bad_filter_values_are_ignored(client, members, books):
    login(client, members["owner"])
    page = page_of(client, "/analytics/customers/?risk_min=abc&segment=nope&sort=evil&page=99")
    assert rows_listed(page)


def read_csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_csv_export_has_translated_headers_and_plain_amounts(client, org, members, books):
    login(client, members["owner"])
    response = client.get("/analytics/customers/?export=csv&stage=prospect")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[:3] == ["External id", "Customer", "Owner"]
    assert "Lifetime value" in header and "Churn risk" in header and "Value at stake" in header
    assert len(rows) == len(figures(org, lifecycle_stage="prospect"))

    header, *rows = read_csv(client.get("/analytics/customers/?export=csv"))
    assert len(rows) == 48  # every page, not just the first
    revenue = header.index("Net revenue, 12 months")
    by_name = {row[1]: row for row in rows}
    for row in figures(org)[:10]:
        assert by_name[row.customer.name][revenue] == f"{row.revenue_12m:.2f}"  # no separators


def test_the_csv_export_is_translated(client, members, books):
    login(client, members["owner"])
    client.cookies["django_language"] = "zh-hans"
    header, *_rows = read_csv(client.get("/analytics/customers/?export=csv"))
    assert header[1] == "客户"


def test_the_xlsx_export_has_numbers_with_two_decimals(client, org, members, books):
    login(client, members["owner"])
    response = client.get("/analytics/customers/?export=xlsx&sort=revenue")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    assert header[1] == "Customer"
    revenue = header.index("Net revenue, 12 months")
    first = sheet[2]
    top = max(figures(org), key=lambda row: row.revenue_12m)
    assert first[1].value == top.customer.name
    assert isinstance(first[revenue].value, int | float | Decimal)
    assert Decimal(str(first[revenue].value)) == top.revenue_12m
    assert first[revenue].number_format == "#,##0.00"
    assert sheet.max_row == 49


def test_a_rep_exports_only_their_own_customers(client, members, books):
    login(client, members["sales_rep"])
    header, *rows = read_csv(client.get("/analytics/customers/?export=csv"))
    assert sorted(row[1] for row in rows) == sorted(c.name for c in books["mine"])
    sheet = load_workbook(io.BytesIO(client.get("/analytics/customers/?export=xlsx").content)).active
    assert sheet.max_row == 1 + len(books["mine"])


# --- Query counts ---------------------------------------------------------------------------------------


def queries_of(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_makes_as_many_queries_for_a_full_page_as_for_a_few_rows(client, members, books):
    login(client, members["owner"])
    few = queries_of(client, "/analytics/customers/?stage=prospect")  # 4 rows
    full = queries_of(client, "/analytics/customers/")  # 25 rows of 48
    assert few == full
    login(client, members["sales_rep"])
    assert queries_of(client, "/analytics/customers/?stage=prospect") == queries_of(
        client, "/analytics/customers/"
    )


def test_the_dashboard_makes_as_many_queries_for_many_customers_as_for_few(client, org, members):
    portfolio(org, 12, owner=members["sales_rep"])
    recompute(org)
    login(client, members["owner"])
    few = queries_of(client, "/analytics/")
    rename(portfolio(org, 40, seed=9, owner=members["admin"]), "More")
    recompute(org)
    assert queries_of(client, "/analytics/") == few


# --- Settings --------------------------------------------------------------------------------------------


SETTINGS = {
    "abc_basis": "cash",
    "abc_a_percent": "70",
    "abc_b_percent": "20",
    "margin_percent": "25",
    "discount_rate_percent": "8",
    "clv_horizon_months": "24",
    "churn_threshold": "55",
    "alert_weekday": "2",
    "outcome_days": "60",
    "churned_alive_percent": "15",
    "churned_after_days": "400",
    "loyal_min_tenure_days": "300",
}


def policy_of(org) -> AnalyticsPolicy | None:
    with tenancy.tenant(org):
        return AnalyticsPolicy.objects.first()


def test_the_settings_save_the_policy(client, org, members):
    login(client, members["finance_manager"])
    page = page_of(client, "/analytics/settings/")
    assert 'name="abc_a_percent"' in page and 'value="80' in page
    response = client.post("/analytics/settings/", SETTINGS, follow=True)
    assert response.redirect_chain[-1][0] == "/analytics/settings/"
    assert "Analytics settings saved." in response.content.decode()
    policy = policy_of(org)
    assert policy.abc_basis == "cash" and policy.abc_a_percent == Decimal("70")
    assert policy.clv_horizon_months == 24 and policy.alert_weekday == 2


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"abc_a_percent": "150"}, "abc_a_percent"),  # the form's bounds
        ({"clv_horizon_months": "abc"}, "clv_horizon_months"),
        ({"abc_a_percent": "90", "abc_b_percent": "15"}, "abc_b_percent"),  # the service: A + B > 99
    ],
)
def test_bad_settings_answer_400_with_field_errors_and_write_nothing(client, org, members, changes, field):
    login(client, members["owner"])
    response = client.post("/analytics/settings/", {**SETTINGS, **changes})
    assert response.status_code == 400
    page = response.content.decode()
    errors = page.split(f'class="field field-{field}"', 1)[1].split("</div>", 2)
    assert 'class="errorlist' in "".join(errors)
    assert policy_of(org) is None  # nothing saved


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - POLICY_ROLES))
def test_roles_without_the_right_cannot_change_the_settings(client, org, members, role):
    login(client, members[role])
    assert client.get("/analytics/settings/").status_code == 403
    assert client.post("/analytics/settings/", SETTINGS).status_code == 403
    assert policy_of(org) is None


# --- Customer panel --------------------------------------------------------------------------------------


def test_the_panel_shows_the_customers_figures_and_churn_reasons(client, org, members, books):
    with tenancy.tenant(org):
        row = (
            CustomerAnalytics.objects.filter(churn_risk__isnull=False, clv__isnull=False)
            .order_by("-churn_risk")
            .select_related("customer")
            .first()
        )
    login(client, members["owner"])
    page = page_of(client, f"/customers/{row.customer_id}/")
    panel = page.split('data-testid="analytics-panel"', 1)[1]
    assert f"Revenue class {row.abc_revenue}" in panel
    assert row.get_segment_display() in panel and row.get_lifecycle_stage_display() in panel
    assert f"R {row.r_score} · F {row.f_score} · M {row.m_score}" in panel
    assert f"{row.clv:,.2f}" in panel
    assert f"<b>{row.churn_risk}</b> / 100" in panel
    assert 'data-testid="analytics-churn-reasons"' in panel and "points" in panel
    assert "<svg" in panel.split('data-testid="analytics-churn"', 1)[1][:2000]


def test_the_panel_says_not_computed_before_the_first_run(client, org, members):
    customer = portfolio(org, 1)[0]
    login(client, members["owner"])
    page = page_of(client, f"/customers/{customer.pk}/")
    assert 'data-testid="analytics-not-computed"' in page


def test_the_panel_lists_class_changes_in_words(client, org, members):
    customers = portfolio(org, 20)
    recompute(org, TODAY.replace(day=1))
    add_invoices(org, customers[0], [0, 1, 2], "90000.00")
    recompute(org)
    login(client, members["owner"])
    page = page_of(client, f"/customers/{customers[0].pk}/")
    history = page.split('data-testid="analytics-history"', 1)[1].split("</details>", 1)[0]
    assert "Classification history" in history
    assert "→" in history and "_" not in history.replace("data-testid", "")  # labels, not keys
