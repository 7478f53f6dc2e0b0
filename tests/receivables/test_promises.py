"""Promises to pay: what one covers, when it is kept or broken, who hears of a broken one, and that
the daily check can run twice."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.models import FollowUp, Interaction
from finance import jobs, tenancy, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, WebhookDelivery
from receivables import promises, signals
from receivables.models import CollectionProfile, DunningPolicy, Invoice, PromiseToPay
from receivables.services import invoice_create, invoice_void, payment_record
from tests.conftest import actor_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


# --- Builders (shared by the collections test modules) --------------------------------------------


def make_invoice(org, customer, total="1000.00", currency="CNY", issued=None, number=None) -> Invoice:
    """An open invoice issued 40 days before the organization's today unless told otherwise."""
    issued = issued or org.local_today() - 40 * DAY
    with tenancy.tenant(org):
        return invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number or f"INV-{customer.pk}-{Invoice.objects.count() + 1}",
            currency=currency,
            issue_date=issued,
            due_date=issued + 30 * DAY,
            total=total,
        )


def pay(org, invoice, amount, on) -> None:
    """A payment received on `on`, allocated to `invoice` that day."""
    with tenancy.tenant(org):
        payment_record(
            actor=Actor.system(org),
            customer=invoice.customer,
            currency=invoice.currency,
            received_on=on,
            amount=amount,
            allocations=[{"invoice": invoice, "amount": amount, "allocated_on": on}],
        )


def make_promise(
    org, customer, amount="500.00", days_ahead=10, invoices=None, currency="CNY"
) -> PromiseToPay:
    with tenancy.tenant(org):
        return promises.promise_record(
            actor=Actor.system(org),
            customer=customer,
            amount=amount,
            currency=currency,
            promised_date=org.local_today() + days_ahead * DAY,
            invoices=invoices,
        )


def check(org, run_date) -> dict:
    with tenancy.tenant(org):
        return promises.promises_check(actor=Actor.system(org), run_date=run_date)


def reload(org, obj):
    with tenancy.tenant(org):
        obj.refresh_from_db()
    return obj


@pytest.fixture
def customer(org, members):
    return CustomerFactory(organization=org, owner=members["sales_rep"])


@pytest.fixture
def today(org):
    return org.local_today()


# --- Recording ---------------------------------------------------------------------------------


def test_a_promise_covers_the_customers_open_invoices_in_its_currency(
    org, in_org, owner_actor, customer, today
):
    first = make_invoice(org, customer)
    second = make_invoice(org, customer, total="200.00")
    make_invoice(org, customer, currency="USD")
    paid = make_invoice(org, customer, total="50.00")
    pay(org, paid, "50.00", today - 5 * DAY)

    promise = promises.promise_record(
        actor=owner_actor,
        customer=customer,
        amount="1000.004",
        currency="CNY",
        promised_date=today + 14 * DAY,
        note="Called the CFO",
    )

    assert promise.amount == Decimal("1000.00")
    assert promise.recorded_on == today
    assert promise.grace_days == 2
    assert promise.status == PromiseToPay.Status.OPEN
    assert set(promise.invoices.values_list("pk", flat=True)) == {first.pk, second.pk}
    note = Interaction.objects.get(customer=customer)
    assert note.kind == "note"
    assert note.summary == f"Promise to pay 1,000.00 CNY by {(today + 14 * DAY).isoformat()}"
    assert note.outcome == "Called the CFO"
    assert AuditEvent.objects.filter(action="promise.recorded", object_id=str(promise.pk)).exists()


def test_named_invoices_are_the_only_ones_covered(org, in_org, owner_actor, customer, today):
    first = make_invoice(org, customer)
    make_invoice(org, customer)
    promise = promises.promise_record(
        actor=owner_actor,
        customer=customer,
        amount="10",
        currency="CNY",
        promised_date=today,
        invoices=[first],
    )
    assert list(promise.invoices.values_list("pk", flat=True)) == [first.pk]


def test_grace_days_come_from_the_customers_policy_then_the_default(org, in_org, owner_actor, customer):
    make_invoice(org, customer)
    DunningPolicy.objects.create(organization=org, name="Default", is_default=True, promise_grace_days=7)
    assert make_promise(org, customer).grace_days == 7
    own = DunningPolicy.objects.create(organization=org, name="Key accounts", promise_grace_days=5)
    CollectionProfile.objects.create(organization=org, customer=customer, policy=own)
    assert make_promise(org, customer).grace_days == 5


