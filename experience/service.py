"""Service writes: the business calendar and SLA policies, service requests and their
conversation, and the status flow. Each is atomic, validates before it writes and records its
audit event.

Deadlines come from the priority's policy and the calendar, counted from `opened_at`; they are
recomputed when the priority changes. The first OUTBOUND note is the first response. Resolving
stamps `resolved_at`; reopening a resolved or closed request counts it in `reopen_count` and
clears `resolved_at`/`closed_at`; closing stamps `closed_at` and, after the commit, sends
`service_request_closed` (the surveys part invites the customer from it).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Contact, Customer, InteractionKind
from crm.services import TimelineEntry, interactions_log_many
from experience import service_selectors as selectors
from experience.models import BusinessCalendar, ServiceNote, ServiceRequest, SlaPolicy
from experience.models.service import Priority
from experience.sla import add_business_minutes
from experience.surveys import service_request_closed
from finance import audit, tenancy
from finance.actors import Actor
from finance.models import Membership, User

NUMBER_PREFIX = "SR-"
NUMBER_RE = re.compile(r"^SR-(\d+)$")
EDITABLE = ("subject", "description", "category", "priority", "channel", "assignee", "contact", "status")
OPEN = ServiceRequest.OPEN_STATUSES

__all__ = ["service_request_closed"]


def _clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=["organization", *exclude], validate_constraints=False)


def _require_customer(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise ValidationError({"customer": [_("No customer with this id.")]})


def _require_request(actor: Actor, request: ServiceRequest) -> None:
    if actor.sees_own_customers_only and request.customer.owner_id != actor.user_id:
        raise PermissionDenied(_("This service request belongs to another sales rep's customer."))


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


# Calendar and policies --------------------------------------------------------------------------


def _parse_time(value: Any, field: str, errors: dict[str, list[str]]) -> datetime.time | None:
    if isinstance(value, datetime.time):
        return value
    try:
        return datetime.time.fromisoformat(str(value))
    except ValueError:
        errors[field] = [_("Give a time like 09:00.")]
        return None


@transaction.atomic
def business_calendar_update(
    *,
    actor: Actor,
    working_days: list[Any],
    opens_at: Any,
    closes_at: Any,
    holidays: list[Any] | None = None,
) -> BusinessCalendar:
    """Save the organization's working days (0 = Monday … 6 = Sunday), hours and holidays (ISO
    dates). Raises ValidationError naming each bad field; writes nothing then."""
    actor.require("service.policy")
    errors: dict[str, list[str]] = {}
    days: list[int] = []
    for value in working_days or []:
        try:
            day = int(value)
        except (TypeError, ValueError):
            day = -1
        if not 0 <= day <= 6 or isinstance(value, bool):
            errors["working_days"] = [
                _("“%(value)s” is not a weekday (0 = Monday … 6 = Sunday).") % {"value": value}
            ]
            break
        days.append(day)
    if not days and "working_days" not in errors:
        errors["working_days"] = [_("Choose at least one working day.")]
    opens = _parse_time(opens_at, "opens_at", errors)
    closes = _parse_time(closes_at, "closes_at", errors)
    if opens and closes and closes <= opens:
        errors["closes_at"] = [_("Closing time must be after opening time.")]
    dates: list[str] = []
    for value in holidays or []:
        try:
            day = (
                value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value).strip())
            )
        except ValueError:
            errors["holidays"] = [_("“%(value)s” is not a date like 2026-10-01.") % {"value": value}]
            break
        dates.append(day.isoformat())
    if errors:
        raise ValidationError(errors)
    calendar = BusinessCalendar.objects.select_for_update().first()
    before = _calendar_snapshot(calendar) if calendar else {}
    if calendar is None:
        calendar = BusinessCalendar(organization=actor.organization)
    calendar.working_days = sorted(set(days))
    calendar.opens_at, calendar.closes_at = opens, closes
    calendar.holidays = sorted(set(dates))
    calendar.save()
    audit.record(
        actor=actor,
        action="service.calendar_changed",
        instance=calendar,
        changes=audit.diff(before, _calendar_snapshot(calendar)),
    )
    return calendar


def _calendar_snapshot(calendar: BusinessCalendar) -> dict[str, Any]:
    values = audit.snapshot(calendar)
    return {name: str(value) if isinstance(value, datetime.time) else value for name, value in values.items()}


@transaction.atomic
def sla_policy_update(
    *, actor: Actor, priority: str, first_response_minutes: int, resolution_minutes: int, warn_percent: int
) -> SlaPolicy:
    """Save the targets of one priority (business minutes). Resolution may not be sooner than
    the first response. Existing requests keep their deadlines."""
    actor.require("service.policy")
    if priority not in Priority.values:
        raise ValidationError({"priority": [_("Unknown priority.")]})
    policy = SlaPolicy.objects.select_for_update().filter(priority=priority).first()
    before = audit.snapshot(policy) if policy else {}
    if policy is None:
        policy = SlaPolicy(organization=actor.organization, priority=priority)
    policy.first_response_minutes = first_response_minutes
    policy.resolution_minutes = resolution_minutes
    policy.warn_percent = warn_percent
    errors: dict[str, list[str]] = {}
    try:
        _clean(policy, [])
    except ValidationError as exc:
        errors.update(_errors(exc))
    if not errors and resolution_minutes < first_response_minutes:
        errors["resolution_minutes"] = [_("Resolution cannot be due before the first response.")]
    if errors:
        raise ValidationError(errors)
    policy.save()
    changes = audit.diff(before, audit.snapshot(policy))
    if changes:
        audit.record(actor=actor, action="service.policy_changed", instance=policy, changes=changes)
    return policy


# Requests ---------------------------------------------------------------------------------------


def _deadlines(request: ServiceRequest) -> None:
    calendar = selectors.business_calendar()
    policy = selectors.sla_policies()[request.priority]
    request.first_response_due = add_business_minutes(
        request.opened_at, policy.first_response_minutes, calendar
    )
    request.resolution_due = add_business_minutes(request.opened_at, policy.resolution_minutes, calendar)


def _next_number() -> str:
    numbers = ServiceRequest.objects.filter(number__startswith=NUMBER_PREFIX).values_list("number", flat=True)
    highest = 0
    for number in numbers.order_by("-number")[:50]:
        match = NUMBER_RE.match(number)
        if match:
            highest = max(highest, int(match.group(1)))
    return f"{NUMBER_PREFIX}{highest + 1:06d}"


def _check_links(
    errors: dict[str, list[str]], customer: Customer, contact: Contact | None, assignee: User | None
) -> None:
    if contact is not None and contact.customer_id != customer.pk:
        errors["contact"] = [_("This contact belongs to another customer.")]
    if assignee is not None and not Membership.objects.filter(user=assignee).exists():
        errors["assignee"] = [_("The assignee must be a member of this organization.")]


def _timeline(actor: Actor, request: ServiceRequest, summary: str) -> None:
    interactions_log_many(
        actor=actor,
        entries=[TimelineEntry(customer_id=request.customer_id, kind=InteractionKind.NOTE, summary=summary)],
    )


@transaction.atomic
def service_request_create(
    *,
    actor: Actor,
    customer: Customer,
    subject: str,
    description: str = "",
    category: str = ServiceRequest.Category.QUESTION,
    priority: str = Priority.NORMAL,
    channel: str = ServiceRequest.Channel.EMAIL,
    contact: Contact | None = None,
    assignee: User | None = None,
    external_id: str | None = None,
    opened_at: datetime.datetime | None = None,
) -> ServiceRequest:
    """Open a request for a customer the actor sees, numbered "SR-000123" (unique per
    organization), with its SLA deadlines; goes on the customer's timeline."""
    actor.require("service.work")
    _require_customer(actor, customer)
    errors: dict[str, list[str]] = {}
    _check_links(errors, customer, contact, assignee)
    now = timezone.now()
    if opened_at is not None and opened_at > now + datetime.timedelta(minutes=5):
        errors["opened_at"] = [_("A request cannot be opened in the future.")]
    request = ServiceRequest(
        organization=actor.organization,
        customer=customer,
        contact=contact,
        external_id=external_id or None,
        number=NUMBER_PREFIX,
        subject=(subject or "").strip(),
        description=description or "",
        category=category,
        priority=priority,
        channel=channel,
        status=ServiceRequest.Status.NEW,
        assignee=assignee,
        opened_at=opened_at or now,
        created_by=actor.user,
    )
    try:
        _clean(request, ["customer", "contact", "assignee", "created_by"])
    except ValidationError as exc:
        for name, messages in _errors(exc).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    _deadlines(request)
    for _attempt in range(5):
        request.number = _next_number()
        try:
            with transaction.atomic():
                request.save()
            break
        except IntegrityError:
            if external_id and ServiceRequest.objects.filter(external_id=external_id).exists():
                raise ValidationError(
                    {"external_id": [_("A service request with this external id already exists.")]}
                ) from None
            request.pk = None  # another request took the number meanwhile: take the next one
    else:
        raise ValidationError({"number": [_("Could not number the request: retry.")]})
    audit.record(
        actor=actor,
        action="service.request_opened",
        instance=request,
        changes=audit.diff({}, audit.snapshot(request, ["number", "subject", "priority", "category"])),
        customer_id=customer.pk,
    )
    _timeline(
        actor,
        request,
        _("Service request %(number)s opened: %(subject)s")
        % {"number": request.number, "subject": request.subject},
    )
    return request


