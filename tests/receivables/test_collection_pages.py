"""Collections pages through Django's test client: the worklist and its htmx row actions, bulk
assignment, the promises and disputes boards and the customer page's panel. Who may open and do
what, that each action does it, that bad input answers with errors (never a 500), and that each
page makes as many queries for 15 customers as for 3."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Interaction
from finance import tenancy
from finance.actors import Actor
from finance.models import Role
from receivables import disputes, promises, services
from receivables.models import CollectionProfile, CreditNote, Dispute, DunningPolicy, PromiseToPay
from receivables.worklist import collector_assign, customer_snooze
from tests.conftest import actor_for, login
from tests.factories import ContactFactory, CustomerFactory, FollowUpFactory, InteractionFactory

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
HTMX = {"HTTP_HX_REQUEST": "true"}
ACTIONS = ("call", "promise", "dispute", "statement", "snooze")
# The roles allowed each row action (the rest get 403).
ALLOWED = {
    "call": {"owner", "admin", "finance_manager", "ar_clerk", "sales_rep"},
    "promise": {"owner", "admin", "finance_manager", "ar_clerk"},
    "dispute": {"owner", "admin", "finance_manager", "ar_clerk", "sales_rep"},
    "statement": {"owner", "admin", "finance_manager", "ar_clerk"},
    "snooze": {"owner", "admin", "finance_manager", "ar_clerk"},
}


def days(org, n):
    return org.local_today() + datetime.timedelta(days=n)


def make_invoice(org, customer, number, total, *, due=-30, currency="CNY"):
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=days(org, due - 30),
            due_date=days(org, due),
            total=total,
        )


@pytest.fixture
def customer(org, members):
    """A sales rep's customer with an invoice 30 days late and one not yet due."""
    customer = CustomerFactory(organization=org, name="上海华东机电", owner=members["sales_rep"])
    ContactFactory(organization=org, customer=customer, email="billing@huadong.test", is_billing=True)
    return customer


@pytest.fixture
def late(org, customer):
    return make_invoice(org, customer, "INV-LATE", "800.00", due=-30)


@pytest.fixture
def upcoming(org, customer):
    return make_invoice(org, customer, "INV-NEXT", "200.00", due=10)


@pytest.fixture
def manager(org, members):
    return actor_for(org, members["finance_manager"], "finance_manager")


def row_html(page: str, customer) -> str:
    start = page.index(f'id="wl-{customer.pk}"')
    return page[start : page.index("</li>", start)]


# --- Who may open what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_worklist_and_boards_open_for_every_role(client, org, members, customer, late, role):
    login(client, members[role])
    for url in ("/receivables/collections/", "/receivables/promises/", "/receivables/disputes/"):
        response = client.get(url)
        assert response.status_code == 200, (role, url)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="collections-panel"' in page


