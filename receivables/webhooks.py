"""receivables' webhook events: invoice.created, invoice.paid, payment.recorded (from its signals,
after commit) and invoice.overdue (from the daily job)."""

from __future__ import annotations

import datetime
from typing import Any

from finance import webhooks
from finance.actors import Actor
from receivables import signals
from receivables.models import Invoice, Payment
from receivables.selectors import open_invoices


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "external_id": invoice.external_id,
        "number": invoice.number,
        "customer": invoice.customer_id,
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "total": str(invoice.total),
        "outstanding": str(invoice.outstanding),
        "status": invoice.status,
    }


def payment_payload(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "external_id": payment.external_id,
        "customer": payment.customer_id,
        "currency": payment.currency,
        "received_on": payment.received_on.isoformat(),
        "amount": str(payment.amount),
        "unapplied": str(payment.unapplied),
    }


def _on_invoice_created(sender: Any, invoice: Invoice, **kwargs: Any) -> None:
    if not webhooks.subscribed("invoice.created"):
        return
    webhooks.emit(
        event="invoice.created", event_id=f"invoice.created:{invoice.pk}", payload=invoice_payload(invoice)
    )


def _on_invoice_settled(sender: Any, invoice: Invoice, **kwargs: Any) -> None:
    if not webhooks.subscribed("invoice.paid"):
        return
    invoice.refresh_from_db()
    if invoice.status == "paid":
        webhooks.emit(
            event="invoice.paid", event_id=f"invoice.paid:{invoice.pk}", payload=invoice_payload(invoice)
        )


def _on_payment_recorded(sender: Any, payment: Payment, **kwargs: Any) -> None:
    if not webhooks.subscribed("payment.recorded"):
        return
    payment.refresh_from_db()
    webhooks.emit(
        event="payment.recorded", event_id=f"payment.recorded:{payment.pk}", payload=payment_payload(payment)
    )


def connect() -> None:
    webhooks.register_events("reminder.sent")
    signals.invoice_created.connect(_on_invoice_created, dispatch_uid="receivables_webhook_invoice_created")
    signals.invoice_settled.connect(_on_invoice_settled, dispatch_uid="receivables_webhook_invoice_settled")
    signals.payment_recorded.connect(
        _on_payment_recorded, dispatch_uid="receivables_webhook_payment_recorded"
    )


def overdue_events(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """invoice.overdue once per invoice, for invoices that fell due in the last week and are open
    (a week, so a missed day is caught up; the event id keeps it to once)."""
    invoices = open_invoices().filter(
        due_date__lt=run_date, due_date__gte=run_date - datetime.timedelta(days=7)
    )
    queued = sum(
        webhooks.emit(event="invoice.overdue", event_id=f"invoice.overdue:{i.pk}", payload=invoice_payload(i))
        for i in invoices
    )
    return {"queued": queued}
