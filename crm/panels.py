"""crm's own panels of the customer page: profile, contacts, interaction timeline, follow-ups."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from crm import selectors
from crm.models import Customer
from crm.registry import Panel, registry


def _profile(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return {}


def _contacts(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return {"contacts": list(customer.contacts.all())}


def _timeline(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return {"interactions": selectors.timeline(customer)}


def _follow_ups(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return {
        "follow_ups": list(
            customer.follow_ups.filter(done=False).select_related("assignee").order_by("due_date", "id")[:20]
        ),
        "today": request.actor.organization.local_today(),  # type: ignore[attr-defined]
    }


def register() -> None:
    registry.add_customer_panel(Panel("profile", _("Profile"), "crm/panels/profile.html", _profile, order=10))
    registry.add_customer_panel(
        Panel("follow_ups", _("Follow-ups"), "crm/panels/follow_ups.html", _follow_ups, order=20)
    )
    registry.add_customer_panel(
        Panel("contacts", _("Contacts"), "crm/panels/contacts.html", _contacts, order=30)
    )
    registry.add_customer_panel(
        Panel("timeline", _("Interactions"), "crm/panels/timeline.html", _timeline, order=40, wide=True)
    )
