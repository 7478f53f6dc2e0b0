"""Scheduled work and operator commands: per-tenant fan-out, idempotent runs, exact CLI forms."""

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from crm.models import FollowUpReminder
from finance import jobs, tenancy
from finance.jobs import Job, register_job
from finance.models import JobRun, Membership, Organization
from finance.tasks import dispatch_jobs, run_tenant_job
from tests.factories import CustomerFactory, FollowUpFactory

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 11, 24)


def _due_follow_ups(org, user, n=2):
    customer = CustomerFactory(organization=org, owner=user)
    for i in range(n):
        FollowUpFactory(customer=customer, assignee=user, due_date=DAY - datetime.timedelta(days=i))


def test_follow_up_reminders_send_one_digest_per_rep_even_when_run_twice(org, members):
    _due_follow_ups(org, members["sales_rep"])
    FollowUpFactory(
        customer=CustomerFactory(organization=org),
        assignee=members["owner"],
        due_date=DAY + datetime.timedelta(days=3),
    )
    first = jobs.job_run(organization=org, job_name="follow_up_reminders", run_date=DAY)
    again = jobs.job_run(organization=org, job_name="follow_up_reminders", run_date=DAY, force=True)
    assert first.result == {"assignees": 1, "sent": 1}
    assert again.result == {"assignees": 1, "sent": 0}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [members["sales_rep"].email]
    assert "2 follow-ups" in mail.outbox[0].subject


def test_a_digest_interrupted_before_it_was_sent_is_sent_by_the_rerun(org, members):
    _due_follow_ups(org, members["sales_rep"], n=1)
    with tenancy.tenant(org):
        FollowUpReminder.objects.create(assignee=members["sales_rep"], day=DAY, follow_up_count=1)
    run = jobs.job_run(organization=org, job_name="follow_up_reminders", run_date=DAY)
    assert run.result["sent"] == 1 and len(mail.outbox) == 1


def test_digest_is_in_the_reps_language(org, members):
    rep = members["sales_rep"]
    rep.language = "zh-hans"
    rep.save()
    _due_follow_ups(org, rep, n=1)
    jobs.job_run(organization=org, job_name="follow_up_reminders", run_date=DAY)
    assert mail.outbox[0].subject != "1 follow-ups due at Acme Trading"


def test_a_finished_run_is_not_repeated(org, only_test_jobs):
    calls = []
    register_job(
        Job(name="test_counter", run=lambda **kw: calls.append(kw) or {"n": len(calls)}, local_hour=0)
    )
    jobs.job_run(organization=org, job_name="test_counter", run_date=DAY)
    jobs.job_run(organization=org, job_name="test_counter", run_date=DAY)
    assert len(calls) == 1
    with tenancy.tenant(org):
        assert JobRun.objects.get(job="test_counter").status == "done"


@pytest.fixture
def only_test_jobs():
    """Replace the job registry for one test, and put the real one back afterwards."""
    saved = dict(jobs.JOBS)
    jobs.JOBS.clear()
    yield jobs.JOBS
    jobs.JOBS.clear()
    jobs.JOBS.update(saved)


@pytest.fixture
def eager_without_propagation():
    from finance.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def test_dispatcher_fans_out_per_organization_and_one_failure_stops_no_other(
    org, outsider_org, only_test_jobs, eager_without_propagation
):
    seen = []

    def flaky(*, actor, run_date):
        seen.append(actor.organization.slug)
        if actor.organization.slug == "acme":
            raise RuntimeError("boom")
        return {"ok": True}

    register_job(Job(name="test_flaky", run=flaky, local_hour=0))
    assert dispatch_jobs.apply().get() == 2
    assert sorted(seen) == ["acme", "outsider"]
    with tenancy.tenant(outsider_org):
        assert JobRun.objects.get(job="test_flaky").status == "done"
    with tenancy.tenant(org):
        assert JobRun.objects.get(job="test_flaky").status == "failed"
    # The next dispatch: only the organization whose run failed is due again.
    seen.clear()
    assert dispatch_jobs.apply().get() == 1
    assert seen == ["acme"]


