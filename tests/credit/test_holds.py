"""Holds end to end: dunning escalation puts the hold (through receivables' signal), payment
releases it; over-limit and past-due holds come and go with their cause; overrides and manual
holds; notices to the owner rep and finance; webhooks."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from credit import holds, limits, selectors, services
from credit.models import CreditHold, CreditProfile
from crm.models import Interaction
from finance import tenancy, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, WebhookDelivery
from receivables import dunning, dunning_policies
from receivables import services as ledger
from tests.credit.conftest import customer, invoice
from tests.factories import ContactFactory

DAY = datetime.timedelta(days=1)


def user_actor(org, members, role):
    return Actor(organization=org, role=role, user=members[role])


def set_limit(org, members, customer, amount):
    with tenancy.tenant(org):
        request = limits.limit_request_create(
            actor=user_actor(org, members, "ar_clerk"),
            customer=customer,
            requested_limit=Decimal(amount),
            reason="terms",
        )
        return limits.limit_request_approve(
            actor=user_actor(org, members, "finance_manager"), request=request
        )


def active(org, customer):
    with tenancy.tenant(org):
        return sorted(
            CreditHold.objects.filter(customer=customer, released_at__isnull=True).values_list(
                "reason", flat=True
            )
        )


def check(org, customer, amount="100.00"):
    with tenancy.tenant(org):
        return selectors.credit_check(customer=customer, amount=Decimal(amount), currency="CNY")


def test_dunning_final_notice_puts_a_hold_and_payment_releases_it(
    org, members, actor, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("finance.tasks.deliver_webhook.delay", lambda **kwargs: None)  # no network
    today = org.local_today()
    owner_rep = members["sales_rep"]
    buyer = customer(org, owner=owner_rep)
    ContactFactory(
        customer=buyer, name="王芳", email="ap@huadong.example", is_billing=True, preferred_language="en"
    )
    late = invoice(org, buyer, "D-1", today - 50 * DAY, total="800.00")
    set_limit(org, members, buyer, "100000")
    with tenancy.tenant(org):
        webhooks.endpoint_create(
            actor=actor, url="https://erp.example.test/hooks", events=["credit.hold", "credit.released"]
        )
        dunning_policies.policy_create_recommended(actor=actor)
        with django_capture_on_commit_callbacks(execute=True):
            dunning.dunning_run(actor=actor, run_date=today)
    assert active(org, buyer) == ["dunning"]
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=buyer).status == "hold"
        assert WebhookDelivery.objects.filter(event="credit.hold").count() == 1
        assert AuditEvent.objects.filter(action="credit.hold", customer_id=buyer.pk).exists()
        assert Interaction.objects.filter(customer=buyer, summary__startswith="Credit hold").exists()
    assert check(org, buyer).decision == "hold"
    notified = {
        address for message in mail.outbox if "Credit hold" in message.subject for address in message.to
    }
    assert {owner_rep.email, members["finance_manager"].email} <= notified

    with tenancy.tenant(org), django_capture_on_commit_callbacks(execute=True):
        ledger.payment_record(
            actor=actor,
            customer=buyer,
            amount="800.00",
            currency="CNY",
            received_on=today,
            allocations=[{"invoice": late, "amount": Decimal("800.00")}],
        )
    assert active(org, buyer) == []
    with tenancy.tenant(org):
        assert CreditProfile.objects.get(customer=buyer).status in {"ok", "watch"}
        released = WebhookDelivery.objects.get(event="credit.released")
        assert released.payload["data"]["reason"] == "dunning"
        profile = CreditProfile.objects.get(customer=buyer)
    after = check(org, buyer)
    # Paid, but 50 days late: no longer held; a poor class keeps the customer on watch (review).
    assert after.decision == ("review" if profile.status == "watch" else "approve")
    assert not [code for code in after.codes if code.startswith("hold")]


def test_over_limit_hold_follows_exposure_including_open_orders(org, members, actor):
    today = org.local_today()
    buyer = customer(org)
    invoice(org, buyer, "L-1", today + 20 * DAY, total="4000.00")
    set_limit(org, members, buyer, "5000")
    assert active(org, buyer) == []
    with tenancy.tenant(org):
        services.order_upsert(
            actor=actor,
            external_id="SO-1",
            customer=buyer,
            amount=Decimal("1500"),
            currency="CNY",
            status="open",
        )
    assert active(org, buyer) == ["over_limit"]
    result = check(org, buyer)
    assert (result.decision, result.exposure, result.available) == (
        "hold",
        Decimal("5500.00"),
        Decimal("-500.00"),
    )
    with tenancy.tenant(org):
        services.order_upsert(
            actor=actor,
            external_id="SO-1",
            customer=buyer,
            amount=Decimal("1500"),
            currency="CNY",
            status="closed",
        )
    assert active(org, buyer) == []
    assert check(org, buyer).exposure == Decimal("4000.00")


def test_past_due_beyond_the_policy_holds_until_paid(org, members, actor):
    today = org.local_today()
    buyer = customer(org)
    invoice(org, buyer, "P-1", today - 61 * DAY, total="300.00")
    set_limit(org, members, buyer, "100000")  # approving refreshes holds
    assert active(org, buyer) == ["past_due"]
    assert "61 days past due" in " ".join(check(org, buyer).reasons)


def test_an_override_releases_with_a_reason_and_keeps_the_automatic_hold_off(org, members, actor):
    today = org.local_today()
    buyer = customer(org)
    invoice(org, buyer, "O-1", today - 70 * DAY, total="300.00")
    set_limit(org, members, buyer, "100000")
    with tenancy.tenant(org):
        hold = CreditHold.objects.get(customer=buyer, reason="past_due")
        manager = user_actor(org, members, "finance_manager")
        with pytest.raises(ValidationError) as error:
            holds.hold_release(actor=manager, hold=hold, note=" ")
        assert "note" in error.value.message_dict
        with pytest.raises(PermissionDenied):
            holds.hold_release(actor=user_actor(org, members, "sales_rep"), hold=hold, note="ok")
        released = holds.hold_release(actor=manager, hold=hold, note="Paid by cheque, clearing on Monday")
        assert released.overridden and released.override_until == today + datetime.timedelta(days=14)
        holds.holds_refresh(actor=actor, customers=[buyer], today=today)
        assert not CreditHold.objects.filter(customer=buyer, released_at__isnull=True).exists()
        holds.holds_refresh(actor=actor, customers=[buyer], today=today + 15 * DAY)  # override over
    assert active(org, buyer) == ["past_due"]


def test_manual_hold_needs_a_reason_stays_until_released_and_blocks_orders(org, members, actor):
    buyer = customer(org)
    set_limit(org, members, buyer, "1000")
    with tenancy.tenant(org):
        manager = user_actor(org, members, "finance_manager")
        with pytest.raises(ValidationError):
            holds.hold_place(actor=manager, customer=buyer, detail="")
        with pytest.raises(PermissionDenied):
            holds.hold_place(actor=user_actor(org, members, "ar_clerk"), customer=buyer, detail="x")
        hold = holds.hold_place(actor=manager, customer=buyer, detail="Bankruptcy rumours")
        assert holds.hold_place(actor=manager, customer=buyer, detail="again") == hold  # one per reason
        holds.holds_refresh(actor=actor, customers=[buyer], today=org.local_today())
    assert active(org, buyer) == ["manual"]
    assert check(org, buyer).decision == "hold"
    with tenancy.tenant(org):
        holds.hold_release(actor=manager, hold=hold, note="Rumours denied by the bank")
    assert check(org, buyer).decision == "approve"


def test_holds_never_cross_tenants(org, outsider_org, members, actor):
    today = org.local_today()
    buyer = customer(org)
    stranger = customer(outsider_org, name="Stranger")
    invoice(outsider_org, stranger, "X-1", today - 90 * DAY)
    set_limit(org, members, buyer, "1000")
    with tenancy.tenant(org):
        holds.holds_refresh(actor=actor, customers=[buyer], today=today)
        assert selectors.exposures(None, today).keys() <= {buyer.pk}
    with tenancy.tenant(outsider_org):
        assert not CreditHold.objects.exists()


def test_one_dunning_run_holds_every_customer_at_final_notice_at_once_but_an_override(
    org, members, actor, django_capture_on_commit_callbacks
):
    """The run's holds are placed together (one signal per chunk of messages); a customer whose
    dunning hold was released by override keeps its override."""
    today = org.local_today()
    buyers = [customer(org, name=f"Buyer {n}") for n in range(4)]
    for n, buyer in enumerate(buyers):
        ContactFactory(customer=buyer, name=f"AP {n}", email=f"ap{n}@example.test", is_billing=True)
        invoice(org, buyer, f"F-{n}", today - 50 * DAY, total="500.00")
    with tenancy.tenant(org):
        spared = holds.hold_place(
            actor=actor, customer=buyers[0], reason=CreditHold.Reason.DUNNING, detail="Earlier run"
        )
        holds.hold_release(
            actor=Actor(organization=org, role="owner", user=members["owner"]),
            hold=spared,
            note="Paid by wire",
        )
        dunning_policies.policy_create_recommended(actor=actor)
        with django_capture_on_commit_callbacks(execute=True):
            dunning.dunning_run(actor=actor, run_date=today)
    assert active(org, buyers[0]) == []
    for buyer in buyers[1:]:
        assert active(org, buyer) == ["dunning"]
    with tenancy.tenant(org):
        assert AuditEvent.objects.filter(action="credit.hold").count() == 1 + 3
        statuses = set(CreditProfile.objects.filter(customer__in=buyers[1:]).values_list("status", flat=True))
    assert statuses == {"hold"}
    finance_manager = members["finance_manager"]
    notices = [m for m in mail.outbox if m.to == [finance_manager.email] and "Credit hold" in m.subject]
    # one email for the run's three holds, not three
    assert [m.subject for m in notices] == ["Credit holds: 3 customers"]
    assert all(f"Buyer {n}" in notices[0].body for n in (1, 2, 3)) and "Buyer 0" not in notices[0].body
