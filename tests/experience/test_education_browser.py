"""Education in Chromium: the hub, the catalogue, a resource with its attendance list and the
customer panel load and fit a phone's width; a place is marked attended inline (htmx) and the row
shows it without a page load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from experience import education
from finance import tenancy
from finance.actors import Actor
from tests.browser.conftest import *  # noqa: F403  (Chromium, live_server and page fixtures)
from tests.browser.conftest import log_in as browser_log_in
from tests.factories import ContactFactory, CustomerFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
SHOTS = Path("/tmp/kehu-education-screens")


def log_in(tab: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(tab, email)


def test_education_pages_fit_a_phone_and_update_inline(
    page: Page, phone_page: Page, org: Any, members: dict
) -> None:
    system = Actor.system(org)
    buyer = CustomerFactory(organization=org, name="杭州新禾包装有限公司 (Hangzhou Xinhe Packaging)")
    contact = ContactFactory(customer=buyer, name="Li Wei")
    with tenancy.tenant(org):
        resource = education.resource_create(
            actor=system,
            title="线上研讨会：电子发票与在线对账 — E-invoices and online reconciliation",
            kind="webinar",
            topic="电子发票",
            language="zh-hans",
            url="https://example.com/webinars/e-invoice-and-online-reconciliation-for-purchasing-teams",
        )
        session = education.session_create(
            actor=system, resource=resource, starts_at=timezone.now(), location="Tencent Meeting"
        )
        place, _created = education.attendance_invite(
            actor=system, resource=resource, session=session, customer=buyer, contact=contact
        )
    SHOTS.mkdir(exist_ok=True)
    pages = {
        "hub": "/experience/",
        "education-home": "/experience/education/",
        "resource": f"/experience/education/resources/{resource.pk}/",
        "customer": f"/customers/{buyer.pk}/",
        "invite": f"/experience/education/customers/{buyer.pk}/invite/",
    }
    for size, tab in (("desktop", page), ("phone", phone_page)):
        log_in(tab, "owner@acme.test")
        for name, url in pages.items():
            response = tab.goto(url)
            assert response is not None and response.status == 200, url
            tab.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True)
            width = 1280 if size == "desktop" else 390
            overflow = tab.evaluate("document.documentElement.scrollWidth") - width
            assert overflow <= 0, f"{url} is {overflow}px wider than the {size} screen"
    page.goto(pages["resource"])
    row = page.locator(f"#attendance-{place.pk}")
    row.get_by_test_id("attendance-edit").click()
    form = page.locator(f"#attendance-{place.pk}").get_by_test_id("attendance-form")
    form.locator("select[name$=status]").select_option("attended")
    form.locator("select[name$=rating]").select_option("5")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(f"#attendance-{place.pk}").get_by_test_id("attendance-status")).to_have_text(
        "Attended"
    )
    with tenancy.tenant(org):
        place.refresh_from_db()
    assert (place.status, place.rating) == ("attended", 5)
