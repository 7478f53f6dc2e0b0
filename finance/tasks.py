"""Celery tasks of the platform: the tenant-task base class, the dispatcher, the job runner."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import Task, shared_task

from finance import concurrency, jobs, tenancy
from finance.models import Organization

logger = logging.getLogger("kehu.tasks")


class TenantTask(Task):
    """Base of every tenant task: takes `organization_id`, runs inside that tenant, clears it after,
    and never more than TENANT_TASK_CONCURRENCY of one organization at once.

    Must not be lost: acknowledged after it runs, re-queued if the worker dies.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (ConnectionError,)
    retry_backoff = True
    max_retries = 5

    def __call__(self, *args: Any, organization_id: int, **kwargs: Any) -> Any:
        organization = Organization.objects.get(pk=organization_id)

        def run() -> Any:
            with tenancy.tenant(organization):
                return super(TenantTask, self).__call__(*args, organization_id=organization_id, **kwargs)

        # At most TENANT_TASK_CONCURRENCY tasks of one organization at once (finance/concurrency.py).
        return concurrency.run_in_slot(self, organization_id, run)


@shared_task(base=TenantTask, bind=True, name="finance.run_tenant_job")
def run_tenant_job(self: Task, *, organization_id: int, job: str, run_date: str) -> dict[str, Any]:
    organization = tenancy.current_organization()
    run = jobs.job_run(
        organization=organization, job_name=job, run_date=datetime.date.fromisoformat(run_date)
    )
    return {"job": job, "status": run.status, "result": run.result}


@shared_task(name="finance.dispatch_jobs", acks_late=True, expires=600)
def dispatch_jobs() -> int:
    """Fan out: one task per organization and due job, so tenants run in parallel and one
    organization's failure stops no other. Crosses tenants by reading organizations only."""
    queued = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            due = jobs.jobs_due(organization)
        except Exception:
            logger.exception("Could not plan jobs for organization %s", organization.pk)
            continue
        for job_name, run_date in due:
            run_tenant_job.apply_async(
                kwargs={
                    "organization_id": organization.pk,
                    "job": job_name,
                    "run_date": run_date.isoformat(),
                },
                expires=3600,
            )
            queued += 1
    return queued


class WebhookNotDelivered(Exception):
    """The endpoint did not answer 2xx; Celery retries with backoff."""


@shared_task(
    base=TenantTask,
    bind=True,
    name="finance.deliver_webhook",
    autoretry_for=(WebhookNotDelivered,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=7,
)
def deliver_webhook(self: Task, *, organization_id: int, delivery_id: int) -> str:
    from finance.models import WebhookDelivery
    from finance.webhooks import deliver

    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return "nothing to do"
    if not deliver(delivery) and delivery.status == WebhookDelivery.Status.PENDING:
        raise WebhookNotDelivered(delivery.last_error or str(delivery.response_status))
    return delivery.status
