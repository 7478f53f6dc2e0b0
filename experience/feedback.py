"""Feedback items and the improvement actions that answer them.

A feedback item comes from a survey comment (automatically), from an interaction, or by hand. Its
status moves new → planned → done / declined (and back to new to reopen); planning an action on a
new item marks it planned. An action has an owner (a member), a due date and, once done, an
outcome. Sales reps change only their own customers' feedback. Every change is audited.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Customer, Interaction
from experience.models import FeedbackItem, ImprovementAction, SurveyResponse
from finance import audit
from finance.actors import Actor
from finance.models import Membership, User

SENTIMENT_OF_CATEGORY = {
    SurveyResponse.Category.PROMOTER: FeedbackItem.Sentiment.POSITIVE,
    SurveyResponse.Category.SATISFIED: FeedbackItem.Sentiment.POSITIVE,
    SurveyResponse.Category.PASSIVE: FeedbackItem.Sentiment.NEUTRAL,
    SurveyResponse.Category.NEUTRAL: FeedbackItem.Sentiment.NEUTRAL,
    SurveyResponse.Category.DETRACTOR: FeedbackItem.Sentiment.NEGATIVE,
    SurveyResponse.Category.DISSATISFIED: FeedbackItem.Sentiment.NEGATIVE,
}
# Where an item may go from each status.
TRANSITIONS = {
    FeedbackItem.Status.NEW: {FeedbackItem.Status.PLANNED, FeedbackItem.Status.DECLINED},
    FeedbackItem.Status.PLANNED: {
        FeedbackItem.Status.DONE,
        FeedbackItem.Status.DECLINED,
        FeedbackItem.Status.NEW,
    },
    FeedbackItem.Status.DONE: {FeedbackItem.Status.NEW},
    FeedbackItem.Status.DECLINED: {FeedbackItem.Status.NEW},
}
FEEDBACK_FIELDS = ("category", "sentiment", "status", "summary", "detail")
ACTION_FIELDS = ("title", "owner", "due_date", "status", "outcome")


def _require_customer(actor: Actor, customer: Customer) -> None:
    actor.require("feedback.change")
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise PermissionDenied(_("This customer belongs to another sales rep."))


def _full_clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=["organization", *exclude])


def feedback_from_response(*, actor: Actor, response: SurveyResponse) -> FeedbackItem:
    """The feedback item of a survey comment (the caller's transaction), sentiment from its category."""
    item = FeedbackItem(
        organization=actor.organization,
        customer=response.customer,
        source=FeedbackItem.Source.SURVEY,
        response=response,
        sentiment=SENTIMENT_OF_CATEGORY[response.category],
        summary=response.comment.splitlines()[0][:300] if response.comment else "",
        detail=response.comment,
    )
    item.save()
    audit.record(
        actor=actor,
        action="feedback.created",
        instance=item,
        changes={"source": [None, item.source], "sentiment": [None, item.sentiment]},
        customer_id=item.customer_id,
    )
    return item


@transaction.atomic
def feedback_create(
    *,
    actor: Actor,
    customer: Customer,
    summary: str,
    sentiment: str,
    category: str = FeedbackItem.Category.OTHER,
    detail: str = "",
    interaction: Interaction | None = None,
) -> FeedbackItem:
    """Record feedback by hand or from an interaction of the same customer."""
    _require_customer(actor, customer)
    if interaction is not None and interaction.customer_id != customer.pk:
        raise ValidationError({"interaction": [_("This interaction belongs to another customer.")]})
    item = FeedbackItem(
        organization=actor.organization,
        customer=customer,
        source=FeedbackItem.Source.INTERACTION if interaction else FeedbackItem.Source.MANUAL,
        interaction=interaction,
        category=category,
        sentiment=sentiment,
        summary=(summary or "").strip(),
        detail=(detail or "").strip(),
        created_by=actor.user,
    )
    _full_clean(item, ["customer", "response", "interaction", "created_by"])
    item.save()
    audit.record(
        actor=actor,
        action="feedback.created",
        instance=item,
        changes={"source": [None, item.source], "summary": [None, item.summary]},
        customer_id=customer.pk,
    )
    return item


@transaction.atomic
def feedback_update(*, actor: Actor, feedback: FeedbackItem, **fields: Any) -> FeedbackItem:
    """Change an item; the status follows new → planned → done/declined (or back to new)."""
    item = FeedbackItem.objects.select_for_update().select_related("customer").get(pk=feedback.pk)
    _require_customer(actor, item.customer)
    before = audit.snapshot(item)
    for name, value in fields.items():
        if name not in FEEDBACK_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(
            item, name, value.strip() if isinstance(value, str) and name in ("summary", "detail") else value
        )
    if item.status != before["status"] and item.status not in TRANSITIONS.get(before["status"], set()):
        raise ValidationError(
            {
                "status": [
                    _("Feedback cannot go from “%(old)s” to “%(new)s”.")
                    % {
                        "old": FeedbackItem.Status(before["status"]).label,
                        "new": dict(FeedbackItem.Status.choices).get(item.status, item.status),
                    }
                ]
            }
        )
    _full_clean(item, ["customer", "response", "interaction", "created_by"])
    changes = audit.diff(before, audit.snapshot(item))
    if changes:
        item.save()
        audit.record(
            actor=actor,
            action="feedback.updated",
            instance=item,
            changes=changes,
            customer_id=item.customer_id,
        )
    return item


def _check_owner(owner: User | None) -> None:
    if owner is not None and not Membership.objects.filter(user=owner).exists():
        raise ValidationError({"owner": [_("The owner must be a member of this organization.")]})


@transaction.atomic
def action_create(
    *, actor: Actor, feedback: FeedbackItem, title: str, due_date: datetime.date, owner: User | None = None
) -> ImprovementAction:
    """Plan an improvement action on a feedback item; a new item becomes planned."""
    item = FeedbackItem.objects.select_for_update().select_related("customer").get(pk=feedback.pk)
    _require_customer(actor, item.customer)
    _check_owner(owner)
    action = ImprovementAction(
        organization=actor.organization,
        feedback=item,
        title=(title or "").strip(),
        owner=owner or actor.user,
        due_date=due_date,
    )
    _full_clean(action, ["feedback", "owner"])
    action.save()
    audit.record(
        actor=actor,
        action="improvement_action.created",
        instance=action,
        changes={"title": [None, action.title], "due_date": [None, str(due_date)]},
        customer_id=item.customer_id,
    )
    if item.status == FeedbackItem.Status.NEW:
        feedback_update(actor=actor, feedback=item, status=FeedbackItem.Status.PLANNED)
    return action


@transaction.atomic
def action_update(*, actor: Actor, action: ImprovementAction, **fields: Any) -> ImprovementAction:
    """Change an action; marking it done needs the outcome and stamps the day it was completed."""
    action = (
        ImprovementAction.objects.select_for_update().select_related("feedback__customer").get(pk=action.pk)
    )
    _require_customer(actor, action.feedback.customer)
    before = audit.snapshot(action)
    for name, value in fields.items():
        if name not in ACTION_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(
            action, name, value.strip() if isinstance(value, str) and name in ("title", "outcome") else value
        )
    if "owner" in fields:
        _check_owner(fields["owner"])
    if action.status == ImprovementAction.Status.DONE:
        if not action.outcome:
            raise ValidationError({"outcome": [_("Say what came of the action.")]})
        action.completed_on = action.completed_on or actor.organization.local_today()
    else:
        action.completed_on = None
    _full_clean(action, ["feedback", "owner"])
    changes = audit.diff(before, audit.snapshot(action))
    if changes:
        action.save()
        audit.record(
            actor=actor,
            action="improvement_action.updated",
            instance=action,
            changes=changes,
            customer_id=action.feedback.customer_id,
        )
    return action
