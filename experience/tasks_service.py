"""Celery tasks of the service part: the SLA check, dispatched every few minutes to every
organization (beat entry "dispatch-sla-checks" in finance/schedule.py)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from finance import tenancy
from finance.actors import Actor
from finance.models import Organization
from finance.tasks import TenantTask

logger = logging.getLogger("kehu.tasks")


@shared_task(base=TenantTask, bind=True, name="experience.sla_check")
def sla_check_task(self: Task, *, organization_id: int) -> dict[str, Any]:
    """One organization's SLA check; idempotent (each alert is recorded on its request)."""
    from experience.sla import sla_check

    organization = tenancy.current_organization()
    return sla_check(actor=Actor.system(organization), now=timezone.now())


@shared_task(name="experience.dispatch_sla_checks", acks_late=True, expires=240)
def dispatch_sla_checks() -> int:
    """Fan out: one SLA check per organization, so one tenant's failure stops no other. Crosses
    tenants by reading organizations only. A check not started within 5 minutes expires: the
    next dispatch replaces it."""
    queued = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            sla_check_task.apply_async(kwargs={"organization_id": organization.pk}, expires=300)
        except Exception:
            logger.exception("Could not queue the SLA check of organization %s", organization.pk)
            continue
        queued += 1
    return queued
