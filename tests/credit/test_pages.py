"""Credit pages through Django's test client: the customer panel, the dashboard, the approval inbox
(maker-checker), the limit-request form, financial statements, holds, reviews and the settings.
Who may open and do what, that each action does it, that bad input answers with field errors and
writes nothing, that ids of another organization (or of another rep's customer) are 404, and that
each list page makes as many queries for 12 rows as for 2."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credit import holds, limits, selectors, services
from credit.models import (
    CreditHold,
    CreditPolicy,
    CreditProfile,
    CreditReview,
    FinancialStatement,
    LimitRequest,
)
from credit.scoring import score_customers
from finance import tenancy
from finance.actors import Actor
from finance.models import Role
from receivables.models import PaymentTerms
from tests.conftest import actor_for, login
from tests.credit.conftest import customer as make_customer
from tests.credit.conftest import invoice
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)

STATEMENT = {
    "fiscal_year": "2025",
    "period_end": "2025-12-31",
    "currency": "CNY",
    "cash": "100000",
    "current_assets": "500000",
    "inventory": "100000",
    "total_assets": "1000000",
    "current_liabilities": "200000",
    "total_liabilities": "400000",
    "equity": "600000",
    "retained_earnings": "200000",
    "revenue": "3000000",
    "ebit": "100000",
    "interest_expense": "20000",
    "net_income": "70000",
    "source": "Audited accounts",
}


def day(org, offset: int) -> datetime.date:
    return org.local_today() + datetime.timedelta(days=offset)


def paying_customer(org, name: str, owner=None, *, months: int = 6, late_days: int = 3):
    """A customer who paid `months` monthly invoices of 10,000 a few days late, with one open."""
    customer = make_customer(org, name=name, owner=owner)
    for month in range(1, months + 1):
        due = day(org, -30 * month)
        invoice(
            org,
            customer,
            f"{name}-{month}",
            due,
            total="10000.00",
            paid_on=due + datetime.timedelta(late_days),
        )
    invoice(org, customer, f"{name}-OPEN", day(org, 10), total="5000.00")
    return customer


def score(org, *customers) -> None:
    with tenancy.tenant(org):
        score_customers(actor=Actor.system(org), customers=list(customers), today=org.local_today())


@pytest.fixture
def manager(org, members):
    return actor_for(org, members["finance_manager"], "finance_manager")


@pytest.fixture
def second_manager(org):
    """Another finance manager: the checker of the first one's requests."""
    return MembershipFactory(organization=org, role="finance_manager", user__email="fm2@acme.test").user


@pytest.fixture
def scored(org, members):
    """The sales rep's customer, scored, with a limit of 20,000 set through an approved request."""
    customer = paying_customer(org, "华东机电", owner=members["sales_rep"])
    score(org, customer)
    with tenancy.tenant(org):
        owner = actor_for(org, members["owner"], "owner")
        request = limits.limit_request_create(
            actor=actor_for(org, members["ar_clerk"], "ar_clerk"),
            customer=customer,
            requested_limit=Decimal("20000"),
            reason="Opening limit",
        )
        limits.limit_request_approve(actor=owner, request=request)
    return customer


@pytest.fixture
def others_customer(org, members):
    """A customer the sales rep does not own."""
    return make_customer(org, name="Someone else's", owner=members["admin"])


def page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def pending_request(org, customer, user, role="finance_manager", amount="30000"):
    with tenancy.tenant(org):
        return limits.limit_request_create(
            actor=actor_for(org, user, role),
            customer=customer,
            requested_limit=Decimal(amount),
            reason="Bigger orders for the new season",
        )


# --- Who may open what ------------------------------------------------------------------------------


def urls_for(customer, review=None, hold=None):
    urls = {
        "dashboard": "/credit/",
        "approvals": "/credit/approvals/",
        "limit-request": f"/credit/customers/{customer.pk}/limit-request/",
        "statements": f"/credit/customers/{customer.pk}/statements/",
        "hold-place": f"/credit/customers/{customer.pk}/hold/",
        "settings": "/credit/settings/",
    }
    if review is not None:
        urls["review"] = f"/credit/reviews/{review.pk}/"
    if hold is not None:
        urls["hold-release"] = f"/credit/holds/{hold.pk}/release/"
    return urls


# The roles allowed to open each page (the rest get 403).
OPEN_TO = {
    "dashboard": set(ALL_ROLES),
    "approvals": set(ALL_ROLES),
    "statements": set(ALL_ROLES),
    "review": set(ALL_ROLES),
    "limit-request": {"owner", "admin", "finance_manager", "ar_clerk"},
    "hold-place": {"owner", "admin", "finance_manager"},
    "hold-release": {"owner", "admin", "finance_manager"},
    "settings": {"owner", "admin"},
}