def _lock(request: ServiceRequest) -> ServiceRequest:
    return ServiceRequest.objects.select_for_update().select_related("customer").get(pk=request.pk)


@transaction.atomic
def service_request_update(*, actor: Actor, request: ServiceRequest, **fields: Any) -> ServiceRequest:
    """Change subject, description, category, priority, channel, assignee, contact or status.
    A new priority recomputes both deadlines from `opened_at` (and clears the alerts not yet
    due under the new targets); a new status goes through the status flow."""
    actor.require("service.work")
    _require_request(actor, request)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    status = fields.pop("status", None)
    request = _lock(request)
    errors: dict[str, list[str]] = {}
    if "contact" in fields or "assignee" in fields:
        _check_links(errors, request.customer, fields.get("contact"), fields.get("assignee"))
    tracked = [name for name in EDITABLE if name != "status"]
    before = audit.snapshot(request, tracked)
    for name, value in fields.items():
        if name in ("subject",) and isinstance(value, str):
            value = value.strip()
        setattr(request, name, value)
    try:
        _clean(request, ["customer", "contact", "assignee", "created_by"])
    except ValidationError as exc:
        for name, messages in _errors(exc).items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if request.priority != before["priority"]:
        _deadlines(request)
        now = timezone.now()
        # Alerts of the old targets no longer hold: the check re-evaluates against the new ones.
        request.sla_alerts = []
        request.first_response_breached = bool(
            request.first_response_at
            and request.first_response_due
            and request.first_response_at > request.first_response_due
        ) or bool(
            request.first_response_at is None
            and request.first_response_due
            and now > request.first_response_due
        )
        request.resolution_breached = bool(
            request.resolution_due and (request.resolved_at or now) > request.resolution_due
        )
    changes = audit.diff(before, audit.snapshot(request, tracked))
    if changes:
        request.save()
        audit.record(
            actor=actor,
            action="service.request_changed",
            instance=request,
            changes=changes,
            customer_id=request.customer_id,
        )
    if status is not None and status != request.status:
        request = service_request_set_status(actor=actor, request=request, status=status)
    return request


