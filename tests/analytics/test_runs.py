"""The nightly recompute: classes, RFM, lifetime value, churn risk and lifecycle from the ledger,
stored as a dated snapshot, idempotent per organization and day."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import AnalyticsRun, ClassChange, CustomerAnalytics
from analytics.runs import analytics_recompute
from crm.models import Customer, Interaction
from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.analytics.conftest import TODAY, add_credit_note, add_invoices, add_payment, portfolio
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def recompute(org, day=TODAY):
    with tenancy.tenant(org):
        return analytics_recompute(actor=Actor.system(org), run_date=day)


def test_a_run_stores_figures_for_every_active_customer_and_the_dated_snapshot(org):
    customers = portfolio(org, 60)
    run = recompute(org)
    assert run.status == AnalyticsRun.Status.DONE
    assert run.customers == 60
    with tenancy.tenant(org):
        rows = {row.customer_id: row for row in CustomerAnalytics.objects.all()}
        assert set(rows) == {c.pk for c in customers}
        prospect = rows[customers[-1].pk]
        assert prospect.purchases == 0 and prospect.abc_revenue == "" and prospect.churn_risk is None
        assert prospect.lifecycle_stage == "prospect"
        buyers = [r for r in rows.values() if r.purchases]
        assert all(1 <= r.r_score <= 5 and 1 <= r.f_score <= 5 and 1 <= r.m_score <= 5 for r in buyers)
        assert all(r.segment for r in buyers)
        assert all(r.prob_alive is not None and Decimal(0) <= r.prob_alive <= Decimal(1) for r in buyers)
        assert all(r.clv is not None and r.clv >= 0 for r in buyers)
        assert all(r.churn_risk is not None and 0 <= r.churn_risk <= 100 for r in buyers)
        assert {"bgnbd", "gamma_gamma"} <= set(run.models_fit)
        assert "error" not in run.models_fit["bgnbd"]
        summary = run.summary
        assert summary["buyers"] == 58
        assert sum(summary["abc_revenue"].values()) == 58
        assert 0 < summary["concentration"]["top10_share"] <= 1
        customer_classes = dict(Customer.objects.values_list("pk", "abc_class"))
        assert all(customer_classes[pk] == rows[pk].abc_revenue for pk in rows)


def test_running_the_same_day_twice_writes_the_same_rows_once(org):
    portfolio(org, 30)
    first = recompute(org)
    with tenancy.tenant(org):
        counts = (CustomerAnalytics.objects.count(), ClassChange.objects.count(), Interaction.objects.count())
        events = AuditEvent.objects.filter(action="customer.classified").count()
    second = recompute(org)
    assert second.pk == first.pk and second.status == "done"
    with tenancy.tenant(org):
        assert (
            CustomerAnalytics.objects.count(),
            ClassChange.objects.count(),
            Interaction.objects.count(),
        ) == counts
        assert AuditEvent.objects.filter(action="customer.classified").count() == events
        assert AnalyticsRun.objects.count() == 1


def test_payment_slowdown_agrees_with_the_credit_scorecards_delay_trend(org):
    from analytics.ledger import ledger_load
    from credit.selectors import payment_behaviour
    from tests.credit.conftest import invoice

    day = datetime.timedelta(days=1)
    slower = CustomerFactory(organization=org, name="slower")
    steady = CustomerFactory(organization=org, name="steady")
    with tenancy.tenant(org):
        today = TODAY
    # Due 150 and 120 days ago, paid 2 days late; due 60 and 30 days ago, paid 20 days late / still open.
    invoice(org, slower, "S-1", today - 150 * day, total="1000.00", paid_on=today - 148 * day)
    invoice(org, slower, "S-2", today - 120 * day, total="3000.00", paid_on=today - 118 * day)
    invoice(org, slower, "S-3", today - 60 * day, total="2000.00", paid_on=today - 40 * day)
    invoice(org, slower, "S-4", today - 30 * day, total="500.00")
    invoice(org, steady, "T-1", today - 100 * day, total="800.00", paid_on=today - 100 * day)
    invoice(org, steady, "T-2", today - 20 * day, total="800.00", paid_on=today - 21 * day)
    with tenancy.tenant(org):
        ledger = ledger_load(today)
        expected = payment_behaviour(None, today)
    trend = dict(zip(ledger.customer_ids.tolist(), ledger.delay_trend.tolist(), strict=True))
    for customer in (slower, steady):
        assert trend[customer.pk] == pytest.approx(float(expected[customer.pk]["delay_trend"]))
    assert trend[slower.pk] > 15


def test_foreign_documents_convert_at_their_own_dates_rate_and_a_missing_rate_is_a_warning(org):
    from receivables.models import ExchangeRate

    buyer = CustomerFactory(organization=org, name="exporter")
    with tenancy.tenant(org):
        ExchangeRate.objects.create(
            organization=org, currency="USD", date=TODAY - datetime.timedelta(days=100), rate="7.0"
        )
        ExchangeRate.objects.create(
            organization=org, currency="USD", date=TODAY - datetime.timedelta(days=10), rate="8.0"
        )
    add_invoices(org, buyer, [50], "100.00", currency="USD")  # at 7.0
    add_invoices(org, buyer, [5], "100.00", currency="USD")  # at 8.0
    add_invoices(org, buyer, [200], "100.00", currency="USD")  # before any rate: left out
    add_invoices(org, buyer, [30], "50.00")
    add_credit_note(org, buyer, 20, "10.00")
    add_payment(org, buyer, 15, "40.00")
    run = recompute(org)
    with tenancy.tenant(org):
        row = CustomerAnalytics.objects.get(customer=buyer)
    assert row.revenue_12m == Decimal("700.00") + Decimal("800.00") + Decimal("50.00") - Decimal("10.00")
    assert row.cash_12m == Decimal("40.00")
    assert row.purchases == 3
    assert run.warnings == [
        {
            "code": "missing_rate",
            "kind": "invoice",
            "currency": "USD",
            "count": "1",
            "first_date": str(TODAY - datetime.timedelta(days=200)),
        }
    ]


def test_archived_customers_and_other_tenants_are_left_out(org, outsider_org):
    kept = CustomerFactory(organization=org, name="kept")
    archived = CustomerFactory(organization=org, name="archived", status="archived")
    foreign = CustomerFactory(organization=outsider_org, name="foreign")
    for customer, owner in ((kept, org), (archived, org), (foreign, outsider_org)):
        add_invoices(owner, customer, [10, 40, 70], "900.00")
    run = recompute(org)
    assert run.customers == 1
    with tenancy.tenant(org):
        assert list(CustomerAnalytics.objects.values_list("customer_id", flat=True)) == [kept.pk]
    assert CustomerAnalytics.unscoped.filter(organization=outsider_org).count() == 0
    with tenancy.tenant(outsider_org):
        assert Customer.objects.get(pk=foreign.pk).abc_class == ""


def test_lifecycle_changes_are_kept_in_history_and_noted_on_the_timeline_from_the_second_run(org):
    buyer = CustomerFactory(organization=org, name="one purchase")
    portfolio(org, 20)
    add_invoices(org, buyer, [5])
    recompute(org, TODAY - datetime.timedelta(days=1))
    with tenancy.tenant(org):
        assert ClassChange.objects.filter(
            customer=buyer, field="lifecycle_stage", new_value="first_purchase"
        ).exists()
        assert not Interaction.objects.filter(customer=buyer).exists()  # the first run learns stages
    add_invoices(org, buyer, [0])
    recompute(org)
    with tenancy.tenant(org):
        assert Customer.objects.get(pk=buyer.pk).lifecycle_stage == "repeat"
        change = ClassChange.objects.get(customer=buyer, field="lifecycle_stage", date=TODAY)
        assert (change.old_value, change.new_value) == ("first_purchase", "repeat")
        note = Interaction.objects.get(customer=buyer)
        assert note.summary == "Lifecycle stage: First purchase → Repeat"
        assert AuditEvent.objects.filter(action="customer.classified", customer_id=buyer.pk).count() == 2


def test_a_run_that_is_already_running_is_not_started_twice(org):
    portfolio(org, 12)
    with tenancy.tenant(org):
        AnalyticsRun.objects.create(date=TODAY, status="running", started_at=timezone.now())
    assert recompute(org) is None
    with tenancy.tenant(org):
        AnalyticsRun.objects.filter(date=TODAY).update(
            started_at=timezone.now() - datetime.timedelta(hours=2)
        )
    assert recompute(org).status == "done"  # a stale claim (a dead worker) is taken over


def test_dunning_picks_its_policy_by_the_abc_class_the_run_wrote(org):
    from receivables.dunning import policy_for
    from receivables.models import DunningPolicy

    big = CustomerFactory(organization=org, name="big")
    small = CustomerFactory(organization=org, name="small")
    add_invoices(org, big, [10, 40, 70, 100], "90000.00")
    add_invoices(org, small, [15, 45], "100.00")
    recompute(org)
    with tenancy.tenant(org):
        gentle = DunningPolicy.objects.create(
            organization=org, name="Key accounts", abc_classes=["A"], priority=1
        )
        standard = DunningPolicy.objects.create(
            organization=org, name="Standard", is_default=True, priority=9
        )
        policies = [gentle, standard]
        assert policy_for(Customer.objects.get(pk=big.pk), policies) == gentle
        assert policy_for(Customer.objects.get(pk=small.pk), policies) == standard


def test_a_run_for_an_earlier_day_is_a_snapshot_only_and_never_overwrites_later_figures(org):
    portfolio(org, 15)
    latest = recompute(org)
    with tenancy.tenant(org):
        before = list(
            CustomerAnalytics.objects.order_by("customer_id").values_list(
                "customer_id", "run_date", "recency_days"
            )
        )
        classes = dict(Customer.objects.values_list("pk", "abc_class"))
    past = recompute(org, TODAY - datetime.timedelta(days=200))
    assert past.status == "done" and past.summary["buyers"] > 0 and past.pk != latest.pk
    with tenancy.tenant(org):
        after = list(
            CustomerAnalytics.objects.order_by("customer_id").values_list(
                "customer_id", "run_date", "recency_days"
            )
        )
        assert after == before
        assert dict(Customer.objects.values_list("pk", "abc_class")) == classes


def test_satisfaction_service_issues_and_expired_points_from_the_experience_app_feed_the_churn_risk(org):
    from experience.models import PointsEntry, ServiceRequest, Survey, SurveyInvitation, SurveyResponse

    unhappy = CustomerFactory(organization=org, name="unhappy")
    calm = CustomerFactory(organization=org, name="calm")
    portfolio(org, 12)
    for customer in (unhappy, calm):
        add_invoices(org, customer, [20, 50, 80, 110, 140, 170], "5000.00")
    now = timezone.now()
    with tenancy.tenant(org):
        survey = Survey.objects.create(organization=org, name="Relationship", kind="nps")
        invitation = SurveyInvitation.objects.create(
            organization=org,
            survey=survey,
            customer=unhappy,
            email="ap@unhappy.example",
            language="en",
            token_hash="x" * 64,
            source="manual:1",
            expires_at=now,
        )
        SurveyResponse.objects.create(
            organization=org,
            invitation=invitation,
            survey=survey,
            customer=unhappy,
            score=2,
            category="detractor",
            language="en",
            responded_at=now - datetime.timedelta(days=30),
        )
        ServiceRequest.objects.create(
            organization=org,
            customer=unhappy,
            number="SR-1",
            subject="Late delivery",
            category="complaint",
            opened_at=now - datetime.timedelta(days=10),
            resolution_breached=True,
        )
        PointsEntry.objects.create(
            organization=org,
            customer=unhappy,
            kind="earned",
            points=100,
            date=TODAY - datetime.timedelta(days=300),
            reference="invoice:1",
        )
        PointsEntry.objects.create(
            organization=org,
            customer=unhappy,
            kind="expired",
            points=-60,
            date=TODAY - datetime.timedelta(days=5),
            reference="expiry:1",
        )
    recompute(org)
    with tenancy.tenant(org):
        rows = {
            row.customer_id: row for row in CustomerAnalytics.objects.filter(customer__in=[unhappy, calm])
        }
    factors = {f["factor"]: f for f in rows[unhappy.pk].churn_factors}
    assert factors["satisfaction"]["value"] == 0.2 and factors["satisfaction"]["points"] > 0
    assert factors["service_issues"]["value"] == 2.0  # a late resolution and a complaint
    assert factors["loyalty_activity"]["value"] == 0.6
    calm_factors = {f["factor"]: f for f in rows[calm.pk].churn_factors}
    assert calm_factors["satisfaction"]["points"] is None  # no survey: not counted
    assert rows[unhappy.pk].churn_risk > rows[calm.pk].churn_risk
    from analytics.selectors import explain_churn

    reasons = {r["factor"]: r["reason"] for r in explain_churn(rows[unhappy.pk].churn_factors)}
    assert "20%" in reasons["satisfaction"] and "60%" in reasons["loyalty_activity"]
