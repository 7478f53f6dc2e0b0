"""Signals receivables sends, for apps after it to react to (credit, experience, analytics) without
receivables importing them. Sent only after the transaction commits."""

from typing import Any

from django.db import transaction
from django.dispatch import Signal

from finance import tenancy

invoice_created = Signal()  # invoice
invoice_settled = Signal()  # invoice: outstanding reached zero through allocations or write-offs
payment_recorded = Signal()  # payment
dispute_resolved = Signal()  # dispute: closed, resolved with a credit note or rejected


def emit_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Send once the transaction commits, inside the tenant that was current when it was queued
    (the commit may happen after the code that set the tenant has left it)."""
    organization = tenancy.current_organization()

    def send() -> None:
        with tenancy.tenant(organization):
            signal.send(sender=None, **kwargs)

    transaction.on_commit(send)


def emit_each_after_commit(signal: Signal, name: str, objects: list[Any]) -> None:
    """`emit_after_commit(signal, name=obj)` for each of `objects`, in one callback that enters the
    tenant once (a bulk import of a thousand invoices: one tenant switch, not a thousand)."""
    organization = tenancy.current_organization()

    def send() -> None:
        with tenancy.tenant(organization):
            for obj in objects:
                signal.send(sender=None, **{name: obj})

    transaction.on_commit(send)


# customer, level, message: a dunning level with `credit_hold` was reached (credit puts the hold).
dunning_level_reached = Signal()
promise_broken = Signal()  # promise