@pytest.fixture
def review(org, scored):
    with tenancy.tenant(org):
        return CreditReview.objects.create(customer=scored, due_on=day(org, 3), risk_class="B")


@pytest.fixture
def manual_hold(org, scored, manager):
    with tenancy.tenant(org):
        return holds.hold_place(actor=manager, customer=scored, detail="Bank guarantee expired")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_page_opens_for_the_roles_allowed(client, org, members, scored, review, manual_hold, role):
    login(client, members[role])
    for name, url in urls_for(scored, review, manual_hold).items():
        expected = 200 if role in OPEN_TO[name] else 403
        assert client.get(url).status_code == expected, (role, name)


def test_anonymous_visitors_are_sent_to_log_in(client, scored):
    for url in urls_for(scored).values():
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_sidenav_links_the_credit_dashboard(client, members, scored):
    login(client, members["sales_rep"])
    page = page_of(client, "/credit/")
    assert 'href="/credit/"' in page and "/modules/credit/" not in page
    assert 'class="active">Credit</a>' in page


def test_another_organizations_ids_are_404(client, org, members, outsider_org, outsider):
    stranger = make_customer(outsider_org, name="Outsider Co")
    with tenancy.tenant(outsider_org):
        boss = actor_for(outsider_org, outsider, "owner")
        hold = holds.hold_place(actor=boss, customer=stranger, detail="Theirs")
        request = limits.limit_request_create(
            actor=boss, customer=stranger, requested_limit=Decimal("5000"), reason="Theirs"
        )
        statement = services.statement_create(actor=boss, customer=stranger, **_figures())
        review = CreditReview.objects.create(customer=stranger, due_on=day(outsider_org, 1))
    login(client, members["owner"])
    for url in (
        f"/credit/customers/{stranger.pk}/limit-request/",
        f"/credit/customers/{stranger.pk}/statements/",
        f"/credit/customers/{stranger.pk}/statements/{statement.pk}/",
        f"/credit/customers/{stranger.pk}/hold/",
        f"/credit/holds/{hold.pk}/release/",
        f"/credit/reviews/{review.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/credit/approvals/{request.pk}/approve/").status_code == 404
    assert client.post(f"/credit/approvals/{request.pk}/reject/", {"note": "no"}).status_code == 404
    assert client.post(f"/credit/holds/{hold.pk}/release/", {"note": "x"}).status_code == 404
    assert (
        client.post(f"/credit/customers/{stranger.pk}/statements/{statement.pk}/delete/").status_code == 404
    )
    with tenancy.tenant(outsider_org):
        assert LimitRequest.objects.get().status == LimitRequest.Status.PENDING
        assert CreditHold.objects.get().released_at is None
        assert FinancialStatement.objects.exists()
    assert "Outsider Co" not in page_of(client, "/credit/approvals/")
    assert "Outsider Co" not in page_of(client, "/credit/")


def _figures(**changes):
    figures = {
        "fiscal_year": 2025,
        "period_end": datetime.date(2025, 12, 31),
        "currency": "CNY",
        **{
            k: Decimal(v)
            for k, v in STATEMENT.items()
            if k not in ("fiscal_year", "period_end", "currency", "source")
        },
    }
    figures.update(changes)
    return figures


def test_a_rep_sees_their_own_customers_only(client, org, members, scored, others_customer):
    with tenancy.tenant(org):
        review = CreditReview.objects.create(customer=others_customer, due_on=day(org, 1))
        hold = holds.hold_place(
            actor=actor_for(org, members["owner"], "owner"), customer=others_customer, detail="Cheque bounced"
        )
    login(client, members["sales_rep"])
    assert client.get(f"/credit/customers/{others_customer.pk}/statements/").status_code == 404
    assert client.get(f"/credit/reviews/{review.pk}/").status_code == 404
    assert client.get(f"/credit/customers/{scored.pk}/statements/").status_code == 200
    dashboard = page_of(client, "/credit/")
    assert "华东机电" in dashboard and "Someone else" not in dashboard and "Cheque bounced" not in dashboard
    # a clerk sees every customer but may not release holds: refused before anything is looked up
    login(client, members["ar_clerk"])
    assert client.get(f"/credit/holds/{hold.pk}/release/").status_code == 403


# --- The customer panel -----------------------------------------------------------------------------


