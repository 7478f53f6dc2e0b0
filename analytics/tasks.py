"""Celery tasks of analytics: thin, by id, inside the tenant (TenantTask)."""

from __future__ import annotations

import datetime

from celery import Task, shared_task

from analytics.runs import analytics_recompute
from finance.actors import Actor
from finance.tasks import TenantTask
from finance.tenancy import current_organization


@shared_task(base=TenantTask, bind=True, name="analytics.recompute")
def recompute(self: Task, *, organization_id: int, run_date: str) -> str:
    """The recompute someone asked for in the browser; progress shows on the run."""
    run = analytics_recompute(
        actor=Actor.system(current_organization()), run_date=datetime.date.fromisoformat(run_date)
    )
    return "busy" if run is None else run.status
