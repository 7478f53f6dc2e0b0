"""The dunning policy editor in Chromium: an admin edits a level's template and sees the live preview
over a real customer; tomorrow's run preview lists that customer's overdue invoice. Screenshots at
desktop and phone sizes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from finance import tenancy
from finance.actors import Actor
from receivables import dunning_policies, services
from tests.browser.test_receivables_browser import SCREENSHOTS, log_in
from tests.factories import ContactFactory, CustomerFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def dunning_setup(org):
    customer = CustomerFactory(organization=org, name="华东机电")
    ContactFactory(customer=customer, name="王芳", email="ap@huadong.example", is_billing=True)
    today = org.local_today()
    with tenancy.tenant(org):
        actor = Actor.system(org)
        policy = dunning_policies.policy_create_recommended(actor=actor)
        services.invoice_create(
            actor=actor,
            customer=customer,
            number="INV-2026-0042",
            currency="CNY",
            issue_date=today - datetime.timedelta(days=40),
            due_date=today - datetime.timedelta(days=10),
            total="12800.00",
        )
    return policy


def test_admin_previews_a_template_live_and_sees_tomorrows_run(page, phone_page, members, dunning_setup):
    SCREENSHOTS.mkdir(exist_ok=True)
    log_in(page, members["admin"].email)
    page.goto(f"/receivables/dunning/policies/{dunning_setup.pk}/")
    level = page.get_by_test_id("level-1")
    level.locator("input[name$='subject_en']").fill("Overdue: {{ total }}")
    level.locator("textarea[name$='body_en']").fill(
        "Dear {{ contact_name }},\n{{ invoice_table }}\nPay by {{ pay_by }}."
    )
    page.get_by_test_id("preview-en-1").click()
    preview = page.locator("#preview-levels-1")
    expect(preview).to_contain_text("Overdue: 12,800.00 CNY")
    expect(preview).to_contain_text("INV-2026-0042")
    expect(preview).to_contain_text("Dear 王芳")
    page.screenshot(path=str(SCREENSHOTS / "dunning-policy-editor.png"), full_page=True)
    page.get_by_test_id("save-policy").click()
    expect(page.locator(".messages, .message, [role=status]").first).to_be_visible()

    page.goto("/receivables/dunning/preview/")
    expect(page.get_by_test_id("preview-messages")).to_contain_text("INV-2026-0042")
    page.screenshot(path=str(SCREENSHOTS / "dunning-preview.png"), full_page=True)

    log_in(phone_page, members["admin"].email)
    phone_page.goto("/receivables/dunning/preview/")
    expect(phone_page.get_by_test_id("preview-messages")).to_contain_text("INV-2026-0042")
    phone_page.screenshot(path=str(SCREENSHOTS / "dunning-preview-phone.png"), full_page=True)