def test_anonymous_visitors_are_sent_to_log_in(client, customer):
    for url in ("/receivables/collections/", "/receivables/promises/", "/receivables/disputes/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_row_actions_open_only_for_the_roles_allowed(client, org, members, customer, late, role):
    login(client, members[role])
    for action in ACTIONS:
        url = f"/receivables/collections/{customer.pk}/{action}/"
        expected = 200 if role in ALLOWED[action] else 403
        assert client.get(url, **HTMX).status_code == expected, (role, action)
        assert client.get(url).status_code == expected, (role, action)


@pytest.mark.parametrize("role", ["sales_rep", "auditor"])
def test_forbidden_posts_change_nothing(client, org, members, customer, late, role):
    login(client, members[role])
    post = {"amount": "100", "currency": "CNY", "promised_date": days(org, 3).isoformat()}
    assert client.post(f"/receivables/collections/{customer.pk}/promise/", post).status_code == 403
    snooze = {"until": days(org, 3).isoformat()}
    assert client.post(f"/receivables/collections/{customer.pk}/snooze/", snooze).status_code == 403
    assert client.post(f"/receivables/collections/{customer.pk}/statement/").status_code == 403
    assign = {"customers": [customer.pk], "collector": members[role].pk}
    assert client.post("/receivables/collections/assign/", assign).status_code == 403
    with tenancy.tenant(org):
        assert not PromiseToPay.objects.exists() and not CollectionProfile.objects.exists()
    assert mail.outbox == []


def test_a_clerk_cannot_assign_collectors(client, org, members, customer):
    login(client, members["ar_clerk"])
    assign = {"customers": [customer.pk], "collector": members["ar_clerk"].pk}
    assert client.post("/receivables/collections/assign/", assign).status_code == 403
    assert client.get(f"/receivables/collections/{customer.pk}/profile/").status_code == 403


def test_a_rep_sees_and_acts_on_their_own_customers_only(client, org, members, customer, late):
    other = CustomerFactory(organization=org, name="Someone else's", owner=members["admin"])
    make_invoice(org, other, "INV-OTHER", "999.00")
    login(client, members["sales_rep"])
    page = client.get("/receivables/collections/").content.decode()
    assert customer.name in page and "Someone else&#x27;s" not in page
    assert client.get(f"/receivables/collections/{other.pk}/call/").status_code == 404
    assert client.get(f"/receivables/collections/{other.pk}/dispute/").status_code == 404
    assert client.get(f"/receivables/collections/{customer.pk}/dispute/").status_code == 200


def test_another_organizations_promises_and_disputes_are_404(client, org, members, outsider_org, outsider):
    outsider_customer = CustomerFactory(organization=outsider_org)
    invoice = make_invoice(outsider_org, outsider_customer, "OUT-1", "100.00")
    actor = actor_for(outsider_org, outsider, "owner")
    with tenancy.tenant(outsider_org):
        promise = promises.promise_record(
            actor=actor,
            customer=outsider_customer,
            amount="10",
            currency="CNY",
            promised_date=days(outsider_org, 3),
        )
        dispute = disputes.dispute_open(actor=actor, invoice=invoice, reason="pricing")
    login(client, members["owner"])
    assert client.post(f"/receivables/promises/{promise.pk}/cancel/").status_code == 404
    for action in ("review", "resolve", "reject"):
        assert client.get(f"/receivables/disputes/{dispute.pk}/{action}/").status_code == 404
        assert (
            client.post(f"/receivables/disputes/{dispute.pk}/{action}/", {"resolution": "x"}).status_code
            == 404
        )
    assert client.get(f"/receivables/collections/{outsider_customer.pk}/profile/").status_code == 404
    page = client.get("/receivables/promises/").content.decode()
    assert "OUT-1" not in page and str(promise.amount) not in page


# --- The worklist page ----------------------------------------------------------------------------


def test_the_worklist_lists_overdue_customers_with_their_figures(
    client, org, members, customer, late, upcoming
):
    fine = CustomerFactory(organization=org, name="Pays on time")
    make_invoice(org, fine, "INV-FINE", "50.00", due=5)
    login(client, members["finance_manager"])
    page = client.get("/receivables/collections/").content.decode()
    row = row_html(page, customer)
    assert "800.00 CNY" in row and "30 days late" in row
    assert "1,600.00" in row  # 800 × (1 + 30/30)
    assert "Pays on time" not in page
    assert 'href="/receivables/collections/"' in page  # the sidenav's Collections link
    assert "/modules/collections/" not in page


def test_a_clerk_sees_their_own_customers_by_default(client, org, members, customer, late, manager):
    other = CustomerFactory(organization=org, name="Not mine")
    make_invoice(org, other, "INV-NM", "300.00")
    with tenancy.tenant(org):
        collector_assign(actor=manager, customers=[customer], collector=members["ar_clerk"])
    login(client, members["ar_clerk"])
    page = client.get("/receivables/collections/").content.decode()
    assert customer.name in page and "Not mine" not in page
    everyone = client.get("/receivables/collections/", {"collector": "all"}).content.decode()
    assert customer.name in everyone and "Not mine" in everyone
    nobody = client.get("/receivables/collections/", {"collector": "unassigned"}).content.decode()
    assert customer.name not in nobody and "Not mine" in nobody
    login(client, members["finance_manager"])
    assert "Not mine" in client.get("/receivables/collections/").content.decode()


def test_the_filter_answers_htmx_with_the_rows_only(client, org, members, customer, late):
    login(client, members["owner"])
    response = client.get(
        "/receivables/collections/",
        {"collector": "all", "hide_snoozed": "on"},
        HTTP_HX_TARGET="worklist-rows",
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and customer.name in body


def test_snoozed_customers_can_be_hidden(client, org, members, customer, late, manager):
    with tenancy.tenant(org):
        customer_snooze(actor=manager, customer=customer, until=days(org, 4))
    login(client, members["owner"])
    page = client.get("/receivables/collections/").content.decode()
    assert 'data-testid="snoozed"' in row_html(page, customer)
    hidden = client.get("/receivables/collections/", {"collector": "all", "hide_snoozed": "on"})
    assert customer.name not in hidden.content.decode()


@pytest.mark.parametrize(
    "query", [{"collector": "999999"}, {"collector": "<script>"}, {"hide_snoozed": "maybe"}]
)
def test_a_strange_filter_is_not_an_error(client, org, members, customer, late, query):
    login(client, members["ar_clerk"])
    assert client.get("/receivables/collections/", query).status_code == 200


# --- Row actions ----------------------------------------------------------------------------------


def test_recording_a_promise_from_a_row_covers_the_overdue_invoices(
    client, org, members, customer, late, upcoming
):
    login(client, members["ar_clerk"])
    form = client.get(f"/receivables/collections/{customer.pk}/promise/", **HTMX).content.decode()
    assert "<html" not in form and "INV-LATE" in form and 'value="800.00"' in form
    response = client.post(
        f"/receivables/collections/{customer.pk}/promise/",
        {
            "amount": "800.00",
            "currency": "CNY",
            "promised_date": days(org, 5).isoformat(),
            "invoices": [late.pk],
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#wl-{customer.pk}" and response["HX-Reswap"] == "outerHTML"
    body = response.content.decode()
    assert 'data-testid="open-promises"' in body and "Promise of 800.00 CNY" in body
    with tenancy.tenant(org):
        promise = PromiseToPay.objects.get()
        assert promise.amount == Decimal("800.00") and promise.created_by == members["ar_clerk"]
        assert list(promise.invoices.all()) == [late]


def test_a_promise_with_no_invoice_ticked_covers_every_open_invoice_in_its_currency(
    client, org, members, customer, late, upcoming
):
    make_invoice(org, customer, "INV-USD", "10.00", currency="USD")
    login(client, members["ar_clerk"])
    response = client.post(
        f"/receivables/collections/{customer.pk}/promise/",
        {"amount": "1000", "currency": "CNY", "promised_date": days(org, 5).isoformat()},
    )
    assert response.status_code == 302 and response["Location"] == "/receivables/collections/"
    with tenancy.tenant(org):
        assert {i.number for i in PromiseToPay.objects.get().invoices.all()} == {"INV-LATE", "INV-NEXT"}


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"amount": "abc", "currency": "CNY"}, "amount"),
        ({"amount": "-5", "currency": "CNY"}, "amount"),
        ({"amount": "1.234", "currency": "CNY"}, "amount"),
        ({"amount": "10", "currency": "XXZ"}, "currency"),
        ({"amount": "10", "currency": "CNY", "promised_date": "2001-01-01"}, "promised_date"),
        ({"amount": "10", "currency": "CNY", "promised_date": "not a date"}, "promised_date"),
        ({"amount": "10", "currency": "USD"}, "invoices"),
        ({"amount": "10", "currency": "CNY", "invoices": ["99999999"]}, "invoices"),
    ],
)
def test_a_bad_promise_answers_400_with_the_field_error(client, org, members, customer, late, post, field):
    login(client, members["ar_clerk"])
    data = {"promised_date": days(org, 5).isoformat(), **post}
    for extra in (HTMX, {}):
        response = client.post(f"/receivables/collections/{customer.pk}/promise/", data, **extra)
        assert response.status_code == 400, (post, response.content[:300])
        assert 'class="errorlist' in response.content.decode()
    with tenancy.tenant(org):
        assert not PromiseToPay.objects.exists()


