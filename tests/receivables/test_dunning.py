"""Dunning: the right customer gets the right reminder, once.

One reminder per customer per run listing every invoice that reached a level; nothing about disputed
or promised invoices, balances under the minimum, snoozed customers or right after a payment; a
second run, a crash midway and a failing mail server produce neither duplicates nor gaps."""

import datetime
import smtplib
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from crm.models import FollowUp, Interaction
from finance import jobs, tenancy
from finance.actors import Actor
from receivables import channels, dunning, dunning_policies, services
from receivables.models import (
    CollectionProfile,
    Dispute,
    DunningMessage,
    DunningPolicy,
    Invoice,
    LateFee,
    PromiseInvoice,
    PromiseToPay,
    Reminder,
)
from receivables.statements import statement_link
from tests.factories import ContactFactory, CustomerFactory
from tests.receivables.test_statements import smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
D = datetime.date
RUN = D(2026, 11, 20)


@pytest.fixture
def actor(org):
    return Actor.system(org)


@pytest.fixture
def policy(org, actor):
    with tenancy.tenant(org):
        return dunning_policies.policy_create_recommended(actor=actor)


def customer_with_contact(org, name="华东机电", email="ap@huadong.example", **fields):
    customer = CustomerFactory(organization=org, name=name, **fields)
    ContactFactory(customer=customer, name="王芳", email=email, is_billing=True, preferred_language="en")
    return customer


def invoice(org, customer, number, due, total="500.00", currency="CNY"):
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=due - datetime.timedelta(days=30),
            due_date=due,
            total=total,
        )


def run(org, day=RUN):
    with tenancy.tenant(org):
        return dunning.dunning_run(actor=Actor.system(org), run_date=day)


def test_one_reminder_per_customer_lists_every_invoice_that_reached_a_level(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-10", RUN - datetime.timedelta(days=10))
    invoice(org, customer, "INV-25", RUN - datetime.timedelta(days=25))
    invoice(org, customer, "INV-SOON", RUN + datetime.timedelta(days=2))
    invoice(org, customer, "INV-LATER", RUN + datetime.timedelta(days=20))

    result = run(org)

    assert result["recorded"] == 1 and result["queued"] == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ap@huadong.example"]
    assert "INV-10" in email.body and "INV-25" in email.body and "INV-SOON" in email.body
    assert "INV-LATER" not in email.body
    assert "1,500.00 CNY" in email.body
    with tenancy.tenant(org):
        levels = dict(Reminder.objects.values_list("invoice__number", "level__name"))
        message = DunningMessage.objects.get()
        assert message.level.name == "Second reminder"
        assert message.status == DunningMessage.Status.SENT
        assert Interaction.objects.filter(customer=customer, summary__contains="Second reminder").exists()
        # The second reminder level creates a collector task.
        assert FollowUp.objects.filter(customer=customer).count() == 1
    assert levels == {
        "INV-10": "First reminder",
        "INV-25": "Second reminder",
        "INV-SOON": "Friendly reminder",
    }


def test_a_second_run_the_same_day_or_the_next_sends_nothing(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    run(org)
    assert run(org)["recorded"] == 0
    assert run(org, RUN + datetime.timedelta(days=1))["recorded"] == 0
    assert len(mail.outbox) == 1
    # It reaches the next level 11 days later: one more reminder.
    assert run(org, RUN + datetime.timedelta(days=11))["recorded"] == 1
    assert len(mail.outbox) == 2


def test_the_job_and_the_command_run_the_same_code_once(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    job = jobs.job_run(organization=org, job_name="dunning", run_date=RUN)
    assert job.result["recorded"] == 1
    call_command("run_job", "dunning", "--org", org.slug, "--date", RUN.isoformat(), "--force")
    assert len(mail.outbox) == 1


def test_disputed_and_promised_invoices_are_left_alone(org, policy, members):
    customer = customer_with_contact(org)
    disputed = invoice(org, customer, "INV-D", RUN - datetime.timedelta(days=10))
    promised = invoice(org, customer, "INV-P", RUN - datetime.timedelta(days=10))
    invoice(org, customer, "INV-OK", RUN - datetime.timedelta(days=10))
    with tenancy.tenant(org):
        Dispute.objects.create(
            invoice=disputed,
            customer=customer,
            reason="pricing",
            opened_on=RUN,
            status=Dispute.Status.IN_REVIEW,
        )
        promise = PromiseToPay.objects.create(
            customer=customer,
            currency="CNY",
            amount=Decimal("500.00"),
            promised_date=RUN + datetime.timedelta(days=5),
            recorded_on=RUN,
        )
        PromiseInvoice.objects.create(promise=promise, invoice=promised)
    run(org)
    assert "INV-OK" in mail.outbox[0].body
    assert "INV-D" not in mail.outbox[0].body and "INV-P" not in mail.outbox[0].body
    with tenancy.tenant(org):
        assert set(Reminder.objects.values_list("invoice__number", flat=True)) == {"INV-OK"}
        # A broken promise no longer protects its invoice: dunning resumes.
        PromiseToPay.objects.filter(pk=promise.pk).update(status=PromiseToPay.Status.BROKEN)
    run(org, RUN + datetime.timedelta(days=1))
    assert "INV-P" in mail.outbox[1].body


def test_a_promise_pauses_dunning_until_its_date_plus_grace(org, policy):
    customer = customer_with_contact(org)
    promised = invoice(org, customer, "INV-P", RUN - datetime.timedelta(days=10))
    with tenancy.tenant(org):
        promise = PromiseToPay.objects.create(
            customer=customer,
            currency="CNY",
            amount=Decimal("500.00"),
            promised_date=RUN,
            recorded_on=RUN,
            grace_days=2,
        )
        PromiseInvoice.objects.create(promise=promise, invoice=promised)
    assert run(org, RUN + datetime.timedelta(days=2))["recorded"] == 0
    assert run(org, RUN + datetime.timedelta(days=3))["recorded"] == 1


def test_partly_paid_invoices_are_reminded_for_what_is_left(org, policy):
    customer = customer_with_contact(org)
    partly = invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10), total="1000.00")
    with tenancy.tenant(org):
        services.payment_record(
            actor=Actor.system(org),
            customer=customer,
            amount="600.00",
            currency="CNY",
            received_on=RUN - datetime.timedelta(days=8),
            allocations=[{"invoice": partly, "amount": "600.00"}],
        )
    run(org)
    assert "400.00 CNY" in mail.outbox[0].body


def test_grace_period_after_a_payment(org, policy):
    customer = customer_with_contact(org)
    partly = invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10), total="1000.00")
    with tenancy.tenant(org):
        services.payment_record(
            actor=Actor.system(org),
            customer=customer,
            amount="100.00",
            currency="CNY",
            received_on=RUN - datetime.timedelta(days=1),
            allocations=[{"invoice": partly, "amount": "100.00"}],
        )
    assert run(org)["recorded"] == 0  # grace of 3 days after any payment
    assert run(org, RUN + datetime.timedelta(days=2))["recorded"] == 1


