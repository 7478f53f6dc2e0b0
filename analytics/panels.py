"""analytics' panel on the customer page: ABC classes, RFM scores and segment, lifetime value,
probability alive, churn risk with its reasons, lifecycle stage, and the history of changes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import charts, selectors
from analytics.models import ChurnAlert, ClassChange, CustomerAnalytics, Segment
from crm.models import Customer, LifecycleStage
from crm.registry import Panel, registry
from finance.tenancy import current_organization

VALUE_LABELS: dict[str, dict[str, Any]] = {
    ClassChange.Field.SEGMENT: dict(Segment.choices),
    ClassChange.Field.LIFECYCLE_STAGE: dict(LifecycleStage.choices),
}


def _value_label(field: str, value: str) -> str:
    """A stored classification value in words (ABC classes are letters already)."""
    if not value:
        return "—"
    labels = VALUE_LABELS.get(field, {})
    return str(labels.get(value, value))


def customer_analytics(customer: Customer) -> dict[str, Any]:
    """The customer's latest figures as the panel shows them; empty before the first run."""
    row = CustomerAnalytics.objects.filter(customer=customer).first()
    policy = selectors.analytics_policy()
    history = selectors.class_history(customer, limit=8)
    reasons = selectors.explain_churn(row.churn_factors) if row else []
    return {
        "row": row,
        "churn_reasons": reasons,
        "counted_reasons": sorted(
            (reason for reason in reasons if reason["points"] is not None), key=lambda r: -r["points"]
        ),
        "missing_reasons": [reason for reason in reasons if reason["points"] is None],
        "threshold": policy.churn_threshold,
        "horizon_months": policy.clv_horizon_months,
        "abc_basis": policy.abc_basis,
        "risk_level": charts.risk_level(row.churn_risk if row else None, policy.churn_threshold),
        "churn_bar": charts.churn_bar(
            row.churn_risk if row else None, threshold=policy.churn_threshold, title=_("Churn risk")
        ),
        "prob_alive_percent": None if row is None or row.prob_alive is None else row.prob_alive * 100,
        "history": history,
        "changes": [
            {
                "date": change.date,
                "field": change.get_field_display(),
                "old": _value_label(change.field, change.old_value),
                "new": _value_label(change.field, change.new_value),
            }
            for change in history
        ],
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
