"""The nightly receivables snapshot: the day's aging totals and KPIs, once per organization and date."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command

from finance import jobs, tenancy
from finance.actors import Actor
from finance.models import JobRun
from receivables import services
from receivables.models import ReceivablesSnapshot
from receivables.selectors import MissingExchangeRates
from tests.factories import CustomerFactory
from tests.receivables.test_kpis import build_worked_example

pytestmark = pytest.mark.django_db

D = datetime.date
DAY = D(2026, 3, 31)  # the 90 days ending on it are the worked example's period


@pytest.fixture
def alpha(org):
    customer = CustomerFactory(organization=org, name="Alpha")
    build_worked_example(org, customer)
    return customer


def snapshots(org):
    with tenancy.tenant(org):
        return list(ReceivablesSnapshot.objects.order_by("date").values("date", "totals", "kpis"))


def test_the_snapshot_holds_the_days_aging_totals_and_the_kpis_of_90_days(org, alpha, api):
    run = jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY)
    assert run.status == JobRun.Status.DONE
    assert run.result == {"date": "2026-03-31", "created": True, "total": "5400.00"}
    (snapshot,) = snapshots(org)
    assert snapshot["date"] == DAY
    assert snapshot["totals"] == api.get("/api/v1/reports/aging/", {"as_of": "2026-03-31"}).json()["totals"]
    assert snapshot["totals"]["total"] == "5400.00"
    assert (
        snapshot["kpis"]
        == api.get("/api/v1/reports/kpis/", {"from": "2026-01-01", "to": "2026-03-31"}).json()
    )
    assert snapshot["kpis"]["dso_countback"] == "51.0" and snapshot["kpis"]["cei"] == "65.45"


def test_running_twice_keeps_one_snapshot_per_day_with_the_latest_figures(org, alpha):
    jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY)
    jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY)  # done: not run again
    with tenancy.tenant(org):
        services.payment_record(
            actor=Actor.system(org), customer=alpha, currency="CNY", received_on=DAY, amount="100.00"
        )
    again = jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY, force=True)
    assert again.result["created"] is False
    (snapshot,) = snapshots(org)
    assert snapshot["totals"]["total"] == "5300.00"  # the payment went to the oldest open invoice
    jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY + datetime.timedelta(days=1))
    assert [s["date"] for s in snapshots(org)] == [DAY, DAY + datetime.timedelta(days=1)]


def test_the_operator_command_runs_the_job(org, alpha):
    out = StringIO()
    call_command("run_job", "aging_snapshot", "--org", org.slug, "--date", "2026-03-31", stdout=out)
    assert "aging_snapshot for acme on 2026-03-31: done" in out.getvalue()
    assert [s["totals"]["total"] for s in snapshots(org)] == ["5400.00"]


def test_a_missing_rate_fails_the_run_and_stores_nothing(org, alpha):
    jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY)
    before = snapshots(org)
    with tenancy.tenant(org):
        services.invoice_create(
            actor=Actor.system(org),
            customer=alpha,
            number="EUR-1",
            currency="EUR",
            issue_date=D(2026, 3, 2),
            due_date=D(2026, 4, 1),
            total="10.00",
        )
    with pytest.raises(MissingExchangeRates):
        jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY, force=True)
    with pytest.raises(MissingExchangeRates):
        jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY + datetime.timedelta(days=1))
    with tenancy.tenant(org):
        runs = {run.run_date: run for run in JobRun.objects.filter(job="aging_snapshot")}
    assert {day: run.status for day, run in runs.items()} == {
        DAY: JobRun.Status.FAILED,
        DAY + datetime.timedelta(days=1): JobRun.Status.FAILED,
    }
    assert "EUR on or before 2026-03-02" in runs[DAY].error
    assert snapshots(org) == before  # the earlier figures stand, none for the failed day


def test_each_organization_snapshots_its_own_ledger(org, alpha, outsider_org):
    jobs.job_run(organization=outsider_org, job_name="aging_snapshot", run_date=DAY)
    jobs.job_run(organization=org, job_name="aging_snapshot", run_date=DAY)
    assert [s["totals"]["total"] for s in snapshots(outsider_org)] == ["0.00"]
    assert [s["totals"]["total"] for s in snapshots(org)] == ["5400.00"]


def test_the_job_is_due_from_one_in_the_morning_in_the_organizations_time_zone(org):
    assert org.timezone == "Asia/Shanghai"
    at_0130 = datetime.datetime(2026, 3, 30, 17, 30, tzinfo=datetime.UTC)  # 01:30 on the 31st
    at_0030 = datetime.datetime(2026, 3, 30, 16, 30, tzinfo=datetime.UTC)
    assert dict(jobs.jobs_due(org, now=at_0130))["aging_snapshot"] == DAY
    assert "aging_snapshot" not in dict(jobs.jobs_due(org, now=at_0030))