@transaction.atomic
def service_request_upsert(
    *, actor: Actor, external_id: str, customer: Customer, **fields: Any
) -> tuple[ServiceRequest, bool]:
    """Create or update the request the ERP knows as `external_id`. Returns (request, created).
    A request cannot move to another customer."""
    actor.require("service.work")
    _require_customer(actor, customer)
    existing = ServiceRequest.objects.filter(external_id=external_id).select_related("customer").first()
    if existing is None:
        return service_request_create(actor=actor, customer=customer, external_id=external_id, **fields), True
    if existing.customer_id != customer.pk:
        raise ValidationError({"customer": [_("This service request belongs to another customer.")]})
    fields.pop("opened_at", None)
    return service_request_update(actor=actor, request=existing, **fields), False


@transaction.atomic
def service_note_add(
    *, actor: Actor, request: ServiceRequest, kind: str, body: str, at: datetime.datetime | None = None
) -> ServiceNote:
    """Add a message to the conversation. The first OUTBOUND note is the first response (late
    when after its deadline); a message from the customer on a request waiting for them opens
    it again."""
    actor.require("service.work")
    _require_request(actor, request)
    request = _lock(request)
    note = ServiceNote(
        organization=actor.organization,
        request=request,
        kind=kind,
        body=(body or "").strip(),
        author=actor.user,
        created_at=at or timezone.now(),
    )
    _clean(note, ["request", "author"])
    note.save()
    audit.record(
        actor=actor,
        action="service.note_added",
        instance=note,
        changes={"kind": [None, kind], "request": [None, request.number]},
        customer_id=request.customer_id,
    )
    updates = []
    if kind == ServiceNote.Kind.OUTBOUND and request.first_response_at is None:
        request.first_response_at = note.created_at
        if request.first_response_due and note.created_at > request.first_response_due:
            request.first_response_breached = True
        updates += ["first_response_at", "first_response_breached"]
        if request.status == ServiceRequest.Status.NEW:
            request.status = ServiceRequest.Status.OPEN
            updates.append("status")
    elif kind == ServiceNote.Kind.INBOUND and request.status == ServiceRequest.Status.WAITING:
        request.status = ServiceRequest.Status.OPEN
        updates.append("status")
    if updates:
        request.save(update_fields=[*updates, "updated_at"])
    return note


