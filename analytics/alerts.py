"""Churn alerts: the weekly job raises one alert per customer whose churn risk is at or above the
organization's threshold (at most one per customer and week, none while an earlier alert is still
being watched), creates a retention follow-up for the owner rep and emits `customer.churn_risk`.
Every day it also settles the alerts being watched: bought again within the window (retained) or
not (churned), which is how Kehu measures the precision of its own alerts."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.utils import translation
from django.utils.translation import gettext as _

from analytics.models import ChurnAlert, CustomerAnalytics
from analytics.selectors import analytics_policy, explain_churn
from crm.models import CustomerStatus
from crm.services import FollowUpEntry, follow_ups_create_many
from finance import audit, webhooks
from finance.actors import Actor
from finance.models import AuditEvent
from receivables.models import Invoice

FOLLOW_UP_DAYS = 3


def week_of(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


@transaction.atomic
def alerts_settle(*, actor: Actor, today: datetime.date) -> dict[str, int]:
    """Give pending alerts their outcome: the first invoice after the alert within the window
    makes it "retained"; a window that has passed without one makes it "churned"."""
    pending = ChurnAlert.objects.filter(outcome=ChurnAlert.Outcome.PENDING).select_for_update()
    first_purchase = (
        Invoice.objects.filter(
            customer_id=OuterRef("customer_id"),
            voided_on__isnull=True,
            issue_date__gt=OuterRef("raised_on"),
            issue_date__lte=OuterRef("window_ends"),
        )
        .order_by()
        .values("customer_id")
        .annotate(first=Min("issue_date"))
        .values("first")
    )
    retained = churned = 0
    settled = []
    for alert in pending.annotate(bought_on=Subquery(first_purchase[:1])):
        if alert.bought_on is not None and alert.bought_on <= today:
            alert.outcome, alert.outcome_on = ChurnAlert.Outcome.RETAINED, alert.bought_on
            retained += 1
        elif alert.window_ends < today:
            alert.outcome, alert.outcome_on = ChurnAlert.Outcome.CHURNED, alert.window_ends
            churned += 1
        else:
            continue
        settled.append(alert)
    ChurnAlert.objects.bulk_update(settled, ["outcome", "outcome_on"], batch_size=2000)
    AuditEvent.objects.bulk_create(
        [
            audit.build(
                actor=actor,
                action="analytics.churn_alert_settled",
                instance=alert,
                changes={"outcome": ["pending", alert.outcome]},
                customer_id=alert.customer_id,
            )
            for alert in settled
        ]
    )
    return {"retained": retained, "churned": churned}


@transaction.atomic
def alerts_raise(*, actor: Actor, today: datetime.date) -> int:
    """Raise this week's alerts from the latest figures. Idempotent: a customer alerted this week,
    or still watched after an earlier alert, is not alerted again."""
    policy = analytics_policy()
    week = week_of(today)
    watched = ChurnAlert.objects.filter(outcome=ChurnAlert.Outcome.PENDING).values("customer_id")
    this_week = ChurnAlert.objects.filter(week=week).values("customer_id")
    candidates = list(
        CustomerAnalytics.objects.filter(
            churn_risk__gte=policy.churn_threshold, customer__status=CustomerStatus.ACTIVE
        )
        .exclude(customer_id__in=watched)
        .exclude(customer_id__in=this_week)
        .select_related("customer")
        .order_by("-churn_risk", "customer_id")
    )
    if not candidates:
        return 0
    window_ends = today + datetime.timedelta(days=policy.outcome_days)
    organization = actor.organization
    with translation.override(organization.language or "en"):
        entries = [
            FollowUpEntry(
                customer_id=row.customer_id,
                title=_("Retention: churn risk %(risk)s for %(customer)s")
                % {"risk": row.churn_risk, "customer": row.customer.name},
                due_date=today + datetime.timedelta(days=FOLLOW_UP_DAYS),
                assignee_id=row.customer.owner_id,
            )
            for row in candidates
        ]
        follow_ups = follow_ups_create_many(actor=actor, entries=entries)
        alerts = ChurnAlert.objects.bulk_create(
            [
                ChurnAlert(
                    organization=organization,
                    customer_id=row.customer_id,
                    week=week,
                    raised_on=today,
                    churn_risk=row.churn_risk,
                    reasons=row.churn_factors,
                    clv=row.clv,
                    follow_up=follow_up,
                    window_ends=window_ends,
                )
                for row, follow_up in zip(candidates, follow_ups, strict=True)
            ]
        )
        AuditEvent.objects.bulk_create(
            [
                audit.build(
                    actor=actor,
                    action="analytics.churn_alert",
                    instance=alert,
                    changes={"churn_risk": [None, alert.churn_risk]},
                    customer_id=alert.customer_id,
                )
                for alert in alerts
            ]
        )
    with translation.override("en"), webhooks.endpoints_memoized():
        for row, alert in zip(candidates, alerts, strict=True):
            webhooks.emit(
                event="customer.churn_risk",
                event_id=f"churn_risk:{alert.customer_id}:{week.isoformat()}",
                payload={
                    "customer": row.customer_id,
                    "customer_external_id": row.customer.external_id,
                    "customer_name": row.customer.name,
                    "churn_risk": row.churn_risk,
                    "threshold": policy.churn_threshold,
                    "week": week,
                    "clv": row.clv,
                    "prob_alive": row.prob_alive,
                    "lifecycle_stage": row.lifecycle_stage,
                    "reasons": [
                        {"factor": f["factor"], "points": f["points"], "reason": f["reason"]}
                        for f in explain_churn(row.churn_factors)
                    ],
                    "follow_up": alert.follow_up_id,
                },
            )
    return len(alerts)


def churn_alerts(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily job: settle watched alerts; on the organization's alert weekday, raise new ones."""
    result: dict[str, Any] = alerts_settle(actor=actor, today=run_date)
    if run_date.weekday() != analytics_policy().alert_weekday:
        result["raised"] = 0
        result["skipped"] = "not the alert weekday"
        return result
    result["raised"] = alerts_raise(actor=actor, today=run_date)
    return result
