"""Customer education: the catalogue of resources (guides, courses, webinars) and their sessions,
invitations of customers (one, or a whole segment at once), and the attendance that follows.

Writes are services: keyword-only, atomic, validated before anything is written, each recording
its audit event. Reads that matter are selectors narrowed to the customers the actor may see (a
sales rep: their own customers), each a fixed number of queries whatever the number of rows.

An attendance moves invited → attended → completed, or invited → no_show (a no-show may still be
marked attended later). A guide has no session: it goes from invited straight to completed. Attended
and completed are logged on the customer's timeline.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Contact, Customer, CustomerStatus, InteractionKind
from crm.selectors import customers_visible_to
from crm.services import TimelineEntry, interactions_log_many
from experience.models import Attendance, Resource, Session
from finance import audit, tenancy
from finance.actors import Actor
from finance.models import AuditEvent, Membership, User

logger = logging.getLogger("kehu.experience")

RESOURCE_FIELDS = ("title", "kind", "topic", "language", "url", "description", "is_active")
SESSION_FIELDS = ("starts_at", "duration_minutes", "location", "host")
SEGMENT_FIELDS = ("abc_class", "lifecycle_stage", "customer_group", "owner")
Status = Attendance.Status

# Where each status may go next. A completed place is final; a no-show may turn out to have come.
TRANSITIONS: dict[str, set[str]] = {
    Status.INVITED: {Status.ATTENDED, Status.COMPLETED, Status.NO_SHOW},
    Status.ATTENDED: {Status.COMPLETED},
    Status.NO_SHOW: {Status.ATTENDED, Status.COMPLETED},
    Status.COMPLETED: set(),
}
RATED_STATUSES = (Status.ATTENDED, Status.COMPLETED)


def _clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=["organization", *exclude], validate_constraints=False)


def _require_customer(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise ValidationError({"customer": [_("No customer with this id.")]})


def _unknown(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})


# Resources -----------------------------------------------------------------------------------


@transaction.atomic
def resource_create(*, actor: Actor, **fields: Any) -> Resource:
    """Add a guide, course or webinar to the catalogue."""
    actor.require("education.change")
    _unknown(fields, RESOURCE_FIELDS)
    resource = Resource(organization=actor.organization, **fields)
    _clean(resource, [])
    resource.save()
    audit.record(
        actor=actor,
        action="education.resource_created",
        instance=resource,
        changes=audit.diff({}, audit.snapshot(resource)),
    )
    return resource


@transaction.atomic
def resource_update(*, actor: Actor, resource: Resource, **fields: Any) -> Resource:
    """Change a resource's fields. A resource with sessions cannot become a guide (guides have none)."""
    actor.require("education.change")
    _unknown(fields, RESOURCE_FIELDS)
    resource = Resource.objects.select_for_update().get(pk=resource.pk)
    before = audit.snapshot(resource)
    for name, value in fields.items():
        setattr(resource, name, value)
    _clean(resource, [])
    if resource.kind == Resource.Kind.GUIDE and resource.sessions.exists():
        raise ValidationError({"kind": [_("This resource has sessions: a guide cannot have any.")]})
    changes = audit.diff(before, audit.snapshot(resource))
    if changes:
        resource.save()
        audit.record(actor=actor, action="education.resource_updated", instance=resource, changes=changes)
    return resource


@transaction.atomic
def resource_delete(*, actor: Actor, resource: Resource) -> None:
    """Delete a resource nobody was invited to; one with invitations is deactivated instead, so
    the customers' education history stays."""
    actor.require("education.change")
    if resource.attendances.exists():
        raise ValidationError(
            {"resource": [_("Customers were invited to this resource: deactivate it instead.")]}
        )
    audit.record(
        actor=actor,
        action="education.resource_deleted",
        instance=resource,
        changes=audit.diff(audit.snapshot(resource), {}),
    )
    resource.delete()


# Sessions ------------------------------------------------------------------------------------