def test_logging_a_call_from_a_row(client, org, members, customer, late):
    login(client, members["ar_clerk"])
    response = client.post(
        f"/receivables/collections/{customer.pk}/call/",
        {"summary": "Will pay Friday", "outcome": "Friendly"},
        **HTMX,
    )
    assert response.status_code == 200 and "Call logged." in response.content.decode()
    with tenancy.tenant(org):
        call = Interaction.objects.get(customer=customer)
        assert call.kind == "call" and call.summary == "Will pay Friday" and call.user == members["ar_clerk"]
    assert (
        client.post(f"/receivables/collections/{customer.pk}/call/", {"summary": ""}, **HTMX).status_code
        == 400
    )


def test_opening_a_dispute_from_a_row(client, org, members, customer, late):
    login(client, members["sales_rep"])
    url = f"/receivables/collections/{customer.pk}/dispute/"
    response = client.post(url, {"invoice": late.pk, "reason": "quality", "amount": "100"}, **HTMX)
    assert response.status_code == 200 and 'data-testid="open-disputes"' in response.content.decode()
    with tenancy.tenant(org):
        dispute = Dispute.objects.get()
        assert dispute.invoice == late and dispute.amount == Decimal("100.00") and dispute.status == "open"
    # A second dispute on the same invoice, a missing invoice, a bad reason or amount: errors.
    for post in (
        {"invoice": late.pk, "reason": "pricing"},
        {"reason": "pricing"},
        {"invoice": late.pk, "reason": "because"},
        {"invoice": late.pk, "reason": "pricing", "amount": "900"},
        {"invoice": "x", "reason": "pricing"},
    ):
        assert client.post(url, post, **HTMX).status_code == 400, post
    with tenancy.tenant(org):
        assert Dispute.objects.count() == 1


