"""Signals receivables sends, for apps after it to react to (credit, experience, analytics) without
receivables importing them. Sent only after the transaction commits."""

from typing import Any

from django.db import transaction
from django.dispatch import Signal

invoice_created = Signal()  # invoice
invoice_settled = Signal()  # invoice: outstanding reached zero through allocations or write-offs
payment_recorded = Signal()  # payment


def emit_after_commit(signal: Signal, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
