"""Scheduled jobs: a registry of per-organization daily jobs, and the idempotent way to run one.

Apps register their jobs in `AppConfig.ready()`. The Celery task, the dispatcher and
`manage.py run_job` all go through `job_run()`, so the same code runs whichever starts it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from finance import tenancy
from finance.actors import Actor
from finance.models import JobRun, Organization

logger = logging.getLogger("kehu.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[..., dict[str, Any]]  # run(*, actor, run_date) -> result summary
    local_hour: int  # the hour of the organization's local day from which the job is due
    description: str = ""


JOBS: dict[str, Job] = {}


def register_job(job: Job) -> None:
    JOBS[job.name] = job


def job_run(
    *, organization: Organization, job_name: str, run_date: datetime.date, force: bool = False
) -> JobRun:
    """Run one job for one organization and day, once.

    A finished run is not repeated (unless `force`); a run that failed or died midway is run
    again, and the job's own unique keys make sure nothing it already produced is produced twice.
    """
    job = JOBS[job_name]
    with tenancy.tenant(organization):
        try:
            with transaction.atomic():
                run, _created = JobRun.objects.get_or_create(job=job_name, run_date=run_date)
        except IntegrityError:
            run = JobRun.objects.get(job=job_name, run_date=run_date)
        if run.status == JobRun.Status.DONE and not force:
            return run
        run.status, run.started_at, run.error = JobRun.Status.RUNNING, timezone.now(), ""
        run.save(update_fields=["status", "started_at", "error"])
        try:
            result = job.run(actor=Actor.system(organization), run_date=run_date)
        except Exception as exc:
            run.status, run.error, run.finished_at = JobRun.Status.FAILED, repr(exc)[:2000], timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            logger.exception("Job %s failed for organization %s", job_name, organization.pk)
            raise
        run.status, run.result, run.finished_at = JobRun.Status.DONE, result, timezone.now()
        run.save(update_fields=["status", "result", "finished_at"])
        return run


def jobs_due(
    organization: Organization, now: datetime.datetime | None = None
) -> list[tuple[str, datetime.date]]:
    """The jobs due for the organization now (its local time past the job's hour, not done today)."""
    local = (now or timezone.now()).astimezone(organization.tzinfo)
    due = [name for name, job in JOBS.items() if local.hour >= job.local_hour]
    if not due:
        return []
    with tenancy.tenant(organization):
        done = set(
            JobRun.objects.filter(job__in=due, run_date=local.date(), status=JobRun.Status.DONE).values_list(
                "job", flat=True
            )
        )
    return [(name, local.date()) for name in due if name not in done]


def purge_idempotency_keys(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """Forget Idempotency-Keys older than the retention (at least 24 hours; 48 by default)."""
    from django.conf import settings

    from finance.models import IdempotencyKey

    cutoff = timezone.now() - datetime.timedelta(hours=max(24, settings.IDEMPOTENCY_KEY_TTL_HOURS))
    deleted, _detail = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return {"deleted": deleted}


register_job(
    Job(
        name="idempotency_purge",
        run=purge_idempotency_keys,
        local_hour=3,
        description="Forget Idempotency-Keys past their retention.",
    )
)


def verify_audit_chain(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """Seal what is pending and verify the organization's audit chain; a break alerts the admins."""
    from finance import auditchain

    verification = auditchain.verify_and_record(actor.organization, source="job")
    return {
        "intact": verification.intact,
        "events": verification.events_checked,
        "head": verification.head_hash,
        "breaks": len(verification.breaks),
    }


register_job(
    Job(
        name="audit_verify",
        run=verify_audit_chain,
        local_hour=2,
        description="Verify the tamper-evident audit chain and alert the admins on a break.",
    )
)
