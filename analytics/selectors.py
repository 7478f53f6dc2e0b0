"""Reads of analytics: the policy, the latest run, customers' figures for the actor, the weekly
"where to act" list, classification history, alert precision, and churn factors in words."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import AnalyticsPolicy, AnalyticsRun, ChurnAlert, ClassChange, CustomerAnalytics
from crm.models import Customer
from crm.selectors import customers_visible_to
from finance.actors import Actor
from finance.tenancy import current_organization

CHURN_FACTOR_LABELS = {
    "prob_alive": gettext_lazy("Probability alive"),
    "frequency_decline": gettext_lazy("Purchase frequency against its own baseline"),
    "amount_decline": gettext_lazy("Purchase amount against its own baseline"),
    "payment_slowdown": gettext_lazy("Payment slowdown"),
    "open_disputes": gettext_lazy("Open disputes"),
    "satisfaction": gettext_lazy("Satisfaction"),
    "service_issues": gettext_lazy("Service issues"),
    "loyalty_activity": gettext_lazy("Loyalty activity"),
}


def analytics_policy() -> AnalyticsPolicy:
    """The current organization's analytics policy; the defaults (unsaved) until someone changes
    it, so reading never writes."""
    policy = AnalyticsPolicy.objects.first()
    if policy is None:
        policy = AnalyticsPolicy(organization=current_organization())
    return policy


def latest_run(*, done_only: bool = True) -> AnalyticsRun | None:
    runs = AnalyticsRun.objects.order_by("-date")
    if done_only:
        runs = runs.filter(status=AnalyticsRun.Status.DONE)
    return runs.first()


def run_of_day(day: datetime.date) -> AnalyticsRun | None:
    return AnalyticsRun.objects.filter(date=day).first()


def analytics_visible_to(actor: Actor) -> QuerySet[CustomerAnalytics]:
    """Customers' latest figures, for the customers the actor may see; none without
    "analytics.view"."""
    if not actor.can("analytics.view"):
        return CustomerAnalytics.objects.none()
    return CustomerAnalytics.objects.filter(customer__in=customers_visible_to(actor)).select_related(
        "customer", "customer__owner"
    )


def where_to_act(actor: Actor, *, limit: int = 20) -> list[CustomerAnalytics]:
    """This week's list: the customers with the most value at stake (lifetime value times churn
    risk, plus what is overdue), highest first. Two queries."""
    return list(
        analytics_visible_to(actor)
        .filter(action_value__gt=0)
        .order_by("-action_value", "customer_id")[:limit]
    )


def action_reasons(row: CustomerAnalytics) -> list[str]:
    reasons = []
    if row.churn_risk is not None:
        reasons.append(_("Churn risk %(risk)s") % {"risk": row.churn_risk})
    if row.clv:
        reasons.append(_("lifetime value %(clv)s") % {"clv": f"{row.clv:,.2f}"})
    if row.overdue:
        reasons.append(_("overdue %(amount)s") % {"amount": f"{row.overdue:,.2f}"})
    return reasons


def explain_churn(factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored churn factors with their label and reason in the active language."""
    explained = []
    for stored in factors:
        key = stored.get("factor", "")
        label = CHURN_FACTOR_LABELS.get(key)
        if label is None:
            continue
        value, points = stored.get("value"), stored.get("points")
        names = {"label": label, "points": points}
        if points is None:
            reason = _("No data for %(label)s: not counted.") % names
        elif key == "prob_alive":
            reason = _("Probability alive is %(value)s%%: %(points)s points.") % {
                **names,
                "value": f"{Decimal(str(value)) * 100:.0f}",
            }
        elif key in ("frequency_decline", "amount_decline"):
            reason = _(
                "%(label)s: the last quarter reached %(value)s%% of its usual quarter: %(points)s points."
            ) % {
                **names,
                "value": f"{Decimal(str(value)) * 100:.0f}",
            }
        elif key == "payment_slowdown":
            reason = _(
                "Days late changed by %(value)s days between the last two quarters: %(points)s points."
            ) % {**names, "value": f"{Decimal(str(value)):+.1f}"}
        elif key == "satisfaction":
            reason = _("Average satisfaction over 12 months is %(value)s%%: %(points)s points.") % {
                **names,
                "value": f"{Decimal(str(value)) * 100:.0f}",
            }
        elif key == "service_issues":
            reason = _(
                "%(value)s service issues in 91 days (late responses or resolutions, complaints, "
                "reopenings): %(points)s points."
            ) % {**names, "value": int(value or 0)}
        elif key == "loyalty_activity":
            reason = _("%(value)s%% of the loyalty points earned were left to expire: %(points)s points.") % {
                **names,
                "value": f"{Decimal(str(value)) * 100:.0f}",
            }
        else:
            reason = _("%(value)s open disputes: %(points)s points.") % {**names, "value": int(value or 0)}
        explained.append(
            {
                "factor": key,
                "label": str(label),
                "value": value,
                "weight": stored.get("weight"),
                "points": points,
                "reason": reason,
            }
        )
    return explained


def class_history(customer: Customer, *, limit: int = 20) -> list[ClassChange]:
    return list(ClassChange.objects.filter(customer=customer)[:limit])


def alert_precision() -> dict[str, Any]:
    """How the churn alerts turned out: of the alerts whose window has closed, how many customers
    did not buy again (the alert was right) and how many bought again (retained, or a false alarm)."""
    counts = ChurnAlert.objects.aggregate(
        pending=Count("pk", filter=Q(outcome=ChurnAlert.Outcome.PENDING)),
        retained=Count("pk", filter=Q(outcome=ChurnAlert.Outcome.RETAINED)),
        churned=Count("pk", filter=Q(outcome=ChurnAlert.Outcome.CHURNED)),
    )
    decided = counts["retained"] + counts["churned"]
    counts["decided"] = decided
    counts["precision"] = round(counts["churned"] / decided, 4) if decided else None
    counts["retained_share"] = round(counts["retained"] / decided, 4) if decided else None
    return counts


def alerts_visible_to(actor: Actor) -> QuerySet[ChurnAlert]:
    if not actor.can("analytics.view"):
        return ChurnAlert.objects.none()
    return ChurnAlert.objects.filter(customer__in=customers_visible_to(actor)).select_related("customer")
