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


# Around the signals of one batch (`emit_each_after_commit`): a receiver may gather what the
# batch's signals ask of it and do it once at the end (credit queues one rescoring task for all
# the customers of a bulk import instead of one per customer).
batch_started = Signal()
batch_finished = Signal()


def emit_each_after_commit(signal: Signal, name: str, objects: list[Any]) -> None:
    """`emit_after_commit(signal, name=obj)` for each of `objects`, in one callback that enters the
    tenant once (a bulk import of a thousand invoices: one tenant switch, not a thousand), between
    `batch_started` and `batch_finished`."""
    organization = tenancy.current_organization()

    def send() -> None:
        with tenancy.tenant(organization):
            batch_started.send(sender=None)
            try:
                for obj in objects:
                    signal.send(sender=None, **{name: obj})
            finally:
                batch_finished.send(sender=None)

    transaction.on_commit(send)


# reached: a list of (customer, level, message), each a dunning level with `credit_hold` reached
# by one run's chunk of messages (credit puts the holds, in one batch).
dunning_levels_reached = Signal()
promise_broken = Signal()  # promise
