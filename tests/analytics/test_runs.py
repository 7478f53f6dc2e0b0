"""The nightly recompute: classes, RFM, lifetime value, churn risk and lifecycle from the ledger,
stored as a dated snapshot, idempotent per organization and day."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.models import AnalyticsRun, ClassChange, CustomerAnalytics
from analytics.runs import analytics_recompute
from crm.models import Customer, Interaction
from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.analytics.conftest import TODAY, portfolio

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