def test_jobs_are_due_at_the_organizations_local_hour(org):
    org.timezone = "Asia/Shanghai"
    utc_2300 = datetime.datetime(2026, 11, 23, 23, 30, tzinfo=datetime.UTC)  # 07:30 in Shanghai
    due = dict(jobs.jobs_due(org, now=utc_2300))
    assert due["follow_up_reminders"] == datetime.date(2026, 11, 24)
    utc_2200 = datetime.datetime(2026, 11, 23, 22, 30, tzinfo=datetime.UTC)  # 06:30
    assert "follow_up_reminders" not in dict(jobs.jobs_due(org, now=utc_2200))


def test_tenant_task_sets_and_clears_the_tenant(org, members):
    _due_follow_ups(org, members["sales_rep"], n=1)
    result = run_tenant_job.apply(
        kwargs={"organization_id": org.pk, "job": "follow_up_reminders", "run_date": DAY.isoformat()}
    ).get()
    assert result["status"] == "done"
    assert tenancy.current_organization_or_none() is None


def test_tenant_task_class_declares_it_must_not_be_lost():
    assert run_tenant_job.acks_late and run_tenant_job.reject_on_worker_lost


# --- Commands -------------------------------------------------------------------------------


def _call(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_operator_commands_in_their_documented_forms(db):
    _call(
        "create_org",
        "shanghai",
        "--name",
        "Shanghai Co",
        "--currency",
        "CNY",
        "--timezone",
        "Asia/Shanghai",
        "--language",
        "zh-hans",
    )
    org = Organization.objects.get(slug="shanghai")
    assert org.language == "zh-hans" and org.base_currency == "CNY"
    _call(
        "create_user",
        "boss@sh.test",
        "--org",
        "shanghai",
        "--role",
        "finance_manager",
        "--password",
        "S3cret-pass!",
    )
    with tenancy.tenant(org):
        assert Membership.objects.get(user__email="boss@sh.test").role == "finance_manager"
    output = _call("create_api_key", "shanghai", "--name", "ERP", "--scopes", "read,write")
    key = output.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/organization/").json()["slug"] == "shanghai"
    assert client.post("/api/v1/customers/", {"name": "Via key"}, format="json").status_code == 201
    output = _call("run_job", "follow_up_reminders", "--org", "shanghai", "--date", "2026-11-24")
    assert "done" in output


def test_commands_reject_bad_input(db):
    with pytest.raises(CommandError):
        _call("create_org", "bad", "--name", "X", "--currency", "XYZ")
    with pytest.raises(CommandError):
        _call("create_org", "bad", "--name", "X", "--timezone", "Mars/Olympus")
    with pytest.raises(CommandError):
        _call("create_user", "a@b.c", "--org", "missing", "--role", "owner")
    with pytest.raises(CommandError):
        _call("run_job", "nope", "--org", "missing")
    assert not Organization.objects.filter(slug="bad").exists()


def test_seed_demo_builds_a_usable_organization_once(db, django_capture_on_commit_callbacks):
    # The callbacks run after the command's transaction, outside its tenant context, as in `make run`.
    with django_capture_on_commit_callbacks(execute=True):
        _call("seed_demo")
    org = Organization.objects.get(slug="demo")
    from crm.models import Customer, Interaction

    with tenancy.tenant(org):
        assert Customer.objects.count() >= 12
        assert Interaction.objects.exists()
        assert Customer.objects.filter(name__contains="有限公司").exists()
        from credit.models import CreditHold, CreditProfile, FinancialStatement, LimitRequest

        assert CreditProfile.objects.filter(score__isnull=False, credit_limit__isnull=False).count() >= 6
        assert LimitRequest.objects.filter(status="pending").count() == 1
        assert FinancialStatement.objects.count() == 3
        assert CreditHold.objects.filter(reason="manual", released_at__isnull=True).exists()
        from analytics.models import AnalyticsRun, ChurnAlert, CustomerAnalytics

        run = AnalyticsRun.objects.get()
        assert run.status == "done" and "error" not in run.models_fit["bgnbd"]
        assert CustomerAnalytics.objects.filter(clv__isnull=False).count() >= 20
        assert sum(1 for size in run.summary["cohorts"]["sizes"] if size) >= 6  # several cohorts
        assert run.summary["lifecycle"].get("churned", 0) >= 3  # some churners
        assert ChurnAlert.objects.filter(outcome="pending").exists()
        assert ChurnAlert.objects.exclude(outcome="pending").exists()
    assert "not seeding" in _call("seed_demo", "--if-empty")
