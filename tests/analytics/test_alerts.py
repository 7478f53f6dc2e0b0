"""Weekly churn alerts: once per customer and week, a retention follow-up for the owner rep, the
`customer.churn_risk` webhook, and outcomes that measure the alerts' precision."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from analytics import selectors
from analytics.alerts import alerts_raise, alerts_settle, churn_alerts
from analytics.models import ChurnAlert, CustomerAnalytics
from crm.models import FollowUp
from finance import tenancy, webhooks
from finance.actors import Actor
from finance.models import WebhookDelivery
from tests.analytics.conftest import TODAY, add_invoices
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
FACTORS = [
    {"factor": "prob_alive", "value": 0.15, "severity": 0.85, "weight": 35, "points": 47.6},
    {"factor": "frequency_decline", "value": 0.0, "severity": 1.0, "weight": 20, "points": 28.0},
]


def scored(org, risk, *, owner=None, name="华东机电", clv="12000.00"):
    customer = CustomerFactory(organization=org, name=name, owner=owner)
    with tenancy.tenant(org):
        CustomerAnalytics.objects.create(
            organization=org,
            customer=customer,
            run_date=TODAY,
            purchases=8,
            churn_risk=risk,
            churn_factors=FACTORS,
            clv=Decimal(clv),
            prob_alive=Decimal("0.15"),
        )
    return customer


def test_the_weekly_job_alerts_each_customer_over_the_threshold_once_with_a_follow_up_for_its_rep(
    org, members, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("finance.tasks.deliver_webhook.delay", lambda **kwargs: None)  # no network
    rep = members["sales_rep"]
    risky = scored(org, 76, owner=rep)
    scored(org, 59, owner=rep, name="below the threshold")
    actor = Actor.system(org)
    with tenancy.tenant(org):
        webhooks.endpoint_create(
            actor=actor, url="https://erp.example.test/hooks", events=["customer.churn_risk"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            result = churn_alerts(actor=actor, run_date=TODAY)  # a Monday, the default alert day
        assert result["raised"] == 1
        alert = ChurnAlert.objects.get()
        assert (alert.customer_id, alert.churn_risk, alert.week) == (risky.pk, 76, TODAY)
        assert alert.window_ends == TODAY + 90 * DAY
        follow_up = FollowUp.objects.get(pk=alert.follow_up_id)
        assert follow_up.assignee == rep and follow_up.customer_id == risky.pk
        assert "76" in follow_up.title
        delivery = WebhookDelivery.objects.get(event="customer.churn_risk")
        data = delivery.payload["data"]
        assert data["customer"] == risky.pk and data["churn_risk"] == 76
        assert data["reasons"][0]["factor"] == "prob_alive" and "15" in data["reasons"][0]["reason"]
        # Again the same week, and again the next day: nothing new.
        with django_capture_on_commit_callbacks(execute=True):
            assert alerts_raise(actor=actor, today=TODAY) == 0
            assert churn_alerts(actor=actor, run_date=TODAY + DAY)["raised"] == 0
        assert ChurnAlert.objects.count() == 1 and FollowUp.objects.count() == 1
        assert WebhookDelivery.objects.count() == 1


def test_no_alerts_on_other_weekdays_and_none_while_an_alert_is_watched(org):
    scored(org, 80)
    actor = Actor.system(org)
    with tenancy.tenant(org):
        assert churn_alerts(actor=actor, run_date=TODAY + 2 * DAY)["skipped"] == "not the alert weekday"
        assert ChurnAlert.objects.count() == 0
        assert alerts_raise(actor=actor, today=TODAY) == 1
        assert alerts_raise(actor=actor, today=TODAY + 7 * DAY) == 0  # still watched


def test_outcomes_buying_again_within_the_window_is_retained_otherwise_churned_and_precision(org):
    kept = scored(org, 80, name="bought again")
    lost = scored(org, 80, name="never came back")
    actor = Actor.system(org)
    raised = TODAY - 100 * DAY
    with tenancy.tenant(org):
        assert alerts_raise(actor=actor, today=raised) == 2
    add_invoices(org, kept, [60])  # 40 days after the alert
    add_invoices(org, lost, [120])  # before the alert: does not count
    with tenancy.tenant(org):
        assert alerts_settle(actor=actor, today=raised + 30 * DAY) == {"retained": 0, "churned": 0}
        assert alerts_settle(actor=actor, today=TODAY) == {"retained": 1, "churned": 1}
        outcomes = dict(ChurnAlert.objects.values_list("customer_id", "outcome"))
        assert outcomes == {kept.pk: "retained", lost.pk: "churned"}
        assert ChurnAlert.objects.get(customer=kept).outcome_on == TODAY - 60 * DAY
        precision = selectors.alert_precision()
        assert precision["decided"] == 2 and precision["precision"] == 0.5
        # Settled alerts no longer block a new one.
        assert alerts_raise(actor=actor, today=TODAY) == 2


def test_alerts_stay_inside_their_tenant(org, outsider_org):
    scored(org, 90)
    scored(outsider_org, 90)
    with tenancy.tenant(org):
        assert alerts_raise(actor=Actor.system(org), today=TODAY) == 1
    with tenancy.tenant(outsider_org):
        assert ChurnAlert.objects.count() == 0
    assert ChurnAlert.unscoped.filter(organization=outsider_org).count() == 0


def test_the_scheduled_jobs_run_per_tenant_through_the_job_runner_once_a_day(org, outsider_org):
    from django.core.management import call_command

    from analytics.models import AnalyticsRun
    from finance.jobs import JOBS, job_run
    from finance.models import JobRun
    from tests.analytics.conftest import portfolio

    assert {"analytics_nightly", "churn_alerts"} <= set(JOBS)
    portfolio(org, 14)
    portfolio(outsider_org, 14)
    call_command("run_job", "analytics_nightly", "--org", org.slug, "--date", TODAY.isoformat())
    with tenancy.tenant(org):
        assert AnalyticsRun.objects.get().status == "done"
        assert JobRun.objects.get(job="analytics_nightly").status == "done"
    with tenancy.tenant(outsider_org):
        assert not AnalyticsRun.objects.exists()
    run = job_run(organization=org, job_name="churn_alerts", run_date=TODAY)
    assert run.status == "done" and "raised" in run.result
