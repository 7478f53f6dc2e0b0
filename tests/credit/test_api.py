"""The credit API's resources: /api/v1/credit/profiles/, limit-requests/ (maker-checker through the
API), statements/ (with ratios) and orders/ (upsert by external id) — the shared resource checks,
the outsider's ids on every route, a sales rep's view, filters, Idempotency-Key and query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from credit import holds, limits, services
from credit.models import CreditProfile, FinancialStatement, LimitRequest, OpenOrder
from credit.ratios import statement_ratios
from credit.scoring import customer_refresh, profile_ensure
from finance import tenancy, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, WebhookDelivery
from receivables.models import CustomerTerms, PaymentTerms
from tests.api_mixins import ApiResourceChecks
from tests.conftest import login, make_key
from tests.credit.conftest import customer, invoice
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
PROFILES = "/api/v1/credit/profiles/"
REQUESTS = "/api/v1/credit/limit-requests/"
STATEMENTS = "/api/v1/credit/statements/"
ORDERS = "/api/v1/credit/orders/"


def user_actor(org, members, role):
    return Actor(organization=org, role=role, user=members[role])


def set_limit(org, members, buyer, amount):
    """A limit as finance sets one: a finance manager asks, the owner approves."""
    with tenancy.tenant(org):
        request = limits.limit_request_create(
            actor=user_actor(org, members, "finance_manager"),
            customer=buyer,
            requested_limit=Decimal(amount),
            reason="Annual review",
        )
        return limits.limit_request_approve(actor=user_actor(org, members, "owner"), request=request)


def ids(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def make_profile(org, n=0):
    buyer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        profile = profile_ensure(buyer)
    profile.customer = buyer
    return profile


def make_request(org, n=0, **fields):
    buyer = fields.pop("customer", None) or CustomerFactory(organization=org)
    with tenancy.tenant(org):
        return limits.limit_request_create(
            actor=Actor.system(org),
            customer=buyer,
            requested_limit=Decimal(10000 + n),
            reason=f"Growing orders {n}",
            **fields,
        )


FIGURES = {
    "cash": "50000.00",
    "current_assets": "400000.00",
    "inventory": "100000.00",
    "total_assets": "1000000.00",
    "current_liabilities": "200000.00",
    "total_liabilities": "600000.00",
    "equity": "400000.00",
    "retained_earnings": "150000.00",
    "revenue": "2000000.00",
    "ebit": "120000.00",
    "interest_expense": "20000.00",
    "net_income": "80000.00",
}


def make_statement(org, n=0, **fields):
    buyer = fields.pop("customer", None) or CustomerFactory(organization=org)
    figures = {name: Decimal(value) for name, value in FIGURES.items()}
    figures.update(fields)
    with tenancy.tenant(org):
        return services.statement_create(
            actor=Actor.system(org),
            customer=buyer,
            fiscal_year=figures.pop("fiscal_year", 2020 + n),
            period_end=datetime.date(2020 + n, 12, 31),
            currency="CNY",
            **figures,
        )


def make_order(org, n=0, **fields):
    buyer = fields.pop("customer", None) or CustomerFactory(organization=org)
    with tenancy.tenant(org):
        order, _created = services.order_upsert(
            actor=Actor.system(org),
            external_id=fields.pop("external_id", f"SO-{buyer.pk}-{n}"),
            customer=buyer,
            amount=Decimal(fields.pop("amount", 100 + n)),
            currency="CNY",
            status=fields.pop("status", "open"),
        )
    return order


# --- The shared resource checks ----------------------------------------------------------------


class TestProfilesApi(ApiResourceChecks):
    url = PROFILES
    model = CreditProfile
    writable = False

    def make(self, org, n=0):
        return make_profile(org, n)


class TestLimitRequestsApi(ApiResourceChecks):
    url = REQUESTS
    model = LimitRequest
    updatable = False

    def make(self, org, n=0):
        return make_request(org, n)

    def create_payload(self, org):
        buyer = CustomerFactory(organization=org)
        return {"customer": buyer.pk, "requested_limit": "50000", "reason": "Bigger orders this season"}

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org, external_id="THEIRS")
        with tenancy.tenant(outsider_org):
            their_terms = PaymentTerms.objects.create(name="Net 60", days=60)
        mine = CustomerFactory(organization=org)
        pending = make_request(org, 99).customer
        today = org.local_today()
        base = {"customer": mine.pk, "requested_limit": "20000.00", "reason": "Growth"}
        return [
            {**base, "customer": theirs.pk},
            {**{k: v for k, v in base.items() if k != "customer"}, "customer_external_id": "THEIRS"},
            {k: v for k, v in base.items() if k != "customer"},
            {k: v for k, v in base.items() if k != "reason"},
            {**base, "reason": "   "},
            {**base, "requested_limit": "-1"},
            {**base, "requested_limit": "abc"},
            {**base, "requested_limit": "1.001"},
            {**base, "requested_limit": "2000000000000"},
            {**base, "temporary": True},
            {**base, "temporary": True, "expires_on": (today - DAY).isoformat()},
            {**base, "temporary": True, "expires_on": (today + 400 * DAY).isoformat()},
            {**base, "expires_on": (today + 10 * DAY).isoformat()},
            {**base, "expires_on": "2026-02-30", "temporary": True},
            {**base, "payment_terms": their_terms.pk},
            {**base, "payment_terms": 2**70},
            {**base, "customer": pending.pk},
        ]


class TestStatementsApi(ApiResourceChecks):
    url = STATEMENTS
    model = FinancialStatement
    update_payload = {"source": "Audited accounts", "revenue": "2500000.00"}

    def make(self, org, n=0):
        return make_statement(org, n)

    def create_payload(self, org):
        buyer = CustomerFactory(organization=org)
        return {
            "customer": buyer.pk,
            "fiscal_year": 2025,
            "period_end": "2025-12-31",
            "currency": "CNY",
            **FIGURES,
        }

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org)
        taken = make_statement(org, 5)
        mine = CustomerFactory(organization=org)
        base = {
            "customer": mine.pk,
            "fiscal_year": 2024,
            "period_end": "2024-12-31",
            "currency": "CNY",
            **FIGURES,
        }
        return [
            {**base, "customer": theirs.pk},
            {k: v for k, v in base.items() if k != "customer"},
            {**base, "customer": taken.customer_id, "fiscal_year": taken.fiscal_year},
            {**base, "fiscal_year": 1800},
            {**base, "fiscal_year": "twenty"},
            {**base, "period_end": "2024-13-01"},
            {**base, "currency": "ZZZ"},
            {**base, "total_assets": "0"},
            {**base, "current_assets": "2000000.00"},
            {**base, "inventory": "500000.00"},
            {**base, "current_liabilities": "700000.00"},
            {**base, "revenue": "-1"},
            {**base, "cash": "1.001"},
            {**base, "equity": "1e30"},
            {k: v for k, v in base.items() if k != "total_liabilities"},
        ]


class TestOrdersApi(ApiResourceChecks):
    url = ORDERS
    model = OpenOrder
    updatable = False

    def make(self, org, n=0):
        return make_order(org, n)

    def create_payload(self, org):
        buyer = CustomerFactory(organization=org)
        return {
            "external_id": f"SO-NEW-{buyer.pk}",
            "customer": buyer.pk,
            "amount": "1500.00",
            "currency": "CNY",
        }

    def invalid_payloads(self, org, outsider_org):
        theirs = CustomerFactory(organization=outsider_org)
        mine = CustomerFactory(organization=org)
        existing = make_order(org, 7)
        base = {"external_id": "SO-BAD", "customer": mine.pk, "amount": "10.00", "currency": "CNY"}
        return [
            {**base, "customer": theirs.pk},
            {k: v for k, v in base.items() if k != "customer"},
            {k: v for k, v in base.items() if k != "external_id"},
            {**base, "external_id": ""},
            {**base, "external_id": "x" * 101},
            {**base, "amount": "-1"},
            {**base, "amount": "0"},
            {**base, "amount": "abc"},
            {**base, "amount": "1.005"},
            {**base, "currency": "ZZZ"},
            {**base, "status": "shipped"},
            {**base, "external_id": existing.external_id},  # belongs to another customer
        ]


# --- Profiles ----------------------------------------------------------------------------------


def test_a_profile_shows_limit_exposure_score_holds_and_terms(api, org, members):
    buyer = customer(org, external_id="ERP-7", name="华东机电")
    today = org.local_today()
    set_limit(org, members, buyer, "10000")
    invoice(org, buyer, "P-1", today - 100 * DAY, total="3000.00", paid_on=today - 95 * DAY)
    invoice(org, buyer, "P-2", today + 20 * DAY, total="2500.00")
    make_order(org, customer=buyer, amount="500")
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 45", days=45)
        CustomerTerms.objects.create(customer=buyer, terms=terms)
        holds.hold_place(
            actor=user_actor(org, members, "finance_manager"), customer=buyer, detail="Cheque bounced"
        )
        customer_refresh(actor=Actor.system(org), customer=buyer)
        profile = CreditProfile.objects.get(customer=buyer)

    listed = api.get(PROFILES, {"customer": buyer.pk}).json()["results"]
    assert [row["id"] for row in listed] == [profile.pk]
    body = api.get(f"{PROFILES}{profile.pk}/").json()
    assert body == listed[0]
    assert body["customer"] == buyer.pk and body["customer_external_id"] == "ERP-7"
    assert body["customer_name"] == "华东机电" and body["currency"] == "CNY"
    assert body["credit_limit"] == body["effective_limit"] == "10000.00"
    assert body["exposure"] == "3000.00" and body["available"] == "7000.00"
    assert body["utilisation"] == "30.0"
    assert body["status"] == "hold" and body["blocked"] is False
    assert [(h["reason"], h["detail"]) for h in body["holds"]] == [("manual", "Cheque bounced")]
    assert body["payment_terms"] == {
        "id": terms.pk,
        "name": "Net 45",
        "kind": "net",
        "days": 45,
        "organization_default": False,
    }
    assert body["scored_at"] and body["factors"]
    factor = next(f for f in body["factors"] if f["key"] == "avg_days_late")
    assert set(factor) >= {"label", "value", "points", "weight", "contribution", "reason"}
    assert factor["label"] == "Average days late (amount-weighted)" and factor["reason"]
    assert all(isinstance(text, str) and text for text in body["suggested_reasons"])


def test_a_profile_without_a_limit_or_own_terms(api, org):
    profile = make_profile(org)
    with tenancy.tenant(org):
        default = PaymentTerms.objects.create(name="Net 30", days=30, is_default=True)
    body = api.get(f"{PROFILES}{profile.pk}/").json()
    assert body["credit_limit"] is None and body["effective_limit"] is None
    assert body["available"] is None and body["utilisation"] is None
    assert body["exposure"] == "0.00" and body["holds"] == [] and body["factors"] == []
    assert body["payment_terms"]["id"] == default.pk and body["payment_terms"]["organization_default"] is True


def test_a_temporary_limit_is_the_effective_one_while_it_lasts(api, org, members):
    buyer = customer(org)
    set_limit(org, members, buyer, "10000")
    with tenancy.tenant(org):
        request = limits.limit_request_create(
            actor=user_actor(org, members, "ar_clerk"),
            customer=buyer,
            requested_limit=Decimal("25000"),
            reason="Peak season",
            temporary=True,
            expires_on=org.local_today() + 30 * DAY,
        )
        limits.limit_request_approve(actor=user_actor(org, members, "finance_manager"), request=request)
    body = api.get(PROFILES, {"customer": buyer.pk}).json()["results"][0]
    assert body["credit_limit"] == "10000.00" and body["temporary_limit"] == "25000.00"
    assert body["effective_limit"] == "25000.00"
    assert body["temporary_limit_expires_on"] == (org.local_today() + 30 * DAY).isoformat()


def test_profile_filters(api, org, members):
    first = make_profile(org)
    second = make_profile(org)
    with tenancy.tenant(org):
        CreditProfile.objects.filter(pk=second.pk).update(status="watch", risk_class="D")
    assert ids(api, PROFILES, status="watch") == {second.pk}
    assert ids(api, PROFILES, risk_class="D") == {second.pk}
    assert ids(api, PROFILES, customer=first.customer_id) == {first.pk}
    assert ids(api, PROFILES, customer_external_id=first.customer.external_id) == {first.pk}
    assert ids(api, PROFILES, ordering="-id") == {first.pk, second.pk}
    assert ids(api, PROFILES, search=first.customer.name) == {first.pk}
    assert api.get(PROFILES, {"status": "nope"}).status_code == 400
    assert api.get(PROFILES, {"customer": "9" * 30}).status_code == 400


def test_profiles_cannot_be_written(api, org):
    profile = make_profile(org)
    assert api.post(PROFILES, {"customer": profile.customer_id}, format="json").status_code in (403, 405)
    patched = api.patch(f"{PROFILES}{profile.pk}/", {"credit_limit": "1"}, format="json")
    assert patched.status_code in (403, 405)
    assert api.delete(f"{PROFILES}{profile.pk}/").status_code in (403, 405)
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(pk=profile.pk).credit_limit is None


# --- Limit requests: maker-checker ---------------------------------------------------------------


def test_maker_checker_through_the_api(api, org, members):
    buyer = customer(org, external_id="ERP-9")
    with tenancy.tenant(org):
        webhooks.endpoint_create(
            actor=Actor.system(org), url="https://erp.example.test/hooks", events=["credit.limit_changed"]
        )
    maker = login(APIClient(), members["finance_manager"])
    created = maker.post(
        REQUESTS,
        {"customer_external_id": "ERP-9", "requested_limit": "80000", "reason": "New distribution contract"},
        format="json",
    )
    assert created.status_code == 201, created.content
    request = created.json()
    assert request["status"] == "pending" and request["requested_limit"] == "80000.00"
    assert request["requested_by"] == members["finance_manager"].pk and request["current_limit"] is None
    approve_url = f"{REQUESTS}{request['id']}/approve/"

    own = maker.post(approve_url, {"note": "Fine by me"}, format="json")
    assert own.status_code == 403
    assert "someone else" in own.json()["detail"]
    assert api.post(approve_url, {}, format="json").status_code == 403  # an API key never approves
    clerk = login(APIClient(), members["ar_clerk"])
    assert clerk.post(approve_url, {}, format="json").status_code == 403

    checker = login(APIClient(), members["admin"])
    approved = checker.post(approve_url, {"note": "Contract seen"}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == members["admin"].pk
    assert approved.json()["decision_note"] == "Contract seen"

    profile = api.get(PROFILES, {"customer": buyer.pk}).json()["results"][0]
    assert profile["credit_limit"] == "80000.00"
    with tenancy.tenant(org):
        assert AuditEvent.objects.filter(action="credit.limit_changed", customer_id=buyer.pk).count() == 1
        assert AuditEvent.objects.filter(action="credit.limit_approved", actor_user=members["admin"]).exists()
        delivery = WebhookDelivery.objects.get(event="credit.limit_changed")
    assert delivery.payload["data"]["credit_limit"] == "80000.00"
    assert delivery.payload["data"]["customer_external_id"] == "ERP-9"

    again = checker.post(approve_url, {}, format="json")
    assert again.status_code == 400
    assert "status" in again.json()


def test_another_finance_manager_approves_up_to_the_policy_ceiling(org, members):
    second_manager = MembershipFactory(organization=org, role="finance_manager").user
    small, large = customer(org), customer(org)
    maker = login(APIClient(), members["finance_manager"])
    checker = login(APIClient(), second_manager)
    within = maker.post(
        REQUESTS, {"customer": small.pk, "requested_limit": "100000", "reason": "x"}, format="json"
    )
    above = maker.post(
        REQUESTS, {"customer": large.pk, "requested_limit": "100000.01", "reason": "x"}, format="json"
    )
    assert within.status_code == above.status_code == 201
    assert checker.post(f"{REQUESTS}{within.json()['id']}/approve/", {}, format="json").status_code == 200
    refused = checker.post(f"{REQUESTS}{above.json()['id']}/approve/", {}, format="json")
    assert refused.status_code == 403
    assert "admin or the owner" in refused.json()["detail"]
    owner = login(APIClient(), members["owner"])
    assert owner.post(f"{REQUESTS}{above.json()['id']}/approve/", {}, format="json").status_code == 200
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=large).credit_limit == Decimal("100000.01")


def test_reject_needs_a_note_and_decides_once(org, members):
    pending = make_request(org)
    checker = login(APIClient(), members["finance_manager"])
    url = f"{REQUESTS}{pending.pk}/reject/"
    assert checker.post(url, {}, format="json").status_code == 400
    assert checker.post(url, {"note": "  "}, format="json").status_code == 400
    rejected = checker.post(url, {"note": "Too many late payments"}, format="json")
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "Too many late payments"
    assert checker.post(url, {"note": "again"}, format="json").status_code == 400
    assert checker.post(f"{REQUESTS}{pending.pk}/approve/", {}, format="json").status_code == 400
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=pending.customer).credit_limit is None


def test_the_requesting_key_may_cancel_another_key_may_not(api, org):
    buyer = CustomerFactory(organization=org)
    created = api.post(
        REQUESTS, {"customer": buyer.pk, "requested_limit": "5000", "reason": "ERP"}, format="json"
    )
    assert created.status_code == 201
    url = f"{REQUESTS}{created.json()['id']}/cancel/"
    other_key = APIClient()
    other_key.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(org, ['read', 'write'])}")
    assert other_key.post(url, format="json").status_code == 403
    cancelled = api.post(url, format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(url, {}, format="json").status_code == 400
    # Nothing pending any more: a new request for the customer is accepted.
    again = api.post(
        REQUESTS, {"customer": buyer.pk, "requested_limit": "6000", "reason": "ERP"}, format="json"
    )
    assert again.status_code == 201


def test_a_decrease_by_an_approver_takes_effect_at_once(org, members):
    buyer = customer(org)
    set_limit(org, members, buyer, "50000")
    manager = login(APIClient(), members["finance_manager"])
    response = manager.post(
        REQUESTS,
        {"customer": buyer.pk, "requested_limit": "20000", "reason": "Slower payments"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "approved" and response.json()["current_limit"] == "50000.00"


def test_a_request_can_bring_new_payment_terms(org, members):
    buyer = customer(org)
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 60", days=60)
    maker = login(APIClient(), members["ar_clerk"])
    created = maker.post(
        REQUESTS,
        {
            "customer": buyer.pk,
            "requested_limit": "30000",
            "reason": "Longer terms",
            "payment_terms": terms.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["payment_terms"] == terms.pk
    owner = login(APIClient(), members["owner"])
    assert owner.post(f"{REQUESTS}{created.json()['id']}/approve/", {}, format="json").status_code == 200
    profile = owner.get(PROFILES, {"customer": buyer.pk}).json()["results"][0]
    assert profile["payment_terms"]["name"] == "Net 60" and profile["payment_terms"]["days"] == 60


def test_limit_request_filters(api, org):
    first = make_request(org, 1)
    second = make_request(org, 2, temporary=True, expires_on=org.local_today() + 10 * DAY)
    with tenancy.tenant(org):
        LimitRequest.objects.filter(pk=first.pk).update(status="rejected")
    assert ids(api, REQUESTS, status="pending") == {second.pk}
    assert ids(api, REQUESTS, customer=first.customer_id) == {first.pk}
    assert ids(api, REQUESTS, customer_external_id=second.customer.external_id) == {second.pk}
    assert ids(api, REQUESTS, temporary="true") == {second.pk}
    assert api.get(REQUESTS, {"status": "maybe"}).status_code == 400


def test_idempotency_key_replays_the_first_limit_request(api, org):
    buyer = CustomerFactory(organization=org)
    payload = {"customer": buyer.pk, "requested_limit": "7000", "reason": "ERP"}
    first = api.post(REQUESTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="lr-1")
    again = api.post(REQUESTS, payload, format="json", HTTP_IDEMPOTENCY_KEY="lr-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = api.post(
        REQUESTS, {**payload, "requested_limit": "8000"}, format="json", HTTP_IDEMPOTENCY_KEY="lr-1"
    )
    assert other.status_code == 422
    with tenancy.tenant(org):
        assert LimitRequest.objects.count() == 1


# --- Statements ---------------------------------------------------------------------------------


def test_a_statement_comes_with_its_ratios(api, org):
    buyer = customer(org, external_id="ERP-S")
    response = api.post(
        STATEMENTS,
        {
            "customer_external_id": "ERP-S",
            "fiscal_year": 2025,
            "period_end": "2025-12-31",
            "currency": "CNY",
            "source": "Audited",
            **FIGURES,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"] == buyer.pk and body["total_assets"] == "1000000.00"
    with tenancy.tenant(org):
        statement = FinancialStatement.objects.get(pk=body["id"])
    assert body["ratios"] == statement_ratios(statement).as_json()
    ratios = body["ratios"]
    assert ratios["current_ratio"] == "2.0000" and ratios["quick_ratio"] == "1.5000"
    assert ratios["working_capital"] == "200000.00" and ratios["debt_to_equity"] == "1.5000"
    assert ratios["interest_coverage"] == "6.0000"
    # Z″ = 6.56·0.2 + 3.26·0.15 + 6.72·0.12 + 1.05·(400/600) = 1.312 + 0.489 + 0.8064 + 0.7 = 3.31
    assert ratios["z_score"] == "3.31" and ratios["z_score_em"] == "6.56" and ratios["zone"] == "safe"
    assert api.get(f"{STATEMENTS}{body['id']}/").json() == body


def test_a_second_statement_for_the_same_year_is_a_400_on_fiscal_year(api, org):
    statement = make_statement(org)
    other_year = make_statement(org, 1, customer=statement.customer)
    payload = {
        "customer": statement.customer_id,
        "fiscal_year": statement.fiscal_year,
        "period_end": "2020-12-31",
        "currency": "CNY",
        **FIGURES,
    }
    response = api.post(STATEMENTS, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["fiscal_year"]
    moved = api.patch(f"{STATEMENTS}{other_year.pk}/", {"fiscal_year": statement.fiscal_year}, format="json")
    assert moved.status_code == 400
    assert list(moved.json()) == ["fiscal_year"]


def test_a_statement_update_is_checked_against_its_other_figures(api, org):
    statement = make_statement(org)
    response = api.patch(f"{STATEMENTS}{statement.pk}/", {"inventory": "450000.00"}, format="json")
    assert response.status_code == 400
    assert "inventory" in response.json()
    changed = api.patch(
        f"{STATEMENTS}{statement.pk}/", {"current_liabilities": "400000.00", "customer": 1}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["ratios"]["current_ratio"] == "1.0000"
    assert changed.json()["customer"] == statement.customer_id


def test_deleting_a_statement(api, read_api, outsider_api, org):
    statement = make_statement(org)
    url = f"{STATEMENTS}{statement.pk}/"
    assert read_api.delete(url).status_code == 403
    assert outsider_api.delete(url).status_code == 404
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    with tenancy.tenant(org):
        assert AuditEvent.objects.filter(action="credit.statement_deleted").count() == 1


def test_statement_filters(api, org):
    first = make_statement(org, 1)
    second = make_statement(org, 2)
    assert ids(api, STATEMENTS, fiscal_year=2022) == {second.pk}
    assert ids(api, STATEMENTS, customer=first.customer_id) == {first.pk}
    assert ids(api, STATEMENTS, customer_external_id=second.customer.external_id) == {second.pk}
    assert api.get(STATEMENTS, {"fiscal_year": "99999999999"}).status_code == 400
    assert api.get(STATEMENTS, {"fiscal_year": "abc"}).status_code == 400


# --- Orders -------------------------------------------------------------------------------------


def test_orders_upsert_by_external_id(api, org):
    buyer = customer(org, external_id="ERP-O")
    payload = {
        "external_id": "SO-100",
        "customer_external_id": "ERP-O",
        "amount": "1200.00",
        "currency": "CNY",
    }
    created = api.post(ORDERS, payload, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "open" and created.json()["customer"] == buyer.pk
    updated = api.post(ORDERS, {**payload, "amount": "1500.00"}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["id"] == created.json()["id"] and updated.json()["amount"] == "1500.00"
    closed = api.post(ORDERS, {**payload, "amount": "1500.00", "status": "closed"}, format="json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    with tenancy.tenant(org):
        assert OpenOrder.objects.count() == 1
        actions = list(
            AuditEvent.objects.filter(object_type="credit.openorder").values_list("action", flat=True)
        )
    assert sorted(actions) == ["credit.order_changed", "credit.order_changed", "credit.order_created"]


def test_an_open_order_counts_in_the_profiles_exposure_until_closed(api, org, members):
    buyer = customer(org)
    set_limit(org, members, buyer, "10000")
    payload = {"external_id": "SO-1", "customer": buyer.pk, "amount": "4000.00", "currency": "CNY"}
    assert api.post(ORDERS, payload, format="json").status_code == 201
    profile = api.get(PROFILES, {"customer": buyer.pk}).json()["results"][0]
    assert profile["exposure"] == "4000.00" and profile["available"] == "6000.00"
    assert api.post(ORDERS, {**payload, "status": "closed"}, format="json").status_code == 200
    profile = api.get(PROFILES, {"customer": buyer.pk}).json()["results"][0]
    assert profile["exposure"] == "0.00" and profile["available"] == "10000.00"


def test_order_filters(api, org):
    first = make_order(org, 1)
    second = make_order(org, 2, status="closed")
    assert ids(api, ORDERS, status="open") == {first.pk}
    assert ids(api, ORDERS, customer=second.customer_id) == {second.pk}
    assert ids(api, ORDERS, external_id=first.external_id) == {first.pk}
    assert api.get(ORDERS, {"status": "lost"}).status_code == 400


def test_idempotency_key_replays_the_first_order_upsert(api, org):
    buyer = CustomerFactory(organization=org)
    payload = {"external_id": "SO-I", "customer": buyer.pk, "amount": "10.00", "currency": "CNY"}
    first = api.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="so-1")
    again = api.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="so-1")
    assert first.status_code == again.status_code == 201  # replayed, not upserted a second time
    assert again["Idempotent-Replayed"] == "true"


def test_a_read_only_key_cannot_feed_credit(read_api, org):
    buyer = CustomerFactory(organization=org)
    pending = make_request(org)
    assert read_api.post(f"{REQUESTS}{pending.pk}/cancel/", format="json").status_code == 403
    assert read_api.post(f"{REQUESTS}{pending.pk}/approve/", format="json").status_code == 403
    order = {"external_id": "SO-R", "customer": buyer.pk, "amount": "1", "currency": "CNY"}
    assert read_api.post(ORDERS, order, format="json").status_code == 403
    assert read_api.get(REQUESTS).status_code == 200
    assert read_api.get(ORDERS).status_code == 200


# --- Tenancy, roles and scale ------------------------------------------------------------------


def test_every_detail_route_is_a_404_for_the_outsider(outsider_api, org, members):
    profile = make_profile(org)
    pending = make_request(org)
    statement = make_statement(org)
    order = make_order(org)
    for url in (
        f"{PROFILES}{profile.pk}/",
        f"{REQUESTS}{pending.pk}/",
        f"{STATEMENTS}{statement.pk}/",
        f"{ORDERS}{order.pk}/",
    ):
        assert outsider_api.get(url).status_code == 404, url
    for action, body in (("approve", {}), ("reject", {"note": "no"}), ("cancel", {})):
        response = outsider_api.post(f"{REQUESTS}{pending.pk}/{action}/", body, format="json")
        assert response.status_code in (403, 404), (action, response.status_code)
    assert outsider_api.post(f"{REQUESTS}{pending.pk}/cancel/", {}, format="json").status_code == 404
    assert (
        outsider_api.patch(f"{STATEMENTS}{statement.pk}/", {"source": "x"}, format="json").status_code == 404
    )
    assert outsider_api.delete(f"{STATEMENTS}{statement.pk}/").status_code == 404
    for url in (PROFILES, REQUESTS, STATEMENTS, ORDERS):
        assert outsider_api.get(url).json()["results"] == [], url
    with tenancy.tenant(org):
        assert LimitRequest.objects.get(pk=pending.pk).status == "pending"
        assert FinancialStatement.objects.filter(pk=statement.pk).exists()


def test_an_outsider_user_gets_a_404_for_approve(org, outsider):
    pending = make_request(org)
    client = login(APIClient(), outsider)  # the owner of the other organization: may approve there
    for action, body in (("approve", {}), ("reject", {"note": "no"}), ("cancel", {})):
        assert client.post(f"{REQUESTS}{pending.pk}/{action}/", body, format="json").status_code == 404


def test_a_sales_rep_sees_only_own_customers_credit_and_changes_nothing(org, members):
    rep = members["sales_rep"]
    own = customer(org, owner=rep)
    mine = {
        "request": make_request(org, customer=own),
        "statement": make_statement(org, customer=own),
        "order": make_order(org, customer=own),
    }
    with tenancy.tenant(org):
        own_profile = profile_ensure(own)
    others = {
        "profile": make_profile(org),
        "request": make_request(org),
        "statement": make_statement(org),
        "order": make_order(org),
    }
    client = login(APIClient(), rep)
    assert ids(client, PROFILES) == {own_profile.pk}
    assert ids(client, REQUESTS) == {mine["request"].pk}
    assert ids(client, STATEMENTS) == {mine["statement"].pk}
    assert ids(client, ORDERS) == {mine["order"].pk}
    assert client.get(f"{PROFILES}{others['profile'].pk}/").status_code == 404
    assert client.get(f"{REQUESTS}{others['request'].pk}/").status_code == 404
    assert client.get(f"{STATEMENTS}{others['statement'].pk}/").status_code == 404
    assert client.get(f"{ORDERS}{others['order'].pk}/").status_code == 404
    refused = client.post(
        REQUESTS, {"customer": own.pk, "requested_limit": "1", "reason": "x"}, format="json"
    )
    assert refused.status_code == 403
    assert client.post(f"{REQUESTS}{mine['request'].pk}/cancel/", format="json").status_code == 403
    assert client.delete(f"{STATEMENTS}{mine['statement'].pk}/").status_code == 403


@pytest.mark.parametrize(
    "url,make",
    [(PROFILES, make_profile), (REQUESTS, make_request), (STATEMENTS, make_statement), (ORDERS, make_order)],
)
def test_list_query_count_does_not_grow_with_rows(api, org, url, make):
    for n in range(3):
        make(org, n)
    api.get(url)  # warm up: the key's first use records last_used_at
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(url).json()["results"]) == 3
    for n in range(3, 20):
        make(org, n)
    with CaptureQueriesContext(connection) as many:
        assert len(api.get(url).json()["results"]) == 20
    assert len(few) == len(many), [q["sql"] for q in many]


def test_profile_list_query_count_with_exposure_holds_and_terms(api, org, members):
    today = org.local_today()
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 15", days=15)

    def busy_customer(n):
        buyer = customer(org, name=f"Busy {n}")
        invoice(org, buyer, f"Q-{n}", today + 5 * DAY, total="100.00")
        make_order(org, n, customer=buyer)
        with tenancy.tenant(org):
            CustomerTerms.objects.create(customer=buyer, terms=terms)
            holds.hold_place(actor=user_actor(org, members, "owner"), customer=buyer, detail="Check")
            profile_ensure(buyer)

    for n in range(2):
        busy_customer(n)
    api.get(PROFILES)
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(PROFILES).json()["results"]) == 2
    for n in range(2, 12):
        busy_customer(n)
    with CaptureQueriesContext(connection) as many:
        rows = api.get(PROFILES).json()["results"]
    assert len(rows) == 12
    # Each owes an invoice of 100.00 and has an open order of 100 + n.
    assert {row["customer_name"]: row["exposure"] for row in rows} == {
        f"Busy {n}": f"{200 + n:.2f}" for n in range(12)
    }
    assert all(len(row["holds"]) == 1 and row["payment_terms"]["name"] == "Net 15" for row in rows)
    assert len(few) == len(many), [q["sql"] for q in many]
