"""Reads of customers and their relationship data, narrowed to what the actor may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from crm.models import Contact, Customer, FollowUp, Interaction
from crm.validators import normalize_tax_id
from finance.actors import Actor
from finance.crypto import blind_index


def customers_visible_to(actor: Actor) -> QuerySet[Customer]:
    """Every customer for finance roles; a sales rep's own customers only."""
    customers = Customer.objects.all()
    if actor.sees_own_customers_only:
        customers = customers.filter(owner_id=actor.user_id)
    return customers


def customer_for(actor: Actor, customer_id: int | str) -> Customer:
    """The customer if the actor may see it; Http404 alike for another tenant's or a missing id."""
    try:
        return customers_visible_to(actor).select_related("owner").get(pk=int(customer_id))
    except (Customer.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def customer_list(
    *,
    actor: Actor,
    search: str = "",
    owner_id: int | None = None,
    group: str = "",
    stage: str = "",
    status: str = "",
    ordering: str = "name",
) -> QuerySet[Customer]:
    customers = customers_visible_to(actor).select_related("owner")
    if search:
        customers = customers.filter(
            Q(name__icontains=search)
            | Q(legal_name__icontains=search)
            | Q(external_id__icontains=search)
            | tax_id_match(search)
            | Q(email__icontains=search)
        )
    if owner_id:
        customers = customers.filter(owner_id=owner_id)
    if group:
        customers = customers.filter(customer_group=group)
    if stage:
        customers = customers.filter(lifecycle_stage=stage)
    if status:
        customers = customers.filter(status=status)
    allowed = {"name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"}
    return customers.order_by(ordering if ordering in allowed else "name", "id")


def tax_id_match(search: str) -> Q:
    """Exact tax id match through the blind index (the column itself is encrypted): the query is
    normalized like a stored tax id (compact form, any country's rule), never matched in part."""
    candidates = {search}
    for country in ("CN", ""):
        try:
            candidates.add(normalize_tax_id(country, search))
        except ValidationError:
            continue
    indexes = {blind_index(c) for c in candidates} - {""}
    return Q(tax_id_index__in=sorted(indexes)) if indexes else Q(pk__in=[])


def customer_groups() -> list[str]:
    return list(
        Customer.objects.exclude(customer_group="")
        .order_by("customer_group")
        .values_list("customer_group", flat=True)
        .distinct()
    )


def contacts_visible_to(actor: Actor) -> QuerySet[Contact]:
    return Contact.objects.filter(customer__in=customers_visible_to(actor))


def interactions_visible_to(actor: Actor) -> QuerySet[Interaction]:
    return Interaction.objects.filter(customer__in=customers_visible_to(actor))


def follow_ups_visible_to(actor: Actor) -> QuerySet[FollowUp]:
    follow_ups = FollowUp.objects.all()
    if actor.sees_own_customers_only:
        follow_ups = follow_ups.filter(Q(customer__owner_id=actor.user_id) | Q(assignee_id=actor.user_id))
    return follow_ups


def timeline(customer: Customer, *, limit: int = 50) -> list[Interaction]:
    return list(
        customer.interactions.select_related("user", "contact").order_by("-occurred_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class FollowUpBuckets:
    overdue: list[FollowUp]
    today: list[FollowUp]
    upcoming: list[FollowUp]


def follow_up_worklist(*, actor: Actor, today: datetime.date, mine_only: bool = True) -> FollowUpBuckets:
    """Open follow-ups split into overdue, today and upcoming (one query)."""
    follow_ups = follow_ups_visible_to(actor).filter(done=False).select_related("customer", "assignee")
    if mine_only and actor.user_id:
        follow_ups = follow_ups.filter(assignee_id=actor.user_id)
    rows = list(follow_ups.order_by("due_date", "id")[:500])
    return FollowUpBuckets(
        overdue=[f for f in rows if f.due_date < today],
        today=[f for f in rows if f.due_date == today],
        upcoming=[f for f in rows if f.due_date > today],
    )


def open_follow_up_counts(*, actor: Actor, today: datetime.date) -> dict[str, int]:
    follow_ups = follow_ups_visible_to(actor).filter(done=False)
    if actor.user_id:
        follow_ups = follow_ups.filter(assignee_id=actor.user_id)
    return follow_ups.aggregate(
        overdue=Count("id", filter=Q(due_date__lt=today)),
        today=Count("id", filter=Q(due_date=today)),
    )
