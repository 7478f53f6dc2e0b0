"""End-to-end credit in Chromium: a finance manager opens a customer, reads the credit panel and
its score explanation, and requests a higher limit; another finance manager approves it in the
inbox; the panel then shows the new limit. Screenshots of the credit dashboard, the inbox, the
customer panel and the statements page at desktop and phone sizes go to screenshots/.

Rows are made through the services inside `tenancy.tenant(org)` (row-level security on PostgreSQL).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from credit import holds, limits, services
from credit.models import CreditProfile, CreditReview, LimitRequest
from credit.scoring import score_customers
from finance import tenancy
from finance.actors import Actor
from tests.browser.conftest import log_in as browser_log_in
from tests.conftest import actor_for
from tests.credit.conftest import customer as make_customer
from tests.credit.conftest import invoice
from tests.factories import MembershipFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def log_in(page: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email)


def log_out(page: Page) -> None:
    page.locator("header.topbar").get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/|/$"))


def on(org: Any, offset: int) -> datetime.date:
    return org.local_today() + datetime.timedelta(days=offset)


def paying_customer(
    org: Any, name: str, *, late_days: int, months: int = 8, open_total: str = "6000.00"
) -> Any:
    customer = make_customer(org, name=name)
    for month in range(1, months + 1):
        due = on(org, -30 * month)
        invoice(
            org,
            customer,
            f"{name[:4]}-{month}",
            due,
            total="12000.00",
            paid_on=due + datetime.timedelta(late_days),
        )
    invoice(org, customer, f"{name[:4]}-OPEN", on(org, 12), total=open_total)
    return customer


STATEMENT = {
    "cash": Decimal("180000"),
    "current_assets": Decimal("900000"),
    "inventory": Decimal("250000"),
    "total_assets": Decimal("2400000"),
    "current_liabilities": Decimal("420000"),
    "total_liabilities": Decimal("1100000"),
    "equity": Decimal("1300000"),
    "retained_earnings": Decimal("520000"),
    "revenue": Decimal("5200000"),
    "ebit": Decimal("310000"),
    "interest_expense": Decimal("45000"),
    "net_income": Decimal("210000"),
}


@pytest.fixture
def portfolio(org: Any, members: dict) -> dict[str, Any]:
    """Three scored customers: a prompt payer with statements and a limit, a slow one on hold with a
    review due, and a late one over its limit."""
    owner = actor_for(org, members["owner"], "owner")
    clerk = actor_for(org, members["ar_clerk"], "ar_clerk")
    customers = {
        "huadong": paying_customer(org, "上海华东机电有限公司", late_days=2),
        "lvyuan": paying_customer(org, "杭州绿源食品有限公司", late_days=25, open_total="26000.00"),
        "pearl": paying_customer(org, "Pearl River Logistics", late_days=70, months=4, open_total="15000.00"),
    }
    with tenancy.tenant(org):
        for year, factor in ((2023, Decimal("0.8")), (2024, Decimal("0.9")), (2025, Decimal(1))):
            figures = {name: (value * factor).quantize(Decimal(1)) for name, value in STATEMENT.items()}
            services.statement_create(
                actor=owner,
                customer=customers["huadong"],
                fiscal_year=year,
                period_end=datetime.date(year, 12, 31),
                currency="CNY",
                source="Audited accounts",
                **figures,
            )
        score_customers(actor=Actor.system(org), customers=list(customers.values()), today=org.local_today())
        for key, amount in (("huadong", "20000"), ("lvyuan", "30000"), ("pearl", "10000")):
            request = limits.limit_request_create(
                actor=clerk, customer=customers[key], requested_limit=Decimal(amount), reason="Opening limit"
            )
            limits.limit_request_approve(actor=owner, request=request)
        holds.hold_place(actor=owner, customer=customers["lvyuan"], detail="Bank guarantee expired")
        CreditReview.objects.create(customer=customers["lvyuan"], due_on=on(org, 4), risk_class="C")
        CreditReview.objects.create(customer=customers["pearl"], due_on=on(org, -2), risk_class="E")
    return customers


def test_a_limit_is_requested_and_approved_by_someone_else(
    page: Page, org: Any, members: dict, portfolio: dict
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    MembershipFactory(organization=org, role="finance_manager", user__email="fm2@acme.test")
    customer = portfolio["huadong"]
    log_in(page, "finance_manager@acme.test")
    page.locator("nav.sidenav").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="上海华东机电有限公司").first.click()
    panel = page.locator("[data-panel=credit]")
    expect(panel.get_by_test_id("panel-limit")).to_contain_text("20,000.00 CNY")
    explanation = panel.get_by_test_id("score-explanation")
    expect(explanation).to_be_visible()
    expect(explanation.locator("tr[data-factor=avg_days_late]")).to_contain_text("2.0 days")
    expect(explanation.locator("tr[data-factor=z_score]")).to_be_visible()  # from the statements
    expect(panel.get_by_test_id("exposure-gauge")).to_contain_text("30.0 % of the limit in use")

    panel.get_by_test_id("panel-request-limit").click()
    expect(page.locator("main h1")).to_have_text("Request a limit change")
    with tenancy.tenant(org):
        suggested = CreditProfile.objects.get(customer=customer).suggested_limit
    expect(page.locator("#id_requested_limit")).to_have_value(str(suggested))
    form = page.get_by_test_id("limit-request-form")
    form.locator("#id_requested_limit").fill("35000")
    form.get_by_role("button", name="Send for approval").click()
    expect(form.locator(".errorlist")).to_contain_text("This field is required.")  # the reason
    form.locator("#id_reason").fill("Two new production lines: orders double from next month.")
    form.get_by_role("button", name="Send for approval").click()
    page.wait_for_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("awaits approval")
    expect(page.get_by_test_id("panel-pending")).to_contain_text("35,000.00")

    page.goto("/credit/approvals/")
    request = page.get_by_test_id("pending-request")
    expect(request).to_have_count(1)
    expect(request.get_by_test_id("refusal")).to_have_text(
        "You requested this change: someone else must approve it."
    )
    expect(request.get_by_test_id("approve")).to_have_count(0)
    log_out(page)

    log_in(page, "fm2@acme.test")
    page.locator("nav.sidenav").get_by_role("link", name="Credit").click()
    expect(page.get_by_test_id("pending-requests")).to_contain_text("1")
    page.get_by_test_id("pending-requests").click()
    request = page.get_by_test_id("pending-request")
    expect(request).to_contain_text("Two new production lines")
    expect(request.get_by_test_id("requested-limit")).to_have_text("35,000.00")
    request.get_by_test_id("approve").click()
    expect(page.locator(".messages")).to_contain_text("now has a limit of 35,000.00 CNY")
    expect(page.get_by_test_id("pending-request")).to_have_count(0)
    expect(page.get_by_test_id("decided")).to_contain_text("Approved")
    with tenancy.tenant(org):
        assert LimitRequest.objects.filter(status="approved", requested_limit=Decimal("35000")).exists()

    page.goto(f"/customers/{customer.pk}/")
    expect(page.locator("[data-panel=credit]").get_by_test_id("panel-limit")).to_contain_text("35,000.00 CNY")


def test_screenshots_of_the_credit_pages(
    page: Page, phone_page: Page, org: Any, members: dict, portfolio: dict
) -> None:
    """Desktop 1280x800 and phone 390x844; every page loads and fits the phone's width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    with tenancy.tenant(org):
        limits.limit_request_create(
            actor=actor_for(org, members["ar_clerk"], "ar_clerk"),
            customer=portfolio["pearl"],
            requested_limit=Decimal("25000"),
            reason="New warehouse contract in Shenzhen; the customer asks for 60 days.",
        )
        review = CreditReview.objects.get(customer=portfolio["pearl"])
    huadong = portfolio["huadong"].pk
    pages = {
        "credit-dashboard": "/credit/",
        "credit-approvals": "/credit/approvals/",
        "credit-customer-panel": f"/customers/{huadong}/",
        "credit-statements": f"/credit/customers/{huadong}/statements/",
        "credit-limit-request": f"/credit/customers/{huadong}/limit-request/",
        "credit-review": f"/credit/reviews/{review.pk}/",
        "credit-settings": "/credit/settings/",
    }
    for size, tab in (("desktop", page), ("phone", phone_page)):
        log_in(tab, "owner@acme.test")
        for name, url in pages.items():
            response = tab.goto(url)
            assert response is not None and response.status == 200, f"{url}: {response and response.status}"
            expect(tab.locator("main h1")).to_be_visible()
            if name == "credit-customer-panel":
                tab.locator("[data-panel=credit]").scroll_into_view_if_needed()
                tab.locator("[data-panel=credit]").screenshot(
                    path=str(SCREENSHOTS / f"{name}-only-{size}.png")
                )
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
            # A phone widens its layout viewport to fit wide content: compare with the screen's width.
            width = 1280 if size == "desktop" else 390
            overflow = tab.evaluate("document.documentElement.scrollWidth") - width
            assert overflow <= 0, f"{url} is {overflow}px wider than the {size} screen"
    dashboard = page.goto("/credit/")
    assert dashboard is not None
    expect(page.get_by_test_id("holds")).to_contain_text("Bank guarantee expired")
    expect(page.get_by_test_id("risk-classes").locator("svg.chart")).to_be_visible()