def test_bad_input_names_the_field_and_writes_nothing(
    org, outsider_org, in_org, owner_actor, customer, today
):
    invoice = make_invoice(org, customer)
    other_customers = make_invoice(org, CustomerFactory(organization=org))
    in_dollars = make_invoice(org, customer, currency="USD")
    void = make_invoice(org, customer)
    invoice_void(actor=owner_actor, invoice=void)
    settled = make_invoice(org, customer, total="10.00")
    pay(org, settled, "10.00", today)
    theirs = make_invoice(outsider_org, CustomerFactory(organization=outsider_org))
    empty_handed = CustomerFactory(organization=org)
    base = {"customer": customer, "amount": "100", "currency": "CNY", "promised_date": today + DAY}
    cases = [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"currency": "ZZZ"}, "currency"),
        ({"promised_date": today - DAY}, "promised_date"),
        ({"promised_date": today + 366 * DAY}, "promised_date"),
        ({"invoices": [other_customers]}, "invoices"),
        ({"invoices": [in_dollars]}, "invoices"),
        ({"invoices": [void]}, "invoices"),
        ({"invoices": [settled]}, "invoices"),
        ({"invoices": [invoice, theirs]}, "invoices"),
        ({"customer": empty_handed}, "invoices"),
        ({"currency": "EUR"}, "invoices"),
        ({"note": "x" * 501}, "note"),
    ]
    for change, field in cases:
        with pytest.raises(ValidationError) as raised:
            promises.promise_record(actor=owner_actor, **{**base, **change})
        assert field in raised.value.message_dict, (change, raised.value)
    assert PromiseToPay.objects.count() == 0
    assert Interaction.objects.count() == 0
    assert not AuditEvent.objects.filter(action="promise.recorded").exists()


def test_another_organizations_customer_is_refused_as_unknown(org, outsider_org, in_org, owner_actor, today):
    theirs = CustomerFactory(organization=outsider_org)
    make_invoice(outsider_org, theirs)
    with pytest.raises(ValidationError) as raised:
        promises.promise_record(
            actor=owner_actor, customer=theirs, amount="1", currency="CNY", promised_date=today
        )
    assert raised.value.message_dict == {"customer": ["No such customer."]}


def test_a_sales_rep_cannot_record_a_promise_but_sees_those_of_own_customers(org, in_org, members, customer):
    rep = actor_for(org, members["sales_rep"], "sales_rep")
    make_invoice(org, customer)
    mine = make_promise(org, customer)
    someone_elses = CustomerFactory(organization=org)
    make_invoice(org, someone_elses)
    make_promise(org, someone_elses)
    with pytest.raises(PermissionDenied):
        promises.promise_record(
            actor=rep, customer=customer, amount="1", currency="CNY", promised_date=org.local_today()
        )
    assert list(promises.promises_visible_to(rep)) == [mine]
    assert promises.promises_visible_to(Actor.system(org)).count() == 2


def test_a_duplicate_external_id_is_a_field_error(org, in_org, owner_actor, customer, today):
    make_invoice(org, customer)
    kwargs = {"customer": customer, "amount": "1", "currency": "CNY", "promised_date": today}
    promises.promise_record(actor=owner_actor, external_id="P-1", **kwargs)
    with pytest.raises(ValidationError) as raised:
        promises.promise_record(actor=owner_actor, external_id="P-1", **kwargs)
    assert "external_id" in raised.value.message_dict
    assert PromiseToPay.objects.count() == 1


# --- Kept, broken, grace -------------------------------------------------------------------------


def test_paid_in_full_after_recording_is_kept(org, in_org, customer, today):
    invoice = make_invoice(org, customer)
    promise = make_promise(org, customer, amount="500.00")
    pay(org, invoice, "300.00", today)
    assert check(org, today) == {"checked": 1, "kept": 0, "broken": 0}
    assert reload(org, promise).paid_amount == Decimal("300.00")
    assert promise.status == PromiseToPay.Status.OPEN
    pay(org, invoice, "200.00", today + 3 * DAY)
    assert check(org, today + 3 * DAY)["kept"] == 1
    promise = reload(org, promise)
    assert promise.status == PromiseToPay.Status.KEPT
    assert promise.resolved_on == today + 3 * DAY
    assert promise.paid_amount == Decimal("500.00")
    assert promises.kept_promise_rate(customer=customer) == {
        "kept": 1,
        "broken": 0,
        "rate": Decimal("1.0000"),
    }


def test_payments_before_the_promise_or_after_the_run_date_do_not_count(org, in_org, customer, today):
    invoice = make_invoice(org, customer)
    pay(org, invoice, "400.00", today - DAY)  # before the promise: already owed less, not a kept promise
    promise = make_promise(org, customer, amount="500.00", days_ahead=0)
    pay(org, invoice, "100.00", today + 10 * DAY)  # after the run date below
    check(org, today + 3 * DAY)
    promise = reload(org, promise)
    assert promise.status == PromiseToPay.Status.BROKEN
    assert promise.paid_amount == Decimal("0.00")


