"""Celery tasks of credit: thin, by id, inside the tenant (TenantTask)."""

from __future__ import annotations

from celery import Task, shared_task
from django.core.cache import cache

from credit.scoring import customer_refresh, customers_refresh
from crm.models import Customer
from finance.actors import Actor
from finance.tasks import TenantTask
from finance.tenancy import current_organization


def refresh_key(organization_id: int, customer_id: int) -> str:
    return f"credit:refresh:{organization_id}:{customer_id}"


@shared_task(base=TenantTask, bind=True, name="credit.refresh_customer")
def refresh_customer(self: Task, *, organization_id: int, customer_id: int) -> bool:
    """Rescore one customer and bring its holds up to date. Clears its debounce key first, so an
    event arriving while this runs queues another refresh rather than being lost."""
    cache.delete(refresh_key(organization_id, customer_id))
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return False
    customer_refresh(actor=Actor.system(current_organization()), customer=customer)
    return True


@shared_task(base=TenantTask, bind=True, name="credit.refresh_customers")
def refresh_customers(self: Task, *, organization_id: int, customer_ids: list[int]) -> int:
    """Rescore the customers of a batch (a bulk import) in one pass, clearing their debounce keys
    first as `refresh_customer` does."""
    cache.delete_many([refresh_key(organization_id, customer_id) for customer_id in customer_ids])
    customers = list(Customer.objects.filter(pk__in=customer_ids).order_by("pk"))
    customers_refresh(actor=Actor.system(current_organization()), customers=customers)
    return len(customers)
