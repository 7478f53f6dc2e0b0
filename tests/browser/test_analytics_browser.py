"""End-to-end analytics in Chromium: the owner opens the dashboard after a recompute, sees the SVG
charts, clicks through from "where to act" to a customer and reads the analytics panel; then starts
a recompute from the button and watches its progress finish. A sales rep sees only their own
customers. Screenshots at desktop and phone (390 px) sizes go to /tmp/analytics-shots/.

Rows are made inside `tenancy.tenant(org)` (row-level security on PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.models import AnalyticsRun
from analytics.runs import analytics_recompute
from crm.models import Customer
from finance import tenancy
from finance.actors import Actor
from tests.analytics.conftest import TODAY, portfolio
from tests.browser.conftest import log_in as browser_log_in

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
SHOTS = Path("/tmp/analytics-shots")
NAMES = [
    "上海华东机电有限公司",
    "杭州绿源食品有限公司",
    "Pearl River Logistics",
    "苏州启明光电有限公司",
    "Nordic Marine Supply AB",
    "宁波海川物流有限公司",
]


def log_in(page: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def books(org: Any, members: dict) -> dict[str, Any]:
    """40 customers of the admin's and 12 of the rep's with two years of invoices, computed."""
    theirs = portfolio(org, 40, seed=3, owner=members["admin"])
    mine = portfolio(org, 12, seed=5, owner=members["sales_rep"])
    with tenancy.tenant(org):  # row-level security hides rows outside it
        for index, customer in enumerate(mine):
            Customer.objects.filter(pk=customer.pk).update(name=f"Rep customer {index:02d}")
        for customer, name in zip(theirs, NAMES, strict=False):
            Customer.objects.filter(pk=customer.pk).update(name=name)
        run = analytics_recompute(actor=Actor.system(org), run_date=TODAY)
    assert run.status == "done"
    return {"theirs": theirs, "mine": mine}


def test_the_owner_reads_the_dashboard_and_a_customers_panel_then_recomputes(
    page: Page, phone_page: Page, org: Any, members: dict, books: dict
) -> None:
    log_in(page, "owner@acme.test")
    page.locator("nav.sidenav").get_by_role("link", name="Analytics").click()
    expect(page.locator("main h1")).to_have_text("Analytics")
    for chart in ("chart-pareto", "chart-rfm", "chart-clv", "chart-churn", "chart-cohorts"):
        expect(page.get_by_test_id(chart).locator("svg").first).to_be_visible()
    expect(page.get_by_test_id("chart-rfm").locator("g.cell")).to_have_count(25)
    expect(page.get_by_test_id("chart-pareto").locator("polyline.curve")).to_have_count(1)
    expect(page.get_by_test_id("hhi-reading")).to_have_text(re.compile("concentrated"))
    expect(page.get_by_test_id("by-rep")).to_contain_text(str(members["sales_rep"]))
    page.get_by_test_id("model-fit").locator("summary").click()
    expect(page.get_by_test_id("model-fit")).to_contain_text("BG/NBD")
    shot(page, "dashboard-desktop")

    where = page.get_by_test_id("where-to-act")
    first = where.locator("tbody tr a").first
    name = first.inner_text()
    first.click()
    expect(page.locator("main h1")).to_have_text(name)
    panel = page.locator("[data-panel=analytics]")
    expect(panel.get_by_test_id("analytics-panel")).to_be_visible()
    expect(panel.get_by_test_id("analytics-stage")).to_be_visible()
    expect(panel.get_by_test_id("analytics-churn").locator("svg")).to_be_visible()
    expect(panel.get_by_test_id("analytics-churn-reasons").locator("li").first).to_be_visible()
    panel.scroll_into_view_if_needed()
    shot(page, "customer-panel-desktop")

    page.goto("/analytics/")
    page.get_by_test_id("recompute").click()
    progress = page.get_by_test_id("run-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress.get_by_test_id("run-done")).to_contain_text("52 customers recomputed")
    expect(page.locator("ul.messages")).to_contain_text("Recompute started.")
    shot(page, "recompute-done-desktop")
    progress.get_by_test_id("run-show").click()
    expect(page.get_by_test_id("run-progress")).to_have_count(0)

    page.goto("/analytics/customers/?sort=clv")
    expect(page.get_by_test_id("analytics-customers").locator("tbody tr")).to_have_count(25)
    page.select_option("#id_stage", "prospect")
    expect(page.get_by_test_id("analytics-customers").locator("tbody tr")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"stage=prospect"))
    expect(page.get_by_test_id("export-csv")).to_have_attribute(
        "href", re.compile(r"stage=prospect.*export=csv")
    )
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + 4
    page.select_option("#id_stage", "")
    expect(page.get_by_test_id("analytics-customers").locator("tbody tr")).to_have_count(25)
    shot(page, "customers-desktop")
    page.goto("/analytics/settings/")
    shot(page, "settings-desktop")

    # The same pages at phone width: nothing wider than the screen but the cohort chart's own scroller.
    log_in(phone_page, "owner@acme.test")
    for name, url in (
        ("dashboard-phone", "/analytics/"),
        ("customers-phone", "/analytics/customers/"),
        ("settings-phone", "/analytics/settings/"),
        ("customer-panel-phone", f"/customers/{books['theirs'][0].pk}/"),
    ):
        phone_page.goto(url)
        overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (url, overflow)
        if name == "customer-panel-phone":
            phone_page.locator("[data-panel=analytics]").scroll_into_view_if_needed()
        shot(phone_page, name)


def test_a_rep_sees_only_their_own_customers(page: Page, members: dict, books: dict) -> None:
    log_in(page, "sales_rep@acme.test")
    page.goto("/analytics/")
    expect(page.get_by_test_id("chart-pareto")).to_have_count(0)
    expect(page.get_by_test_id("recompute")).to_have_count(0)
    risk_list = page.get_by_test_id("risk-list")
    expect(risk_list.locator("tbody tr").first).to_contain_text("Rep customer")
    expect(page.locator("main")).not_to_contain_text("上海华东机电有限公司")
    shot(page, "dashboard-rep-desktop")
    page.goto("/analytics/customers/")
    expect(page.get_by_test_id("analytics-customers").locator("tbody tr")).to_have_count(12)
    expect(page.locator("#id_owner")).to_have_count(0)


def test_the_progress_polls_until_the_run_is_done(
    phone_page: Page, org: Any, members: dict, books: dict
) -> None:
    """A run under way (as a worker reports it): the card polls every second, names the step, and
    turns to done by itself when the worker finishes."""
    with tenancy.tenant(org):
        run = AnalyticsRun.objects.create(
            date=org.local_today(),
            status=AnalyticsRun.Status.RUNNING,
            step=3,
            steps=7,
            step_label="lifetime_value",
            started_at=timezone.now(),
        )
    page = phone_page
    log_in(page, "owner@acme.test")
    page.goto("/analytics/")
    progress = page.get_by_test_id("run-progress")
    expect(progress).to_have_attribute("data-status", "running")
    expect(progress.get_by_test_id("run-step")).to_have_text(
        "Step 4 of 7: Fitting the lifetime value models…"
    )
    shot(page, "progress-running-phone")
    with tenancy.tenant(org):
        AnalyticsRun.objects.filter(pk=run.pk).update(
            status=AnalyticsRun.Status.DONE,
            step=7,
            step_label="done",
            customers=52,
            finished_at=timezone.now(),
        )
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress.get_by_test_id("run-done")).to_contain_text("52 customers recomputed")