# Status flow ------------------------------------------------------------------------------------

FLOW = {
    ServiceRequest.Status.NEW: {"open", "waiting", "resolved", "closed"},
    ServiceRequest.Status.OPEN: {"waiting", "resolved", "closed"},
    ServiceRequest.Status.WAITING: {"open", "resolved", "closed"},
    ServiceRequest.Status.RESOLVED: {"closed", "open"},
    ServiceRequest.Status.CLOSED: {"open"},
}


@transaction.atomic
def service_request_set_status(
    *, actor: Actor, request: ServiceRequest, status: str, at: datetime.datetime | None = None
) -> ServiceRequest:
    """Move a request along new → open ⇄ waiting → resolved → closed. Resolving stamps
    `resolved_at` (late when after the deadline); closing stamps `closed_at` (and `resolved_at`
    if missing) and sends `service_request_closed` after the commit; moving a resolved or closed
    request back to open is a reopen."""
    actor.require("service.work")
    _require_request(actor, request)
    if status not in ServiceRequest.Status.values:
        raise ValidationError({"status": [_("Unknown status.")]})
    request = _lock(request)
    old = request.status
    if status == old:
        return request
    if status not in FLOW[old]:
        raise ValidationError(
            {"status": [_("A %(old)s request cannot become %(new)s.") % {"old": old, "new": status}]}
        )
    now = at or timezone.now()
    before = audit.snapshot(request, ["status", "resolved_at", "closed_at", "reopen_count"])
    reopened = old in (ServiceRequest.Status.RESOLVED, ServiceRequest.Status.CLOSED) and status in OPEN
    request.status = status
    if status == ServiceRequest.Status.RESOLVED or (
        status == ServiceRequest.Status.CLOSED and request.resolved_at is None
    ):
        request.resolved_at = now
        request.resolution_breached = bool(request.resolution_due and now > request.resolution_due)
    if status == ServiceRequest.Status.CLOSED:
        request.closed_at = now
    if reopened:
        request.reopen_count += 1
        request.resolved_at = None
        request.closed_at = None
        # The resolution clock's alerts may fire again against the same deadline.
        request.sla_alerts = [a for a in request.sla_alerts or [] if not a.startswith("resolution")]
    request.save()
    action = "service.request_reopened" if reopened else f"service.request_{status}"
    audit.record(
        actor=actor,
        action=action,
        instance=request,
        changes=audit.diff(before, audit.snapshot(request, list(before))),
        customer_id=request.customer_id,
    )
    values = {"number": request.number, "subject": request.subject}
    if reopened:
        _timeline(actor, request, _("Service request %(number)s reopened: %(subject)s") % values)
    elif status == ServiceRequest.Status.RESOLVED:
        _timeline(actor, request, _("Service request %(number)s resolved: %(subject)s") % values)
    elif status == ServiceRequest.Status.CLOSED:
        _timeline(actor, request, _("Service request %(number)s closed: %(subject)s") % values)
        organization, pk = actor.organization, request.pk

        def announce() -> None:
            # After commit the caller may have left its tenant context (seed, a task).
            with tenancy.tenant(organization):
                closed = ServiceRequest.objects.select_related("customer", "contact").filter(pk=pk).first()
                if closed is not None:
                    service_request_closed.send(sender=ServiceRequest, request=closed, actor=actor)

        transaction.on_commit(announce)
    return request


def service_request_resolve(*, actor: Actor, request: ServiceRequest) -> ServiceRequest:
    return service_request_set_status(actor=actor, request=request, status=ServiceRequest.Status.RESOLVED)


def service_request_close(*, actor: Actor, request: ServiceRequest) -> ServiceRequest:
    return service_request_set_status(actor=actor, request=request, status=ServiceRequest.Status.CLOSED)


@transaction.atomic
def service_request_reopen(*, actor: Actor, request: ServiceRequest) -> ServiceRequest:
    """Open a resolved or closed request again (counted in `reopen_count`)."""
    actor.require("service.work")
    _require_request(actor, request)
    request = _lock(request)
    if request.status not in (ServiceRequest.Status.RESOLVED, ServiceRequest.Status.CLOSED):
        raise ValidationError({"status": [_("Only a resolved or closed request can be reopened.")]})
    return service_request_set_status(actor=actor, request=request, status=ServiceRequest.Status.OPEN)