def test_the_panel_shows_limit_exposure_score_and_its_explanation(client, org, members, scored):
    login(client, members["finance_manager"])
    page = page_of(client, f"/customers/{scored.pk}/")
    assert 'data-testid="credit-panel"' in page
    with tenancy.tenant(org):
        profile = CreditProfile.objects.get(customer=scored)
    assert profile.score is not None and profile.risk_class
    panel = page[page.index('data-testid="credit-panel"') :]
    assert "20,000.00 CNY" in panel  # the limit
    assert "5,000.00 CNY" in panel  # exposure: the open invoice
    assert "15,000.00 CNY" in panel  # available
    assert "25.0 % of the limit in use" in panel and 'data-level="ok"' in panel
    assert f"<b>{profile.score}</b> / 100" in panel and f"Class {profile.risk_class}" in panel
    assert 'data-factor="avg_days_late"' in panel and "Average days late (amount-weighted)" in panel
    assert "3.0 days" in panel  # paid three days late every time
    assert "No data, not counted:" in panel and "Altman Z″" in panel
    assert "Risk class" in panel and "×" in panel  # the suggested limit's reasons
    history = panel[panel.index('data-testid="credit-history"') :]
    assert "request-approved" in history and f"<b>{profile.score}</b> ({profile.risk_class})" in history
    for testid in ("panel-request-limit", "panel-place-hold", "panel-statements"):
        assert f'data-testid="{testid}"' in panel


def test_a_rep_sees_status_and_available_credit_but_no_buttons(client, org, members, scored, manual_hold):
    login(client, members["sales_rep"])
    page = page_of(client, f"/customers/{scored.pk}/")
    panel = page[page.index('data-testid="credit-panel"') :]
    assert "15,000.00 CNY" in panel and "Placed by hand" in panel and "status-hold" in panel
    for testid in ("panel-request-limit", "panel-place-hold", "panel-statements", "panel-release"):
        assert f'data-testid="{testid}"' not in panel
    assert "/credit/customers/" in panel  # the statements may be read


def test_a_customer_never_scored_gets_an_empty_panel(client, org, members):
    customer = make_customer(org, name="Brand new")
    login(client, members["ar_clerk"])
    page = page_of(client, f"/customers/{customer.pk}/")
    assert "Not assessed yet" in page and "No limit set" in page
    with tenancy.tenant(org):
        assert not CreditProfile.objects.exists()  # reading the page writes nothing


def test_a_temporary_limit_shows_with_its_end_date(client, org, members, scored, manager):
    with tenancy.tenant(org):
        request = limits.limit_request_create(
            actor=manager,
            customer=scored,
            requested_limit=Decimal("50000"),
            reason="Season peak",
            temporary=True,
            expires_on=day(org, 30),
        )
        limits.limit_request_approve(actor=actor_for(org, members["owner"], "owner"), request=request)
    login(client, members["finance_manager"])
    panel = page_of(client, f"/customers/{scored.pk}/")
    assert f"Temporarily 50,000.00 until {day(org, 30).isoformat()}" in panel
    assert "45,000.00 CNY" in panel  # available against the temporary limit


# --- Maker-checker through the inbox ----------------------------------------------------------------


def test_the_requester_cannot_approve_and_another_manager_can(client, org, members, scored, second_manager):
    login(client, members["finance_manager"])
    response = client.post(
        f"/credit/customers/{scored.pk}/limit-request/",
        {"requested_limit": "30000", "reason": "Bigger orders for the new season"},
    )
    assert response.status_code == 302 and response["Location"] == f"/customers/{scored.pk}/"
    with tenancy.tenant(org):
        request = LimitRequest.objects.get(status=LimitRequest.Status.PENDING)
    inbox = page_of(client, "/credit/approvals/")
    assert "You requested this change: someone else must approve it." in inbox
    assert f'action="/credit/approvals/{request.pk}/approve/"' not in inbox
    assert 'data-testid="withdraw"' in inbox

    refused = client.post(f"/credit/approvals/{request.pk}/approve/")
    assert refused.status_code == 403
    assert "someone else must approve it" in refused.content.decode()
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=request.pk).status == LimitRequest.Status.PENDING
        assert CreditProfile.objects.get(customer=scored).credit_limit == Decimal("20000")

    login(client, second_manager)
    inbox = page_of(client, "/credit/approvals/")
    assert f'action="/credit/approvals/{request.pk}/approve/"' in inbox
    assert "Bigger orders for the new season" in inbox and "30,000.00" in inbox
    response = client.post(f"/credit/approvals/{request.pk}/approve/")
    assert response.status_code == 302 and response["Location"] == "/credit/approvals/"
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=request.pk).status == LimitRequest.Status.APPROVED
        assert CreditProfile.objects.get(customer=scored).credit_limit == Decimal("30000")
    decided = page_of(client, "/credit/approvals/")
    assert "Nothing awaits a decision." in decided and "Approved" in decided
    assert "30,000.00 CNY" in page_of(client, f"/customers/{scored.pk}/")