def test_balance_below_the_level_minimum_is_not_reminded(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-SMALL", RUN - datetime.timedelta(days=50), total="50.00")
    result = run(org)
    # The final notice needs 100.00; the earlier levels were never sent, and only the highest
    # level an invoice reached counts.
    assert result["recorded"] == 0
    other = customer_with_contact(org, name="Big Co", email="ap@big.example")
    invoice(org, other, "INV-BIG", RUN - datetime.timedelta(days=50), total="150.00")
    assert run(org, RUN)["recorded"] == 1


def test_snoozed_customers_wait(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    with tenancy.tenant(org):
        CollectionProfile.objects.create(customer=customer, snoozed_until=RUN + datetime.timedelta(days=1))
    assert run(org)["recorded"] == 0
    assert run(org, RUN + datetime.timedelta(days=1))["recorded"] == 1


def test_policy_by_rule_by_hand_and_default(org, actor, policy):
    with tenancy.tenant(org):
        strict = dunning_policies.policy_save(
            actor=actor,
            name="Strict",
            priority=1,
            risk_classes=["D"],
            levels=[{"name": "Immediate", "days": 1}],
        )
        gentle = dunning_policies.policy_save(
            actor=actor,
            name="Gentle",
            priority=50,
            customer_groups=["Key accounts"],
            levels=[{"name": "Late", "days": 30}],
        )
        risky = customer_with_contact(org, name="Risky", email="r@x.example", risk_class="D")
        key = customer_with_contact(org, name="Key", email="k@x.example", customer_group="Key accounts")
        plain = customer_with_contact(org, name="Plain", email="p@x.example")
        chosen = customer_with_contact(org, name="Chosen", email="c@x.example", risk_class="D")
        CollectionProfile.objects.create(customer=chosen, policy=gentle)
        policies = dunning.active_policies()
        assert dunning.policy_for(risky, policies) == strict
        assert dunning.policy_for(key, policies) == gentle
        assert dunning.policy_for(plain, policies) == policy
        assert dunning.policy_for(chosen, policies, gentle.pk) == gentle
    for customer in (risky, key, plain, chosen):
        invoice(org, customer, f"INV-{customer.name}", RUN - datetime.timedelta(days=2))
    run(org)
    # Strict reminds after 1 day, the default's friendly level 3 days before; Gentle waits 30.
    assert sorted(m.to[0] for m in mail.outbox) == ["p@x.example", "r@x.example"]


def test_per_invoice_mode_sends_one_reminder_per_invoice(org, actor, policy):
    with tenancy.tenant(org):
        DunningPolicy.objects.filter(pk=policy.pk).update(per_invoice=True)
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    invoice(org, customer, "INV-2", RUN - datetime.timedelta(days=12))
    assert run(org)["recorded"] == 2
    assert sorted(len(m.body) > 0 for m in mail.outbox) == [True, True]


def test_a_crash_after_half_the_sends_leaves_no_gap_and_no_duplicate(org, policy, monkeypatch):
    for n in range(6):
        customer = customer_with_contact(org, name=f"Customer {n}", email=f"ap{n}@x.example")
        invoice(org, customer, f"INV-{n}", RUN - datetime.timedelta(days=10))

    class WorkerKilled(BaseException):
        pass

    email_channel = channels.channel_for("email")
    real_send = email_channel.send
    sends = []

    def dying_send(outgoing):
        if len(sends) == 3:
            raise WorkerKilled
        sends.append(outgoing.recipient)
        real_send(outgoing)

    monkeypatch.setattr(email_channel, "send", dying_send)
    with pytest.raises(WorkerKilled):
        jobs.job_run(organization=org, job_name="dunning", run_date=RUN)
    assert len(mail.outbox) == 3
    monkeypatch.setattr(email_channel, "send", real_send)
    # The killed worker's claim on the fourth message expires; the rerun sends every other one.
    with tenancy.tenant(org):
        DunningMessage.objects.filter(status=DunningMessage.Status.SENDING).update(
            next_attempt_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        )
    jobs.job_run(organization=org, job_name="dunning", run_date=RUN)
    assert sorted(m.to[0] for m in mail.outbox) == [f"ap{n}@x.example" for n in range(6)]
    jobs.job_run(organization=org, job_name="dunning", run_date=RUN, force=True)
    assert len(mail.outbox) == 6
    with tenancy.tenant(org):
        assert Reminder.objects.count() == 6
        assert set(DunningMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_send_errors_are_retried_with_backoff_then_flagged(org, policy, members, monkeypatch):
    customer = customer_with_contact(org)
    with tenancy.tenant(org):
        CollectionProfile.objects.create(customer=customer, collector=members["ar_clerk"])
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))

    def refuse(outgoing):
        raise smtplib.SMTPServerDisconnected("connection lost")

    monkeypatch.setattr(channels.channel_for("email"), "send", refuse)
    result = run(org)
    assert result["queued"] == 1
    with tenancy.tenant(org):
        message = DunningMessage.objects.get()
        assert (
            message.status == "failed" and message.attempts == 1 and "connection lost" in message.last_error
        )
        first_wait = message.next_attempt_at
        for _attempt in range(dunning.MAX_ATTEMPTS - 1):
            DunningMessage.objects.filter(pk=message.pk).update(
                next_attempt_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            )
            dunning.message_deliver(actor=Actor.system(org), message_id=message.pk)
        message.refresh_from_db()
        assert message.status == "flagged" and message.attempts == dunning.MAX_ATTEMPTS
        assert first_wait is not None
        task = FollowUp.objects.get(customer=customer)
        assert task.assignee == members["ar_clerk"] and "could not be delivered" in task.title


def test_a_bounce_is_flagged_at_once(org, policy, monkeypatch):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))

    def bounce(outgoing):
        raise smtplib.SMTPRecipientsRefused({outgoing.recipient: (550, b"No such user")})

    monkeypatch.setattr(channels.EmailChannel, "send", channels.EmailChannel.send)
    monkeypatch.setattr(
        "django.core.mail.EmailMultiAlternatives.send",
        lambda self: bounce(channels.Outgoing(self.to[0], "", "")),
    )
    run(org)
    with tenancy.tenant(org):
        message = DunningMessage.objects.get()
        assert message.status == "bounced" and "No such user" in message.last_error
        assert FollowUp.objects.filter(customer=customer, title__contains="could not be delivered").exists()
    assert run(org)["recorded"] == 0


