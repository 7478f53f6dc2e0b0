"""The loyalty program: points earned on paid invoices only, the early bonus and tier multiplier,
idempotency, expiry of the oldest unused points, redemption as a credit note (also under
concurrency), the nightly tiers with the on-time rule, statements and who may do what."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from crm.models import Interaction
from experience import loyalty
from experience import loyalty_selectors as selectors
from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance import jobs, tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from receivables import services as receivables
from receivables.models import CreditNote, ExchangeRate, Invoice
from tests.credit.conftest import customer as make_customer
from tests.credit.conftest import invoice as make_invoice

DAY = datetime.timedelta(days=1)


def today(org) -> datetime.date:
    return org.local_today()


def entries(org, buyer, **filters) -> list[PointsEntry]:
    with tenancy.tenant(org):
        return list(PointsEntry.objects.filter(customer=buyer, **filters).order_by("date", "id"))


def settle(org, capture, buyer, number, due, total="100000.00", paid_on=None, **kwargs) -> Invoice:
    """An invoice paid in full on `paid_on`, with receivables' signals delivered as after a commit."""
    with capture(execute=True):
        return make_invoice(org, buyer, number, due, total=total, paid_on=paid_on, **kwargs)


def lot(org, buyer, points, on, expires_on, kind="earned", reference=None) -> PointsEntry:
    with tenancy.tenant(org):
        return PointsEntry.objects.create(
            organization=org,
            customer=buyer,
            kind=kind,
            points=points,
            date=on,
            expires_on=expires_on,
            reference=reference or f"test:{kind}:{on}:{points}",
        )


# Earning ---------------------------------------------------------------------------------------


def test_issuing_earns_nothing_and_a_partial_payment_earns_only_once_settled(
    org, django_capture_on_commit_callbacks
):
    buyer = make_customer(org)
    due = today(org) - 10 * DAY
    with django_capture_on_commit_callbacks(execute=True):
        document = make_invoice(org, buyer, "INV-1", due, total="100000.00", paid_on=due, paid="40000.00")
    assert entries(org, buyer) == []
    with tenancy.tenant(org), django_capture_on_commit_callbacks(execute=True):
        receivables.payment_record(
            actor=Actor.system(org),
            customer=buyer,
            amount="60000.00",
            currency="CNY",
            received_on=due + 3 * DAY,
            allocations=[{"invoice": document, "amount": "60000.00"}],
        )
    [earned] = entries(org, buyer)
    # 100,000 paid × 0.01 point per unit × 1 (no tier yet); dated the settling payment; no bonus (late).
    assert (earned.kind, earned.points, earned.date) == ("earned", 1000, due + 3 * DAY)
    assert earned.reference == f"invoice:{document.pk}"
    assert earned.amount == Decimal("100000.00")
    assert earned.expires_on == datetime.date(earned.date.year + 2, earned.date.month, earned.date.day)


def test_paying_early_earns_the_bonus(org, django_capture_on_commit_callbacks):
    buyer = make_customer(org)
    due = today(org) - 5 * DAY
    settle(
        org, django_capture_on_commit_callbacks, buyer, "INV-E", due, total="12345.67", paid_on=due - 5 * DAY
    )
    settle(
        org, django_capture_on_commit_callbacks, buyer, "INV-L", due, total="10000.00", paid_on=due - 4 * DAY
    )
    kinds = [(e.kind, e.points, e.note) for e in entries(org, buyer)]
    # floor(12345.67 × 0.01) = 123; bonus 20 % of 123 = 24 (floored). Four days early is not five.
    assert sorted(kinds) == sorted(
        [("earned", 123, "INV-E"), ("bonus", 24, "INV-E"), ("earned", 100, "INV-L")]
    )


def test_the_customers_tier_multiplies_the_points(org, django_capture_on_commit_callbacks):
    buyer = make_customer(org, loyalty_tier="Gold")
    due = today(org) - 10 * DAY
    settle(org, django_capture_on_commit_callbacks, buyer, "INV-G", due, total="1000.00", paid_on=due)
    assert [e.points for e in entries(org, buyer, kind="earned")] == [15]  # 10 × 1.5 (default Gold)


def test_a_foreign_invoice_earns_at_its_issue_date_rate(org, django_capture_on_commit_callbacks):
    buyer = make_customer(org)
    due = today(org) - 10 * DAY
    with tenancy.tenant(org):
        ExchangeRate.objects.create(
            organization=org, currency="USD", date=due - 60 * DAY, rate=Decimal("7.1")
        )
        ExchangeRate.objects.create(organization=org, currency="USD", date=due - DAY, rate=Decimal("9"))
    settle(
        org,
        django_capture_on_commit_callbacks,
        buyer,
        "INV-U",
        due,
        total="1000.00",
        currency="USD",
        paid_on=due,
    )
    [earned] = entries(org, buyer, kind="earned")
    assert (earned.amount, earned.points) == (Decimal("7100.00"), 71)


