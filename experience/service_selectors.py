"""Service reads: the business calendar and SLA policies (defaults until saved; reading never
writes), the requests an actor may see, the queue with SLA badges, and the quality metrics."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.selectors import customers_visible_to
from experience.models import BusinessCalendar, ServiceRequest, SlaPolicy, SurveyResponse
from experience.models.service import Priority
from experience.sla import business_minutes_between, request_sla_states
from finance.actors import Actor
from finance.tenancy import current_organization

DEFAULT_WORKING_DAYS = [0, 1, 2, 3, 4]
DEFAULT_OPENS = datetime.time(9, 0)
DEFAULT_CLOSES = datetime.time(18, 0)
# priority: (first response, resolution) in business minutes
DEFAULT_TARGETS = {
    Priority.URGENT: (60, 480),
    Priority.HIGH: (240, 1440),
    Priority.NORMAL: (480, 2880),
    Priority.LOW: (960, 5760),
}
DEFAULT_WARN_PERCENT = 80
GROUPS = ("month", "agent", "category")


def business_calendar() -> BusinessCalendar:
    """The current organization's calendar; until someone saves one, Monday to Friday 09:00-18:00
    (an unsaved instance: reading never writes)."""
    organization = current_organization()
    calendar = BusinessCalendar.objects.first()
    if calendar is None:
        calendar = BusinessCalendar(
            organization=organization,
            working_days=list(DEFAULT_WORKING_DAYS),
            opens_at=DEFAULT_OPENS,
            closes_at=DEFAULT_CLOSES,
            holidays=[],
        )
    calendar.organization = organization  # saves a query whenever the timezone is read
    return calendar


def default_policy(priority: str) -> SlaPolicy:
    first, resolution = DEFAULT_TARGETS[Priority(priority)]
    return SlaPolicy(
        organization=current_organization(),
        priority=priority,
        first_response_minutes=first,
        resolution_minutes=resolution,
        warn_percent=DEFAULT_WARN_PERCENT,
    )


def sla_policies() -> dict[str, SlaPolicy]:
    """One policy per priority, most urgent first: the saved one or the default (unsaved)."""
    saved = {policy.priority: policy for policy in SlaPolicy.objects.all()}
    return {priority: saved.get(priority) or default_policy(priority) for priority in Priority.values}


# Requests ---------------------------------------------------------------------------------------


def service_requests_visible_to(actor: Actor) -> QuerySet[ServiceRequest]:
    """Every request for finance roles and API keys; a sales rep's own customers' only."""
    requests = ServiceRequest.objects.all()
    if actor.sees_own_customers_only:
        requests = requests.filter(customer__in=customers_visible_to(actor))
    return requests


def service_request_for(actor: Actor, pk: int | str) -> ServiceRequest:
    """The request if the actor may see it; Http404 alike for another tenant's or a missing id."""
    try:
        return (
            service_requests_visible_to(actor)
            .select_related("customer", "contact", "assignee", "created_by")
            .get(pk=int(pk))
        )
    except (ServiceRequest.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def service_request_list(
    *,
    actor: Actor,
    status: str = "",
    priority: str = "",
    category: str = "",
    assignee_id: int | None = None,
    customer_id: int | None = None,
    breached: bool | None = None,
    open_only: bool = False,
) -> QuerySet[ServiceRequest]:
    requests = service_requests_visible_to(actor).select_related("customer", "assignee")
    if open_only:
        requests = requests.filter(status__in=ServiceRequest.OPEN_STATUSES)
    if status:
        requests = requests.filter(status=status)
    if priority:
        requests = requests.filter(priority=priority)
    if category:
        requests = requests.filter(category=category)
    if assignee_id:
        requests = requests.filter(assignee_id=assignee_id)
    if customer_id:
        requests = requests.filter(customer_id=customer_id)
    if breached is not None:
        late = Q(first_response_breached=True) | Q(resolution_breached=True)
        requests = requests.filter(late) if breached else requests.exclude(late)
    return requests


BADGES = {"ok": "ok", "warning": "due_soon", "breach": "breached"}


def sla_badge(
    request: ServiceRequest,
    *,
    now: datetime.datetime,
    calendar: BusinessCalendar,
    policies: dict[str, SlaPolicy],
) -> str:
    """ "breached", "due_soon", "ok" for an open request (the worse of its clocks); "" when closed."""
    if request.status not in ServiceRequest.OPEN_STATUSES:
        return ""
    states = request_sla_states(request, now=now, calendar=calendar, policies=policies).values()
    if "breach" in states or request.first_response_breached or request.resolution_breached:
        return "breached"
    if "warning" in states:
        return "due_soon"
    return "ok"


def with_sla_badges(
    requests: list[ServiceRequest], now: datetime.datetime | None = None
) -> list[ServiceRequest]:
    """Sets `sla_badge` on each request (two queries for the calendar and policies)."""
    now = now or timezone.now()
    calendar, policies = business_calendar(), sla_policies()
    for request in requests:
        request.sla_badge = sla_badge(request, now=now, calendar=calendar, policies=policies)
    return requests


# Quality ----------------------------------------------------------------------------------------


@dataclass
class _Group:
    key: str
    label: str
    opened: int = 0
    resolved: int = 0
    reopened: int = 0
    first_response: list[int] = None  # type: ignore[assignment]
    resolution: list[int] = None  # type: ignore[assignment]
    response_met: int = 0
    response_known: int = 0
    resolution_met: int = 0
    resolution_known: int = 0
    scores: list[int] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.first_response, self.resolution, self.scores = [], [], []


def _hours(minutes: list[int], how: str) -> Decimal | None:
    if not minutes:
        return None
    value = statistics.median(minutes) if how == "median" else sum(minutes) / len(minutes)
    return (Decimal(str(value)) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _month_start(day: datetime.date, back: int) -> datetime.date:
    month = day.year * 12 + day.month - 1 - back
    return datetime.date(month // 12, month % 12 + 1, 1)


def service_quality(
    *,
    actor: Actor,
    months: int = 6,
    group_by: str = "month",
    customer_id: int | None = None,
    now: datetime.datetime | None = None,
) -> list[dict[str, Any]]:
    """Service quality over the last `months` calendar months (this one included, organization's
    timezone), one row per month, agent (assignee) or category: requests opened and resolved in
    the period; median and average first-response and resolution times in business hours; SLA
    attainment (% of first responses and resolutions on time, a clock still running but past due
    counts as missed); the reopen rate of the requests opened; and the average satisfaction score
    of survey responses to invitations sent for these requests (source "service:<id>"; none when
    no response). Four queries whatever the number of requests."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    months = max(1, min(int(months), 36))
    organization = actor.organization
    tz = organization.tzinfo
    now = now or timezone.now()
    first_day = _month_start(now.astimezone(tz).date(), months - 1)
    since = datetime.datetime.combine(first_day, datetime.time(), tz)
    calendar = business_calendar()
    requests = service_requests_visible_to(actor).filter(Q(opened_at__gte=since) | Q(resolved_at__gte=since))
    if customer_id:
        requests = requests.filter(customer_id=customer_id)
    rows = list(
        requests.values(
            "pk",
            "opened_at",
            "first_response_at",
            "first_response_due",
            "first_response_breached",
            "resolved_at",
            "resolution_due",
            "resolution_breached",
            "reopen_count",
            "category",
            "assignee_id",
            "assignee__first_name",
            "assignee__last_name",
            "assignee__email",
        )
    )
    scores: dict[int, list[int]] = defaultdict(list)
    if rows:
        responses = SurveyResponse.objects.filter(
            invitation__source__startswith="service:", customer__in=customers_visible_to(actor)
        ).values_list("invitation__source", "score")
        wanted = {row["pk"] for row in rows}
        for source, score in responses:
            try:
                pk = int(source.split(":", 1)[1])
            except ValueError:
                continue
            if pk in wanted:
                scores[pk].append(score)

    groups: dict[str, _Group] = {}
    if group_by == "month":
        for back in range(months - 1, -1, -1):
            start = _month_start(now.astimezone(tz).date(), back)
            key = start.strftime("%Y-%m")
            groups[key] = _Group(key=key, label=key)
    categories = dict(ServiceRequest.Category.choices)

    def group_for(row: dict[str, Any], moment: datetime.datetime) -> _Group | None:
        if group_by == "month":
            return groups.get(moment.astimezone(tz).strftime("%Y-%m"))
        if group_by == "category":
            key = row["category"]
            label = str(categories.get(key, key))
        else:
            key = str(row["assignee_id"] or "")
            name = f"{row['assignee__first_name'] or ''} {row['assignee__last_name'] or ''}".strip()
            label = name or row["assignee__email"] or _("Unassigned")
        if key not in groups:
            groups[key] = _Group(key=key, label=label)
        return groups[key]

    for row in rows:
        opened_at, resolved_at = row["opened_at"], row["resolved_at"]
        if opened_at >= since:
            group = group_for(row, opened_at)
            if group is not None:
                group.opened += 1
                group.reopened += 1 if row["reopen_count"] else 0
                if row["first_response_at"] is not None:
                    group.first_response.append(
                        business_minutes_between(opened_at, row["first_response_at"], calendar)
                    )
                    group.response_known += 1
                    due = row["first_response_due"]
                    if due is None or row["first_response_at"] <= due:
                        group.response_met += 1
                elif row["first_response_breached"]:
                    group.response_known += 1
                if not row["resolved_at"] and row["resolution_breached"]:
                    group.resolution_known += 1
                group.scores.extend(scores.get(row["pk"], []))
        if resolved_at is not None and resolved_at >= since:
            group = group_for(row, resolved_at)
            if group is not None:
                group.resolved += 1
                group.resolution.append(business_minutes_between(opened_at, resolved_at, calendar))
                group.resolution_known += 1
                due = row["resolution_due"]
                if due is None or resolved_at <= due:
                    group.resolution_met += 1

    ordered = list(groups.values())
    if group_by != "month":
        ordered.sort(key=lambda g: (-g.opened - g.resolved, str(g.label)))
    return [
        {
            "key": group.key,
            "label": group.label,
            "opened": group.opened,
            "resolved": group.resolved,
            "first_response_median_hours": _hours(group.first_response, "median"),
            "first_response_average_hours": _hours(group.first_response, "average"),
            "resolution_median_hours": _hours(group.resolution, "median"),
            "resolution_average_hours": _hours(group.resolution, "average"),
            "first_response_attainment": _percent(group.response_met, group.response_known),
            "resolution_attainment": _percent(group.resolution_met, group.resolution_known),
            "reopen_rate": _percent(group.reopened, group.opened),
            "satisfaction": (
                (Decimal(sum(group.scores)) / len(group.scores)).quantize(Decimal("0.01"))
                if group.scores
                else None
            ),
            "responses": len(group.scores),
        }
        for group in ordered
    ]