def test_sending_a_statement_from_a_row_emails_the_last_90_days(client, org, members, customer, late):
    login(client, members["ar_clerk"])
    form = client.get(f"/receivables/collections/{customer.pk}/statement/", **HTMX).content.decode()
    assert "billing@huadong.test" in form
    response = client.post(f"/receivables/collections/{customer.pk}/statement/", **HTMX)
    assert response.status_code == 200 and "Statement emailed." in response.content.decode()
    [message] = mail.outbox
    assert message.to == ["billing@huadong.test"]
    assert days(org, -89).isoformat() in message.subject and org.local_today().isoformat() in message.subject
    assert message.attachments[0][2] == "application/pdf"
    with tenancy.tenant(org):
        assert Interaction.objects.filter(customer=customer, kind="email").exists()


def test_a_statement_for_a_customer_without_email_is_an_error(client, org, members):
    customer = CustomerFactory(organization=org, email="")
    make_invoice(org, customer, "INV-NOMAIL", "10.00")
    login(client, members["ar_clerk"])
    response = client.post(f"/receivables/collections/{customer.pk}/statement/", **HTMX)
    assert response.status_code == 400 and "no email address" in response.content.decode()
    assert mail.outbox == []


def test_snoozing_from_a_row(client, org, members, customer, late):
    login(client, members["ar_clerk"])
    url = f"/receivables/collections/{customer.pk}/snooze/"
    response = client.post(url, {"until": days(org, 7).isoformat()}, **HTMX)
    assert response.status_code == 200 and 'data-testid="snoozed"' in response.content.decode()
    with tenancy.tenant(org):
        assert CollectionProfile.objects.get(customer=customer).snoozed_until == days(org, 7)
    for until in (days(org, 120).isoformat(), days(org, -1).isoformat(), "soon"):
        assert client.post(url, {"until": until}, **HTMX).status_code == 400, until
    assert client.post(url, {"until": ""}, **HTMX).status_code == 200
    with tenancy.tenant(org):
        assert CollectionProfile.objects.get(customer=customer).snoozed_until is None


