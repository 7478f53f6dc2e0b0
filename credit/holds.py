"""Credit holds and the status they give a profile.

Automatic holds: exposure over the limit, an invoice more days past due than the policy allows,
and dunning reaching a level with `credit_hold` (receivables' `dunning_levels_reached` signal).
`holds_refresh` places the automatic holds whose cause holds and releases those whose cause has
cleared; an override releases a hold with a reason and keeps that automatic hold off for the
policy's override days. A hold placed by hand is released only by hand. Every change is audited,
emits `credit.hold` / `credit.released`, goes on the customer's timeline and is emailed to the
owner rep and the finance managers.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credit import selectors
from credit.models import CreditHold, CreditProfile, CreditStatus
from crm.models import Customer, InteractionKind
from crm.services import TimelineEntry, interactions_log_many
from finance import audit, tenancy, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, Membership, Role, User
from finance.money import format_amount

logger = logging.getLogger("kehu.credit")
AUTOMATIC = (CreditHold.Reason.OVER_LIMIT, CreditHold.Reason.PAST_DUE, CreditHold.Reason.DUNNING)
WATCH_CLASSES = ("D", "E")


def hold_payload(hold: CreditHold) -> dict[str, Any]:
    return {
        "id": hold.pk,
        "customer": hold.customer_id,
        "customer_external_id": hold.customer.external_id,
        "reason": hold.reason,
        "detail": hold.detail,
        "placed_at": hold.placed_at,
        "released_at": hold.released_at,
        "release_note": hold.release_note,
        "overridden": hold.overridden,
    }


def _finance_recipients(owner_ids: set[int]) -> dict[int | None, list[User]]:
    """Who hears of a customer's hold, by the customer's owner rep (None: no owner): the finance
    managers (else owners and admins) who have an email, and the owner rep. Three queries for any
    number of customers."""
    roles = [Role.FINANCE_MANAGER]
    if not Membership.objects.filter(role=Role.FINANCE_MANAGER).exists():
        roles = [Role.OWNER, Role.ADMIN]
    finance = set(Membership.objects.filter(role__in=roles).values_list("user_id", flat=True))
    users = User.objects.filter(pk__in=finance | owner_ids, is_active=True).exclude(email="").in_bulk()
    base = [users[pk] for pk in sorted(finance) if pk in users]
    recipients: dict[int | None, list[User]] = {None: base}
    for owner_id in owner_ids:
        extra = [users[owner_id]] if owner_id in users and owner_id not in finance else []
        recipients[owner_id] = sorted(base + extra, key=lambda user: user.pk)
    return recipients


def _notice(kind: str, notices: list[dict[str, str]]) -> tuple[str, str]:
    """The subject and body of one email about one or several customers' holds (`kind` "hold" or
    "released"), in the active language."""
    if len(notices) == 1:
        values = notices[0]
        if kind == "hold":
            subject = _("Credit hold: %(customer)s") % values
            body = (
                _(
                    "%(customer)s is on credit hold: %(detail)s\n\nNew orders need a finance "
                    "decision until the hold is released.\n\n%(link)s"
                )
                % values
            )
        else:
            subject = _("Credit hold released: %(customer)s") % values
            body = _("The credit hold on %(customer)s was released: %(detail)s\n\n%(link)s") % values
        return subject, body
    count = len(notices)
    lines = "\n\n".join(f"{values['customer']}: {values['detail']}\n{values['link']}" for values in notices)
    if kind == "hold":
        subject = ngettext("Credit hold: %(count)d customer", "Credit holds: %(count)d customers", count) % {
            "count": count
        }
        intro = _(
            "These customers are on credit hold. New orders need a finance decision until the hold "
            "is released."
        )
    else:
        subject = ngettext(
            "Credit hold released: %(count)d customer", "Credit holds released: %(count)d customers", count
        ) % {"count": count}
        intro = _("The credit holds on these customers were released.")
    return subject, f"{intro}\n\n{lines}"


def _send_notices(actor: Actor, notices: list[tuple[Customer, str, dict[str, str]]]) -> None:
    """Email the notices (customer, kind, values) after the commit, in each recipient's language:
    one email per recipient and kind, listing every customer it concerns, so that a dunning run
    that holds 500 customers sends each finance manager one email, not 500. Failures are logged,
    never undo the hold."""
    if not notices:
        return
    organization = actor.organization

    def send() -> None:
        # After commit the caller may have left its tenant context (seed_demo, a management command).
        with tenancy.tenant(organization):
            _send(notices)

    def _send(notices: list[tuple[Customer, str, dict[str, str]]]) -> None:
        recipients = _finance_recipients({c.owner_id for c, _kind, _values in notices if c.owner_id})
        mail: dict[tuple[int, str], list[dict[str, str]]] = defaultdict(list)
        users: dict[int, User] = {}
        for customer, kind, values in notices:
            for user in recipients[customer.owner_id]:
                users[user.pk] = user
                mail[(user.pk, kind)].append(values)
        for (user_id, kind), items in mail.items():
            user = users[user_id]
            with translation.override(user.language or organization.language):
                subject, body = _notice(kind, items)
            try:
                send_mail(subject, body, None, [user.email])
            except Exception:  # an unreachable mail server must not undo the hold
                logger.exception("Could not email the credit notices to user %s", user_id)

    transaction.on_commit(send)


def _values(customer: Customer, detail: str) -> dict[str, str]:
    return {
        "customer": customer.name,
        "detail": detail,
        "link": settings.SITE_URL + reverse("customer-detail", args=[customer.pk]),
    }


def _record(actor: Actor, holds: list[CreditHold], released: bool) -> None:
    """Audit, webhook, timeline and notices for holds just placed or released."""
    if not holds:
        return
    entries = []
    notices = []
    events = []
    event = "credit.released" if released else "credit.hold"
    subscribed = webhooks.subscribed(event)
    for hold in holds:
        customer = hold.customer
        if released:
            detail = hold.release_note or hold.get_reason_display()
            summary = _("Credit hold released (%(reason)s): %(note)s") % {
                "reason": hold.get_reason_display(),
                "note": detail,
            }
        else:
            detail = hold.detail or hold.get_reason_display()
            summary = _("Credit hold: %(detail)s") % {"detail": detail}
        events.append(
            audit.build(
                actor=actor,
                action=event,
                instance=hold,
                changes={"reason": [None, hold.reason], "detail": [None, detail]},
                customer_id=customer.pk,
            )
        )
        if subscribed:
            webhooks.emit(event=event, event_id=f"{event}:{hold.pk}", payload=hold_payload(hold))
        entries.append(
            TimelineEntry(customer_id=customer.pk, kind=InteractionKind.NOTE, summary=summary[:500])
        )
        notices.append((customer, "released" if released else "hold", _values(customer, detail)))
    AuditEvent.objects.bulk_create(events)
    interactions_log_many(actor=actor, entries=entries)
    _send_notices(actor, notices)


def _status(profile: CreditProfile, held: bool, exposure: Any, today: datetime.date, review_pct: Any) -> str:
    if profile.blocked:
        return CreditStatus.BLOCKED
    if held:
        return CreditStatus.HOLD
    used = selectors.utilisation(exposure.total, profile.effective_limit(today))
    if profile.risk_class in WATCH_CLASSES or (used is not None and used >= review_pct):
        return CreditStatus.WATCH
    return CreditStatus.OK


def _conditions(
    customers: list[Customer],
    today: datetime.date,
    profiles: dict[int, CreditProfile],
    exposure: dict,
    policy: Any,
) -> dict[int, dict[str, str]]:
    """Which automatic holds each customer's situation calls for, with the detail in words."""
    ids = [customer.pk for customer in customers]
    past_due = selectors.oldest_past_due(ids if len(ids) < 1000 else None, today)
    base = policy.organization.base_currency
    wanted: dict[int, dict[str, str]] = {}
    for customer in customers:
        reasons: dict[str, str] = {}
        profile = profiles.get(customer.pk)
        limit = profile.effective_limit(today) if profile else None
        used = exposure.get(customer.pk, selectors.Exposure()).total
        if limit is not None and used > limit:
            reasons[CreditHold.Reason.OVER_LIMIT] = _(
                "Exposure %(exposure)s is over the limit of %(limit)s."
            ) % {
                "exposure": format_amount(used, base),
                "limit": format_amount(limit, base),
            }
        days = past_due.get(customer.pk)
        if days is not None and days > policy.max_days_past_due:
            reasons[CreditHold.Reason.PAST_DUE] = _("An invoice is %(days)s days past due.") % {"days": days}
        if days is not None and days > 0:
            reasons["overdue"] = ""  # keeps a dunning hold in place while anything is overdue
        wanted[customer.pk] = reasons
    return wanted


