"""What analytics holds about a customer, for crm's privacy export and erasure.

Its figures (ABC/RFM classes, lifetime value, churn risk, class changes, alerts) are derived
from the ledger and carry no personal identifiers: exported, and kept on erasure.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from analytics.models import ChurnAlert, ClassChange, CustomerAnalytics
from crm.models import Contact, Customer
from crm.privacy import Entry, PrivacySection, kept, register_section, rows
from finance.actors import Actor

SECTION = "analytics.figures"


def export_figures(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        "customer_analytics": rows(CustomerAnalytics.objects.filter(customer=customer)),
        "class_changes": rows(ClassChange.objects.filter(customer=customer)),
        "churn_alerts": rows(ChurnAlert.objects.filter(customer=customer)),
    }


def erase_figures(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    if customer is None:
        return []
    count = (
        CustomerAnalytics.objects.filter(customer=customer).count()
        + ClassChange.objects.filter(customer=customer).count()
        + ChurnAlert.objects.filter(customer=customer).count()
    )
    if not count:
        return []
    return [
        kept(
            section=SECTION,
            label=_("analytics figures"),
            count=count,
            reason=_("figures derived from the retained ledger, without personal identifiers"),
        )
    ]


def register() -> None:
    register_section(PrivacySection(name=SECTION, export=export_figures, erase=erase_figures, order=50))
