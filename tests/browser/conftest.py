"""Browser tests: Debian's Chromium driven by pytest-playwright against Django's `live_server`.

`live_server` runs the app in a thread of this process, while Playwright's sync API runs an event
loop in the test's thread; Django refuses ORM calls from a thread with a running loop unless told
that is fine, hence DJANGO_ALLOW_ASYNC_UNSAFE (set before anything touches the ORM).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; test_browser.py skips itself without it
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
TIMEOUT_MS = 5_000
PASSWORD = "pw-Secret-123"  # tests.conftest.PASSWORD, every factory user's
DASHBOARD = re.compile(r"^https?://[^/]+/$")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def browser_context_args(live_server: Any) -> dict[str, Any]:
    """Every page opens on live_server (relative `page.goto("/...")`), desktop-sized, in English."""
    return {**DESKTOP, "base_url": live_server.url, "locale": "en-US"}


@pytest.fixture(autouse=True)
def _browser_db(transactional_db: Any) -> None:
    """The app runs in live_server's thread: its rows must be committed, so every test is transactional.

    Autouse, so it comes before `org`/`members` (which only ask for `db`).
    """


@pytest.fixture
def page(context: Any) -> Any:
    """pytest-playwright's page, failing in seconds rather than its default 30 s."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


@pytest.fixture
def phone_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A page in a phone-sized (390x844), touch-enabled context."""
    context = browser.new_context(**PHONE, base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def totp_device(email: str) -> Any:
    """The user's confirmed authenticator (made on first use), ready for a new code: the last used
    time step is forgotten so the same user can sign in twice within 30 seconds."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from finance.models import User

    user = User.objects.get(email=email)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device.refresh_from_db()
    return device


def totp_code(device: Any) -> str:
    """The code an authenticator app shows now for `device`."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def log_in(page: Any, email: str, password: str = PASSWORD, *, then: Any = DASHBOARD) -> None:
    """Sign in through the two steps: email and password, then the authenticator's current code
    (the user gets a confirmed device first, as owners and finance roles must have)."""
    device = totp_device(email)
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(re.compile(r"/accounts/login/code/"))
    page.fill("#id_otp_token", totp_code(device))
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(then)
