"""The Content-Security-Policy in Chromium: the main pages load and work with the policy on (no
inline script, no eval, no inline style) and the browser reports no violation. The behaviours that
moved from inline handlers to static/js/kehu.js are exercised: the worklist's inline form (a 400
swapped in with its errors, then Cancel), the aging drill-down's Hide, the organization switcher,
and the confirmation before revoking an API key. Screenshots go to /tmp/csp-*.png.

Signed in with a session cookie from `Client.force_login` (the sign-in form has a second step).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from finance.headers import CONTENT_SECURITY_POLICY
from tests.conftest import make_key
from tests.factories import ContactFactory, CustomerFactory, MembershipFactory

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp")
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""
CSP_CONSOLE = re.compile(r"Content Security Policy|Refused to (execute|apply|load|evaluate|connect)", re.I)


class Violations:
    """Every CSP complaint of a page: its console messages and `securitypolicyviolation` events."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)
        page.add_init_script(WATCH_VIOLATIONS)

    def _on_console(self, message: Any) -> None:
        if CSP_CONSOLE.search(message.text):
            self.console.append(f"{self.page.url}: {message.text}")

    def assert_none(self) -> None:
        events = self.page.evaluate("window.__cspViolations || []")
        assert self.console == [] and events == [], (self.console, events)


def sign_in(page: Page, live_server: Any, user: Any) -> Violations:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    return Violations(page)


def visit(page: Page, path: str, shot: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, path
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    page.wait_for_load_state("networkidle")
    expect(page.locator("main h1").first).to_be_visible()
    # Our stylesheet and script were applied: the top bar is dark, kehu.js and htmx are loaded.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor") != (
        "rgba(0, 0, 0, 0)"
    )
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.config.allowEval") is False
    page.screenshot(path=str(SHOTS / f"csp-{shot}.png"), full_page=True)


def invoice(org: Any, customer: Any, number: str, total: str, due: int, currency: str = "CNY") -> Any:
    from finance import tenancy
    from finance.actors import Actor
    from receivables import services

    today = org.local_today()
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=today + datetime.timedelta(days=due - 30),
            due_date=today + datetime.timedelta(days=due),
            total=total,
        )


@pytest.fixture
def book(org: Any, members: dict) -> dict[str, Any]:
    """Customers with overdue invoices, collected by the AR clerk."""
    from finance import tenancy
    from finance.actors import Actor
    from receivables import dunning_policies
    from receivables.worklist import collector_assign
    from tests.conftest import actor_for

    customers = {
        "huadong": CustomerFactory(organization=org, name="上海华东机电有限公司", risk_class="C"),
        "pearl": CustomerFactory(organization=org, name="Pearl River Logistics", risk_class="A"),
    }
    for customer in customers.values():
        ContactFactory(
            organization=org, customer=customer, email=f"ap{customer.pk}@example.test", is_billing=True
        )
    invoice(org, customers["huadong"], "INV-8001", "12000.00", due=-20)
    invoice(org, customers["pearl"], "INV-8002", "800.00", due=-8)
    invoice(org, customers["huadong"], "INV-8003", "900.00", due=12)
    manager = actor_for(org, members["finance_manager"], "finance_manager")
    with tenancy.tenant(org):
        dunning_policies.policy_create_recommended(actor=Actor.system(org))
        collector_assign(actor=manager, customers=list(customers.values()), collector=members["ar_clerk"])
    return customers


def test_the_main_pages_raise_no_csp_violation(
    page: Page, live_server: Any, members: dict, book: dict
) -> None:
    violations = sign_in(page, live_server, members["owner"])
    for path, shot in [
        ("/", "dashboard"),
        ("/customers/", "customers"),
        (f"/customers/{book['huadong'].pk}/", "customer"),
        ("/receivables/", "receivables"),
        ("/receivables/aging/", "aging"),
        ("/receivables/collections/", "worklist"),
        ("/analytics/", "analytics"),
        ("/experience/", "experience"),
        ("/credit/", "credit"),
        ("/settings/api-keys/", "api-keys"),
    ]:
        visit(page, path, shot)
        violations.assert_none()