def test_credit_notes_and_write_offs_earn_nothing(org, django_capture_on_commit_callbacks):
    buyer = make_customer(org)
    due = today(org) - 10 * DAY
    actor = Actor.system(org)
    with django_capture_on_commit_callbacks(execute=True):
        document = make_invoice(org, buyer, "INV-P", due, total="10000.00", paid_on=due, paid="6000.00")
        with tenancy.tenant(org):
            receivables.credit_note_create(
                actor=actor,
                customer=buyer,
                number="CN-1",
                currency="CNY",
                issue_date=due,
                total="3000.00",
                allocations=[{"invoice": document, "amount": "3000.00"}],
            )
            receivables.invoice_write_off(actor=actor, invoice=document, amount="1000.00", reason="Goodwill")
    # The write-off that closes the invoice sends invoice_settled: only the 6,000 paid earns.
    [earned] = entries(org, buyer)
    assert (earned.points, earned.amount) == (60, Decimal("6000.00"))
    result = jobs.job_run(organization=org, job_name="loyalty_points_expire", run_date=today(org)).result
    assert result["awarded"] == 0  # the nightly catch-up finds nothing left to award
    assert len(entries(org, buyer)) == 1


def test_earning_is_idempotent(org, django_capture_on_commit_callbacks):
    buyer = make_customer(org)
    due = today(org) - 10 * DAY
    document = settle(org, django_capture_on_commit_callbacks, buyer, "INV-I", due, paid_on=due - 10 * DAY)
    assert len(entries(org, buyer)) == 2  # earned + bonus
    with tenancy.tenant(org):
        assert loyalty.points_earn(actor=Actor.system(org), invoice=document) == []
        from receivables import signals

        signals.invoice_settled.send(sender=None, invoice=document)
    assert len(entries(org, buyer)) == 2


def test_an_inactive_program_earns_nothing(org, owner_actor, django_capture_on_commit_callbacks):
    with tenancy.tenant(org):
        loyalty.program_update(actor=owner_actor, is_active=False)
    buyer = make_customer(org)
    settle(org, django_capture_on_commit_callbacks, buyer, "INV-X", today(org), paid_on=today(org))
    assert entries(org, buyer) == []


# Expiry ------------------------------------------------------------------------------------------


def test_expiry_takes_only_unused_points_oldest_first_and_runs_once(org):
    buyer = make_customer(org)
    start = datetime.date(2024, 1, 10)
    old = lot(org, buyer, 100, start, datetime.date(2024, 6, 30))
    new = lot(org, buyer, 50, start + 30 * DAY, datetime.date(2024, 9, 30))
    # 120 redeemed in March: the 100 of January first, then 20 of February's 50.
    lot(org, buyer, -120, datetime.date(2024, 3, 1), None, kind="redeemed")
    actor = Actor.system(org)
    with tenancy.tenant(org):
        first = loyalty.points_expire(actor=actor, run_date=datetime.date(2024, 7, 1))
        assert first["entries"] == 0  # January's points were all used
        second = loyalty.points_expire(actor=actor, run_date=datetime.date(2024, 10, 1))
        assert (second["customers"], second["entries"], second["points"]) == (1, 1, 30)
        again = loyalty.points_expire(actor=actor, run_date=datetime.date(2024, 10, 2))
        assert again["entries"] == 0
    [expired] = entries(org, buyer, kind="expired")
    assert (expired.points, expired.date, expired.reference) == (
        -30,
        datetime.date(2024, 10, 1),
        f"expiry:{new.pk}",
    )
    assert old.pk != new.pk
    with tenancy.tenant(org):
        assert selectors.accounts([buyer], datetime.date(2024, 10, 2))[0].balance == 0


def test_the_expiry_job_is_registered_and_idempotent(org):
    buyer = make_customer(org)
    lot(org, buyer, 10, today(org) - 400 * DAY, today(org) - 2 * DAY)
    jobs.job_run(organization=org, job_name="loyalty_points_expire", run_date=today(org))
    jobs.job_run(organization=org, job_name="loyalty_points_expire", run_date=today(org), force=True)
    assert [e.points for e in entries(org, buyer, kind="expired")] == [-10]


# Redemption --------------------------------------------------------------------------------------


