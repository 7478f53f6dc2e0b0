"""The collector's worklist: ranking by value at risk (lateness, risk class, exchange rates), what a
row shows, snoozing, assigning collectors and policies, who sees which customers, and a query
count that does not grow with the number of customers."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from receivables import disputes, promises, services
from receivables.models import (
    CollectionProfile,
    DunningLevel,
    DunningMessage,
    DunningPolicy,
    ExchangeRate,
    Reminder,
)
from receivables.worklist import (
    ALL,
    UNASSIGNED,
    collection_policy_set,
    collector_assign,
    customer_snooze,
    lateness_factor,
    risk_weight,
    worklist,
)
from tests.conftest import actor_for
from tests.factories import CustomerFactory, FollowUpFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.django_db


def days(org, n):
    return org.local_today() + datetime.timedelta(days=n)


def make_invoice(org, customer, number, total, *, due=-30, issued=None, currency="CNY"):
    issued = due - 30 if issued is None else issued
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=days(org, issued),
            due_date=days(org, due),
            total=total,
        )


def rows_for(org, actor, **kwargs):
    with tenancy.tenant(org):
        return worklist(actor=actor, today=org.local_today(), **kwargs)


def names(rows):
    return [row.customer.name for row in rows]


@pytest.fixture
def manager(org, members):
    return actor_for(org, members["finance_manager"], "finance_manager")


@pytest.fixture
def clerk(org, members):
    return actor_for(org, members["ar_clerk"], "ar_clerk")


# --- Ranking --------------------------------------------------------------------------------------


def test_rows_are_ordered_by_value_at_risk(org, manager):
    recent = CustomerFactory(organization=org, name="Recent")
    ancient = CustomerFactory(organization=org, name="Ancient")
    small = CustomerFactory(organization=org, name="Small")
    make_invoice(org, recent, "R-1", "1000.00", due=-10)  # 1000 × (1 + 10/30)
    make_invoice(org, ancient, "A-1", "600.00", due=-90)  # 600 × 4
    make_invoice(org, small, "S-1", "500.00", due=-15)  # 500 × 1.5

    rows = rows_for(org, manager)

    assert names(rows) == ["Ancient", "Recent", "Small"]
    assert [row.value_at_risk for row in rows] == [Decimal("2400.00"), Decimal("1333.33"), Decimal("750.00")]
    assert rows[0].days_past_due == 90 and rows[0].overdue == {"CNY": Decimal("600.00")}


def test_lateness_weighs_up_to_four_times():
    assert lateness_factor(0) == 1
    assert lateness_factor(15) == Decimal("1.5")
    assert lateness_factor(90) == 4
    assert lateness_factor(400) == 4


def test_each_invoice_is_weighted_by_its_own_lateness(org, manager):
    customer = CustomerFactory(organization=org, name="Two invoices")
    make_invoice(org, customer, "T-1", "100.00", due=-30)  # × 2
    make_invoice(org, customer, "T-2", "100.00", due=-200)  # × 4 (capped)
    make_invoice(org, customer, "T-3", "999.00", due=10)  # not due: not at risk yet

    [row] = rows_for(org, manager)

    assert row.value_at_risk == Decimal("600.00")
    assert row.overdue == {"CNY": Decimal("200.00")} and row.days_past_due == 200


@pytest.mark.parametrize(
    ("risk_class", "weight"), [("A", "1.0"), ("B", "1.25"), ("C", "1.5"), ("D", "2.0"), ("", "1.0")]
)
def test_risk_class_weights_the_value_at_risk(org, manager, risk_class, weight):
    customer = CustomerFactory(organization=org, risk_class=risk_class)
    make_invoice(org, customer, "W-1", "300.00", due=-30)  # 300 × 2

    [row] = rows_for(org, manager)

    assert risk_weight(risk_class) == Decimal(weight)
    assert row.value_at_risk == (Decimal("600") * Decimal(weight)).quantize(Decimal("0.01"))


def test_a_riskier_customer_ranks_above_a_larger_safe_one(org, manager):
    safe = CustomerFactory(organization=org, name="Safe", risk_class="A")
    risky = CustomerFactory(organization=org, name="Risky", risk_class="D")
    make_invoice(org, safe, "SA-1", "1000.00", due=-30)
    make_invoice(org, risky, "RI-1", "600.00", due=-30)

    assert names(rows_for(org, manager)) == ["Risky", "Safe"]


def test_foreign_amounts_convert_at_the_latest_rate_on_or_before_today(org, manager):
    customer = CustomerFactory(organization=org, name="Dollar buyer")
    make_invoice(org, customer, "USD-1", "100.00", due=-15, currency="USD")
    with tenancy.tenant(org):
        ExchangeRate.objects.create(currency="USD", date=days(org, -10), rate=Decimal("7.0"))
        ExchangeRate.objects.create(currency="USD", date=days(org, -2), rate=Decimal("7.2"))
        ExchangeRate.objects.create(currency="USD", date=days(org, 1), rate=Decimal("9.9"))

    [row] = rows_for(org, manager)

    assert row.value_at_risk == Decimal("1080.00")  # 100 × 7.2 × 1.5
    assert row.overdue == {"USD": Decimal("100.00")} and not row.missing_rates


def test_an_amount_with_no_rate_counts_unconverted_and_marks_the_row(org, manager):
    customer = CustomerFactory(organization=org, name="Euro buyer")
    make_invoice(org, customer, "EUR-1", "100.00", due=-15, currency="EUR")
    make_invoice(org, customer, "CNY-1", "100.00", due=-15)

    [row] = rows_for(org, manager)

    assert row.value_at_risk == Decimal("300.00")
    assert row.unconverted == ["EUR"] and row.missing_rates


def test_only_customers_with_something_overdue_are_listed(org, manager):
    not_due = CustomerFactory(organization=org, name="Not due")
    paid = CustomerFactory(organization=org, name="Paid")
    voided = CustomerFactory(organization=org, name="Voided")
    late = CustomerFactory(organization=org, name="Late")
    make_invoice(org, not_due, "ND-1", "100.00", due=5)
    make_invoice(org, late, "L-1", "100.00", due=-1)
    invoice = make_invoice(org, paid, "P-1", "100.00", due=-20)
    void = make_invoice(org, voided, "V-1", "100.00", due=-20)
    with tenancy.tenant(org):
        services.payment_record(
            actor=Actor.system(org),
            customer=paid,
            currency="CNY",
            received_on=days(org, -1),
            amount="100.00",
            allocations=[{"invoice": invoice, "amount": "100.00"}],
        )
        services.invoice_void(actor=Actor.system(org), invoice=void)

    assert names(rows_for(org, manager)) == ["Late"]


# --- What a row shows -----------------------------------------------------------------------------


def test_a_row_shows_dunning_contact_next_action_promises_and_disputes(org, manager, members):
    customer = CustomerFactory(organization=org, name="Busy")
    old = make_invoice(org, customer, "B-1", "500.00", due=-40)
    other = make_invoice(org, customer, "B-2", "200.00", due=-10)
    with tenancy.tenant(org):
        policy = DunningPolicy.objects.create(name="Standard", is_default=True)
        first = DunningLevel.objects.create(policy=policy, sequence=1, name="Friendly", days=7)
        second = DunningLevel.objects.create(policy=policy, sequence=2, name="Firm", days=30)
        for level, run in ((first, -33), (second, -10)):
            message = DunningMessage.objects.create(
                customer=customer, level=level, run_date=days(org, run), channel="email"
            )
            Reminder.objects.create(
                invoice=old,
                level=level,
                message=message,
                customer=customer,
                run_date=days(org, run),
                days_past_due=40 + run,
                outstanding=Decimal("500.00"),
            )
        promises.promise_record(
            actor=manager,
            customer=customer,
            amount="200.00",
            currency="CNY",
            promised_date=days(org, 12),
            invoices=[other],
        )
        disputes.dispute_open(actor=manager, invoice=old, reason="pricing")
        collector_assign(actor=manager, customers=[customer], collector=members["ar_clerk"])
    FollowUpFactory(organization=org, customer=customer, due_date=days(org, 5))
    FollowUpFactory(organization=org, customer=customer, due_date=days(org, 1), done=True)
    contact = InteractionFactory(organization=org, customer=customer)
    InteractionFactory(
        organization=org, customer=customer, occurred_at=contact.occurred_at.replace(year=2020)
    )

    [row] = rows_for(org, manager)

    assert row.dunning_level == "Firm" and row.dunning_date == days(org, -10)
    assert row.last_contact >= contact.occurred_at
    assert row.next_action == days(org, 5)  # the follow-up comes before the promise
    assert row.open_promises == 1 and row.promised == {"CNY": Decimal("200.00")}
    assert row.open_disputes == 1
    assert row.collector == members["ar_clerk"]


def test_the_next_action_is_the_earliest_of_follow_up_snooze_and_promise(org, manager, clerk):
    customer = CustomerFactory(organization=org)
    make_invoice(org, customer, "N-1", "100.00", due=-5)
    with tenancy.tenant(org):
        promises.promise_record(
            actor=manager, customer=customer, amount="50", currency="CNY", promised_date=days(org, 9)
        )
        customer_snooze(actor=clerk, customer=customer, until=days(org, 3))
    FollowUpFactory(organization=org, customer=customer, due_date=days(org, 6))

    [row] = rows_for(org, manager)

    assert row.next_action == days(org, 3)


# --- Snoozing -------------------------------------------------------------------------------------


def test_a_snoozed_customer_sinks_to_the_bottom_or_is_hidden(org, manager, clerk):
    big = CustomerFactory(organization=org, name="Big")
    small = CustomerFactory(organization=org, name="Small")
    make_invoice(org, big, "BIG-1", "9000.00", due=-60)
    make_invoice(org, small, "SM-1", "10.00", due=-2)
    with tenancy.tenant(org):
        customer_snooze(actor=clerk, customer=big, until=days(org, 10))

    rows = rows_for(org, manager)
    assert names(rows) == ["Small", "Big"]
    assert rows[1].is_snoozed and rows[1].snoozed_until == days(org, 10)
    assert names(rows_for(org, manager, include_snoozed=False)) == ["Small"]

    with tenancy.tenant(org):
        customer_snooze(actor=clerk, customer=big, until=None)
    assert names(rows_for(org, manager)) == ["Big", "Small"]


@pytest.mark.parametrize("offset", [-1, 0, 91])
def test_snooze_must_end_after_today_and_within_90_days(org, clerk, offset):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org), pytest.raises(ValidationError) as error:
        customer_snooze(actor=clerk, customer=customer, until=days(org, offset))
    assert "until" in error.value.message_dict


def test_snoozing_is_audited_and_90_days_is_allowed(org, clerk):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        profile = customer_snooze(actor=clerk, customer=customer, until=days(org, 90))
        assert profile.snoozed_until == days(org, 90)
        assert AuditEvent.objects.filter(action="collections.snoozed", customer_id=customer.pk).exists()


@pytest.mark.parametrize("role", ["sales_rep", "auditor"])
def test_roles_that_do_not_collect_cannot_snooze(org, members, role):
    customer = CustomerFactory(organization=org, owner=members["sales_rep"])
    with tenancy.tenant(org), pytest.raises(PermissionDenied):
        customer_snooze(actor=actor_for(org, members[role], role), customer=customer, until=days(org, 5))


# --- Assigning collectors and policies ------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "finance_manager"])
def test_managers_assign_collectors_in_bulk_with_an_audit_event_each(org, members, role):
    customers = [CustomerFactory(organization=org) for _ in range(3)]
    actor = actor_for(org, members[role], role)
    with tenancy.tenant(org):
        collector_assign(actor=actor, customers=customers, collector=members["ar_clerk"])
        assert set(CollectionProfile.objects.values_list("collector_id", flat=True)) == {
            members["ar_clerk"].pk
        }
        assert AuditEvent.objects.filter(action="collections.collector_assigned").count() == 3
        collector_assign(actor=actor, customers=customers, collector=None)
        assert set(CollectionProfile.objects.values_list("collector_id", flat=True)) == {None}


@pytest.mark.parametrize("role", ["ar_clerk", "sales_rep", "auditor"])
def test_other_roles_cannot_assign_collectors(org, members, role):
    customer = CustomerFactory(organization=org, owner=members["sales_rep"])
    with tenancy.tenant(org), pytest.raises(PermissionDenied):
        collector_assign(
            actor=actor_for(org, members[role], role), customers=[customer], collector=members[role]
        )
    with tenancy.tenant(org):
        assert not CollectionProfile.objects.exists()


def test_the_collector_must_be_a_member(org, manager, outsider):
    customer = CustomerFactory(organization=org)
    stranger = UserFactory()
    for user in (outsider, stranger):
        with tenancy.tenant(org), pytest.raises(ValidationError) as error:
            collector_assign(actor=manager, customers=[customer], collector=user)
        assert "collector" in error.value.message_dict


def test_a_policy_is_set_by_hand_and_back_to_by_rule(org, manager, clerk):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        policy = DunningPolicy.objects.create(name="Gentle")
        inactive = DunningPolicy.objects.create(name="Old", is_active=False)
        assert collection_policy_set(actor=manager, customer=customer, policy=policy).policy == policy
        assert collection_policy_set(actor=manager, customer=customer, policy=None).policy is None
        assert AuditEvent.objects.filter(action="collections.policy_set").count() == 2
        with pytest.raises(ValidationError):
            collection_policy_set(actor=manager, customer=customer, policy=inactive)
        with pytest.raises(PermissionDenied):
            collection_policy_set(actor=clerk, customer=customer, policy=policy)


def test_the_collector_filter_defaults_to_mine_for_a_clerk_and_all_for_managers(org, members, manager, clerk):
    mine = CustomerFactory(organization=org, name="Mine")
    theirs = CustomerFactory(organization=org, name="Theirs")
    nobody = CustomerFactory(organization=org, name="Nobody's")
    for number, customer in enumerate([mine, theirs, nobody]):
        make_invoice(org, customer, f"F-{number}", f"{100 * (number + 1)}.00", due=-10)
    with tenancy.tenant(org):
        collector_assign(actor=manager, customers=[mine], collector=members["ar_clerk"])
        collector_assign(actor=manager, customers=[theirs], collector=members["admin"])

    assert names(rows_for(org, clerk)) == ["Mine"]
    assert names(rows_for(org, clerk, collector=ALL)) == ["Nobody's", "Theirs", "Mine"]
    assert names(rows_for(org, manager)) == ["Nobody's", "Theirs", "Mine"]
    assert names(rows_for(org, manager, collector=members["admin"])) == ["Theirs"]
    assert names(rows_for(org, manager, collector=UNASSIGNED)) == ["Nobody's"]


# --- Who sees what --------------------------------------------------------------------------------


def test_a_sales_rep_sees_only_their_own_customers(org, members, rep_actor):
    own = CustomerFactory(organization=org, name="Own", owner=members["sales_rep"])
    other = CustomerFactory(organization=org, name="Other", owner=members["admin"])
    make_invoice(org, own, "O-1", "100.00", due=-10)
    make_invoice(org, other, "X-1", "900.00", due=-10)

    assert names(rows_for(org, rep_actor)) == ["Own"]
    assert names(rows_for(org, rep_actor, collector=ALL)) == ["Own"]


def test_a_rep_cannot_snooze_or_assign_another_reps_customer(org, members):
    other = CustomerFactory(organization=org, owner=members["admin"])
    with tenancy.tenant(org), pytest.raises(PermissionDenied):
        customer_snooze(
            actor=actor_for(org, members["sales_rep"], "sales_rep"), customer=other, until=days(org, 3)
        )


def test_another_organizations_customers_never_appear(org, manager, outsider_org, outsider_customer):
    make_invoice(outsider_org, outsider_customer, "OUT-1", "5000.00", due=-50)
    own = CustomerFactory(organization=org, name="Own")
    make_invoice(org, own, "OWN-1", "10.00", due=-5)

    assert names(rows_for(org, manager)) == ["Own"]


def test_outsider_ids_are_404_on_the_worklist_actions(client, org, members, outsider_customer):
    client.force_login(members["ar_clerk"])
    for action in ("call", "promise", "dispute", "statement", "snooze"):
        url = f"/receivables/collections/{outsider_customer.pk}/{action}/"
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"until": ""}).status_code == 404, url


# --- Query count ----------------------------------------------------------------------------------


def _busy_customers(org, manager, members, count, start):
    with tenancy.tenant(org):
        policy = DunningPolicy.objects.get_or_create(name="Standard", defaults={"is_default": True})[0]
        level = DunningLevel.objects.get_or_create(policy=policy, sequence=1, name="Friendly", days=7)[0]
        ExchangeRate.objects.get_or_create(
            currency="USD", date=days(org, -3), defaults={"rate": Decimal("7")}
        )
    for n in range(start, start + count):
        customer = CustomerFactory(organization=org, risk_class="ABCD"[n % 4])
        invoice = make_invoice(org, customer, f"Q-{n}", "100.00", due=-20 - n)
        usd = make_invoice(org, customer, f"QU-{n}", "10.00", due=-5, currency="USD")
        make_invoice(org, customer, f"QE-{n}", "10.00", due=-5, currency="EUR")
        with tenancy.tenant(org):
            message = DunningMessage.objects.create(
                customer=customer, level=level, run_date=days(org, -1), channel="email"
            )
            Reminder.objects.create(
                invoice=invoice,
                level=level,
                message=message,
                customer=customer,
                run_date=days(org, -1),
                days_past_due=10,
                outstanding=Decimal("100.00"),
            )
            promises.promise_record(
                actor=manager, customer=customer, amount="5", currency="CNY", promised_date=days(org, 4)
            )
            disputes.dispute_open(actor=manager, invoice=usd, reason="quality")
            collector_assign(actor=manager, customers=[customer], collector=members["ar_clerk"])
            if n % 3 == 0:
                customer_snooze(actor=manager, customer=customer, until=days(org, 2))
        FollowUpFactory(organization=org, customer=customer, due_date=days(org, 8))
        InteractionFactory(organization=org, customer=customer)


def _count_queries(org, actor):
    with tenancy.tenant(org), CaptureQueriesContext(connection) as captured:
        rows = worklist(actor=actor, today=org.local_today(), collector=ALL)
        # Everything a page shows is read without a further query.
        shown = [(row.customer.owner, row.collector, row.dunning_level, row.promised) for row in rows]
    return len(shown), len(captured)


def test_the_worklist_runs_the_same_queries_for_3_or_15_customers(org, members, manager):
    _busy_customers(org, manager, members, 3, 0)
    few_rows, few = _count_queries(org, manager)
    _busy_customers(org, manager, members, 12, 3)
    many_rows, many = _count_queries(org, manager)

    assert (few_rows, many_rows) == (3, 15)
    assert few == many <= 6


def test_the_worklist_page_is_paginated(client, org, members):
    from receivables.collection_views import WORKLIST_PAGE_SIZE
    from tests.conftest import login
    from tests.receivables.test_dunning import RUN, invoice

    for n in range(WORKLIST_PAGE_SIZE + 3):
        customer = CustomerFactory(organization=org, name=f"Late {n:03d}")
        invoice(org, customer, f"INV-P{n}", RUN - datetime.timedelta(days=10))
    login(client, members["finance_manager"])
    first = client.get("/receivables/collections/").content.decode()
    assert first.count('data-testid="worklist-row"') == WORKLIST_PAGE_SIZE and "page=2" in first
    assert f"{WORKLIST_PAGE_SIZE + 3} customers" in first
    second = client.get("/receivables/collections/", {"page": 2}).content.decode()
    assert second.count('data-testid="worklist-row"') == 3
