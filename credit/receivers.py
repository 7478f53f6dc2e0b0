"""credit's reactions to receivables' signals (receivables never imports credit).

Events that move a customer's score or holds (a new invoice, a payment, a settled invoice, a broken
promise) queue one rescore per customer: a burst of events (a bulk import of a thousand invoices)
coalesces into one task per customer through a short-lived cache key, and the signals of one batch
(a bulk import) into one task for all their customers. Dunning reaching its hold
level puts the hold at once. A saved credit policy is forgotten by the cache the check reads.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

from credit import holds, selectors
from credit.models import CreditPolicy
from credit.tasks import refresh_customer, refresh_customers, refresh_key
from finance.cache import add_many
from finance.tenancy import current_organization
from receivables import signals

DEBOUNCE_SECONDS = 60


# The customers a batch of signals asked to rescore (receivables.signals.batch_started ...
# batch_finished); None outside a batch.
_batch: ContextVar[set[int] | None] = ContextVar("credit_refresh_batch", default=None)


def refresh_soon(customer_id: int) -> None:
    batch = _batch.get()
    if batch is not None:
        batch.add(customer_id)
        return
    organization_id = current_organization().pk
    if cache.add(refresh_key(organization_id, customer_id), 1, timeout=DEBOUNCE_SECONDS):
        refresh_customer.apply_async(
            kwargs={"organization_id": organization_id, "customer_id": customer_id}, countdown=2
        )


def _on_batch_started(sender: Any, **kwargs: Any) -> None:
    _batch.set(set())


def _on_batch_finished(sender: Any, **kwargs: Any) -> None:
    """One task for the batch's customers not already waiting for a rescore (the same debounce
    keys as one by one, added in one round trip)."""
    customer_ids = _batch.get()
    _batch.set(None)
    if not customer_ids:
        return
    organization_id = current_organization().pk
    ordered = sorted(customer_ids)
    added = add_many([refresh_key(organization_id, c) for c in ordered], 1, DEBOUNCE_SECONDS)
    due = [customer_id for customer_id, new in zip(ordered, added, strict=True) if new]
    if due:
        refresh_customers.apply_async(
            kwargs={"organization_id": organization_id, "customer_ids": due}, countdown=2
        )


def _on_invoice_created(sender: Any, invoice: Any, **kwargs: Any) -> None:
    # An invoice already past due when it arrives is history being loaded (an ERP backfill): the
    # nightly run scores it, rather than a hold placed and released again as its payments follow.
    if invoice.due_date >= current_organization().local_today():
        refresh_soon(invoice.customer_id)


def _on_invoice_settled(sender: Any, invoice: Any, **kwargs: Any) -> None:
    refresh_soon(invoice.customer_id)


def _on_payment(sender: Any, payment: Any, **kwargs: Any) -> None:
    refresh_soon(payment.customer_id)


def _on_promise_broken(sender: Any, promise: Any, **kwargs: Any) -> None:
    refresh_soon(promise.customer_id)


def _on_policy_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    selectors.POLICIES.forget(instance.organization_id)


def connect() -> None:
    post_save.connect(_on_policy_changed, sender=CreditPolicy, dispatch_uid="credit_policy_saved")
    post_delete.connect(_on_policy_changed, sender=CreditPolicy, dispatch_uid="credit_policy_deleted")
    signals.invoice_created.connect(_on_invoice_created, dispatch_uid="credit_invoice_created")
    signals.invoice_settled.connect(_on_invoice_settled, dispatch_uid="credit_invoice_settled")
    signals.payment_recorded.connect(_on_payment, dispatch_uid="credit_payment_recorded")
    signals.promise_broken.connect(_on_promise_broken, dispatch_uid="credit_promise_broken")
    signals.dunning_levels_reached.connect(
        holds.on_dunning_levels_reached, dispatch_uid="credit_dunning_hold"
    )
    signals.batch_started.connect(_on_batch_started, dispatch_uid="credit_batch_started")
    signals.batch_finished.connect(_on_batch_finished, dispatch_uid="credit_batch_finished")