def test_redeeming_issues_a_credit_note_applied_to_the_invoice(org, members):
    buyer = make_customer(org)
    lot(org, buyer, 500, today(org) - 30 * DAY, today(org) + 300 * DAY)
    open_invoice = make_invoice(org, buyer, "INV-O", today(org) + 10 * DAY, total="300.00")
    clerk = Actor(organization=org, role="ar_clerk", user=members["ar_clerk"])
    with tenancy.tenant(org):
        entry = loyalty.points_redeem(
            actor=clerk, customer=buyer, points=400, invoice=open_invoice, note="Q4"
        )
        note = CreditNote.objects.get(pk=entry.credit_note_id)
        assert (note.total, note.currency, note.allocated_total) == (
            Decimal("400.00"),
            "CNY",
            Decimal("300.00"),
        )
        assert Invoice.objects.get(pk=open_invoice.pk).outstanding == 0
        assert (entry.kind, entry.points, entry.reference) == ("redeemed", -400, f"redemption:{note.pk}")
        assert selectors.accounts([buyer], today(org))[0].balance == 100
        assert AuditEvent.objects.filter(action="loyalty.points_redeemed").count() == 1
        # The redemption's credit note settled the invoice: it earns nothing.
        assert not PointsEntry.objects.filter(reference=f"invoice:{open_invoice.pk}").exists()


def test_redeeming_without_an_invoice_leaves_the_credit_unallocated(org, owner_actor):
    buyer = make_customer(org)
    lot(org, buyer, 50, today(org), today(org) + 300 * DAY)
    with tenancy.tenant(org):
        entry = loyalty.points_redeem(actor=owner_actor, customer=buyer, points=50)
        assert CreditNote.objects.get(pk=entry.credit_note_id).unallocated == Decimal("50.00")


def test_bad_redemptions_are_field_errors_and_write_nothing(org, owner_actor):
    buyer, other = make_customer(org), make_customer(org, name="Other")
    lot(org, buyer, 50, today(org), today(org) + 300 * DAY)
    lot(org, buyer, 70, today(org) - 400 * DAY, today(org) - DAY)  # lapsed: not redeemable
    theirs = make_invoice(org, other, "INV-T", today(org) + 10 * DAY)
    cases = [
        ({"points": 0}, "points"),
        ({"points": -5}, "points"),
        ({"points": 51}, "points"),
        ({"points": "1.5"}, "points"),
        ({"points": 10, "invoice": theirs}, "invoice"),
    ]
    with tenancy.tenant(org):
        for kwargs, field in cases:
            with pytest.raises(ValidationError) as error:
                loyalty.points_redeem(actor=owner_actor, customer=buyer, **kwargs)
            assert field in error.value.message_dict, kwargs
        assert not CreditNote.objects.exists()
        assert not PointsEntry.objects.filter(kind="redeemed").exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent redemptions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_redemptions_at_once_cannot_overdraw(org, members):
    buyer = make_customer(org)
    lot(org, buyer, 100, today(org), today(org) + 300 * DAY)
    actors = [Actor(organization=org, role=r, user=members[r]) for r in ("owner", "ar_clerk")]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def redeem(actor: Actor) -> None:
        try:
            with tenancy.tenant(org):
                start.wait(timeout=30)
                loyalty.points_redeem(actor=actor, customer=buyer, points=70)
                outcomes.append("redeemed")
        except ValidationError:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["redeemed", "refused"]
    with tenancy.tenant(org):
        assert CreditNote.objects.count() == 1
        assert selectors.accounts([buyer], today(org))[0].balance == 30


def test_adjustments_need_a_reason_and_cannot_go_below_zero(org, members, owner_actor):
    buyer = make_customer(org)
    clerk = Actor(organization=org, role="ar_clerk", user=members["ar_clerk"])
    with tenancy.tenant(org):
        with pytest.raises(PermissionDenied):
            loyalty.points_adjust(actor=clerk, customer=buyer, points=10, reason="Gift")
        with pytest.raises(ValidationError) as error:
            loyalty.points_adjust(actor=owner_actor, customer=buyer, points=10, reason=" ")
        assert "reason" in error.value.message_dict
        added = loyalty.points_adjust(actor=owner_actor, customer=buyer, points=10, reason="Trade fair")
        assert added.expires_on is not None
        with pytest.raises(ValidationError):
            loyalty.points_adjust(actor=owner_actor, customer=buyer, points=-11, reason="Fix")
        loyalty.points_adjust(actor=owner_actor, customer=buyer, points=-10, reason="Fix")
        assert selectors.accounts([buyer], today(org))[0].balance == 0


def test_who_may_redeem(org, members, rep_actor):
    buyer = make_customer(org)
    lot(org, buyer, 10, today(org), today(org) + 300 * DAY)
    with tenancy.tenant(org):
        for role in ("sales_rep", "auditor"):
            with pytest.raises(PermissionDenied):
                loyalty.points_redeem(
                    actor=Actor(organization=org, role=role, user=members[role]), customer=buyer, points=1
                )
        with pytest.raises(PermissionDenied):
            loyalty.program_update(actor=rep_actor, is_active=False)


# Tiers -------------------------------------------------------------------------------------------


