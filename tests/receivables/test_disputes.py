"""Disputes: one in progress per invoice, partial amounts within what is outstanding, resolution by
a credit note that reduces the invoice, rejection, and who may do what."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.models import Interaction
from finance import tenancy, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, WebhookDelivery
from receivables import disputes
from receivables.models import CreditNote, Dispute, Invoice
from receivables.services import invoice_void
from tests.conftest import actor_for
from tests.factories import CustomerFactory, UserFactory
from tests.receivables.test_promises import make_invoice, pay

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def customer(org, members):
    return CustomerFactory(organization=org, owner=members["sales_rep"])


@pytest.fixture
def invoice(org, customer):
    return make_invoice(org, customer, total="1000.00", number="INV-100")


@pytest.fixture
def rep(org, members):
    return actor_for(org, members["sales_rep"], "sales_rep")


@pytest.fixture
def clerk(org, members):
    return actor_for(org, members["ar_clerk"], "ar_clerk")


def test_a_rep_opens_a_dispute_on_an_own_customers_invoice(org, in_org, rep, members, invoice, customer):
    dispute = disputes.dispute_open(
        actor=rep,
        invoice=invoice,
        reason="quality",
        amount="250.005",
        description="Two pallets arrived damaged",
        owner=members["ar_clerk"],
        target_date=org.local_today() + 7 * DAY,
    )
    assert dispute.status == Dispute.Status.OPEN
    assert dispute.amount == Decimal("250.01")
    assert dispute.customer == customer
    assert dispute.opened_on == org.local_today()
    assert dispute.created_by == members["sales_rep"]
    summary = Interaction.objects.get(customer=customer).summary
    assert summary == "Dispute opened on invoice INV-100 (250.01 CNY): Quality or damage"
    assert AuditEvent.objects.filter(action="dispute.opened", object_id=str(dispute.pk)).exists()
    assert invoice.pk in disputes.active_dispute_invoice_ids()
    flagged = Invoice.objects.annotate(disputed=disputes.invoice_has_active_dispute()).get(pk=invoice.pk)
    assert flagged.disputed is True


def test_a_rep_cannot_dispute_another_reps_invoice_nor_resolve(org, in_org, rep, invoice):
    theirs = make_invoice(org, CustomerFactory(organization=org))
    with pytest.raises(ValidationError) as raised:
        disputes.dispute_open(actor=rep, invoice=theirs, reason="pricing")
    assert raised.value.message_dict == {"invoice": ["No such invoice."]}
    dispute = disputes.dispute_open(actor=rep, invoice=invoice, reason="pricing")
    with pytest.raises(PermissionDenied):
        disputes.dispute_resolve(actor=rep, dispute=dispute, credit_amount="10")
    with pytest.raises(PermissionDenied):
        disputes.dispute_update(actor=rep, dispute=dispute, status="in_review")
    assert list(disputes.disputes_visible_to(rep)) == [dispute]


def test_bad_input_names_the_field_and_writes_nothing(org, outsider_org, in_org, clerk, owner_actor, invoice):
    pay(org, invoice, "900.00", org.local_today())  # 100.00 left
    void = make_invoice(org, invoice.customer)
    invoice_void(actor=owner_actor, invoice=void)
    theirs = make_invoice(outsider_org, CustomerFactory(organization=outsider_org))
    stranger = UserFactory()
    cases = [
        ({"amount": "100.01"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "x"}, "amount"),
        ({"reason": "because"}, "reason"),
        ({"owner": stranger}, "owner"),
        ({"target_date": org.local_today() - DAY}, "target_date"),
        ({"invoice": void}, "invoice"),
        ({"invoice": theirs}, "invoice"),
    ]
    for change, field in cases:
        with pytest.raises(ValidationError) as raised:
            disputes.dispute_open(actor=clerk, **{"invoice": invoice, "reason": "pricing", **change})
        assert field in raised.value.message_dict, (change, raised.value)
    assert Dispute.objects.count() == 0
    assert not Interaction.objects.exists()
    assert disputes.dispute_open(actor=clerk, invoice=invoice, reason="pricing", amount="100.00").pk


def test_a_second_dispute_in_progress_is_refused_until_the_first_closes(org, in_org, clerk, invoice):
    first = disputes.dispute_open(actor=clerk, invoice=invoice, reason="pricing")
    disputes.dispute_update(actor=clerk, dispute=first, status="in_review")
    with pytest.raises(ValidationError) as raised:
        disputes.dispute_open(actor=clerk, invoice=invoice, reason="quantity")
    assert raised.value.message_dict == {"invoice": ["This invoice already has a dispute in progress."]}
    disputes.dispute_reject(actor=clerk, dispute=first, resolution="Prices were as agreed")
    assert disputes.dispute_open(actor=clerk, invoice=invoice, reason="quantity").status == "open"
    assert Dispute.objects.count() == 2


def test_resolving_issues_a_credit_note_that_reduces_outstanding(org, in_org, clerk, owner_actor, invoice):
    webhooks.endpoint_create(
        actor=owner_actor, url="https://erp.example.test/hooks", events=["dispute.resolved"]
    )
    dispute = disputes.dispute_open(actor=clerk, invoice=invoice, reason="pricing", amount="300.00")
    resolved = disputes.dispute_resolve(
        actor=clerk, dispute=dispute, credit_amount="120.00", resolution="Agreed a 120 discount"
    )
    assert resolved.status == Dispute.Status.RESOLVED
    assert resolved.resolved_on == org.local_today()
    note = resolved.credit_note
    assert note.number == f"CN-INV-100-D{dispute.pk}"
    assert note.total == Decimal("120.00") and note.unallocated == Decimal("0.00")
    invoice.refresh_from_db()
    assert invoice.outstanding == Decimal("880.00")
    assert invoice.pk not in disputes.active_dispute_invoice_ids()
    delivery = WebhookDelivery.objects.get(event="dispute.resolved")
    assert delivery.payload["data"]["status"] == "resolved"
    assert delivery.payload["data"]["credit_note"] == note.pk
    with pytest.raises(ValidationError):
        disputes.dispute_reject(actor=clerk, dispute=resolved, resolution="too late")


def test_a_credit_above_what_is_outstanding_leaves_the_rest_unallocated(org, in_org, clerk, invoice):
    pay(org, invoice, "950.00", org.local_today())
    dispute = disputes.dispute_open(actor=clerk, invoice=invoice, reason="duplicate")
    resolved = disputes.dispute_resolve(
        actor=clerk, dispute=dispute, credit_amount="80.00", credit_note_number="CN-77"
    )
    invoice.refresh_from_db()
    assert invoice.outstanding == Decimal("0.00")
    assert resolved.credit_note.number == "CN-77"
    assert resolved.credit_note.unallocated == Decimal("30.00")


def test_resolving_refuses_bad_credits_and_writes_nothing(org, in_org, clerk, invoice):
    other = make_invoice(org, invoice.customer, number="INV-200")
    disputes.dispute_resolve(
        actor=clerk,
        dispute=disputes.dispute_open(actor=clerk, invoice=other, reason="tax"),
        credit_amount="1",
        credit_note_number="CN-TAKEN",
    )
    dispute = disputes.dispute_open(actor=clerk, invoice=invoice, reason="pricing", amount="100.00")
    cases = [
        ({"credit_amount": "100.01"}, "credit_amount"),
        ({"credit_amount": "0"}, "credit_amount"),
        ({"credit_amount": "1", "credit_note_number": "CN-TAKEN"}, "credit_note_number"),
        ({"credit_amount": "1", "issue_date": invoice.issue_date - DAY}, "issue_date"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as raised:
            disputes.dispute_resolve(actor=clerk, dispute=dispute, **kwargs)
        assert field in raised.value.message_dict, (kwargs, raised.value)
    assert CreditNote.objects.count() == 1
    dispute.refresh_from_db()
    assert dispute.status == Dispute.Status.OPEN


def test_rejecting_needs_a_reason_and_sends_the_resolved_event(org, in_org, clerk, owner_actor, invoice):
    webhooks.endpoint_create(
        actor=owner_actor, url="https://erp.example.test/hooks", events=["dispute.resolved"]
    )
    dispute = disputes.dispute_open(actor=clerk, invoice=invoice, reason="not_received")
    with pytest.raises(ValidationError) as raised:
        disputes.dispute_reject(actor=clerk, dispute=dispute, resolution="  ")
    assert "resolution" in raised.value.message_dict
    rejected = disputes.dispute_reject(actor=clerk, dispute=dispute, resolution="Proof of delivery signed")
    assert rejected.status == Dispute.Status.REJECTED
    assert rejected.credit_note is None
    assert WebhookDelivery.objects.get(event="dispute.resolved").payload["data"]["status"] == "rejected"


def test_updating_changes_only_what_it_may(org, in_org, clerk, rep, members, invoice):
    dispute = disputes.dispute_open(actor=rep, invoice=invoice, reason="pricing")
    disputes.dispute_update(actor=rep, dispute=dispute, description="Price list of March applies")
    updated = disputes.dispute_update(
        actor=clerk, dispute=dispute, status="in_review", owner=members["ar_clerk"], target_date=None
    )
    assert updated.status == "in_review" and updated.owner == members["ar_clerk"]
    assert updated.description == "Price list of March applies"
    for fields, field in [
        ({"status": "resolved"}, "status"),
        ({"amount": "1"}, "amount"),
        ({"owner": UserFactory()}, "owner"),
        ({"target_date": dispute.opened_on - DAY}, "target_date"),
    ]:
        with pytest.raises(ValidationError) as raised:
            disputes.dispute_update(actor=clerk, dispute=dispute, **fields)
        assert field in raised.value.message_dict
    assert AuditEvent.objects.filter(action="dispute.updated").count() == 2


def test_an_auditor_sees_disputes_but_cannot_open_one(org, in_org, members, invoice, clerk):
    auditor = actor_for(org, members["auditor"], "auditor")
    with pytest.raises(PermissionDenied):
        disputes.dispute_open(actor=auditor, invoice=invoice, reason="pricing")
    dispute = disputes.dispute_open(actor=clerk, invoice=invoice, reason="pricing")
    assert list(disputes.disputes_visible_to(auditor)) == [dispute]


def test_another_organizations_dispute_is_unknown_to_every_service(org, outsider_org, in_org, clerk):
    with tenancy.tenant(outsider_org):
        theirs = disputes.dispute_open(
            actor=Actor.system(outsider_org),
            invoice=make_invoice(outsider_org, CustomerFactory(organization=outsider_org)),
            reason="pricing",
        )
    for call in (
        lambda: disputes.dispute_update(actor=clerk, dispute=theirs, description="x"),
        lambda: disputes.dispute_resolve(actor=clerk, dispute=theirs, credit_amount="1"),
        lambda: disputes.dispute_reject(actor=clerk, dispute=theirs, resolution="no"),
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.message_dict == {"dispute": ["No such dispute."]}
