"""End-to-end receivables in Chromium: read the aging report, record a payment against an overdue
invoice, see the aging change; screenshots of the receivables pages at desktop and phone sizes.

Rows are made through the services inside `tenancy.tenant(org)` (row-level security on PostgreSQL).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from playwright.sync_api import Page, expect

from finance import tenancy
from finance.actors import Actor
from receivables import selectors, services
from receivables.models import Allocation, Payment
from tests.browser.conftest import log_in as browser_log_in
from tests.factories import CustomerFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def log_in(page: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email)


def on(org: Any, offset: int) -> datetime.date:
    return org.local_today() + datetime.timedelta(days=offset)


def invoice(
    org: Any, customer: Any, number: str, total: str, issued: int, due: int, currency: str = "CNY"
) -> Any:
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=on(org, issued),
            due_date=on(org, due),
            total=total,
        )


def aging_row(page: Page, customer: Any) -> Any:
    return page.locator(f"[data-testid=aging-table] tr[data-customer='{customer.pk}']")


def test_finance_user_records_a_payment_and_the_overdue_amount_drops(
    page: Page, org: Any, members: dict
) -> None:
    customer = CustomerFactory(organization=org, name="杭州绿源食品有限公司", external_id="ERP-C2001")
    late = invoice(org, customer, "INV-1001", "1000.00", issued=-50, due=-20)
    invoice(org, customer, "INV-1002", "500.00", issued=-3, due=27)

    log_in(page, "finance_manager@acme.test")
    page.locator("nav.sidenav").get_by_role("link", name="Receivables").click()
    expect(page.locator("main h1")).to_have_text("Receivables")
    expect(page.get_by_test_id("overdue")).to_contain_text("1,000.00")

    page.get_by_role("link", name="Aging report").first.click()
    row = aging_row(page, customer)
    # Columns: customer, Current, 1–30, 31–60, 61–90, over 90, total, unapplied.
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("500.00")
    expect(cells.nth(1)).to_have_text("1,000.00")
    expect(cells.nth(5)).to_have_text("1,500.00")

    # Drill down in place (htmx) to the invoices behind the row.
    row.get_by_role("link", name="杭州绿源食品有限公司").click()
    drill = page.get_by_test_id("aging-invoices")
    expect(drill).to_contain_text("INV-1001")
    expect(drill).to_contain_text("INV-1002")
    assert page.url.endswith("/receivables/aging/")

    # From the customer page's receivables panel to the payment form, customer pre-selected.
    page.goto(f"/customers/{customer.pk}/")
    page.get_by_test_id("record-payment").click()
    expect(page.locator("#id_customer option:checked")).to_have_text("杭州绿源食品有限公司")
    allocate_late = page.locator(f"input[name=allocate-{late.pk}]")
    expect(allocate_late).to_have_value("")
    with page.expect_response(lambda r: "/receivables/payments/new/allocations/" in r.url):
        page.fill("#id_amount", "600")
    expect(allocate_late).to_have_value("600.00")  # oldest due first
    page.fill("#id_reference", "CMB-20260501-17")
    page.get_by_test_id("save-payment").click()

    page.wait_for_url(f"**/customers/{customer.pk}/")
    expect(page.locator(".messages")).to_contain_text("Payment of 600.00 CNY recorded.")
    with tenancy.tenant(org):
        payment = Payment.objects.get()
        allocation = Allocation.objects.get()
    assert (payment.amount, payment.reference, payment.unapplied) == (600, "CMB-20260501-17", 0)
    assert (allocation.invoice_id, allocation.amount) == (late.pk, 600)

    page.goto("/receivables/aging/")
    cells = aging_row(page, customer).locator("td")
    expect(cells.nth(1)).to_have_text("400.00")
    expect(cells.nth(5)).to_have_text("900.00")
    page.goto("/receivables/")
    expect(page.get_by_test_id("overdue")).to_contain_text("400.00")


def test_an_over_payment_on_a_phone_warns_about_unapplied_cash(
    phone_page: Page, org: Any, members: dict
) -> None:
    page = phone_page
    customer = CustomerFactory(organization=org, name="Northwind Traders", country="GB", currency="USD")
    overdue = invoice(org, customer, "NW-7", "250.00", issued=-40, due=-10, currency="USD")
    invoice(org, customer, "NW-8", "99.00", issued=-40, due=-10, currency="CNY")

    log_in(page, "ar_clerk@acme.test")
    page.goto("/receivables/payments/new/")
    page.fill("#id_amount", "300")
    # Choosing the customer swaps in the form with their currency and open invoices (htmx).
    with page.expect_response(lambda r: f"customer={customer.pk}" in r.url):
        page.select_option("#id_customer", label="Northwind Traders")
    expect(page.locator("#id_currency")).to_have_value("USD")  # the customer's currency
    expect(page.get_by_test_id("allocation-table")).not_to_contain_text("NW-8")
    expect(page.locator("#id_amount")).to_have_value("300")
    expect(page.locator(f"input[name=allocate-{overdue.pk}]")).to_have_value("250.00")
    page.get_by_test_id("save-payment").tap()
    page.wait_for_url("**/receivables/payments/")
    expect(page.locator(".messages li.warning")).to_contain_text("50.00 USD was not allocated")
    with tenancy.tenant(org):
        assert Allocation.objects.get().invoice_id == overdue.pk
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the payments page is {overflow}px wider than the phone"


# --- Screenshots --------------------------------------------------------------------------------

DEMO = [
    # name, group, [(number, total, issued, due, currency)]
    (
        "上海华东机电有限公司",
        "Key accounts",
        [("INV-2401", "86000.00", -130, -100, "CNY"), ("INV-2455", "12500.00", -20, 10, "CNY")],
    ),
    (
        "北京远航科技有限公司",
        "Key accounts",
        [("INV-2410", "45200.00", -80, -50, "CNY"), ("INV-2460", "9800.00", -10, 20, "CNY")],
    ),
    ("深圳明光电子有限公司", "Distributors", [("INV-2420", "23750.50", -45, -15, "CNY")]),
    ("Northwind Traders", "Export", [("NW-0031", "4200.00", -95, -65, "USD")]),
    ("Contoso Manufacturing", "Export", [("CT-118", "15800.00", -35, -5, "EUR")]),
    ("Sakura Components", "Export", [("SK-9", "380000.00", -15, 15, "JPY")]),
    (
        "杭州绿源食品有限公司",
        "Retail",
        [("INV-2470", "6800.00", -40, -10, "CNY"), ("INV-2471", "3100.00", -5, 25, "CNY")],
    ),
]
RATES = {"USD": "7.1", "EUR": "7.8", "JPY": "0.048"}


def _demo_data(org: Any, members: dict) -> Any:
    """Customers across every bucket and four currencies, payments, and a pending write-off."""
    owner, rep, clerk = members["owner"], members["sales_rep"], members["ar_clerk"]
    system = Actor.system(org)
    with tenancy.tenant(org):
        for currency, rate in RATES.items():
            services.exchange_rate_set(actor=system, currency=currency, date=on(org, -365), rate=rate)
    detail = None
    for i, (name, group, documents) in enumerate(DEMO):
        customer = CustomerFactory(
            organization=org,
            name=name,
            customer_group=group,
            owner=rep if i % 2 == 0 else owner,
            external_id=f"ERP-C{1001 + i}",
        )
        for number, total, issued, due, currency in documents:
            made = invoice(org, customer, number, total, issued, due, currency)
            if number == "INV-2410":
                detail = made
    with tenancy.tenant(org):
        customer = detail.customer
        services.payment_record(
            actor=system,
            customer=customer,
            currency="CNY",
            received_on=on(org, -30),
            amount="20000.00",
            reference="ICBC-88231",
        )
        services.payment_record(
            actor=system,
            customer=customer,
            currency="CNY",
            received_on=on(org, -2),
            amount="5000.00",
            method="alipay",
            reference="ALI-2026-0412",
        )
        org.settings = {"write_off_approval_threshold": "1000"}
        org.save()
        services.invoice_write_off(
            actor=Actor(organization=org, role="ar_clerk", user=clerk),
            invoice=detail,
            amount="1200.00",
            reason="Short delivery, agreed with the customer",
        )
    return detail


def test_screenshots_of_the_receivables_pages(page: Page, phone_page: Page, org: Any, members: dict) -> None:
    """Desktop 1280x800 and phone 390x844; every page loads and fits the phone's width."""
    detail = _demo_data(org, members)
    SCREENSHOTS.mkdir(exist_ok=True)
    record_payment = f"/receivables/payments/new/?customer={detail.customer_id}&amount=30000.00"
    pages = {
        "receivables-dashboard": "/receivables/",
        "receivables-aging": "/receivables/aging/",
        "receivables-invoice": f"/receivables/invoices/{detail.pk}/",
        "receivables-record-payment": record_payment,
        "receivables-invoices": "/receivables/invoices/",
        "receivables-customer-panel": f"/customers/{detail.customer_id}/",
    }
    for size, tab in (("desktop", page), ("phone", phone_page)):
        log_in(tab, "owner@acme.test")
        for name, url in pages.items():
            response = tab.goto(url)
            assert response is not None and response.status == 200, f"{url}: {response and response.status}"
            expect(tab.locator("main h1")).to_be_visible()
            if name == "receivables-aging":
                tab.locator(f"tr[data-customer='{detail.customer_id}'] a.drill-toggle").click()
                expect(tab.get_by_test_id("aging-invoices")).to_contain_text("INV-2410")
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{url} is {overflow}px wider than the {size} viewport"
    # The Chinese interface on the phone: longer labels, same layout.
    with phone_page.expect_navigation():
        phone_page.get_by_test_id("language-switcher").get_by_role("button", name="中文").click()
    for name in ("receivables-dashboard", "receivables-aging", "receivables-record-payment"):
        phone_page.goto(pages[name])
        expect(phone_page.locator("html")).to_have_attribute("lang", "zh-hans")
        phone_page.screenshot(path=str(SCREENSHOTS / f"{name}-phone-zh.png"), full_page=True)
        overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{pages[name]} in Chinese is {overflow}px wider than the phone"
    panel = page.get_by_test_id("receivables-panel")  # the desktop tab ends on the customer page
    expect(panel).to_contain_text("30,000.00")
    expect(panel).to_contain_text("20,200.00")
    # Back-dated, before the last payment: the page reads the running totals less what was paid
    # since, and shows what adding up the allocations by that date gives.
    as_of = on(org, -10)
    with tenancy.tenant(org):
        with mock.patch.object(selectors, "_settling", lambda _as_of: selectors.SUM_BY):
            summed = selectors.aging_report(organization=org, as_of=as_of)
        assert selectors._settling(as_of) == selectors.TOTALS_LESS_LATER
    expected = next(row.total for row in summed.rows if row.customer_id == detail.customer_id)
    page.goto(f"/receivables/aging/?as_of={as_of.isoformat()}")
    row = page.locator(f"tr[data-customer='{detail.customer_id}']")
    expect(row.locator("td.num b")).to_have_text(f"{expected:,.2f}")
    page.screenshot(path=str(SCREENSHOTS / "receivables-aging-back-dated-desktop.png"), full_page=True)