@transaction.atomic
def holds_refresh(*, actor: Actor, customers: list[Customer], today: datetime.date) -> dict[str, int]:
    """Place the automatic holds the customers' situation calls for, release those whose cause has
    cleared (a dunning hold clears when nothing is overdue), and store each profile's status."""
    from credit.scoring import profiles_ensure

    policy = selectors.credit_policy()
    profiles = profiles_ensure(customers)
    ids = [customer.pk for customer in customers]
    scope = ids if len(ids) < 1000 else None
    exposure = selectors.exposures(scope, today)
    wanted = _conditions(customers, today, profiles, exposure, policy)
    active: dict[int, dict[str, CreditHold]] = {}
    overridden: set[tuple[int, str]] = set()
    holds = CreditHold.objects.filter(
        Q(released_at__isnull=True) | Q(overridden=True, override_until__gte=today)
    )
    if scope is not None:
        holds = holds.filter(customer_id__in=scope)
    for hold in holds.select_related("customer"):
        if hold.released_at is None:
            active.setdefault(hold.customer_id, {})[hold.reason] = hold
        else:
            overridden.add((hold.customer_id, hold.reason))
    by_id = {customer.pk: customer for customer in customers}
    placed: list[CreditHold] = []
    released: list[CreditHold] = []
    now = timezone.now()
    for customer in customers:
        reasons = wanted[customer.pk]
        current = active.get(customer.pk, {})
        for reason, detail in reasons.items():
            if reason in AUTOMATIC and reason not in current and (customer.pk, reason) not in overridden:
                placed.append(CreditHold(customer=customer, reason=reason, detail=detail[:500]))
        for reason, hold in current.items():
            still = reason in reasons or (reason == CreditHold.Reason.DUNNING and "overdue" in reasons)
            if reason in AUTOMATIC and not still:
                hold.released_at = now
                hold.release_note = _("Cleared: the cause no longer applies.")
                released.append(hold)
    if released:
        CreditHold.objects.bulk_update(released, ["released_at", "release_note"])
    for hold in placed:
        try:
            with transaction.atomic():
                hold.save()
        except IntegrityError:  # placed meanwhile by a concurrent refresh or the dunning signal
            hold.pk = None
    placed = [hold for hold in placed if hold.pk]
    held = {c for c, reasons in active.items() for r, h in reasons.items() if h not in released}
    held |= {hold.customer_id for hold in placed}
    changed = []
    for customer_id, profile in profiles.items():
        status = _status(
            profile,
            customer_id in held,
            exposure.get(customer_id, selectors.Exposure()),
            today,
            policy.review_utilisation,
        )
        if status != profile.status:
            profile.status = status
            changed.append(profile)
    CreditProfile.objects.bulk_update(changed, ["status"], batch_size=2000)
    for hold in placed + released:
        hold.customer = by_id[hold.customer_id]
    _record(actor, placed, released=False)
    _record(actor, released, released=True)
    return {"holds_placed": len(placed), "holds_released": len(released), "status_changed": len(changed)}


