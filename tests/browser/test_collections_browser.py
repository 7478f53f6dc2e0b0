"""End-to-end collections in Chromium: a collector opens their worklist, records a promise to pay
for a customer's overdue invoice from the row (htmx inline form, with a mistake corrected first),
and tomorrow's dunning run no longer reminds that invoice. Screenshots of the worklist at desktop
and phone widths go to /tmp/shots/.

Rows are made through the services inside `tenancy.tenant(org)` (row-level security on PostgreSQL).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import Page, expect

from finance import tenancy
from finance.actors import Actor
from receivables import services
from receivables.models import PromiseToPay
from tests.browser.conftest import log_in as browser_log_in
from tests.conftest import actor_for
from tests.factories import ContactFactory, CustomerFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
SHOTS = Path("/tmp/shots")


def preview_url() -> str:
    try:
        return reverse("receivables:dunning-preview")
    except NoReverseMatch:
        pytest.skip("receivables:dunning-preview is not there yet")


def log_in(page: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email)


def on(org: Any, offset: int) -> datetime.date:
    return org.local_today() + datetime.timedelta(days=offset)


def invoice(org: Any, customer: Any, number: str, total: str, due: int, currency: str = "CNY") -> Any:
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=on(org, due - 30),
            due_date=on(org, due),
            total=total,
        )


@pytest.fixture
def portfolio(org: Any, members: dict) -> dict[str, Any]:
    """A default dunning policy and three customers with overdue invoices, collected by the clerk."""
    from receivables import dunning_policies
    from receivables.worklist import collector_assign, customer_snooze

    manager = actor_for(org, members["finance_manager"], "finance_manager")
    customers = {
        "huadong": CustomerFactory(organization=org, name="上海华东机电有限公司", risk_class="C"),
        "lvyuan": CustomerFactory(organization=org, name="杭州绿源食品有限公司"),
        "pearl": CustomerFactory(organization=org, name="Pearl River Logistics", risk_class="A"),
    }
    for customer in customers.values():
        ContactFactory(
            organization=org, customer=customer, email=f"ap{customer.pk}@example.test", is_billing=True
        )
    invoices = {
        "late": invoice(org, customers["huadong"], "INV-7001", "12000.00", due=-20),
        "other": invoice(org, customers["lvyuan"], "INV-7002", "3500.00", due=-45),
        "usd": invoice(org, customers["pearl"], "INV-7003", "800.00", due=-8, currency="USD"),
    }
    invoice(org, customers["huadong"], "INV-7004", "900.00", due=12)
    with tenancy.tenant(org):
        dunning_policies.policy_create_recommended(actor=Actor.system(org))
        collector_assign(actor=manager, customers=list(customers.values()), collector=members["ar_clerk"])
        customer_snooze(actor=manager, customer=customers["pearl"], until=on(org, 6))
    return {"customers": customers, "invoices": invoices}


def test_collector_records_a_promise_and_tomorrows_run_skips_the_invoice(
    page: Page, org: Any, members: dict, portfolio: dict
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    preview = preview_url()
    customer = portfolio["customers"]["huadong"]
    log_in(page, "ar_clerk@acme.test")

    page.goto(preview)
    expect(page.locator("[data-invoice='INV-7001']")).to_be_visible()

    page.locator("nav.sidenav").get_by_role("link", name="Collections").click()
    expect(page.locator("main h1")).to_have_text("Collections worklist")
    rows = page.get_by_test_id("worklist-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("上海华东机电有限公司")  # 12,000 × 1.67 × 1.5 ranks first
    expect(rows.last).to_contain_text("Pearl River Logistics")  # snoozed: at the bottom
    page.screenshot(path=str(SHOTS / "worklist-desktop.png"), full_page=True)

    row = page.locator(f"#wl-{customer.pk}")
    row.get_by_test_id("action-promise").click()
    form = row.get_by_test_id("promise-form")
    expect(form).to_be_visible()
    expect(form.locator("input[name=amount]")).to_have_value("12000.00")
    form.get_by_label(re.compile("INV-7001")).check()
    form.locator("input[name=amount]").fill("")
    form.get_by_role("button", name="Record promise").click()
    expect(form.locator(".errorlist")).to_be_visible()  # a 400 swaps the form back with its errors
    page.screenshot(path=str(SHOTS / "worklist-promise-error.png"), full_page=True)

    form.locator("input[name=amount]").fill("12000.00")
    form.get_by_role("button", name="Record promise").click()
    row = page.locator(f"#wl-{customer.pk}")
    expect(row.locator("[role=status]")).to_contain_text("Promise of 12,000.00 CNY")
    expect(row.get_by_test_id("open-promises")).to_contain_text("1 promise")
    with tenancy.tenant(org):
        promise = PromiseToPay.objects.get()
        assert [i.number for i in promise.invoices.all()] == ["INV-7001"]

    page.goto(preview)
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("[data-invoice='INV-7001']")).to_have_count(0)
    expect(page.locator("[data-invoice='INV-7002']")).to_be_visible()  # the other customer still is


def test_the_worklist_at_phone_width(phone_page: Page, org: Any, members: dict, portfolio: dict) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = phone_page
    log_in(page, "ar_clerk@acme.test")
    page.goto("/receivables/collections/")
    rows = page.get_by_test_id("worklist-row")
    expect(rows).to_have_count(3)
    page.screenshot(path=str(SHOTS / "worklist-phone.png"), full_page=True)
    # Nothing wider than the screen: the page does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    customer = portfolio["customers"]["lvyuan"]
    row = page.locator(f"#wl-{customer.pk}")
    row.get_by_test_id("action-snooze").click()
    form = row.get_by_test_id("snooze-form")
    expect(form).to_be_visible()
    page.screenshot(path=str(SHOTS / "worklist-phone-snooze.png"), full_page=True)
    form.get_by_role("button", name="Save").click()
    expect(page.locator(f"#wl-{customer.pk}").get_by_test_id("snoozed")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_manager_assigns_a_collector_to_the_ticked_customers(
    page: Page, org: Any, members: dict, portfolio: dict
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, "finance_manager@acme.test")
    page.goto("/receivables/collections/")
    rows = page.get_by_test_id("worklist-row")
    expect(rows).to_have_count(3)  # a manager sees everyone's customers by default
    for key in ("huadong", "lvyuan"):
        page.locator(f"#wl-{portfolio['customers'][key].pk} input[name=customers]").check()
    assign = page.get_by_test_id("assign-form")
    assign.locator("select[name=collector]").select_option(str(members["admin"].pk))
    page.screenshot(path=str(SHOTS / "worklist-manager-desktop.png"), full_page=True)
    assign.get_by_role("button", name="Assign").click()
    expect(page.locator(".messages")).to_contain_text("now collects 2 customers")
    page.get_by_label("Collector").first.select_option("unassigned")
    expect(page.get_by_test_id("worklist")).to_have_count(0)
    page.get_by_label("Collector").first.select_option(str(members["admin"].pk))
    expect(page.get_by_test_id("worklist-row")).to_have_count(2)