def test_rejecting_needs_a_note(client, org, members, scored, second_manager):
    request = pending_request(org, scored, members["finance_manager"])
    login(client, second_manager)
    response = client.post(f"/credit/approvals/{request.pk}/reject/", {"note": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=request.pk).status == LimitRequest.Status.PENDING
    response = client.post(f"/credit/approvals/{request.pk}/reject/", {"note": "Pays too late"})
    assert response.status_code == 302
    with tenancy.tenant(org):
        rejected = LimitRequest.objects.get(pk=request.pk)
        assert rejected.status == LimitRequest.Status.REJECTED and rejected.decision_note == "Pays too late"
        assert CreditProfile.objects.get(customer=scored).credit_limit == Decimal("20000")


def test_a_manager_sees_why_a_large_limit_needs_the_owner(client, org, members, scored, second_manager):
    request = pending_request(org, scored, members["ar_clerk"], role="ar_clerk", amount="250000")
    login(client, second_manager)
    inbox = page_of(client, "/credit/approvals/")
    assert "need an admin or the owner" in inbox
    assert f'action="/credit/approvals/{request.pk}/approve/"' not in inbox
    assert client.post(f"/credit/approvals/{request.pk}/approve/").status_code == 403
    login(client, members["owner"])
    assert client.post(f"/credit/approvals/{request.pk}/approve/").status_code == 302
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=scored).credit_limit == Decimal("250000")


def test_a_decided_request_cannot_be_decided_again(client, org, members, scored, second_manager):
    request = pending_request(org, scored, members["finance_manager"])
    login(client, second_manager)
    assert client.post(f"/credit/approvals/{request.pk}/approve/").status_code == 302
    again = client.post(f"/credit/approvals/{request.pk}/reject/", {"note": "changed my mind"})
    assert again.status_code == 400 and "already approved" in again.content.decode()


def test_the_requester_withdraws_their_request(client, org, members, scored):
    request = pending_request(org, scored, members["ar_clerk"], role="ar_clerk")
    login(client, members["ar_clerk"])
    inbox = page_of(client, "/credit/approvals/")
    assert "A finance manager, an admin or the owner decides." not in inbox  # it is the clerk's own
    assert client.post(f"/credit/approvals/{request.pk}/cancel/").status_code == 302
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=request.pk).status == LimitRequest.Status.CANCELLED