def _refresh_status(actor: Actor, customer: Customer) -> None:
    holds_refresh(actor=actor, customers=[customer], today=actor.organization.local_today())


@transaction.atomic
def hold_place(
    *, actor: Actor, customer: Customer, reason: str = CreditHold.Reason.MANUAL, detail: str
) -> CreditHold:
    """Put a customer on hold by hand (reason "manual") or for dunning. One active hold per reason;
    placing one that is already active returns it unchanged."""
    if reason == CreditHold.Reason.MANUAL:
        actor.require("credit.manage")
        if not detail.strip():
            raise ValidationError({"detail": [_("Say why the customer is put on hold.")]})
    existing = CreditHold.objects.filter(customer=customer, reason=reason, released_at__isnull=True).first()
    if existing is not None:
        return existing
    try:
        (hold,) = _holds_place(actor, {customer.pk: (customer, detail)}, reason)
    except IntegrityError:
        return CreditHold.objects.get(customer=customer, reason=reason, released_at__isnull=True)
    return hold


def _holds_place(actor: Actor, wanted: dict[int, tuple[Customer, str]], reason: str) -> list[CreditHold]:
    """New holds of `reason` for customers (by id: customer and detail), then their audit events,
    timeline notes and notices, and the statuses refreshed, together. IntegrityError, with nothing
    written, when one of them already has an active hold of that reason."""
    customers = [customer for customer, _detail in wanted.values()]
    with transaction.atomic():
        placed = CreditHold.objects.bulk_create(
            [
                CreditHold(
                    organization=actor.organization,
                    customer=customer,
                    reason=reason,
                    detail=detail[:500],
                    placed_by=actor.user,
                )
                for customer, detail in wanted.values()
            ]
        )
    for hold, customer in zip(placed, customers, strict=True):
        hold.customer = customer
    _record(actor, placed, released=False)
    holds_refresh(actor=actor, customers=customers, today=actor.organization.local_today())
    return placed


