"""Business-hours arithmetic for SLA clocks, and the SLA check that warns and flags breaches.

The clock runs only inside the organization's working hours (the same hours every working day,
in its timezone), never on non-working days or holidays. Windows are built from local wall-clock
times and then compared in UTC, so a day with a DST change has exactly the hours the wall clock
shows. `add_business_minutes` and `business_minutes_between` are inverse: measuring from `start`
to `add_business_minutes(start, m)` gives back `m`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import Customer
from crm.services import FollowUpEntry, TimelineEntry, follow_ups_create_many, interactions_log_many
from experience.models import BusinessCalendar, ServiceRequest
from finance import audit, tenancy
from finance.actors import Actor
from finance.models import Membership, Role, User

logger = logging.getLogger("kehu.experience")
UTC = datetime.UTC
# A calendar whose working days are all holidays would never end a deadline: give up after this.
MAX_DAYS = 366 * 30

RESPONSE_WARNING = "response_warning"
RESPONSE_BREACH = "response_breach"
RESOLUTION_WARNING = "resolution_warning"
RESOLUTION_BREACH = "resolution_breach"


@dataclass(frozen=True)
class _Hours:
    tz: Any
    working_days: frozenset[int]
    holidays: frozenset[datetime.date]
    opens_at: datetime.time
    closes_at: datetime.time


def _hours(calendar: BusinessCalendar) -> _Hours:
    holidays = set()
    for value in calendar.holidays or []:
        try:
            holidays.add(value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value))
        except (TypeError, ValueError):
            continue
    days = frozenset(int(day) for day in calendar.working_days or [])
    if not days or calendar.closes_at <= calendar.opens_at:
        raise ValueError("A business calendar needs working days and closing after opening.")
    return _Hours(
        tz=calendar.organization.tzinfo,
        working_days=days,
        holidays=frozenset(holidays),
        opens_at=calendar.opens_at,
        closes_at=calendar.closes_at,
    )


def _windows(
    hours: _Hours, first_day: datetime.date
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    """The working windows (UTC start, UTC end) from `first_day` on, in order."""
    day = first_day
    for _step in range(MAX_DAYS):
        if day.weekday() in hours.working_days and day not in hours.holidays:
            opens = datetime.datetime.combine(day, hours.opens_at, hours.tz).astimezone(UTC)
            closes = datetime.datetime.combine(day, hours.closes_at, hours.tz).astimezone(UTC)
            if closes > opens:
                yield opens, closes
        day += datetime.timedelta(days=1)
    raise ValueError("The business calendar has no working time left.")


def _aware(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        raise ValueError("Business-hours arithmetic needs aware datetimes.")
    return moment.astimezone(UTC)


def add_business_minutes(
    start: datetime.datetime, minutes: int, calendar: BusinessCalendar
) -> datetime.datetime:
    """The moment `minutes` business minutes after `start` (in UTC). Zero minutes is `start`;
    a start outside working hours begins counting at the next opening."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    cursor = _aware(start)
    if minutes == 0:
        return cursor
    hours = _hours(calendar)
    remaining = datetime.timedelta(minutes=minutes)
    # The previous local day too: a window never spans midnight, but the local date of a UTC
    # moment is what we need, and starting one day early costs nothing.
    first_day = cursor.astimezone(hours.tz).date() - datetime.timedelta(days=1)
    for opens, closes in _windows(hours, first_day):
        if closes <= cursor:
            continue
        begin = max(cursor, opens)
        available = closes - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValueError("The business calendar has no working time left.")  # pragma: no cover