def test_an_action_without_htmx_redirects_to_next(client, org, members, customer, late):
    login(client, members["ar_clerk"])
    url = f"/receivables/collections/{customer.pk}/snooze/"
    page = client.get(url, {"next": f"/customers/{customer.pk}/"}).content.decode()
    assert "<html" in page and f'value="/customers/{customer.pk}/"' in page
    response = client.post(url, {"until": days(org, 3).isoformat(), "next": f"/customers/{customer.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{customer.pk}/"
    evil = client.post(url, {"until": days(org, 3).isoformat(), "next": "https://evil.test/"})
    assert evil["Location"] == "/receivables/collections/"


def test_a_row_whose_customer_paid_up_says_so(client, org, members, customer, late):
    with tenancy.tenant(org):
        services.payment_record(
            actor=Actor.system(org),
            customer=customer,
            currency="CNY",
            received_on=org.local_today(),
            amount="800.00",
            allocations=[{"invoice": late, "amount": "800.00"}],
        )
    login(client, members["ar_clerk"])
    response = client.post(
        f"/receivables/collections/{customer.pk}/call/", {"summary": "Thanked them"}, **HTMX
    )
    assert response.status_code == 200 and "Nothing overdue any more." in response.content.decode()


# --- Assigning collectors -------------------------------------------------------------------------


def test_a_manager_assigns_the_ticked_customers(client, org, members, customer, late):
    second = CustomerFactory(organization=org)
    make_invoice(org, second, "INV-2ND", "10.00")
    login(client, members["finance_manager"])
    page = client.get("/receivables/collections/").content.decode()
    assert 'id="assign-form"' in page and 'form="assign-form"' in page
    response = client.post(
        "/receivables/collections/assign/",
        {"customers": [customer.pk, second.pk], "collector": members["ar_clerk"].pk},
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        assert {p.collector_id for p in CollectionProfile.objects.all()} == {members["ar_clerk"].pk}
        assert CollectionProfile.objects.count() == 2


@pytest.mark.parametrize("post", [{}, {"customers": ["abc"]}, {"customers": ["99999999"], "collector": ""}])
def test_a_bad_assignment_is_refused_with_a_message(client, org, members, customer, late, post):
    login(client, members["finance_manager"])
    response = client.post("/receivables/collections/assign/", post, follow=True)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    with tenancy.tenant(org):
        assert not CollectionProfile.objects.exists()


def test_assigning_an_outsider_as_collector_is_refused(client, org, members, customer, outsider):
    login(client, members["finance_manager"])
    response = client.post(
        "/receivables/collections/assign/",
        {"customers": [customer.pk], "collector": outsider.pk},
        follow=True,
    )
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    with tenancy.tenant(org):
        assert not CollectionProfile.objects.exists()


def test_a_manager_sets_collector_and_policy_from_the_customer_page(client, org, members, customer):
    with tenancy.tenant(org):
        policy = DunningPolicy.objects.create(name="Gentle")
    login(client, members["finance_manager"])
    panel = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f"/receivables/collections/{customer.pk}/profile/" in panel
    url = f"/receivables/collections/{customer.pk}/profile/"
    response = client.post(url, {"collector": members["ar_clerk"].pk, "policy": policy.pk})
    assert response.status_code == 302
    with tenancy.tenant(org):
        profile = CollectionProfile.objects.get(customer=customer)
        assert profile.collector == members["ar_clerk"] and profile.policy == policy
    assert client.post(url, {"policy": "nope"}).status_code == 400


# --- Promises board -------------------------------------------------------------------------------


def test_the_promises_board_shows_tabs_and_cancels(client, org, members, customer, late, manager):
    with tenancy.tenant(org):
        promise = promises.promise_record(
            actor=manager, customer=customer, amount="300", currency="CNY", promised_date=days(org, 6)
        )
    login(client, members["ar_clerk"])
    page = client.get("/receivables/promises/").content.decode()
    assert f'data-promise="{promise.pk}"' in page and "INV-LATE" in page
    assert 'data-testid="cancel-promise"' in page
    assert (
        f'data-promise="{promise.pk}"'
        not in client.get("/receivables/promises/?status=kept").content.decode()
    )
    assert client.get("/receivables/promises/?status=bogus").status_code == 200
    response = client.post(f"/receivables/promises/{promise.pk}/cancel/")
    assert response.status_code == 302
    with tenancy.tenant(org):
        assert PromiseToPay.objects.get().status == "cancelled"
    cancelled = client.get("/receivables/promises/?status=cancelled").content.decode()
    assert f'data-promise="{promise.pk}"' in cancelled
    again = client.post(f"/receivables/promises/{promise.pk}/cancel/", follow=True)
    assert again.status_code == 200 and 'class="error"' in again.content.decode()


@pytest.mark.parametrize("role", ["sales_rep", "auditor"])
def test_only_collectors_cancel_promises(client, org, members, customer, late, manager, role):
    with tenancy.tenant(org):
        promise = promises.promise_record(
            actor=manager, customer=customer, amount="300", currency="CNY", promised_date=days(org, 6)
        )
    login(client, members[role])
    assert 'data-testid="cancel-promise"' not in client.get("/receivables/promises/").content.decode()
    assert client.post(f"/receivables/promises/{promise.pk}/cancel/").status_code == 403


# --- Disputes board -------------------------------------------------------------------------------


@pytest.fixture
def dispute(org, late, manager):
    with tenancy.tenant(org):
        return disputes.dispute_open(actor=manager, invoice=late, reason="pricing", description="Wrong price")


def test_the_disputes_board_moves_a_dispute_to_review_and_resolves_it(client, org, members, dispute):
    login(client, members["ar_clerk"])
    page = client.get("/receivables/disputes/").content.decode()
    assert f'data-dispute="{dispute.pk}"' in page and 'data-testid="review-dispute"' in page
    assert client.post(f"/receivables/disputes/{dispute.pk}/review/").status_code == 302
    with tenancy.tenant(org):
        assert Dispute.objects.get().status == "in_review"
    url = f"/receivables/disputes/{dispute.pk}/resolve/"
    assert client.get(url).status_code == 200
    for bad in ({"credit_amount": ""}, {"credit_amount": "abc"}, {"credit_amount": "5000"}):
        assert client.post(url, bad).status_code == 400, bad
    response = client.post(url, {"credit_amount": "80", "resolution": "Price corrected"})
    assert response.status_code == 302
    with tenancy.tenant(org):
        resolved = Dispute.objects.get()
        assert resolved.status == "resolved" and resolved.credit_note.total == Decimal("80.00")
        assert CreditNote.objects.count() == 1
    assert client.post(url, {"credit_amount": "1"}).status_code == 400  # already closed


def test_the_disputes_board_rejects_with_a_reason(client, org, members, dispute):
    login(client, members["finance_manager"])
    url = f"/receivables/disputes/{dispute.pk}/reject/"
    assert client.post(url, {"resolution": ""}).status_code == 400
    assert client.post(url, {"resolution": "Price was agreed"}).status_code == 302
    with tenancy.tenant(org):
        assert Dispute.objects.get().status == "rejected"
    page = client.get("/receivables/disputes/").content.decode()
    assert "Price was agreed" in page


@pytest.mark.parametrize("role", ["sales_rep", "auditor"])
def test_only_collectors_move_disputes_along(client, org, members, customer, dispute, role):
    login(client, members[role])
    assert 'data-testid="resolve-dispute"' not in client.get("/receivables/disputes/").content.decode()
    for action in ("review", "resolve", "reject"):
        assert (
            client.post(f"/receivables/disputes/{dispute.pk}/{action}/", {"resolution": "x"}).status_code
            == 403
        )


# --- The customer page's panel --------------------------------------------------------------------


def test_the_panel_shows_collector_snooze_promises_and_disputes(
    client, org, members, customer, late, manager
):
    with tenancy.tenant(org):
        collector_assign(actor=manager, customers=[customer], collector=members["ar_clerk"])
        customer_snooze(actor=manager, customer=customer, until=days(org, 9))
        promises.promise_record(
            actor=manager, customer=customer, amount="123.45", currency="CNY", promised_date=days(org, 6)
        )
        disputes.dispute_open(actor=manager, invoice=late, reason="tax")
    login(client, members["ar_clerk"])
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    panel = page[page.index('data-testid="collections-panel"') :]
    assert str(members["ar_clerk"]) in panel and days(org, 9).isoformat() in panel
    assert "123.45 CNY" in panel and "INV-LATE" in panel
    assert f"/receivables/collections/{customer.pk}/promise/" in panel
    login(client, members["auditor"])
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f"/receivables/collections/{customer.pk}/promise/" not in page


# --- Query counts ---------------------------------------------------------------------------------


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def _add_customers(org, members, manager, count):
    for _ in range(count):
        customer = CustomerFactory(organization=org, owner=members["sales_rep"], risk_class="B")
        invoice = make_invoice(org, customer, f"QC-{customer.pk}", "100.00", due=-12)
        make_invoice(org, customer, f"QD-{customer.pk}", "50.00", due=-40)
        with tenancy.tenant(org):
            promises.promise_record(
                actor=manager, customer=customer, amount="10", currency="CNY", promised_date=days(org, 3)
            )
            dispute = disputes.dispute_open(actor=manager, invoice=invoice, reason="pricing")
            if customer.pk % 2:
                disputes.dispute_reject(actor=manager, dispute=dispute, resolution="No")
            collector_assign(actor=manager, customers=[customer], collector=members["ar_clerk"])
        FollowUpFactory(organization=org, customer=customer, due_date=days(org, 2))
        InteractionFactory(organization=org, customer=customer)


@pytest.mark.parametrize(
    "url",
    [
        "/receivables/collections/",
        "/receivables/collections/?collector=all&hide_snoozed=on",
        "/receivables/promises/",
        "/receivables/disputes/",
    ],
)
@pytest.mark.parametrize("role", ["finance_manager", "ar_clerk", "sales_rep"])
def test_pages_make_as_many_queries_for_15_customers_as_for_3(client, org, members, manager, url, role):
    login(client, members[role])
    _add_customers(org, members, manager, 3)
    client.get(url)
    few = _queries(client, url)
    _add_customers(org, members, manager, 12)
    many = _queries(client, url)
    assert few == many, (url, role, few, many)
