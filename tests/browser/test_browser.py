"""End-to-end: the main journeys of a Kehu user, in Chromium, against live_server.

Rows are made with the tenant-aware factories. Checks read the database inside `tenancy.tenant(org)`:
on PostgreSQL, row-level security hides every tenant row from a connection with no tenant set.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from crm import services as crm_services
from crm.models import Customer, FollowUp, Interaction
from finance import tenancy
from finance.actors import Actor
from finance.services import api_key_create
from tests.browser.conftest import log_in as browser_log_in
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    MembershipFactory,
)

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
CUSTOMER_PAGE = re.compile(r"/customers/(\d+)/$")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
VALID_USCC = "91310000775785552L"
WRONG_CHECK_DIGIT_USCC = "91310000775785551L"


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email, password)


def test_login_then_create_customer_and_reject_a_bad_tax_id(page: Page, org: Any, members: dict) -> None:
    log_in(page, "owner@acme.test")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator(".topbar")).to_contain_text("Acme Trading")

    page.goto("/customers/new/")
    page.fill("#id_name", "Shanghai Huadong Electromechanical")
    page.select_option("#id_country", label="China")
    page.select_option("#id_currency", "CNY")
    page.fill("#id_tax_id", VALID_USCC)
    page.locator("form.card button[type=submit]").click()

    page.wait_for_url(CUSTOMER_PAGE)
    expect(page.locator("h1")).to_have_text("Shanghai Huadong Electromechanical")
    expect(page.locator(".messages")).to_contain_text("Customer created.")
    # Masked on the page; the owner may show it (an audited htmx POST).
    expect(page.locator("[data-panel=profile]")).to_contain_text("••••••••••••••552L")
    expect(page.locator("[data-panel=profile]")).not_to_contain_text(VALID_USCC)
    page.get_by_test_id("show-tax_id").click()
    expect(page.get_by_test_id("revealed")).to_have_text(VALID_USCC)
    with tenancy.tenant(org):
        created = Customer.unscoped.get(pk=int(CUSTOMER_PAGE.search(page.url).group(1)))
    assert (created.organization_id, created.tax_id, created.country, created.currency) == (
        org.pk,
        VALID_USCC,
        "CN",
        "CNY",
    )

    page.goto("/customers/new/")
    page.fill("#id_name", "Bad Check Digit Ltd")
    page.select_option("#id_country", label="China")
    page.select_option("#id_currency", "CNY")
    page.fill("#id_tax_id", WRONG_CHECK_DIGIT_USCC)
    page.locator("form.card button[type=submit]").click()

    expect(page.locator("#id_tax_id")).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + page.locator("#id_tax_id").get_attribute("aria-describedby"))
    expect(error).to_contain_text("Not a valid unified social credit code (the check digit is wrong)")
    expect(page.locator("#id_name")).to_have_value("Bad Check Digit Ltd")  # the form is kept
    assert page.url.endswith("/customers/new/")
    with tenancy.tenant(org):
        assert Customer.unscoped.count() == 1
        assert not Customer.unscoped.filter(name="Bad Check Digit Ltd").exists()


def test_sales_rep_logs_an_interaction_with_a_next_action_on_a_phone_in_three_taps(
    phone_page: Page, org: Any, members: dict
) -> None:
    page = phone_page
    rep = members["sales_rep"]
    customer = CustomerFactory(organization=org, name="Hangzhou Lvyuan Foods", owner=rep)
    due = org.local_today() + datetime.timedelta(days=3)

    log_in(page, "sales_rep@acme.test")
    page.goto(f"/customers/{customer.pk}/")
    log_button = page.get_by_test_id("log-interaction")
    box = log_button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, "Log interaction is below the fold on a phone"

    taps = 0

    def tap(locator: Any) -> None:
        nonlocal taps
        locator.tap()
        taps += 1

    tap(log_button)
    page.wait_for_url(f"**/customers/{customer.pk}/log/")
    tap(page.locator(".kind-choices label", has_text="Meeting"))
    expect(page.locator("input[name=kind][value=meeting]")).to_be_checked()
    # Typing (the phone's keyboard) is not counted as a tap.
    page.fill("#id_summary", "Met the purchasing team about Q3 volumes")
    page.fill("#id_next_action", "Send the revised quotation")
    page.fill("#id_next_action_due", due.isoformat())
    tap(page.locator("[data-testid=interaction-form] button[type=submit]"))

    page.wait_for_url(f"**/customers/{customer.pk}/")
    assert taps <= 3, f"{taps} taps from the customer page to saved"
    expect(page.locator(".messages")).to_contain_text("Interaction logged.")
    with tenancy.tenant(org):
        interaction = Interaction.unscoped.get(customer=customer)
        follow_up = FollowUp.unscoped.select_related("interaction").get(customer=customer)
    assert (interaction.kind, interaction.user, interaction.next_action_due) == ("meeting", rep, due)
    assert (follow_up.assignee, follow_up.title, follow_up.due_date, follow_up.done) == (
        rep,
        "Send the revised quotation",
        due,
        False,
    )
    assert follow_up.interaction == interaction

    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Met the purchasing team about Q3 volumes")
    expect(timeline).to_contain_text("Meeting")
    expect(timeline).to_contain_text("Send the revised quotation")
    expect(page.locator("[data-panel=follow_ups]")).to_contain_text("Send the revised quotation")


def test_language_switcher_shows_the_chinese_interface(page: Page, org: Any, members: dict) -> None:
    log_in(page, "owner@acme.test")
    nav_customers = page.locator("nav.sidenav a[href='/customers/']")
    expect(nav_customers).to_have_text("Customers")

    switcher = page.get_by_test_id("language-switcher")
    with page.expect_navigation():
        switcher.get_by_role("button", name="中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert {"name": "django_language", "value": "zh-hans"}.items() <= next(
        c for c in page.context.cookies() if c["name"] == "django_language"
    ).items()
    expect(switcher.get_by_role("button", name="English")).to_be_visible()
    # Needs locale/zh_Hans/LC_MESSAGES/django.mo (compilemessages); the brand's 客户 does not count.
    expect(nav_customers).to_have_text("客户")
    page.goto("/customers/")
    expect(page.locator("h1")).to_have_text("客户")


def test_organization_switcher_shows_only_the_other_orgs_customers(
    page: Page, org: Any, outsider_org: Any, members: dict
) -> None:
    owner = members["owner"]
    MembershipFactory(organization=outsider_org, user=owner, role="owner")
    CustomerFactory(organization=org, name="Acme Customer One")
    CustomerFactory(organization=org, name="Acme Customer Two")
    CustomerFactory(organization=outsider_org, name="Outsider Customer Only")

    log_in(page, "owner@acme.test")
    page.goto("/customers/")
    rows = page.locator("#customer-rows tbody")
    expect(rows).to_contain_text("Acme Customer One")
    expect(rows).not_to_contain_text("Outsider Customer Only")

    select = page.get_by_test_id("org-switcher").locator("select")
    expect(select.locator("option:checked")).to_have_text("Acme Trading")
    with page.expect_navigation():
        select.select_option(label="Outsider Ltd")

    assert page.url.endswith("/customers/")
    expect(select.locator("option:checked")).to_have_text("Outsider Ltd")
    expect(rows.locator("tr")).to_have_count(1)
    expect(rows).to_contain_text("Outsider Customer Only")
    expect(rows).not_to_contain_text("Acme Customer")
    expect(page.locator("#customer-rows")).to_contain_text("1 customer")


def test_follow_up_marked_done_in_place_with_htmx(page: Page, org: Any, members: dict) -> None:
    rep = members["sales_rep"]
    customer = CustomerFactory(organization=org, name="Suzhou Jinggong Moulds", owner=rep)
    follow_up = FollowUpFactory(
        customer=customer, assignee=rep, title="Send the signed contract", due_date=org.local_today()
    )
    FollowUpFactory(
        customer=customer, assignee=rep, title="Check the delivery date", due_date=org.local_today()
    )

    log_in(page, "sales_rep@acme.test")
    page.goto("/follow-ups/")
    row = page.locator(f"#follow-up-{follow_up.pk}")
    expect(page.get_by_test_id("today")).to_contain_text("Send the signed contract")
    expect(row.locator("s")).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    with page.expect_response(lambda r: r.url.endswith(f"/follow-ups/{follow_up.pk}/done/")) as response:
        row.get_by_role("button", name="Mark done").click()
    assert response.value.status == 200
    assert response.value.request.headers.get("hx-request") == "true"

    expect(row.locator("s")).to_have_text("Send the signed contract")
    expect(row.get_by_role("button", name="Reopen")).to_be_visible()
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    assert page.url.endswith("/follow-ups/")
    with tenancy.tenant(org):
        follow_up.refresh_from_db()
        assert FollowUp.unscoped.filter(title="Check the delivery date", done=False).exists()
    assert follow_up.done is True and follow_up.done_at is not None


# --- Screenshots of the main pages, desktop and phone, with demo-like data -----------------------

DEMO_CUSTOMERS = [
    ("上海华东机电有限公司", "Shanghai Huadong Electromechanical Co., Ltd.", "CN", "CNY", "Key accounts"),
    ("北京远航科技有限公司", "Beijing Yuanhang Technology Co., Ltd.", "CN", "CNY", "Key accounts"),
    ("深圳明光电子有限公司", "Shenzhen Mingguang Electronics Co., Ltd.", "CN", "CNY", "Distributors"),
    ("Northwind Traders", "Northwind Traders Ltd.", "GB", "GBP", "Export"),
    ("Contoso Manufacturing", "Contoso Manufacturing GmbH", "DE", "EUR", "Export"),
    ("Sakura Components", "Sakura Components K.K.", "JP", "JPY", "Export"),
]


def _demo_data(org: Any, members: dict) -> Customer:
    """Customers, contacts, interactions and follow-ups (some through the services, for the audit log)."""
    owner, rep = members["owner"], members["sales_rep"]
    today = org.local_today()
    now = datetime.datetime.now(datetime.UTC)
    for i, (name, legal, country, currency, group) in enumerate(DEMO_CUSTOMERS):
        customer = CustomerFactory(
            organization=org,
            name=name,
            legal_name=legal,
            external_id=f"ERP-C{1001 + i}",
            country=country,
            currency=currency,
            customer_group=group,
            industry="Machinery",
            owner=rep if i % 2 == 0 else owner,
            email=f"ap{i + 1}@example.com",
            phone=f"+86 21 5555 {1000 + i}",
            billing_address=f"{100 + i} Example Road\n{legal}",
            lifecycle_stage=["repeat", "loyal", "first_purchase"][i % 3],
            tags=["strategic", "net-60"] if i % 2 == 0 else ["export"],
        )
        ContactFactory(customer=customer, name="王伟", title="Purchasing manager", is_primary=True)
        ContactFactory(customer=customer, name="Anna Schmidt", title="Accounts payable", is_billing=True)
        for days, kind, summary in [
            (2, "call", "Discussed the next quarter's order volume"),
            (9, "visit", "Visited the warehouse and met the purchasing team"),
            (30, "email", "Sent the updated price list"),
        ]:
            InteractionFactory(
                customer=customer,
                user=customer.owner,
                kind=kind,
                summary=summary,
                occurred_at=now - datetime.timedelta(days=days + i),
            )
        FollowUpFactory(
            customer=customer,
            assignee=owner,
            title="Call back about the order",
            due_date=today + datetime.timedelta(days=i - 2),
        )
    actor = Actor(organization=org, role="owner", user=owner)
    with tenancy.tenant(org):
        main = crm_services.customer_create(
            actor=actor,
            name="杭州绿源食品有限公司",
            legal_name="Hangzhou Lvyuan Foods Co., Ltd.",
            external_id="ERP-C2001",
            tax_id="91310000775785552L",
            customer_group="Retail",
            industry="Food",
            email="finance@lvyuan.example.com",
            phone="+86 571 8888 0000",
            billing_address="88 West Lake Road\nHangzhou",
            tags=["wechat", "strategic"],
            notes="Prefers WeChat for order confirmations.",
        )
        crm_services.contact_create(
            actor=actor,
            customer=main,
            name="李娜",
            title="Finance director",
            email="lina@lvyuan.example.com",
            phone="+86 138 0000 0001",
            is_primary=True,
            is_billing=True,
        )
        crm_services.interaction_log(
            actor=actor,
            customer=main,
            kind="meeting",
            summary="Annual contract review",
            outcome="Asked for 60-day payment terms.\nWill send the draft next week.",
            next_action="Send the draft contract",
            next_action_due=today + datetime.timedelta(days=2),
        )
        crm_services.interaction_log(
            actor=actor,
            customer=main,
            kind="message",
            summary="WeChat: confirmed delivery date",
            occurred_at=now - datetime.timedelta(days=5),
        )
        api_key_create(actor=actor, name="ERP sync (Kingdee)", scopes=["read", "write"])
        api_key_create(actor=actor, name="BI dashboard", scopes=["read"])
    return main


def test_screenshots_of_the_main_pages(page: Page, phone_page: Page, org: Any, members: dict) -> None:
    """Desktop 1280x800 and phone 390x844 screenshots; every page loads and fits the phone's width."""
    main = _demo_data(org, members)
    SCREENSHOTS.mkdir(exist_ok=True)
    pages = {
        "dashboard": "/",
        "customers": "/customers/",
        "customer": f"/customers/{main.pk}/",
        "log-interaction": f"/customers/{main.pk}/log/",
        "follow-ups": "/follow-ups/?scope=all",
        "api-keys": "/settings/api-keys/",
        "audit-log": "/audit/",
    }
    for size, tab in (("desktop", page), ("phone", phone_page)):
        log_in(tab, "owner@acme.test")
        for name, url in pages.items():
            response = tab.goto(url)
            assert response is not None and response.status == 200, f"{url}: {response and response.status}"
            expect(tab.locator("main h1")).to_be_visible()
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
            overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{url} is {overflow}px wider than the {size} viewport"
    audit = page.locator("main table")  # the desktop tab ends on the audit log
    for action in ("customer.created", "contact.created", "interaction.logged", "followup.created"):
        expect(audit).to_contain_text(action)
