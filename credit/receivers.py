"""credit's reactions to receivables' signals (receivables never imports credit).

Events that move a customer's score or holds (a new invoice, a payment, a settled invoice, a broken
promise) queue one rescore per customer: a burst of events (a bulk import of a thousand invoices)
coalesces into one task per customer through a short-lived cache key. Dunning reaching its hold
level puts the hold at once.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from credit import holds
from credit.tasks import refresh_customer, refresh_key
from finance.tenancy import current_organization
from receivables import signals

DEBOUNCE_SECONDS = 60


def refresh_soon(customer_id: int) -> None:
    organization_id = current_organization().pk
    if cache.add(refresh_key(organization_id, customer_id), 1, timeout=DEBOUNCE_SECONDS):
        refresh_customer.apply_async(
            kwargs={"organization_id": organization_id, "customer_id": customer_id}, countdown=2
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


def connect() -> None:
    signals.invoice_created.connect(_on_invoice_created, dispatch_uid="credit_invoice_created")
    signals.invoice_settled.connect(_on_invoice_settled, dispatch_uid="credit_invoice_settled")
    signals.payment_recorded.connect(_on_payment, dispatch_uid="credit_payment_recorded")
    signals.promise_broken.connect(_on_promise_broken, dispatch_uid="credit_promise_broken")
    signals.dunning_level_reached.connect(holds.on_dunning_level_reached, dispatch_uid="credit_dunning_hold")