def test_a_promise_stays_open_through_its_grace_days_then_breaks(org, in_org, customer, today):
    invoice = make_invoice(org, customer)
    promise = make_promise(org, customer, amount="500.00", days_ahead=10)
    pay(org, invoice, "100.00", today + DAY)
    assert check(org, today + 12 * DAY)["broken"] == 0  # promised day + 2 grace days
    assert reload(org, promise).status == PromiseToPay.Status.OPEN
    assert invoice.pk in promises.invoices_under_promise(today + 12 * DAY)
    assert invoice.pk not in promises.invoices_under_promise(today + 13 * DAY)
    assert check(org, today + 13 * DAY)["broken"] == 1
    promise = reload(org, promise)
    assert promise.status == PromiseToPay.Status.BROKEN
    assert promise.resolved_on == today + 13 * DAY
    assert promise.paid_amount == Decimal("100.00")
    assert promises.invoices_under_promise(today) == set()
    assert promises.kept_promise_rate(customer=customer) == {
        "kept": 0,
        "broken": 1,
        "rate": Decimal("0.0000"),
    }


def test_a_broken_promise_alerts_the_collector_and_a_rerun_changes_nothing(
    org, in_org, owner_actor, members, customer, today
):
    collector = members["ar_clerk"]
    CollectionProfile.objects.create(organization=org, customer=customer, collector=collector)
    webhooks.endpoint_create(
        actor=owner_actor, url="https://erp.example.test/hooks", events=["promise.broken"]
    )
    make_invoice(org, customer)
    promise = make_promise(org, customer, amount="1000.00", days_ahead=1)
    run_date = today + 4 * DAY

    assert check(org, run_date) == {"checked": 1, "kept": 0, "broken": 1}

    follow_up = FollowUp.objects.get(customer=customer)
    assert follow_up.assignee == collector
    assert follow_up.due_date == run_date
    assert follow_up.title.startswith("Broken promise to pay: 1,000.00 CNY by ")
    delivery = WebhookDelivery.objects.get(event="promise.broken")
    assert delivery.event_id == f"promise.broken:{promise.pk}"
    assert delivery.payload["data"]["status"] == "broken"
    assert delivery.payload["data"]["amount"] == "1000.00"
    assert AuditEvent.objects.filter(action="promise.broken", object_id=str(promise.pk)).count() == 1

    assert check(org, run_date) == {"checked": 0, "kept": 0, "broken": 0}
    assert check(org, run_date + DAY)["broken"] == 0
    assert FollowUp.objects.filter(customer=customer).count() == 1
    assert WebhookDelivery.objects.filter(event="promise.broken").count() == 1
    assert AuditEvent.objects.filter(action="promise.broken").count() == 1
    assert reload(org, promise).resolved_on == run_date


def test_without_a_collector_the_customer_owner_is_alerted(org, in_org, members, customer, today):
    make_invoice(org, customer)
    make_promise(org, customer, days_ahead=0)
    check(org, today + 3 * DAY)
    assert FollowUp.objects.get(customer=customer).assignee == members["sales_rep"]


def test_a_broken_promise_sends_the_signal_after_commit(
    org, in_org, customer, today, django_capture_on_commit_callbacks
):
    received = []

    def on_broken(sender, promise, **kwargs):
        received.append(promise.pk)

    signals.promise_broken.connect(on_broken)
    try:
        make_invoice(org, customer)
        promise = make_promise(org, customer, days_ahead=0)
        with django_capture_on_commit_callbacks(execute=True):
            check(org, today + 3 * DAY)
        assert received == [promise.pk]
    finally:
        signals.promise_broken.disconnect(on_broken)


def test_the_daily_job_runs_at_five_before_dunning(org, customer, today):
    assert jobs.JOBS["promises"].local_hour == 5
    make_invoice(org, customer)
    promise = make_promise(org, customer, days_ahead=0)
    run = jobs.job_run(organization=org, job_name="promises", run_date=today + 3 * DAY)
    assert run.result == {"checked": 1, "kept": 0, "broken": 1}
    assert reload(org, promise).status == PromiseToPay.Status.BROKEN


# --- Cancelling, and what dunning reads ---------------------------------------------------------------


def test_only_an_open_promise_can_be_cancelled(org, in_org, owner_actor, customer, today):
    invoice = make_invoice(org, customer)
    promise = make_promise(org, customer, days_ahead=5)
    assert invoice.pk in promises.invoices_under_promise(today)
    cancelled = promises.promise_cancel(actor=owner_actor, promise=promise)
    assert cancelled.status == PromiseToPay.Status.CANCELLED
    assert cancelled.resolved_on == today
    assert promises.invoices_under_promise(today) == set()
    with pytest.raises(ValidationError) as raised:
        promises.promise_cancel(actor=owner_actor, promise=promise)
    assert "status" in raised.value.message_dict
    assert check(org, today + 30 * DAY)["checked"] == 0
    assert promises.kept_promise_rate(customer=customer)["rate"] is None


def test_another_organizations_promise_cannot_be_cancelled(org, outsider_org, in_org, owner_actor):
    theirs = CustomerFactory(organization=outsider_org)
    make_invoice(outsider_org, theirs)
    promise = make_promise(outsider_org, theirs)
    with pytest.raises(ValidationError) as raised:
        promises.promise_cancel(actor=owner_actor, promise=promise)
    assert raised.value.message_dict == {"promise": ["No such promise."]}
    assert reload(outsider_org, promise).status == PromiseToPay.Status.OPEN
