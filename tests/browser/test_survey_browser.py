"""End-to-end surveys in Chromium: a survey invitation is emailed; its link, opened without logging
in on a phone, records a detractor's answer with a comment; then the owner rep logs in and finds
the call-back task in their follow-up list, and the answer on the survey pages. Screenshots of
the answer page (phone) and the results and feedback pages go to screenshots/.

Rows are made through the services inside `tenancy.tenant(org)` (row-level security on PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from experience import surveys
from experience.models import Survey
from finance import tenancy
from finance.actors import Actor
from tests.browser.conftest import log_in as browser_log_in
from tests.factories import ContactFactory, CustomerFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

PASSWORD = "pw-Secret-123"
DASHBOARD = re.compile(r"^https?://[^/]+/$")
LINK = re.compile(r"https?://[^\s]+(/s/[0-9]+\.[A-Za-z0-9_-]+/)")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def log_in(page: Page, email: str) -> None:
    """Sign in through the login form (email, password, then the authenticator's code)."""
    browser_log_in(page, email)


@pytest.fixture
def invitation_path(org: Any, members: dict) -> str:
    """An NPS survey sent to the billing contact of a customer the sales rep owns: the link's path."""
    with tenancy.tenant(org):
        survey = surveys.survey_create(
            actor=Actor.system(org), name="Relationship NPS", kind=Survey.Kind.NPS, trigger="manual"
        )
        customer = CustomerFactory(organization=org, name="上海华东机电有限公司", owner=members["sales_rep"])
        ContactFactory(organization=org, customer=customer, is_billing=True, email="buyer@huadong.test")
        surveys.survey_send_to_segment(actor=Actor.system(org), survey=survey)
    assert len(mail.outbox) == 1, "the invitation is emailed after the commit"
    match = LINK.search(mail.outbox[0].body)
    assert match
    return match.group(1)


def test_a_detractor_answers_without_login_and_the_owner_rep_gets_the_task(
    phone_page: Page, page: Page, members: dict, invitation_path: str
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # The contact opens the link on a phone, never logged in.
    phone_page.goto(invitation_path)
    expect(phone_page.get_by_test_id("survey-answer")).to_be_visible()
    expect(phone_page.locator("header.topbar")).to_have_count(0)
    expect(phone_page.get_by_text("Acme Trading", exact=True)).to_be_visible()
    phone_page.screenshot(path=str(SCREENSHOTS / "survey-answer-phone.png"), full_page=True)
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the answer page scrolls sideways at phone width ({width}px)"
    phone_page.locator("label.score-option", has_text=re.compile(r"^3$")).click()
    phone_page.fill("textarea[name=comment]", "Deliveries were late twice.")
    phone_page.get_by_test_id("survey-submit").click()
    expect(phone_page.get_by_test_id("survey-thanks")).to_be_visible()
    # The same link again says it was used.
    phone_page.goto(invitation_path)
    expect(phone_page.get_by_test_id("survey-unavailable")).to_have_attribute("data-reason", "answered")

    # The owner rep logs in and finds the call-back task among their follow-ups.
    log_in(page, members["sales_rep"].email)
    page.goto("/follow-ups/")
    expect(page.get_by_text("Detractor: 上海华东机电有限公司 scored 3 — call back")).to_be_visible()
    page.goto("/experience/surveys/")
    expect(page.get_by_test_id("stat-nps")).to_contain_text("-100")
    page.screenshot(path=str(SCREENSHOTS / "survey-results.png"), full_page=True)
    page.goto("/experience/surveys/feedback/")
    expect(page.get_by_test_id("feedback-card")).to_contain_text("Deliveries were late twice.")
    page.screenshot(path=str(SCREENSHOTS / "survey-feedback-board.png"), full_page=True)
