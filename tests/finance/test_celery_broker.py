"""A real worker on the configured broker (Redis in CI, the embedded filesystem broker on a
laptop) runs a tenant task end to end: enqueue, consume, tenant context, database write."""

import datetime
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from finance import tenancy
from finance.celery import app
from finance.models import JobRun
from finance.tasks import run_tenant_job


@pytest.mark.django_db(transaction=True)
def test_a_worker_consumes_a_tenant_task_from_the_broker(org, members, real_broker):
    assert settings.CELERY_BROKER_URL.startswith("redis://" if settings.REDIS_URL else "filesystem://")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        run_tenant_job.delay(organization_id=org.pk, job="follow_up_reminders", run_date="2026-11-24")
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            with tenancy.tenant(org):
                run = JobRun.objects.filter(job="follow_up_reminders").first()
            status = run.status if run else None
            if status == "done":
                break
            time.sleep(0.2)
    assert status == "done"
    with tenancy.tenant(org):
        assert JobRun.objects.get().run_date == datetime.date(2026, 11, 24)