def test_tiers_follow_paid_revenue_and_the_on_time_rule(org, django_capture_on_commit_callbacks):
    run = today(org)
    steady = make_customer(org, name="Steady")
    late = make_customer(org, name="Late payer")
    small = make_customer(org, name="Small")
    idle = make_customer(org, name="Idle", loyalty_tier="Silver")
    for n in range(3):
        due = run - (100 + n * 30) * DAY
        settle(org, django_capture_on_commit_callbacks, steady, f"S-{n}", due, total="400000.00", paid_on=due)
        settle(
            org,
            django_capture_on_commit_callbacks,
            late,
            f"L-{n}",
            due,
            total="400000.00",
            paid_on=due + 20 * DAY,
        )
    settle(
        org,
        django_capture_on_commit_callbacks,
        small,
        "M-1",
        run - 40 * DAY,
        total="5000.00",
        paid_on=run - 40 * DAY,
    )
    # Paid more than a year ago: not in the window.
    old_due = run - 500 * DAY
    settle(org, django_capture_on_commit_callbacks, idle, "I-1", old_due, total="900000.00", paid_on=old_due)
    result = jobs.job_run(organization=org, job_name="loyalty_tiers", run_date=run).result
    assert result["changed"] == 4
    with tenancy.tenant(org):
        tiers = dict(
            type(steady)
            .objects.filter(pk__in=[steady.pk, late.pk, small.pk, idle.pk])
            .values_list("name", "loyalty_tier")
        )
        assert tiers == {"Steady": "Gold", "Late payer": "Silver", "Small": "Member", "Idle": ""}
        notes = Interaction.objects.filter(customer=late, kind="note")
        assert [n.summary for n in notes] == ["Loyalty tier: none → Silver"]
        classified = AuditEvent.objects.filter(action="customer.classified", changes__has_key="loyalty_tier")
        assert classified.count() == 4
    again = jobs.job_run(organization=org, job_name="loyalty_tiers", run_date=run, force=True).result
    assert again["changed"] == 0


def test_tier_for_needs_the_on_time_share_above_the_first_tier():
    tiers = selectors.default_tiers()
    rule = Decimal("80")
    assert loyalty.tier_for(Decimal("2000000"), 10, 8, tiers, rule).name == "Gold"
    assert loyalty.tier_for(Decimal("2000000"), 10, 7, tiers, rule).name == "Silver"
    assert loyalty.tier_for(Decimal("300000"), 10, 0, tiers, rule).name == "Member"
    assert loyalty.tier_for(Decimal("100"), 1, 0, tiers, rule).name == "Member"
    assert loyalty.tier_for(Decimal("0"), 0, 0, tiers, rule) is None


# Rules -------------------------------------------------------------------------------------------


def test_reading_the_program_and_tiers_writes_nothing(org, in_org):
    program = selectors.program_for()
    assert program.pk is None and program.points_per_unit == Decimal("0.01")
    assert [t.name for t in selectors.tiers_for()] == ["Member", "Silver", "Gold"]
    assert [t.extra_terms_days for t in selectors.tiers_for()] == [0, 7, 15]
    assert not LoyaltyProgram.objects.exists() and not LoyaltyTier.objects.exists()


def test_program_and_tier_errors_are_field_errors(org, in_org, owner_actor):
    with pytest.raises(ValidationError) as error:
        loyalty.program_update(actor=owner_actor, expiry_months=0, on_time_percent=Decimal("101"))
    assert {"expiry_months", "on_time_percent"} <= set(error.value.message_dict)
    loyalty.tier_create(actor=owner_actor, name="Bronze", min_paid_revenue=Decimal("0"))
    with pytest.raises(ValidationError) as error:
        loyalty.tier_create(actor=owner_actor, name="Bronze", min_paid_revenue=Decimal("0"))
    assert {"name", "min_paid_revenue"} <= set(error.value.message_dict)
    assert [t.name for t in selectors.tiers_for()] == ["Bronze"]  # own tiers replace the defaults


# Statement ---------------------------------------------------------------------------------------


def test_statement_opening_period_and_closing(org, in_org):
    buyer = make_customer(org)
    now = today(org)
    lot(org, buyer, 100, now - 200 * DAY, now + 30 * DAY)
    lot(org, buyer, 40, now - 20 * DAY, now + 500 * DAY)
    lot(org, buyer, -30, now - 10 * DAY, None, kind="redeemed")
    statement = selectors.points_statement(customer=buyer, date_from=now - 60 * DAY, date_to=now, today=now)
    assert (statement.opening, statement.earned, statement.used, statement.closing) == (100, 40, 30, 110)
    assert [balance for _entry, balance in statement.rows] == [140, 110]
    assert statement.expiring_soon == 70  # the first lot's 100 less the 30 redeemed (oldest first)
    assert statement.available == 110