@pytest.mark.parametrize("role", ["sales_rep", "auditor"])
def test_forbidden_posts_are_403_and_change_nothing(client, org, members, scored, manual_hold, review, role):
    request = pending_request(org, scored, members["finance_manager"])
    login(client, members[role])
    posts = {
        f"/credit/approvals/{request.pk}/approve/": {},
        f"/credit/approvals/{request.pk}/reject/": {"note": "no"},
        f"/credit/approvals/{request.pk}/cancel/": {},
        f"/credit/customers/{scored.pk}/limit-request/": {"requested_limit": "1", "reason": "x"},
        f"/credit/customers/{scored.pk}/statements/": STATEMENT,
        f"/credit/customers/{scored.pk}/hold/": {"detail": "x"},
        f"/credit/holds/{manual_hold.pk}/release/": {"note": "x"},
        f"/credit/reviews/{review.pk}/": {"decision": "block", "notes": "x"},
        "/credit/settings/": {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, (role, url)
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=request.pk).status == LimitRequest.Status.PENDING
        assert not FinancialStatement.objects.exists()
        assert CreditHold.objects.get().released_at is None
        assert CreditReview.objects.get().completed_on is None
        assert not CreditProfile.objects.get(customer=scored).blocked


def test_a_clerk_may_request_but_not_decide(client, org, members, scored):
    request = pending_request(org, scored, members["finance_manager"])
    login(client, members["ar_clerk"])
    inbox = page_of(client, "/credit/approvals/")
    assert "A finance manager, an admin or the owner decides." in inbox
    assert 'data-testid="approve"' not in inbox
    assert client.post(f"/credit/approvals/{request.pk}/approve/").status_code == 403


# --- The limit request form -------------------------------------------------------------------------


def test_the_request_form_shows_the_figures_and_suggests_the_limit(client, org, members, scored):
    with tenancy.tenant(org):
        profile = CreditProfile.objects.get(customer=scored)
        PaymentTerms.objects.create(name="Net 45", days=45)
    login(client, members["ar_clerk"])
    page = page_of(client, f"/credit/customers/{scored.pk}/limit-request/")
    assert "20,000.00 CNY" in page and "5,000.00 CNY" in page
    assert f"<b>{profile.score}</b> / 100" in page
    assert profile.suggested_limit is not None
    assert f'value="{profile.suggested_limit}"' in page  # the suggestion fills the field
    assert "Purchases of" in page  # its reasons in words
    assert "Net 45" in page


def test_a_temporary_limit_with_new_terms_is_requested(client, org, members, scored):
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 45", days=45)
    login(client, members["ar_clerk"])
    response = client.post(
        f"/credit/customers/{scored.pk}/limit-request/",
        {
            "requested_limit": "40000",
            "temporary": "on",
            "expires_on": day(org, 60).isoformat(),
            "payment_terms": terms.pk,
            "reason": "Trade fair orders",
        },
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        request = LimitRequest.objects.get(status=LimitRequest.Status.PENDING)
        assert request.temporary and request.expires_on == day(org, 60) and request.payment_terms == terms


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"requested_limit": "abc", "reason": "x"}, "requested_limit", "Enter a number."),
        ({"requested_limit": "-5", "reason": "x"}, "requested_limit", "greater than or equal to 0"),
        ({"requested_limit": "30000", "reason": ""}, "reason", "This field is required."),
        ({"requested_limit": "30000", "reason": "x", "temporary": "on"}, "expires_on", "needs an end date"),
        (
            {"requested_limit": "30000", "reason": "x", "expires_on": "2099-01-01"},
            "expires_on",
            "Only a temporary limit has an end date.",
        ),
        (
            {"requested_limit": "10000", "reason": "x", "temporary": "on", "expires_on": "2099-01-01"},
            "expires_on",
            "within a year",
        ),
        ({"requested_limit": "20000", "reason": "x"}, "requested_limit", "already the customer"),
    ],
)
def test_bad_requests_show_field_errors_and_write_nothing(client, org, members, scored, data, field, message):
    login(client, members["ar_clerk"])
    with tenancy.tenant(org):
        before = LimitRequest.objects.count()
    response = client.post(f"/credit/customers/{scored.pk}/limit-request/", data)
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    with tenancy.tenant(org):
        assert LimitRequest.objects.count() == before


def test_a_second_pending_request_is_refused(client, org, members, scored):
    pending_request(org, scored, members["finance_manager"])
    login(client, members["ar_clerk"])
    page = page_of(client, f"/credit/customers/{scored.pk}/limit-request/")
    assert 'data-testid="already-pending"' in page
    response = client.post(
        f"/credit/customers/{scored.pk}/limit-request/", {"requested_limit": "40000", "reason": "More"}
    )
    assert response.status_code == 400 and "already pending" in response.content.decode()
    with tenancy.tenant(org):
        assert LimitRequest.objects.filter(status=LimitRequest.Status.PENDING).count() == 1


def test_a_managers_decrease_takes_effect_at_once(client, org, members, scored):
    login(client, members["finance_manager"])
    response = client.post(
        f"/credit/customers/{scored.pk}/limit-request/", {"requested_limit": "8000", "reason": "Slower payer"}
    )
    assert response.status_code == 302
    page = page_of(client, f"/customers/{scored.pk}/")
    assert "The limit is lowered to 8,000.00 CNY" in page
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=scored).credit_limit == Decimal("8000")


# --- Financial statements ---------------------------------------------------------------------------


def test_a_statement_is_added_and_its_ratios_computed(client, org, members, scored):
    login(client, members["ar_clerk"])
    url = f"/credit/customers/{scored.pk}/statements/"
    response = client.post(url, STATEMENT)
    assert response.status_code == 302 and response["Location"] == url
    with tenancy.tenant(org):
        statement = FinancialStatement.objects.get()
    assert statement.fiscal_year == 2025 and statement.created_by == members["ar_clerk"]
    page = page_of(client, url)
    row = page[page.index('data-year="2025"') :]
    row = row[: row.index("</tr>")]
    # current 500k/200k = 2.50; quick 400k/200k = 2.00; D/E 400k/600k = 0.67; cover 100k/20k = 5.0
    for figure in ("2.50", "2.00", "0.67", "5.0", "4.87"):
        assert figure in row, figure
    assert "zone-safe" in row and "Safe" in row


