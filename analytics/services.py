"""Writes of analytics besides the runs themselves: the organization's analytics policy."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from analytics.models import AnalyticsPolicy
from analytics.selectors import analytics_policy
from finance import audit
from finance.actors import Actor

POLICY_FIELDS = (
    "abc_basis",
    "abc_a_percent",
    "abc_b_percent",
    "margin_percent",
    "discount_rate_percent",
    "clv_horizon_months",
    "churn_threshold",
    "alert_weekday",
    "outcome_days",
    "churned_alive_percent",
    "churned_after_days",
    "loyal_min_tenure_days",
)


@transaction.atomic
def policy_update(*, actor: Actor, **fields: Any) -> AnalyticsPolicy:
    """Change the analytics policy. Everything is validated before anything is written; class A
    and B together must leave room for class C (at most 99 %). Takes effect at the next run."""
    actor.require("analytics.policy")
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown setting.")] for name in sorted(unknown)})
    policy = AnalyticsPolicy.objects.select_for_update().first()
    if policy is None:  # the first change saves the defaults; a concurrent first change loses the race
        try:
            with transaction.atomic():
                policy = analytics_policy()
                policy.save()
        except IntegrityError:
            policy = AnalyticsPolicy.objects.select_for_update().get()
    before = audit.snapshot(policy, list(fields))
    for name, value in fields.items():
        setattr(policy, name, value)
    errors: dict[str, list[str]] = {}
    try:
        policy.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    if not errors and policy.abc_a_percent + policy.abc_b_percent > 99:
        errors["abc_b_percent"] = [_("Classes A and B together may cover at most 99 %; the rest is class C.")]
    if errors:
        raise ValidationError(errors)
    changes = audit.diff(before, audit.snapshot(policy, list(fields)))
    if changes:
        policy.save()
        audit.record(actor=actor, action="analytics.policy_changed", instance=policy, changes=changes)
    return policy