def test_no_address_is_flagged_for_a_collector(org, policy):
    customer = CustomerFactory(organization=org, name="No Mail", email="")
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    run(org)
    with tenancy.tenant(org):
        assert DunningMessage.objects.get().status == "flagged"
        assert FollowUp.objects.filter(customer=customer).exists()
    assert mail.outbox == []


def test_sms_and_wecom_write_to_the_delivery_log(org, actor):
    with tenancy.tenant(org):
        dunning_policies.policy_save(
            actor=actor, name="SMS", is_default=True, levels=[{"name": "Text", "days": 5, "channel": "sms"}]
        )
    customer = CustomerFactory(organization=org, name="Phone Co", phone="+86 138 0000 0000", email="")
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    assert run(org)["queued"] == 1
    with tenancy.tenant(org):
        message = DunningMessage.objects.get()
        assert message.status == "logged" and message.recipient == "+86 138 0000 0000"
    assert mail.outbox == []


def test_reminders_are_delivered_over_real_smtp(org, policy, smtp_server):  # noqa: F811
    for n in range(3):
        customer = customer_with_contact(org, name=f"Customer {n}", email=f"ap{n}@x.example")
        invoice(org, customer, f"INV-{n}a", RUN - datetime.timedelta(days=10))
        invoice(org, customer, f"INV-{n}b", RUN - datetime.timedelta(days=25))
    run(org)
    run(org)
    assert len(smtp_server.messages) == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [f"ap{n}@x.example" for n in range(3)]
    # The second level attaches the statement PDF.
    assert all(b"application/pdf" in m.content for m in smtp_server.messages)