def _check_session(session: Session) -> None:
    errors: dict[str, list[str]] = {}
    if session.resource.kind == Resource.Kind.GUIDE:
        errors["resource"] = [_("A guide has no sessions: only courses and webinars do.")]
    if session.host_id is not None and not Membership.objects.filter(user_id=session.host_id).exists():
        errors["host"] = [_("The host must be a member of this organization.")]
    try:
        _clean(session, ["resource", "host"])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def session_create(*, actor: Actor, resource: Resource, **fields: Any) -> Session:
    """Schedule a dated occurrence of a course or webinar."""
    actor.require("education.change")
    _unknown(fields, SESSION_FIELDS)
    session = Session(organization=actor.organization, resource=resource, **fields)
    _check_session(session)
    session.save()
    audit.record(
        actor=actor,
        action="education.session_created",
        instance=session,
        changes=audit.diff({}, audit.snapshot(session)),
    )
    return session


@transaction.atomic
def session_update(*, actor: Actor, session: Session, **fields: Any) -> Session:
    """Move, lengthen, relocate or re-host a session."""
    actor.require("education.change")
    _unknown(fields, SESSION_FIELDS)
    session = Session.objects.select_for_update().select_related("resource").get(pk=session.pk)
    before = audit.snapshot(session)
    for name, value in fields.items():
        setattr(session, name, value)
    _check_session(session)
    changes = audit.diff(before, audit.snapshot(session))
    if changes:
        session.save()
        audit.record(actor=actor, action="education.session_updated", instance=session, changes=changes)
    return session


@transaction.atomic
def session_delete(*, actor: Actor, session: Session) -> None:
    """Cancel a session nobody was invited to."""
    actor.require("education.change")
    if session.attendances.exists():
        raise ValidationError(
            {"session": [_("Customers were invited to this session: it cannot be deleted.")]}
        )
    audit.record(
        actor=actor,
        action="education.session_deleted",
        instance=session,
        changes=audit.diff(audit.snapshot(session), {}),
    )
    session.delete()


# Invitations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteResult:
    invited: list[Attendance]  # the new places
    already: int  # customers (or contacts) invited before: nothing written for them

    @property
    def count(self) -> int:
        return len(self.invited)


def _check_target(resource: Resource, session: Session | None) -> None:
    errors: dict[str, list[str]] = {}
    if not resource.is_active:
        errors["resource"] = [_("This resource is not active.")]
    if session is not None and session.resource_id != resource.pk:
        errors["session"] = [_("This session belongs to another resource.")]
    if errors:
        raise ValidationError(errors)


def _invite_many(
    actor: Actor,
    resource: Resource,
    session: Session | None,
    places: list[tuple[Customer, Contact | None]],
    *,
    send_email: bool,
) -> InviteResult:
    """Create the places not yet taken, one insert for them and one for their audit events. The
    resource row is locked first, so two invitations at once cannot both add the same place."""
    Resource.objects.select_for_update().filter(pk=resource.pk).first()
    taken = set(
        Attendance.objects.filter(
            resource=resource, session=session, customer_id__in={customer.pk for customer, _c in places}
        ).values_list("customer_id", "contact_id")
    )
    today = actor.organization.local_today()
    new = []
    for customer, contact in places:
        key = (customer.pk, contact.pk if contact else None)
        if key in taken:
            continue
        taken.add(key)
        new.append(
            Attendance(
                organization=actor.organization,
                resource=resource,
                session=session,
                customer=customer,
                contact=contact,
                invited_on=today,
            )
        )
    created = Attendance.objects.bulk_create(new)
    AuditEvent.objects.bulk_create(
        [
            audit.build(
                actor=actor,
                action="education.invited",
                instance=attendance,
                changes={
                    "resource": [None, resource.pk],
                    "session": [None, session.pk if session else None],
                    "contact": [None, attendance.contact_id],
                },
                customer_id=attendance.customer_id,
            )
            for attendance in created
        ]
    )
    if send_email and created:
        _email_invitations(actor, [attendance.pk for attendance in created])
    return InviteResult(invited=created, already=len(places) - len(created))


