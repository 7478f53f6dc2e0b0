"""Two-factor sign-in in Chromium: an owner enrolls an authenticator at the first sign-in (QR code
and typed key), keeps the recovery codes, and the next sign-in asks for the code."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from tests.browser.conftest import DASHBOARD, PASSWORD

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp")


def code_from_secret(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the typed key (`steps_ahead` 30-second steps later)."""
    raw = secret.replace(" ", "").upper()
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def password_step(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.locator("form.stacked button[type=submit]").click()


def test_an_owner_enrolls_at_first_sign_in_then_gives_the_code(page: Page, org: Any, members: dict) -> None:
    password_step(page, "owner@acme.test")
    page.wait_for_url(re.compile(r"/accounts/login/enroll/$"))
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert len(secret.replace(" ", "")) == 32
    page.screenshot(path=str(SHOTS / "mfa-enroll.png"), full_page=True)

    page.fill("#id_otp_token", "12345")  # a typo: the form again, not signed in
    page.locator("form.stacked button[type=submit]").click()
    expect(page.locator(".errorlist")).to_be_visible()
    time.sleep(1.1)  # django-otp waits a second after a wrong code
    page.fill("#id_otp_token", code_from_secret(secret))
    page.locator("form.stacked button[type=submit]").click()

    page.wait_for_url(re.compile(r"/account/security/recovery-codes/new/"))
    codes = page.get_by_test_id("recovery-codes").locator("li code")
    expect(codes).to_have_count(10)
    page.screenshot(path=str(SHOTS / "mfa-recovery-codes.png"), full_page=True)
    page.get_by_role("link", name="I have saved them, continue").click()
    page.wait_for_url(DASHBOARD)

    page.goto("/account/security/")
    expect(page.get_by_test_id("mfa-status")).to_contain_text("cannot be turned off")
    page.screenshot(path=str(SHOTS / "mfa-security.png"), full_page=True)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))

    # The next sign-in asks for the code (the app's next one: this step's was used to enroll).
    password_step(page, "owner@acme.test")
    page.wait_for_url(re.compile(r"/accounts/login/code/$"))
    page.screenshot(path=str(SHOTS / "mfa-code.png"), full_page=True)
    page.fill("#id_otp_token", code_from_secret(secret, steps_ahead=1))
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(DASHBOARD)


def test_a_sales_rep_signs_in_with_the_password_only(page: Page, org: Any, members: dict) -> None:
    password_step(page, "sales_rep@acme.test")
    page.wait_for_url(DASHBOARD)