def business_minutes_between(
    start: datetime.datetime, end: datetime.datetime, calendar: BusinessCalendar
) -> int:
    """Whole business minutes from `start` to `end` (0 when `end` is not after `start`)."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0
    hours = _hours(calendar)
    total = datetime.timedelta(0)
    first_day = start.astimezone(hours.tz).date() - datetime.timedelta(days=1)
    for opens, closes in _windows(hours, first_day):
        if opens >= end:
            break
        overlap = min(closes, end) - max(opens, start)
        if overlap > datetime.timedelta(0):
            total += overlap
    return int(total.total_seconds() // 60)


# The SLA check ---------------------------------------------------------------------------------


def sla_state(
    *,
    due: datetime.datetime | None,
    target_minutes: int,
    warn_percent: int,
    now: datetime.datetime,
    calendar: BusinessCalendar,
) -> str:
    """ "breach" when `due` has passed, "warning" when no more than (100 − warn_percent) % of the
    target is left, else "ok" ("ok" too when there is no deadline)."""
    if due is None:
        return "ok"
    if now >= due:
        return "breach"
    left = business_minutes_between(now, due, calendar)
    if left * 100 <= target_minutes * (100 - warn_percent):
        return "warning"
    return "ok"


def request_sla_states(
    request: ServiceRequest, *, now: datetime.datetime, calendar: BusinessCalendar, policies: dict
) -> dict[str, str]:
    """The state of each clock still running on `request`: {"response": ..., "resolution": ...}."""
    policy = policies[request.priority]
    states = {}
    if request.status in ServiceRequest.OPEN_STATUSES:
        if request.first_response_at is None:
            states["response"] = sla_state(
                due=request.first_response_due,
                target_minutes=policy.first_response_minutes,
                warn_percent=policy.warn_percent,
                now=now,
                calendar=calendar,
            )
        states["resolution"] = sla_state(
            due=request.resolution_due,
            target_minutes=policy.resolution_minutes,
            warn_percent=policy.warn_percent,
            now=now,
            calendar=calendar,
        )
    return states


def _recipient(request: ServiceRequest, managers: list[User]) -> list[User]:
    for user in (request.assignee, request.customer.owner):
        if user is not None and user.is_active and user.email:
            return [user]
    return managers


def _finance_managers() -> list[User]:
    ids = Membership.objects.filter(role=Role.FINANCE_MANAGER).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=ids, is_active=True).exclude(email="").order_by("pk"))


@transaction.atomic
def sla_check(*, actor: Actor, now: datetime.datetime) -> dict[str, int]:
    """Warn about open requests whose first response or resolution is nearly due and flag those
    past due. Each kind of alert is sent once per request (kept in `sla_alerts`), so a second run
    sends nothing: an email to the assignee (else the customer's owner, else the finance
    managers) in their language, and for a breach a follow-up for the same person."""
    from experience import service_selectors

    calendar = service_selectors.business_calendar()
    policies = service_selectors.sla_policies()
    requests = list(
        ServiceRequest.objects.select_for_update(of=("self",))
        .filter(status__in=ServiceRequest.OPEN_STATUSES)
        .select_related("customer__owner", "assignee")
        .order_by("pk")
    )
    managers: list[User] | None = None
    alerts: list[tuple[ServiceRequest, str]] = []
    follow_ups: list[FollowUpEntry] = []
    timeline: list[TimelineEntry] = []
    counts = {"checked": len(requests), "warnings": 0, "breaches": 0, "emails": 0}
    today = now.astimezone(actor.organization.tzinfo).date()
    for request in requests:
        states = request_sla_states(request, now=now, calendar=calendar, policies=policies)
        sent = list(request.sla_alerts or [])
        new: list[str] = []
        for clock, warning, breach in (
            ("response", RESPONSE_WARNING, RESPONSE_BREACH),
            ("resolution", RESOLUTION_WARNING, RESOLUTION_BREACH),
        ):
            state = states.get(clock)
            if state == "breach" and breach not in sent:
                new.append(breach)
                if warning not in sent:
                    sent.append(warning)  # past due at once: the warning is moot
            elif state == "warning" and warning not in sent:
                new.append(warning)
        if not new:
            continue
        before = audit.snapshot(request, ["sla_alerts", "first_response_breached", "resolution_breached"])
        request.sla_alerts = sent + new
        if RESPONSE_BREACH in new:
            request.first_response_breached = True
        if RESOLUTION_BREACH in new:
            request.resolution_breached = True
        request.save(
            update_fields=["sla_alerts", "first_response_breached", "resolution_breached", "updated_at"]
        )
        audit.record(
            actor=actor,
            action="service.sla_alert",
            instance=request,
            changes=audit.diff(before, audit.snapshot(request, list(before))),
            customer_id=request.customer_id,
        )
        if managers is None:
            managers = _finance_managers()
        recipients = _recipient(request, managers)
        for kind in new:
            alerts.append((request, kind))
            if kind.endswith("breach"):
                counts["breaches"] += 1
                timeline.append(
                    TimelineEntry(
                        customer_id=request.customer_id,
                        kind="note",
                        summary=_("SLA breached on %(number)s: %(what)s")
                        % {"number": request.number, "what": _alert_label(kind)},
                    )
                )
                follow_ups.append(
                    FollowUpEntry(
                        customer_id=request.customer_id,
                        title=(
                            _("Service request %(number)s is past its SLA: %(subject)s")
                            % {"number": request.number, "subject": request.subject}
                        )[:300],
                        due_date=today,
                        assignee_id=recipients[0].pk if recipients else None,
                    )
                )
            else:
                counts["warnings"] += 1
        counts["emails"] += len(recipients) * len(new)
        _email_after_commit(actor, request, new, recipients)
    if timeline:
        interactions_log_many(actor=actor, entries=timeline)
    if follow_ups:
        follow_ups_create_many(actor=actor, entries=follow_ups)
    return counts


def _alert_label(kind: str) -> str:
    return {
        RESPONSE_WARNING: _("first response due soon"),
        RESPONSE_BREACH: _("first response overdue"),
        RESOLUTION_WARNING: _("resolution due soon"),
        RESOLUTION_BREACH: _("resolution overdue"),
    }[kind]


def _email_after_commit(
    actor: Actor, request: ServiceRequest, kinds: list[str], recipients: list[User]
) -> None:
    organization = actor.organization
    link = settings.SITE_URL + reverse("experience:service-detail", args=[request.pk])
    customer: Customer = request.customer

    def send() -> None:
        with tenancy.tenant(organization):
            for user in recipients:
                with translation.override(user.language or organization.language):
                    what = ", ".join(_alert_label(kind) for kind in kinds)
                    values = {
                        "number": request.number,
                        "subject": request.subject,
                        "customer": customer.name,
                        "what": what,
                        "link": link,
                    }
                    if any(kind.endswith("breach") for kind in kinds):
                        subject = _("SLA breached: %(number)s %(subject)s") % values
                    else:
                        subject = _("SLA due soon: %(number)s %(subject)s") % values
                    body = _("%(customer)s, %(number)s %(subject)s: %(what)s.\n\n%(link)s") % values
                try:
                    send_mail(subject, body, None, [user.email])
                except Exception:  # an unreachable mail server must not undo the check
                    logger.exception("Could not email the SLA alert for service request %s", request.pk)

    transaction.on_commit(send)
