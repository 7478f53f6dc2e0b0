"""receivables' panel on the customer page: balance, open documents, unapplied cash."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from crm.registry import Panel, registry
from receivables import selectors


def _receivables(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    return {
        "balance": selectors.customer_balance(customer=customer),
        "can_record_payment": actor is not None and actor.can("payment.post"),
    }


def register() -> None:
    registry.add_customer_panel(
        Panel("receivables", _("Receivables"), "receivables/panels/customer.html", _receivables, order=15)
    )