def test_the_worklist_form_swaps_its_errors_in_and_cancels(
    page: Page, live_server: Any, members: dict, book: dict
) -> None:
    violations = sign_in(page, live_server, members["ar_clerk"])
    visit(page, "/receivables/collections/", "worklist-clerk")
    row = page.locator(f"#wl-{book['huadong'].pk}")
    row.get_by_test_id("action-promise").click()
    form = row.get_by_test_id("promise-form")
    expect(form).to_be_visible()
    form.locator("input[name=amount]").fill("")
    form.get_by_role("button", name="Record promise").click()
    expect(form.locator(".errorlist")).to_be_visible()  # the 400 was swapped in (data-swap-status)
    page.screenshot(path=str(SHOTS / "csp-worklist-400.png"), full_page=True)
    form.get_by_role("button", name="Cancel").click()  # data-remove-closest="form"
    expect(row.get_by_test_id("promise-form")).to_have_count(0)
    violations.assert_none()


def test_the_aging_drill_down_opens_and_hides(
    page: Page, live_server: Any, members: dict, book: dict
) -> None:
    violations = sign_in(page, live_server, members["finance_manager"])
    visit(page, "/receivables/aging/", "aging-manager")
    customer = book["huadong"]
    page.locator(f"tr[data-customer='{customer.pk}'] a.drill-toggle").click()
    drill = page.locator(f"#drill-{customer.pk}")
    expect(drill.get_by_test_id("aging-invoices")).to_be_visible()
    page.screenshot(path=str(SHOTS / "csp-aging-drill.png"), full_page=True)
    drill.get_by_role("button", name="Hide").click()  # data-empty-closest="[data-drill]"
    expect(drill.get_by_test_id("aging-invoices")).to_have_count(0)
    violations.assert_none()


def test_the_organization_switcher_submits_on_change(
    page: Page, live_server: Any, org: Any, outsider_org: Any, members: dict
) -> None:
    user = members["finance_manager"]
    MembershipFactory(organization=outsider_org, user=user, role="finance_manager")
    violations = sign_in(page, live_server, user)
    visit(page, "/customers/", "switcher")
    page.locator("#org-select").select_option(str(outsider_org.pk))  # data-autosubmit
    expect(page.locator("#org-select option:checked")).to_have_text(outsider_org.name)
    violations.assert_none()


def test_revoking_an_api_key_asks_first(page: Page, live_server: Any, org: Any, members: dict) -> None:
    make_key(org, ["read"])
    violations = sign_in(page, live_server, members["owner"])
    visit(page, "/settings/api-keys/", "api-keys-owner")
    revoke = page.get_by_role("button", name="Revoke")
    page.once("dialog", lambda dialog: dialog.dismiss())
    revoke.click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(1)  # data-confirm: cancelled
    page.once("dialog", lambda dialog: dialog.accept())
    revoke.click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    violations.assert_none()


def test_the_api_docs_load_under_their_hashed_policy(page: Page, live_server: Any, members: dict) -> None:
    violations = sign_in(page, live_server, members["owner"])
    response = page.goto("/api/docs/")
    assert response is not None and response.status == 200
    assert "'sha256-" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Kehu API", timeout=15_000)
    page.screenshot(path=str(SHOTS / "csp-api-docs.png"))
    violations.assert_none()


def test_a_public_survey_page_raises_no_violation(page: Page, org: Any) -> None:
    from tests.experience.test_surveys import invite, make_customer, make_survey

    _invitation, token = invite(org, make_survey(org), make_customer(org))
    violations = Violations(page)
    response = page.goto(f"/s/{token}/")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.screenshot(path=str(SHOTS / "csp-survey.png"), full_page=True)
    violations.assert_none()


def test_an_owner_reveals_a_masked_tax_id_and_the_view_is_audited(
    page: Page, live_server: Any, org: Any, members: dict
) -> None:
    from finance import tenancy
    from finance.models import AuditEvent

    customer = CustomerFactory(
        organization=org, name="Masked Co", tax_id="91310000775785552L", bank_account="6222 0212 3456 7890"
    )
    violations = sign_in(page, live_server, members["owner"])
    visit(page, f"/customers/{customer.pk}/", "masked-tax-id")
    expect(page.get_by_test_id("masked-tax_id")).to_have_text("••••••••••••••552L")
    assert "91310000775785552L" not in page.content()
    page.get_by_test_id("show-tax_id").click()  # an htmx POST: nothing in the URL
    expect(page.get_by_test_id("revealed")).to_have_text("91310000775785552L")
    page.screenshot(path=str(SHOTS / "csp-revealed-tax-id.png"), full_page=True)
    with tenancy.tenant(org):
        event = AuditEvent.objects.get(action="sensitive.viewed")
    assert event.changes == {"fields": ["tax_id"]} and event.actor_user_id == members["owner"].pk
    violations.assert_none()