def test_a_distressed_year_shows_its_zone_in_red(client, org, members, scored):
    login(client, members["finance_manager"])
    url = f"/credit/customers/{scored.pk}/statements/"
    data = {
        **STATEMENT,
        "fiscal_year": "2024",
        "period_end": "2024-12-31",
        "current_assets": "150000",
        "inventory": "50000",
        "current_liabilities": "300000",
        "total_liabilities": "900000",
        "equity": "100000",
        "retained_earnings": "-50000",
        "ebit": "-20000",
        "interest_expense": "0",
    }
    assert client.post(url, data).status_code == 302
    page = page_of(client, url)
    row = page[page.index('data-year="2024"') :]
    row = row[: row.index("</tr>")]
    assert "zone-distress" in row and "Distress" in row
    assert "n/m" in row  # no interest expense: coverage is not meaningful


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"total_assets": "0"}, "total_assets", "above zero"),
        ({"current_assets": "2000000"}, "current_assets", "cannot exceed total assets"),
        ({"inventory": "600000"}, "inventory", "cannot exceed them"),
        ({"revenue": "-1"}, "revenue", "cannot be negative"),
        ({"current_liabilities": "500000"}, "current_liabilities", "cannot exceed total liabilities"),
        ({"fiscal_year": "1800"}, "fiscal_year", "greater than or equal to 1900"),
        ({"currency": "XYZ"}, "currency", "Select a valid choice"),
        ({"equity": ""}, "equity", "This field is required."),
        ({"ebit": "lots"}, "ebit", "Enter a number."),
    ],
)
def test_bad_statements_show_field_errors_and_write_nothing(
    client, org, members, scored, changes, field, message
):
    login(client, members["ar_clerk"])
    response = client.post(f"/credit/customers/{scored.pk}/statements/", {**STATEMENT, **changes})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    with tenancy.tenant(org):
        assert not FinancialStatement.objects.exists()


def test_a_second_statement_for_the_same_year_is_refused(client, org, members, scored):
    login(client, members["ar_clerk"])
    url = f"/credit/customers/{scored.pk}/statements/"
    assert client.post(url, STATEMENT).status_code == 302
    response = client.post(url, {**STATEMENT, "revenue": "1"})
    assert response.status_code == 400
    assert "already has a statement for this year" in str(response.context["form"].errors["fiscal_year"])
    with tenancy.tenant(org):
        assert FinancialStatement.objects.get().revenue == Decimal("3000000")


def test_a_statement_is_corrected_and_deleted(client, org, members, scored):
    login(client, members["ar_clerk"])
    url = f"/credit/customers/{scored.pk}/statements/"
    client.post(url, STATEMENT)
    with tenancy.tenant(org):
        statement = FinancialStatement.objects.get()
    edit = f"{url}{statement.pk}/"
    page = page_of(client, edit)
    assert "Correct 2025" in page and 'value="3000000.00"' in page
    bad = client.post(edit, {**STATEMENT, "total_assets": "-1"})
    assert bad.status_code == 400
    assert client.post(edit, {**STATEMENT, "ebit": "150000"}).status_code == 302
    with tenancy.tenant(org):
        assert FinancialStatement.objects.get().ebit == Decimal("150000")
    assert client.post(f"{edit}delete/").status_code == 302
    with tenancy.tenant(org):
        assert not FinancialStatement.objects.exists()


def test_a_rep_reads_statements_without_the_form(client, org, members, scored):
    with tenancy.tenant(org):
        services.statement_create(actor=Actor.system(org), customer=scored, **_figures())
    login(client, members["sales_rep"])
    page = page_of(client, f"/credit/customers/{scored.pk}/statements/")
    assert 'data-year="2025"' in page and 'data-testid="statement-form"' not in page
    with tenancy.tenant(org):
        statement = FinancialStatement.objects.get()
    assert client.get(f"/credit/customers/{scored.pk}/statements/{statement.pk}/").status_code == 403


# --- Holds ------------------------------------------------------------------------------------------


