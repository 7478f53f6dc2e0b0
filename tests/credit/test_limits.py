"""Maker-checker on credit limits, approval thresholds, temporary limits and their expiry."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from credit import limits, selectors, services
from credit.models import CreditProfile, LimitRequest
from finance import jobs, tenancy
from finance.actors import Actor
from finance.models import AuditEvent, WebhookDelivery
from receivables.models import CustomerTerms, PaymentTerms
from tests.credit.conftest import customer
from tests.factories import MembershipFactory

DAY = datetime.timedelta(days=1)


def as_role(org, members, role):
    return Actor(organization=org, role=role, user=members[role])


def request(org, actor, buyer, amount, **fields):
    with tenancy.tenant(org):
        return limits.limit_request_create(
            actor=actor,
            customer=buyer,
            requested_limit=Decimal(amount),
            reason=fields.pop("reason", "Growing"),
            **fields,
        )


def profile(org, buyer):
    with tenancy.tenant(org):
        return CreditProfile.objects.get(customer=buyer)


def test_the_requester_cannot_approve_and_another_manager_can(org, members):
    buyer = customer(org)
    manager = as_role(org, members, "finance_manager")
    pending = request(org, manager, buyer, "20000")
    assert pending.status == "pending" and pending.requested_by == members["finance_manager"]
    with tenancy.tenant(org):
        with pytest.raises(PermissionDenied, match="someone else"):
            limits.limit_request_approve(actor=manager, request=pending)
        assert profile(org, buyer).credit_limit is None
        approved = limits.limit_request_approve(
            actor=as_role(org, members, "owner"), request=pending, note="ok"
        )
        assert approved.status == "approved" and approved.decided_by == members["owner"]
        assert AuditEvent.objects.filter(action="credit.limit_changed", customer_id=buyer.pk).count() == 1
        assert AuditEvent.objects.filter(action="credit.limit_approved", customer_id=buyer.pk).count() == 1
    assert profile(org, buyer).credit_limit == Decimal("20000.00")


def test_api_keys_and_clerks_may_request_but_never_approve(org, members):
    buyer = customer(org)
    key_actor = Actor(organization=org, role="api_write")
    pending = request(org, key_actor, buyer, "5000")
    with tenancy.tenant(org):
        for actor in (key_actor, as_role(org, members, "ar_clerk"), as_role(org, members, "sales_rep")):
            with pytest.raises(PermissionDenied):
                limits.limit_request_approve(actor=actor, request=pending)
        with pytest.raises(PermissionDenied):
            limits.limit_request_create(
                actor=as_role(org, members, "sales_rep"),
                customer=buyer,
                requested_limit=Decimal(1),
                reason="x",
            )
        limits.limit_request_approve(actor=as_role(org, members, "finance_manager"), request=pending)
    assert profile(org, buyer).credit_limit == Decimal("5000.00")


def test_finance_managers_approve_up_to_the_policy_threshold(org, members):
    buyer = customer(org)
    with tenancy.tenant(org):
        services.policy_update(actor=as_role(org, members, "owner"), manager_approval_max=Decimal("50000"))
    big = request(org, as_role(org, members, "ar_clerk"), buyer, "80000")
    with tenancy.tenant(org):
        with pytest.raises(PermissionDenied, match="admin or the owner"):
            limits.limit_request_approve(actor=as_role(org, members, "finance_manager"), request=big)
        limits.limit_request_approve(actor=as_role(org, members, "admin"), request=big)
    assert profile(org, buyer).credit_limit == Decimal("80000.00")


def test_a_decrease_by_an_approver_applies_at_once(org, members):
    buyer = customer(org)
    first = request(org, as_role(org, members, "ar_clerk"), buyer, "9000")
    with tenancy.tenant(org):
        limits.limit_request_approve(actor=as_role(org, members, "finance_manager"), request=first)
    cut = request(org, as_role(org, members, "finance_manager"), buyer, "3000", reason="Paying late")
    assert cut.status == "approved"
    assert profile(org, buyer).credit_limit == Decimal("3000.00")
    raise_back = request(org, as_role(org, members, "finance_manager"), buyer, "9000")
    assert raise_back.status == "pending"  # an increase always needs a second person


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"requested_limit": "-1"}, "requested_limit"),
        ({"reason": "  "}, "reason"),
        ({"temporary": True}, "expires_on"),
        ({"temporary": True, "expires_on": "past"}, "expires_on"),
        ({"expires_on": "future"}, "expires_on"),
    ],
)
def test_bad_requests_are_refused_with_field_errors_and_write_nothing(org, members, fields, field):
    buyer = customer(org)
    today = org.local_today()
    fields = dict(fields)
    if fields.get("expires_on") == "past":
        fields["expires_on"] = today - DAY
    elif fields.get("expires_on") == "future":
        fields["expires_on"] = today + 10 * DAY
    amount = fields.pop("requested_limit", "1000")
    with pytest.raises(ValidationError) as error:
        request(org, as_role(org, members, "ar_clerk"), buyer, amount, **fields)
    assert field in error.value.message_dict
    with tenancy.tenant(org):
        assert not LimitRequest.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="credit.limit").exists()


def test_one_pending_request_per_customer_and_decided_ones_stay_decided(org, members):
    buyer = customer(org)
    clerk = as_role(org, members, "ar_clerk")
    pending = request(org, clerk, buyer, "1000")
    with pytest.raises(ValidationError, match="already pending"):
        request(org, clerk, buyer, "2000")
    with tenancy.tenant(org):
        manager = as_role(org, members, "finance_manager")
        with pytest.raises(ValidationError):
            limits.limit_request_reject(actor=manager, request=pending, note="")
        limits.limit_request_reject(actor=manager, request=pending, note="Too early")
        with pytest.raises(ValidationError, match="already rejected"):
            limits.limit_request_approve(actor=as_role(org, members, "owner"), request=pending)
    assert profile(org, buyer).credit_limit is None


def test_temporary_limit_counts_until_it_expires_by_the_daily_job(org, members):
    buyer = customer(org)
    today = org.local_today()
    clerk, manager = as_role(org, members, "ar_clerk"), as_role(org, members, "finance_manager")
    with tenancy.tenant(org):
        limits.limit_request_approve(actor=manager, request=request(org, clerk, buyer, "1000"))
        temporary = request(org, clerk, buyer, "4000", temporary=True, expires_on=today + 5 * DAY)
        limits.limit_request_approve(actor=manager, request=temporary)
        assert selectors.credit_check(
            customer=buyer, amount=Decimal("3000"), currency="CNY"
        ).limit == Decimal("4000")
        assert limits.credit_limits_expire(actor=Actor.system(org), run_date=today + 5 * DAY) == {
            "expired": 0
        }
        run = jobs.job_run(organization=org, job_name="credit_limits_expire", run_date=today + 6 * DAY)
        assert run.result == {"expired": 1}
        assert limits.credit_limits_expire(actor=Actor.system(org), run_date=today + 7 * DAY) == {
            "expired": 0
        }
    expired = profile(org, buyer)
    assert (expired.credit_limit, expired.temporary_limit) == (Decimal("1000.00"), None)


def test_an_approved_change_of_terms_reaches_receivables_and_the_webhook(org, members):
    buyer = customer(org)
    with tenancy.tenant(org):
        from finance import webhooks

        webhooks.endpoint_create(
            actor=Actor.system(org), url="https://erp.example.test/hooks", events=["credit.limit_changed"]
        )
        net60 = PaymentTerms.objects.create(name="Net 60", days=60)
    pending = request(org, as_role(org, members, "ar_clerk"), buyer, "7000", payment_terms=net60)
    with tenancy.tenant(org):
        limits.limit_request_approve(actor=as_role(org, members, "finance_manager"), request=pending)
        assert CustomerTerms.objects.get(customer=buyer).terms == net60
        delivery = WebhookDelivery.objects.get(event="credit.limit_changed")
    assert delivery.payload["data"]["credit_limit"] == "7000.00"
    assert delivery.payload["data"]["customer"] == buyer.pk


def test_another_tenant_never_sees_the_requests(org, outsider_org, members):
    buyer = customer(org)
    request(org, as_role(org, members, "ar_clerk"), buyer, "1000")
    with tenancy.tenant(outsider_org):
        assert not LimitRequest.objects.exists()
        outsider = MembershipFactory(organization=outsider_org, role="owner").user
        actor = Actor(organization=outsider_org, role="owner", user=outsider)
        assert not selectors.limit_requests_visible_to(actor).exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent approvers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_apply_the_request_exactly_once(org, members):
    buyer = customer(org)
    pending = request(org, as_role(org, members, "ar_clerk"), buyer, "25000")
    approvers = [as_role(org, members, "finance_manager"), as_role(org, members, "owner")]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(actor: Actor) -> None:
        try:
            with tenancy.tenant(org):
                start.wait(timeout=30)
                limits.limit_request_approve(actor=actor, request=pending)
                outcomes.append("approved")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(actor,)) for actor in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["approved", "refused"]
    with tenancy.tenant(org):
        assert AuditEvent.objects.filter(action="credit.limit_changed").count() == 1
    assert profile(org, buyer).credit_limit == Decimal("25000.00")
