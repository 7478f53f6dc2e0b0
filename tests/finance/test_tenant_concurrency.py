"""Queues per kind of work, and at most TENANT_TASK_CONCURRENCY tasks of one organization at once
across all workers: a task over the limit waits (is retried) while other organizations run."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.exceptions import Retry
from django.conf import settings
from django.core.cache import cache

from finance import concurrency, tenancy
from finance.celery import app
from finance.models import JobRun
from finance.tasks import run_tenant_job


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


# --- Queues ------------------------------------------------------------------------------------


def test_every_kehu_task_has_a_declared_queue_and_a_plain_worker_consumes_them_all() -> None:
    app.loader.import_default_modules()
    declared = set(app.amqp.queues)
    assert declared == set(settings.KEHU_QUEUES)
    kehu_tasks = sorted(name for name in app.tasks if not name.startswith("celery."))
    assert kehu_tasks, "no task registered"
    for name in kehu_tasks:
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue in declared, (name, queue)
    routes = {name: app.amqp.router.route({}, name)["queue"].name for name in kehu_tasks}
    assert routes["finance.dispatch_jobs"] == "dispatch"
    assert routes["finance.run_tenant_job"] == "jobs"
    assert routes["analytics.recompute"] == routes["receivables.import_run"] == "heavy"
    assert routes["finance.deliver_webhook"] == "delivery"


# --- Slots ---------------------------------------------------------------------------------------


def test_an_organization_has_as_many_slots_as_the_limit(settings: Any) -> None:
    settings.TENANT_TASK_CONCURRENCY = 2
    first = concurrency.acquire(1, "a")
    second = concurrency.acquire(1, "b")
    assert first and second and first != second
    assert concurrency.acquire(1, "c") is None
    assert concurrency.busy_slots(1) == 2
    assert concurrency.acquire(2, "other organization") is not None  # limits are per organization
    concurrency.release(first)
    assert concurrency.acquire(1, "c") == first


def test_a_slot_is_given_back_when_the_work_fails(settings: Any) -> None:
    settings.TENANT_TASK_CONCURRENCY = 1
    with pytest.raises(ZeroDivisionError), concurrency.tenant_slot(7, "x"):
        1 / 0  # noqa: B018
    assert concurrency.busy_slots(7) == 0


class FakeTask:
    """What run_in_slot needs of a Celery task: its request, and retry()."""

    def __init__(self, eager: bool = False) -> None:
        self.request = type("Request", (), {"is_eager": eager, "id": "task-1"})()
        self.retried_with: dict[str, Any] | None = None

    def retry(self, **kwargs: Any) -> Retry:
        self.retried_with = kwargs
        return Retry("waiting for a slot")


def test_a_task_over_the_limit_is_retried_later_and_does_not_run(settings: Any) -> None:
    settings.TENANT_TASK_CONCURRENCY = 1
    held = concurrency.acquire(5, "a long import")
    task, ran = FakeTask(), []
    with pytest.raises(Retry):
        concurrency.run_in_slot(task, 5, lambda: ran.append(5))
    assert ran == [] and task.retried_with is not None
    assert task.retried_with["countdown"] >= concurrency.RETRY_SECONDS
    assert task.retried_with["max_retries"] == concurrency.MAX_WAITS
    assert concurrency.run_in_slot(FakeTask(), 6, lambda: "ran") == "ran"  # another organization runs
    concurrency.release(held)
    assert concurrency.run_in_slot(task, 5, lambda: "ran") == "ran"
    assert concurrency.busy_slots(5) == 0


def test_eager_tasks_take_no_slot(settings: Any) -> None:
    settings.TENANT_TASK_CONCURRENCY = 1
    concurrency.acquire(5, "held")
    assert concurrency.run_in_slot(FakeTask(eager=True), 5, lambda: "ran") == "ran"


# --- A real worker -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_holds_a_task_back_until_its_organization_has_a_free_slot(
    org: Any, outsider_org: Any, real_broker: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.TENANT_TASK_CONCURRENCY = 1
    monkeypatch.setattr(concurrency, "retry_countdown", lambda: 0.3)
    held = concurrency.acquire(org.pk, "another task of this organization")

    def status(organization: Any) -> str | None:
        with tenancy.tenant(organization):
            run = JobRun.objects.filter(job="follow_up_reminders").first()
        return run.status if run else None

    def wait_for(predicate: Any, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        for organization in (org, outsider_org):
            run_tenant_job.delay(
                organization_id=organization.pk, job="follow_up_reminders", run_date="2026-11-24"
            )
        assert wait_for(lambda: status(outsider_org) == "done", 20)  # the other organization ran
        time.sleep(1)
        assert status(org) is None  # still waiting for its slot
        concurrency.release(held)
        assert wait_for(lambda: status(org) == "done", 20)
    with tenancy.tenant(org):
        assert JobRun.objects.get().run_date == datetime.date(2026, 11, 24)
    assert concurrency.busy_slots(org.pk) == 0