def test_a_manager_puts_a_customer_on_hold_and_releases_it(client, org, members, scored):
    login(client, members["finance_manager"])
    url = f"/credit/customers/{scored.pk}/hold/"
    assert client.post(url, {"detail": "  "}).status_code == 400
    with tenancy.tenant(org):
        assert not CreditHold.objects.exists()
    response = client.post(url, {"detail": "Bank guarantee expired", "next": f"/customers/{scored.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{scored.pk}/"
    with tenancy.tenant(org):
        hold = CreditHold.objects.get()
        assert hold.reason == CreditHold.Reason.MANUAL and hold.placed_by == members["finance_manager"]
        assert CreditProfile.objects.get(customer=scored).status == "hold"
    panel = page_of(client, f"/customers/{scored.pk}/")
    assert "Bank guarantee expired" in panel and f"/credit/holds/{hold.pk}/release/" in panel
    dashboard = page_of(client, "/credit/")
    assert "Bank guarantee expired" in dashboard and 'data-testid="release-form"' in dashboard

    release = f"/credit/holds/{hold.pk}/release/"
    assert client.post(release, {"note": ""}).status_code == 400
    response = client.post(release, {"note": "New guarantee received", "next": "/credit/"})
    assert response.status_code == 302 and response["Location"] == "/credit/"
    with tenancy.tenant(org):
        hold.refresh_from_db()
        assert hold.released_at is not None and hold.release_note == "New guarantee received"
        assert CreditProfile.objects.get(customer=scored).status != "hold"
    again = client.post(release, {"note": "twice"})
    assert again.status_code == 400 and "already released" in again.content.decode()


def test_the_release_form_refuses_an_unsafe_next(client, org, members, manual_hold):
    login(client, members["finance_manager"])
    response = client.post(
        f"/credit/holds/{manual_hold.pk}/release/", {"note": "ok", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/customers/{manual_hold.customer_id}/"


# --- Reviews ----------------------------------------------------------------------------------------


def test_a_review_is_completed_with_a_new_limit_request(client, org, members, scored, review):
    login(client, members["finance_manager"])
    url = f"/credit/reviews/{review.pk}/"
    page = page_of(client, url)
    assert 'data-testid="review-form"' in page and "20,000.00 CNY" in page
    missing = client.post(url, {"decision": "change_limit", "notes": "Growing fast"})
    assert missing.status_code == 400
    assert "Give the new limit to request." in str(missing.context["form"].errors["requested_limit"])
    with tenancy.tenant(org):
        assert CreditReview.objects.get().completed_on is None
    response = client.post(
        url, {"decision": "change_limit", "notes": "Growing fast", "requested_limit": "35000"}
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        done = CreditReview.objects.get()
        assert done.completed_on == org.local_today() and done.decision == "change_limit"
        assert LimitRequest.objects.get(status="pending").requested_limit == Decimal("35000")
        assert CreditProfile.objects.get(customer=scored).next_review_on > org.local_today()
    assert 'data-testid="review-form"' not in page_of(client, url)


def test_a_review_that_blocks_the_customer(client, org, members, scored, review):
    login(client, members["owner"])
    response = client.post(
        f"/credit/reviews/{review.pk}/", {"decision": "block", "notes": "Insolvency filing"}
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        profile = CreditProfile.objects.get(customer=scored)
        assert profile.blocked and profile.status == "blocked"


def test_a_rep_reads_a_review_without_the_form(client, members, review):
    login(client, members["sales_rep"])
    page = page_of(client, f"/credit/reviews/{review.pk}/")
    assert 'data-testid="review-form"' not in page
    assert "completes the review" in page


# --- Settings ---------------------------------------------------------------------------------------


def settings_data(client) -> dict:
    """The settings form as the page fills it."""
    form = client.get("/credit/settings/").context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else str(value)
    return data


def test_the_settings_save_the_policy(client, org, members):
    login(client, members["admin"])
    data = settings_data(client)
    assert (
        data["max_days_past_due"] == "60" and data["floor_A"] == "80" and data["weight_avg_days_late"] == "20"
    )
    data.update(
        max_days_past_due="45", floor_A="85", review_E="2", weight_tenure="7.5", manager_approval_max=""
    )
    response = client.post("/credit/settings/", data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    with tenancy.tenant(org):
        policy = CreditPolicy.objects.get()
    assert policy.max_days_past_due == 45 and policy.manager_approval_max is None
    assert policy.class_floors["A"] == 85 and policy.review_months["E"] == 2
    assert policy.scorecard["factors"]["tenure"]["weight"] == 7.5
    assert policy.scorecard["factors"]["avg_days_late"]["bands"][0] == [0, 100]


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        ({"floor_B": "90"}, "class_floors", "higher floor than the next"),
        ({"review_utilisation": "150"}, "review_utilisation", "from 0 to 100"),
        ({"weight_tenure": "-1"}, "weight_tenure", "greater than or equal to 0"),
        ({"bands": "{not json"}, "bands", "not valid JSON"),
        (
            {"bands": '{"factors": {"late_share": {"bands": [[50, 100], [10, 50]]}}}'},
            "bands",
            "factors.late_share.bands.1: Thresholds must rise",
        ),
        ({"bands": '{"factors": {"made_up": {}}}'}, "bands", "Unknown factor"),
        ({"max_days_past_due": "soon"}, "max_days_past_due", "Enter a whole number."),
    ],
)
def test_bad_settings_show_errors_by_field_and_write_nothing(client, org, members, changes, where, message):
    login(client, members["owner"])
    data = settings_data(client)
    response = client.post("/credit/settings/", {**data, **changes})
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.group_errors.get(where) or form.errors.get(where) or []
    assert any(message in error for error in errors), (form.errors, form.group_errors)
    assert message.split(":")[-1].strip()[:20] in response.content.decode()
    with tenancy.tenant(org):
        assert not CreditPolicy.objects.exists()  # reading the defaults never saves them; nor did this
        policy = selectors.credit_policy()
    assert policy.max_days_past_due == 60 and policy.class_floors["B"] == 65


def test_the_weights_must_not_all_be_zero(client, members):
    login(client, members["owner"])
    data = settings_data(client)
    data.update({name: "0" for name in data if name.startswith("weight_")})
    response = client.post("/credit/settings/", data)
    assert response.status_code == 400
    assert "At least one factor needs a weight above zero." in response.content.decode()


# --- The dashboard ----------------------------------------------------------------------------------


def test_the_dashboard_shows_holds_reviews_requests_and_classes(
    client, org, members, scored, manual_hold, review
):
    unscored = make_customer(org, name="Not scored yet")
    with tenancy.tenant(org):
        score_customers(actor=Actor.system(org), customers=[unscored], today=org.local_today())
    pending_request(org, scored, members["ar_clerk"], role="ar_clerk")
    login(client, members["finance_manager"])
    page = page_of(client, "/credit/")
    assert "Bank guarantee expired" in page
    assert f'href="/credit/reviews/{review.pk}/"' in page
    stat = page[page.index('data-testid="pending-requests"') :]
    assert '<div class="value warn-text">1</div>' in stat[:400]
    assert '<svg class="chart"' in page and "Not scored" in page
    top = page[page.index('data-testid="top-utilisation"') :]
    assert "华东机电" in top and "25.0 %" in top


# --- Query counts -----------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_list_pages_make_a_constant_number_of_queries(client, org, members):
    """2 rows against 12: holds, reviews, pending and decided requests, limits, statements."""
    owner = actor_for(org, members["owner"], "owner")
    clerk = actor_for(org, members["ar_clerk"], "ar_clerk")
    subject = make_customer(org, name="Subject", owner=members["sales_rep"])
    counts = []
    made = 0
    for n in (2, 12):
        with tenancy.tenant(org):
            for k in range(made, n):
                customer = make_customer(org, name=f"C{k}", owner=members["sales_rep"] if k % 2 else None)
                invoice(org, customer, f"Q-{k}", day(org, 5), total="700.00")
                decided = limits.limit_request_create(
                    actor=clerk, customer=customer, requested_limit=Decimal(1000 + k), reason="Start"
                )
                limits.limit_request_approve(actor=owner, request=decided)
                limits.limit_request_create(
                    actor=clerk, customer=customer, requested_limit=Decimal(5000 + k), reason="More"
                )
                holds.hold_place(actor=owner, customer=customer, detail=f"Hold {k}")
                CreditReview.objects.create(customer=customer, due_on=day(org, k % 5), risk_class="C")
                services.statement_create(actor=owner, customer=subject, **_figures(fiscal_year=2000 + k))
            score_customers(actor=owner, customers=[subject], today=org.local_today())
        made = n
        for role in ("finance_manager", "sales_rep"):
            login(client, members[role])
            counts.append(
                (
                    role,
                    _queries(client, "/credit/"),
                    _queries(client, "/credit/approvals/"),
                    _queries(client, f"/credit/customers/{subject.pk}/statements/"),
                )
            )
    with tenancy.tenant(org):
        assert CreditHold.objects.count() == 12 and FinancialStatement.objects.count() == 12
    assert counts[0] == counts[2] and counts[1] == counts[3], counts


def test_the_customer_page_makes_a_constant_number_of_queries(client, org, members):
    """The panel's history is capped: a customer with many records costs what one with few does."""
    owner = actor_for(org, members["owner"], "owner")
    customer = make_customer(org, name="Busy")
    login(client, members["finance_manager"])
    counts = []
    for n in (2, 12):
        with tenancy.tenant(org):
            for k in range(n - (2 if n == 12 else 0)):
                request = limits.limit_request_create(
                    actor=actor_for(org, members["ar_clerk"], "ar_clerk"),
                    customer=customer,
                    requested_limit=Decimal(1000 + len(counts) * 100 + k),
                    reason="Again",
                )
                limits.limit_request_approve(actor=owner, request=request)
                hold = holds.hold_place(actor=owner, customer=customer, detail="x")
                holds.hold_release(actor=owner, hold=hold, note="y")
        counts.append(_queries(client, f"/customers/{customer.pk}/"))
    assert counts[0] == counts[1], counts
