"""analytics' panel on the customer page: ABC classes, RFM scores and segment, lifetime value,
probability alive, churn risk with its reasons, lifecycle stage, and the history of changes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from analytics import selectors
from analytics.models import ChurnAlert, CustomerAnalytics
from crm.models import Customer
from crm.registry import Panel, registry
from finance.tenancy import current_organization


def customer_analytics(customer: Customer) -> dict[str, Any]:
    """The customer's latest figures as the panel shows them; empty before the first run."""
    row = CustomerAnalytics.objects.filter(customer=customer).first()
    policy = selectors.analytics_policy()
    return {
        "row": row,
        "churn_reasons": selectors.explain_churn(row.churn_factors) if row else [],
        "threshold": policy.churn_threshold,
        "horizon_months": policy.clv_horizon_months,
        "history": selectors.class_history(customer, limit=8),
        "alerts": list(ChurnAlert.objects.filter(customer=customer)[:3]),
        "currency": current_organization().base_currency,
    }


def _analytics(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    return customer_analytics(customer)


def register() -> None:
    registry.add_customer_panel(
        Panel(
            "analytics",
            gettext_lazy("Value and churn"),
            "analytics/panels/customer.html",
            _analytics,
            order=16,
            wide=True,
        )
    )
