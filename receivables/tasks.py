"""Celery tasks of receivables: thin, by id, inside the tenant (TenantTask)."""

from typing import Any

from celery import Task, shared_task

from finance.actors import Actor
from finance.models import User
from finance.tasks import TenantTask
from finance.tenancy import current_organization
from receivables import imports
from receivables.models import ImportJob


@shared_task(base=TenantTask, bind=True, name="receivables.import_run")
def import_run_task(self: Task, *, organization_id: int, job_id: int, user_id: int | None = None) -> Any:
    organization = current_organization()
    job = ImportJob.objects.get(pk=job_id)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    actor = Actor(organization=organization, role="owner", user=user) if user else Actor.system(organization)
    return imports.import_run(actor=actor, job=job).status


@shared_task(base=TenantTask, bind=True, name="receivables.deliver_dunning_message")
def deliver_dunning_message(self: Task, *, organization_id: int, message_id: int) -> str:
    """Another attempt at a reminder that failed; the message keeps its own backoff and attempts."""
    from receivables.dunning import message_deliver

    return message_deliver(actor=Actor.system(current_organization()), message_id=message_id)


@shared_task(base=TenantTask, bind=True, name="receivables.deliver_dunning_messages")
def deliver_dunning_messages(self: Task, *, organization_id: int, message_ids: list[int]) -> dict[str, int]:
    """A batch of a dunning run's messages; each is claimed before it is sent, so a batch that is
    retried or delivered twice sends nothing twice."""
    from receivables.dunning import messages_deliver

    return messages_deliver(actor=Actor.system(current_organization()), message_ids=message_ids)