@transaction.atomic
def hold_release(*, actor: Actor, hold: CreditHold, note: str) -> CreditHold:
    """Release a hold by override: the note is required; an automatic hold then stays off for the
    policy's override days even if its cause remains."""
    actor.require("credit.manage")
    if not note.strip():
        raise ValidationError({"note": [_("Give the reason for releasing the hold.")]})
    hold = CreditHold.objects.select_for_update().select_related("customer").get(pk=hold.pk)
    if hold.released_at is not None:
        raise ValidationError({"hold": [_("This hold is already released.")]})
    hold.released_at = timezone.now()
    hold.released_by = actor.user
    hold.release_note = note.strip()[:500]
    if hold.reason in AUTOMATIC:
        policy = selectors.credit_policy()
        hold.overridden = True
        hold.override_until = actor.organization.local_today() + datetime.timedelta(days=policy.override_days)
    hold.save()
    _record(actor, [hold], released=True)
    _refresh_status(actor, hold.customer)
    return hold


def on_dunning_levels_reached(sender: Any, reached: list[tuple[Customer, Any, Any]], **kwargs: Any) -> None:
    """receivables' signal: dunning levels with `credit_hold` were reached for these customers (one
    run's chunk). One dunning hold each, unless one is active already or was overridden and the
    override still runs; placed together (their audit events, timeline notes and notices in one
    go, the statuses refreshed in one pass), where one at a time cost some 25 queries a customer."""
    if not reached:
        return
    actor = Actor.system(reached[0][0].organization)
    today = actor.organization.local_today()
    ids = [customer.pk for customer, _level, _message in reached]
    skip = set(
        CreditHold.objects.filter(customer_id__in=ids, reason=CreditHold.Reason.DUNNING)
        .filter(Q(released_at__isnull=True) | Q(overridden=True, override_until__gte=today))
        .values_list("customer_id", flat=True)
    )
    wanted: dict[int, tuple[Customer, str]] = {}
    for customer, level, _message in reached:
        if customer.pk in skip or customer.pk in wanted:
            continue
        detail = _("Dunning level %(level)s was reached.") % {"level": getattr(level, "name", "") or level}
        wanted[customer.pk] = (customer, detail)
    if not wanted:
        return
    try:
        with transaction.atomic():
            _holds_place(actor, wanted, CreditHold.Reason.DUNNING)
    except IntegrityError:  # another run placed some meanwhile: one at a time, each checked again
        for customer, detail in wanted.values():
            with transaction.atomic():
                hold_place(actor=actor, customer=customer, reason=CreditHold.Reason.DUNNING, detail=detail)