@transaction.atomic
def attendance_invite(
    *,
    actor: Actor,
    resource: Resource,
    customer: Customer,
    session: Session | None = None,
    contact: Contact | None = None,
    send_email: bool = False,
) -> tuple[Attendance, bool]:
    """Invite one customer (optionally one of its contacts) to a resource or one of its sessions.
    Inviting the same place twice returns the first invitation and writes nothing: (place, created)."""
    actor.require("education.change")
    _require_customer(actor, customer)
    _check_target(resource, session)
    if contact is not None and contact.customer_id != customer.pk:
        raise ValidationError({"contact": [_("This contact belongs to another customer.")]})
    result = _invite_many(actor, resource, session, [(customer, contact)], send_email=send_email)
    if result.invited:
        return result.invited[0], True
    existing = Attendance.objects.get(resource=resource, session=session, customer=customer, contact=contact)
    return existing, False


def segment_customers(*, actor: Actor, **segment: Any) -> QuerySet[Customer]:
    """The active customers the actor may see that match every criterion given (ABC class,
    lifecycle stage, customer group, owner). At least one criterion: "everyone" is not a segment."""
    _unknown(segment, SEGMENT_FIELDS)
    criteria = {name: value for name, value in segment.items() if value not in (None, "")}
    if not criteria:
        raise ValidationError({"segment": [_("Choose at least one criterion of the segment.")]})
    customers = customers_visible_to(actor).filter(status=CustomerStatus.ACTIVE)
    for name, value in criteria.items():
        customers = customers.filter(**{name: value})
    return customers.order_by("pk")


@transaction.atomic
def attendances_invite_segment(
    *,
    actor: Actor,
    resource: Resource,
    session: Session | None = None,
    send_email: bool = False,
    **segment: Any,
) -> InviteResult:
    """Invite every customer of a segment (see `segment_customers`) at once, as customers (no
    contact). Customers already invited are skipped, so repeating the invitation adds nobody."""
    actor.require("education.change")
    _check_target(resource, session)
    customers = list(segment_customers(actor=actor, **segment))
    return _invite_many(actor, resource, session, [(c, None) for c in customers], send_email=send_email)


def _email_invitations(actor: Actor, attendance_ids: list[int]) -> None:
    """After the commit, email each invitation to its contact (or the customer's primary contact
    with an address) in that contact's language. A mail failure is logged, never undoes the
    invitation."""
    organization = actor.organization

    def send() -> None:
        # After commit the caller may have left its tenant context (the seed, a management command).
        with tenancy.tenant(organization):
            _send(attendance_ids)

    def _send(ids: list[int]) -> None:
        places = list(
            Attendance.objects.filter(pk__in=ids).select_related("resource", "session", "contact", "customer")
        )
        customer_ids = {place.customer_id for place in places if place.contact is None}
        primary: dict[int, Contact] = {}
        for contact in (
            Contact.objects.filter(customer_id__in=customer_ids)
            .exclude(email="")
            .order_by("-is_primary", "pk")
        ):
            primary.setdefault(contact.customer_id, contact)
        for place in places:
            contact = place.contact or primary.get(place.customer_id)
            address = contact.email if contact else ""
            if not address:
                continue
            values = {
                "name": contact.name,
                "title": place.resource.title,
                "link": place.resource.url,
                "when": timezone.localtime(place.session.starts_at).strftime("%Y-%m-%d %H:%M")
                if place.session
                else "",
                "organization": organization.name,
            }
            with translation.override(contact.preferred_language or organization.language):
                subject = _("Invitation: %(title)s") % values
                body = _("Dear %(name)s,\n\n%(organization)s invites you to %(title)s.") % values
                if values["when"]:
                    body += "\n" + _("When: %(when)s") % values
                if values["link"]:
                    body += "\n" + _("Link: %(link)s") % values
            try:
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
            except Exception:  # an unreachable mail server must not undo the invitation
                logger.exception("Could not email the education invitation %s", place.pk)

    transaction.on_commit(send)


