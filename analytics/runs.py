"""The nightly recompute and the one the browser asks for: one `AnalyticsRun` per organization
and day, claimed before it starts, reporting its progress, writing all its results in one
transaction at the end (so readers see the previous run's figures until the new ones are whole).
"""

from __future__ import annotations

import datetime
import gc
import logging
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from analytics.compute import Params, Result, compute
from analytics.ledger import ledger_load
from analytics.models import AnalyticsRun, ClassChange, CustomerAnalytics
from analytics.selectors import analytics_policy
from crm.models import Customer, InteractionKind, LifecycleStage
from crm.services import TimelineEntry, customers_classify_many, interactions_log_many
from finance.actors import Actor
from finance.bulk import insert_values

logger = logging.getLogger("kehu.analytics")

STEPS = ["load", "classes", "rfm", "lifetime_value", "churn", "summary", "write"]
STALE_AFTER = datetime.timedelta(hours=1)
BATCH = 5000


def params_of_policy() -> Params:
    policy = analytics_policy()
    return Params(
        abc_a=float(policy.abc_a_percent) / 100,
        abc_b=float(policy.abc_b_percent) / 100,
        abc_basis=policy.abc_basis,
        margin=float(policy.margin_percent) / 100,
        discount_rate=float(policy.discount_rate_percent) / 100,
        horizon_months=policy.clv_horizon_months,
        churn_threshold=policy.churn_threshold,
        churned_alive=float(policy.churned_alive_percent) / 100,
        churned_after_days=policy.churned_after_days,
        loyal_min_tenure_days=policy.loyal_min_tenure_days,
    )


def run_request(*, actor: Actor, run_date: datetime.date) -> tuple[AnalyticsRun, bool]:
    """Queue a recompute for `run_date` unless one is already queued or running (and not stale).
    Returns the run and whether the caller should start it."""
    actor.require("analytics.run")
    try:
        with transaction.atomic():
            run, created = AnalyticsRun.objects.get_or_create(
                date=run_date, defaults={"requested_by": actor.user, "steps": len(STEPS)}
            )
    except IntegrityError:
        run, created = AnalyticsRun.objects.get(date=run_date), False
    if created:
        return run, True
    busy = run.status in (AnalyticsRun.Status.QUEUED, AnalyticsRun.Status.RUNNING) and (
        run.created_at > timezone.now() - STALE_AFTER
        and (run.started_at is None or run.started_at > timezone.now() - STALE_AFTER)
    )
    if busy:
        return run, False
    AnalyticsRun.objects.filter(pk=run.pk).update(
        status=AnalyticsRun.Status.QUEUED,
        requested_by=actor.user,
        step=0,
        steps=len(STEPS),
        step_label="",
        error="",
        created_at=timezone.now(),
        started_at=None,
        finished_at=None,
    )
    run.refresh_from_db()
    return run, True


def _claim(run_date: datetime.date, actor: Actor) -> AnalyticsRun | None:
    """Mark the day's run as running; None when another worker is running it right now."""
    try:
        with transaction.atomic():
            run, _created = AnalyticsRun.objects.get_or_create(
                date=run_date, defaults={"requested_by": actor.user, "steps": len(STEPS)}
            )
    except IntegrityError:
        run = AnalyticsRun.objects.get(date=run_date)
    fresh = timezone.now() - STALE_AFTER
    claimed = (
        AnalyticsRun.objects.filter(pk=run.pk)
        .filter(~Q(status=AnalyticsRun.Status.RUNNING) | Q(started_at__lt=fresh) | Q(started_at__isnull=True))
        .update(
            status=AnalyticsRun.Status.RUNNING,
            started_at=timezone.now(),
            finished_at=None,
            step=0,
            steps=len(STEPS),
            step_label=STEPS[0],
            error="",
        )
    )
    if not claimed:
        return None
    run.refresh_from_db()
    return run


def analytics_recompute(*, actor: Actor, run_date: datetime.date) -> AnalyticsRun | None:
    """Recompute every figure for the current organization as of `run_date` and store the day's
    snapshot. Idempotent: a second run on the same day rewrites the same rows. Returns None when
    another worker is running the same day's recompute."""
    run = _claim(run_date, actor)
    if run is None:
        return None

    def progress(label: str) -> None:
        index = STEPS.index(label) if label in STEPS else run.step
        AnalyticsRun.objects.filter(pk=run.pk).update(step=index, step_label=label)

    # Millions of short-lived tuples and arrays: the cyclic garbage collector would walk them again
    # and again for nothing (none of them form cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        ledger = ledger_load(run_date)
        result = compute(ledger, params_of_policy(), progress)
        progress("write")
        with transaction.atomic():
            _write(actor=actor, run=run, result=result, run_date=run_date)
            AnalyticsRun.objects.filter(pk=run.pk).update(
                status=AnalyticsRun.Status.DONE,
                step=len(STEPS),
                step_label="done",
                customers=len(result.customers),
                invoices=len(ledger.invoices),
                models_fit=result.models_fit,
                summary=result.summary,
                warnings=ledger.warnings,
                finished_at=timezone.now(),
            )
    except Exception as exc:
        AnalyticsRun.objects.filter(pk=run.pk).update(
            status=AnalyticsRun.Status.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
        )
        logger.exception("Analytics run failed for organization %s", actor.organization.pk)
        raise
    finally:
        if collecting:
            gc.enable()
    run.refresh_from_db()
    return run