def test_the_preview_shows_what_the_run_sends_and_writes_nothing(org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    with tenancy.tenant(org):
        plan = dunning.dunning_preview(organization=org, run_date=RUN)
        assert [(m.customer_id, [i.number for i in m.invoices]) for m in plan.messages] == [
            (customer.pk, ["INV-1"])
        ]
        assert "INV-1" in plan.messages[0].body
        assert DunningMessage.objects.count() == 0 and Reminder.objects.count() == 0
    run(org)
    with tenancy.tenant(org):
        assert dunning.dunning_preview(organization=org, run_date=RUN).messages == []


def test_late_fees_are_posted_once_as_fee_invoices(org, actor):
    with tenancy.tenant(org):
        dunning_policies.policy_save(
            actor=actor,
            name="Fees",
            is_default=True,
            late_fee="interest",
            late_fee_annual_rate=Decimal("12"),
            levels=[{"name": "Late", "days": 30, "charge_late_fee": True}],
        )
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=73), total="10000.00")
    assert run(org)["late_fees"] == 1
    assert run(org, RUN + datetime.timedelta(days=5))["late_fees"] == 0
    with tenancy.tenant(org):
        fee = LateFee.objects.get()
        # 10000 × 12% × 73/365 = 240.00
        assert fee.amount == Decimal("240.00") and fee.fee_invoice.total == Decimal("240.00")
        assert fee.fee_invoice.number == "INV-1-F1"
        assert Invoice.objects.count() == 2


def test_organizations_are_dunned_apart(org, outsider_org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    with tenancy.tenant(outsider_org):
        assert dunning.dunning_preview(organization=outsider_org, run_date=RUN).messages == []
        assert dunning.dunning_run(actor=Actor.system(outsider_org), run_date=RUN)["recorded"] == 0
    assert mail.outbox == []


def test_the_statement_link_opens_the_pdf_without_an_account(client, org, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    link = statement_link(organization_id=org.pk, customer_id=customer.pk)
    path = link.split("8000", 1)[-1] if "8000" in link else link
    response = client.get(path)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert client.get(path[:-5] + "xxxx/").status_code == 404
    assert client.get("/statements/forged/").status_code == 404


def test_templates_refuse_unknown_variables(org, actor):
    with tenancy.tenant(org), pytest.raises(Exception) as excinfo:
        dunning_policies.policy_save(
            actor=actor,
            name="Typo",
            levels=[{"name": "L", "days": 5, "templates": {"en": {"subject": "Hi", "body": "{{ totl }}"}}}],
        )
    assert "levels.0.templates.en.body" in excinfo.value.message_dict


def test_a_batch_delivered_twice_sends_each_message_once(org, policy, monkeypatch):
    from receivables import tasks

    queued = []
    monkeypatch.setattr(
        tasks.deliver_dunning_messages, "apply_async", lambda kwargs, **_: queued.append(kwargs)
    )
    for n in range(3):
        customer = customer_with_contact(org, name=f"Customer {n}", email=f"ap{n}@x.example")
        invoice(org, customer, f"INV-{n}", RUN - datetime.timedelta(days=10))
    assert run(org)["queued"] == 3 and mail.outbox == []
    (batch,) = queued
    tasks.deliver_dunning_messages.apply(kwargs=batch)
    tasks.deliver_dunning_messages.apply(kwargs=batch)
    assert len(mail.outbox) == 3
    assert run(org)["queued"] == 0