# Attendance ----------------------------------------------------------------------------------


@transaction.atomic
def attendance_update(
    *,
    actor: Actor,
    attendance: Attendance,
    status: str | None = None,
    rating: int | None = None,
    feedback: str | None = None,
    on: datetime.date | None = None,
) -> Attendance:
    """Move a place along invited → attended → completed (or no-show) and record its rating and
    feedback. `on` dates the move (default today); completing a session also dates the attendance.
    A rating needs the customer to have attended. Attended and completed go on the timeline."""
    actor.require("education.change")
    _require_customer(actor, attendance.customer)
    attendance = (
        Attendance.objects.select_for_update(of=("self",))
        .select_related("resource", "session")
        .get(pk=attendance.pk)
    )
    today = actor.organization.local_today()
    day = on or today
    errors: dict[str, list[str]] = {}
    before = audit.snapshot(attendance)
    moved = status is not None and status != attendance.status
    if moved:
        if status not in Status.values:
            errors["status"] = [_("Unknown status.")]
        elif status not in TRANSITIONS[attendance.status]:
            errors["status"] = [
                _("A place that is “%(old)s” cannot become “%(new)s”.")
                % {"old": attendance.get_status_display(), "new": Status(status).label}
            ]
        elif day > today:
            errors["on"] = [_("This date is in the future.")]
        elif day < attendance.invited_on:
            errors["on"] = [_("This date is before the invitation.")]
        else:
            attendance.status = status
            if status == Status.ATTENDED:
                attendance.attended_on = day
            elif status == Status.COMPLETED:
                if attendance.session_id and attendance.attended_on is None:
                    attendance.attended_on = day
                attendance.completed_on = day
    if rating is not None:
        attendance.rating = rating
    if feedback is not None:
        attendance.feedback = feedback.strip()
    if (rating is not None or (feedback or "").strip()) and attendance.status not in RATED_STATUSES:
        errors.setdefault("rating" if rating is not None else "feedback", []).append(
            _("Only a customer who attended can rate or give feedback.")
        )
    if errors:
        raise ValidationError(errors)
    _clean(attendance, ["resource", "session", "customer", "contact"])
    changes = audit.diff(before, audit.snapshot(attendance))
    if not changes:
        return attendance
    attendance.save()
    audit.record(
        actor=actor,
        action="education.attendance_updated",
        instance=attendance,
        changes=changes,
        customer_id=attendance.customer_id,
    )
    if moved and status in RATED_STATUSES:
        title = attendance.resource.title
        summary = (
            _("Attended %(kind)s: %(title)s")
            if status == Status.ATTENDED
            else _("Completed %(kind)s: %(title)s")
        ) % {"kind": attendance.resource.get_kind_display().lower(), "title": title}
        kind = InteractionKind.MEETING if attendance.session_id else InteractionKind.NOTE
        interactions_log_many(
            actor=actor,
            entries=[TimelineEntry(customer_id=attendance.customer_id, kind=kind, summary=summary)],
        )
    return attendance


# Selectors -----------------------------------------------------------------------------------


def resources_visible_to(actor: Actor) -> QuerySet[Resource]:
    """The catalogue: every resource of the organization (it names no customer)."""
    return Resource.objects.all()


def sessions_visible_to(actor: Actor) -> QuerySet[Session]:
    return Session.objects.select_related("resource", "host")


def attendances_visible_to(actor: Actor) -> QuerySet[Attendance]:
    """Places of the customers the actor may see."""
    places = Attendance.objects.select_related("resource", "session", "customer", "contact")
    if actor.sees_own_customers_only:
        places = places.filter(customer__owner_id=actor.user_id)
    return places