def analytics_nightly(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    run = analytics_recompute(actor=actor, run_date=run_date)
    if run is None:
        return {"skipped": "already running"}
    return {"customers": run.customers, "invoices": run.invoices, "status": run.status}


def _write(*, actor: Actor, run: AnalyticsRun, result: Result, run_date: datetime.date) -> None:
    """Each customer's figures, classifications, history and timeline notes. A run for a day
    before the latest finished one is a historical snapshot only: it never overwrites today's
    figures with older ones."""
    if AnalyticsRun.objects.filter(status=AnalyticsRun.Status.DONE, date__gt=run_date).exists():
        return
    organization = actor.organization
    frame = result.customers
    first_run = not AnalyticsRun.objects.filter(status=AnalyticsRun.Status.DONE).exclude(pk=run.pk).exists()
    previous = {
        row[0]: row[1:]
        for row in CustomerAnalytics.objects.values_list("customer_id", "segment", "abc_revenue", "abc_cash")
    }
    ids = [int(i) for i in frame.index]

    def cents(column: str) -> list[Decimal]:
        return [Decimal(int(value)).scaleb(-2) for value in frame[column].to_numpy()]

    def decimals(column: str, places: int, low: float | None = None, high: float | None = None) -> list:
        values = frame[column].to_numpy(float)
        if low is not None:
            values = np.clip(values, low, high)
        return [None if np.isnan(value) else f"{value:.{places}f}" for value in values]

    def integers(column: str) -> list[int | None]:
        return [None if np.isnan(value) else int(value) for value in frame[column].to_numpy(float)]

    def dates(column: str) -> list[datetime.date | None]:
        return [
            None if np.isnan(day) else datetime.date.fromordinal(int(day))
            for day in frame[column].to_numpy(float)
        ]

    columns = {
        "organization": [organization.pk] * len(ids),
        "customer": ids,
        "run_date": [run_date] * len(ids),
        "revenue_12m": cents("revenue_cents"),
        "cash_12m": cents("cash_cents"),
        "abc_revenue": list(frame["abc_revenue"]),
        "abc_cash": list(frame["abc_cash"]),
        "first_purchase": dates("first_day"),
        "last_purchase": dates("last_day"),
        "purchases": integers("purchases"),
        "recency_days": integers("recency_days"),
        "frequency_12m": integers("frequency_12m"),
        "r_score": integers("r_score"),
        "f_score": integers("f_score"),
        "m_score": integers("m_score"),
        "segment": list(frame["segment"]),
        "expected_purchases": decimals("expected_purchases", 3),
        "prob_alive": decimals("prob_alive", 4, 0.0, 1.0),
        "expected_order_value": decimals("expected_order_value", 2),
        "clv": decimals("clv", 2),
        "churn_risk": integers("churn_risk"),
        "churn_factors": list(frame["churn_factors"]),
        "overdue": cents("overdue_cents"),
        "action_value": cents("action_cents"),
        "lifecycle_stage": list(frame["lifecycle_stage"]),
        "updated_at": [timezone.now()] * len(ids),
    }
    insert_values(
        CustomerAnalytics,
        list(columns),
        zip(*columns.values(), strict=True),
        unique_fields=["customer"],
        update_fields=[name for name in columns if name not in ("organization", "customer")],
    )
    segment_changes = []
    for customer_id, segment in zip(ids, columns["segment"], strict=True):
        before = previous.get(customer_id)
        old_segment = before[0] if before else ""
        if segment != old_segment and (before is not None or segment):
            segment_changes.append((customer_id, old_segment, segment))

    # Classifications on the customer, with their history and the lifecycle on the timeline.
    current = {
        pk: (abc, stage)
        for pk, abc, stage in Customer.objects.values_list("pk", "abc_class", "lifecycle_stage")
    }
    wanted: dict[int, dict[str, str]] = {}
    changes: list[tuple] = []
    timeline: list[TimelineEntry] = []
    with translation.override(organization.language or "en"):
        labels = {value: str(label) for value, label in LifecycleStage.choices}
        template = _("Lifecycle stage: %(old)s → %(new)s")
        for customer_id, abc, stage in zip(
            frame.index, frame["abc_class"].to_numpy(), frame["lifecycle_stage"].to_numpy(), strict=True
        ):
            customer_id = int(customer_id)
            old_abc, old_stage = current.get(customer_id, ("", LifecycleStage.PROSPECT))
            values = {}
            if old_abc != abc:
                values["abc_class"] = abc
                changes.append(_change(organization.pk, customer_id, "abc_class", old_abc, abc, run_date))
            if old_stage != stage:
                values["lifecycle_stage"] = stage
                changes.append(
                    _change(organization.pk, customer_id, "lifecycle_stage", old_stage, stage, run_date)
                )
                if not first_run:  # see below
                    timeline.append(
                        TimelineEntry(
                            customer_id=customer_id,
                            kind=InteractionKind.NOTE,
                            summary=template
                            % {"old": labels.get(old_stage, old_stage), "new": labels.get(stage, stage)},
                        )
                    )
            if values:
                wanted[customer_id] = values
    if not first_run:  # a first run learns every segment: nothing changed
        changes += [
            _change(organization.pk, customer_id, "segment", old, new, run_date)
            for customer_id, old, new in segment_changes
        ]
    customers_classify_many(actor=actor, values=wanted)
    insert_values(
        ClassChange,
        ["organization", "customer", "field", "old_value", "new_value", "date"],
        changes,
        unique_fields=["organization", "customer", "field", "date"],
        update_fields=["new_value"],
    )
    # The first run of an organization learns every stage rather than seeing it change: the history
    # keeps it, the timelines get notes from the second run on.
    if timeline and not first_run:
        interactions_log_many(actor=actor, entries=timeline)


def _change(
    organization_id: int, customer_id: int, field: str, old: str, new: str, day: datetime.date
) -> tuple:
    """A ClassChange row for `insert_values`."""
    return (organization_id, customer_id, field, old or "", new or "", day)
