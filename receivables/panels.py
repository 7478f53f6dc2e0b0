"""receivables' panels on the customer page: balance, open documents, unapplied cash; collections."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from crm.registry import Panel, registry
from receivables import selectors, worklist


def _receivables(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    return {
        "balance": selectors.customer_balance(customer=customer),
        "can_record_payment": actor is not None and actor.can("payment.post"),
    }


def _collections(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    actions = {
        "can_work": "collections.work",
        "can_assign": "collections.assign",
        "can_promise": "promise.record",
        "can_dispute": "dispute.open",
    }
    return {
        "summary": worklist.collection_summary(customer=customer),
        **{name: actor is not None and actor.can(action) for name, action in actions.items()},
    }


def register() -> None:
    registry.add_customer_panel(
        Panel("receivables", _("Receivables"), "receivables/panels/customer.html", _receivables, order=15)
    )
    registry.add_customer_panel(
        Panel("collections", _("Collections"), "receivables/panels/collections.html", _collections, order=16)
    )