def resource_for(actor: Actor, pk: int | str) -> Resource:
    """Http404 alike for another tenant's or a missing id."""
    try:
        return resources_visible_to(actor).get(pk=int(pk))
    except (Resource.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def attendance_for(actor: Actor, pk: int | str) -> Attendance:
    try:
        return attendances_visible_to(actor).get(pk=int(pk))
    except (Attendance.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def _place_filter(actor: Actor, prefix: str) -> Q | None:
    if actor.sees_own_customers_only:
        return Q(**{f"{prefix}customer__owner_id": actor.user_id})
    return None


def _places(visible: Q | None, condition: Q | None = None) -> Count:
    """Count of a resource's (or session's) places, narrowed to `visible` and `condition`."""
    parts = [q for q in (visible, condition) if q is not None]
    if not parts:
        return Count("attendances")
    combined = parts[0]
    for part in parts[1:]:
        combined &= part
    return Count("attendances", filter=combined)


def with_figures(actor: Actor, resources: QuerySet[Resource]) -> QuerySet[Resource]:
    """Each resource with the places of the actor's customers counted in the same query:
    `invited` (every place), `attended` (attended or completed), `completed`, `no_show`,
    `avg_rating` (of rated places; None when none). See `completion_rate`."""
    visible = _place_filter(actor, "attendances__")
    return resources.annotate(
        invited=_places(visible),
        attended=_places(visible, Q(attendances__status__in=RATED_STATUSES)),
        completed=_places(visible, Q(attendances__status=Status.COMPLETED)),
        no_show=_places(visible, Q(attendances__status=Status.NO_SHOW)),
        avg_rating=Avg("attendances__rating", filter=visible),
    )


def completion_rate(completed: int, invited: int) -> float | None:
    """Completed places as a percentage of all places; None with nobody invited."""
    return None if not invited else round(100 * completed / invited, 1)


def resource_figures(*, actor: Actor, active_only: bool = False) -> list[Resource]:
    """The catalogue with each resource's figures (`with_figures`) and `completion_rate`: one query."""
    resources = resources_visible_to(actor)
    if active_only:
        resources = resources.filter(is_active=True)
    rows = list(with_figures(actor, resources).order_by("-is_active", "title", "id"))
    for row in rows:
        row.completion_rate = completion_rate(row.completed, row.invited)
    return rows


def upcoming_sessions(*, actor: Actor, limit: int = 20) -> list[Session]:
    """Sessions still to come, soonest first, each with `invited` (the actor's customers): one query."""
    visible = _place_filter(actor, "attendances__")
    return list(
        sessions_visible_to(actor)
        .filter(starts_at__gte=timezone.now())
        .annotate(invited=_places(visible))
        .order_by("starts_at", "id")[:limit]
    )


def resource_sessions(*, actor: Actor, resource: Resource) -> list[Session]:
    """A resource's sessions with their figures (invited, attended, completed): one query."""
    visible = _place_filter(actor, "attendances__")
    return list(
        sessions_visible_to(actor)
        .filter(resource=resource)
        .annotate(
            invited=_places(visible),
            attended=_places(visible, Q(attendances__status__in=RATED_STATUSES)),
            completed=_places(visible, Q(attendances__status=Status.COMPLETED)),
        )
        .order_by("starts_at", "id")
    )


@dataclass(frozen=True)
class CustomerEducation:
    places: list[Attendance]
    invited: int
    attended: int
    completed: int


def customer_education(customer: Customer) -> CustomerEducation:
    """What one customer was invited to, attended and completed, latest first: one query."""
    places = list(
        Attendance.objects.filter(customer=customer)
        .select_related("resource", "session", "contact")
        .order_by("-invited_on", "-id")
    )
    return CustomerEducation(
        places=places,
        invited=len(places),
        attended=sum(1 for place in places if place.status in RATED_STATUSES),
        completed=sum(1 for place in places if place.status == Status.COMPLETED),
    )


def hosts() -> QuerySet[User]:
    """Members who may host a session."""
    return User.objects.filter(pk__in=Membership.objects.values("user_id")).order_by("email")


def require_visible_customer(actor: Actor, customer: Customer) -> None:
    """PermissionDenied for a rep acting on another rep's customer (pages call it before a form)."""
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise PermissionDenied
