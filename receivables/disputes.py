"""Disputes on invoices: opened (often by the rep who heard the complaint), reviewed, then resolved
with a credit note or rejected.

At most one dispute per invoice is in progress (open or in review): the database refuses a second
one and the services say so on the `invoice` field. While it is in progress, dunning leaves the
invoice alone (`active_dispute_invoice_ids`, `invoice_has_active_dispute`).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import InteractionKind
from finance import audit, webhooks
from finance.actors import Actor
from finance.models import Membership, User
from finance.money import format_amount, parse_amount
from receivables import services, signals
from receivables.models import ZERO, Dispute, Invoice

UPDATABLE_FIELDS = {"status", "owner", "target_date", "description"}


def disputes_visible_to(actor: Actor) -> QuerySet[Dispute]:
    """The disputes on the customers the actor may see; none without "collections.view"."""
    if not actor.can("collections.view"):
        return Dispute.objects.none()
    return Dispute.objects.filter(customer__in=crm_selectors.customers_visible_to(actor))


def active_dispute_invoice_ids() -> set[int]:
    """Ids of the invoices with a dispute open or in review (the dunning engine skips them)."""
    return set(Dispute.objects.filter(status__in=Dispute.ACTIVE).values_list("invoice_id", flat=True))


def invoice_has_active_dispute() -> Exists:
    """For an Invoice queryset: `.filter(~invoice_has_active_dispute())` drops disputed invoices
    in SQL (`.annotate(disputed=invoice_has_active_dispute())` marks them)."""
    return Exists(Dispute.objects.filter(invoice_id=OuterRef("pk"), status__in=Dispute.ACTIVE))


def dispute_payload(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.pk,
        "external_id": dispute.external_id,
        "invoice": dispute.invoice_id,
        "customer": dispute.customer_id,
        "amount": str(dispute.amount) if dispute.amount is not None else None,
        "reason": dispute.reason,
        "status": dispute.status,
        "opened_on": dispute.opened_on.isoformat(),
        "resolved_on": dispute.resolved_on.isoformat() if dispute.resolved_on else None,
        "resolution": dispute.resolution,
        "credit_note": dispute.credit_note_id,
    }


def _check_member(user: User | None, field: str) -> None:
    if user is not None and not Membership.objects.filter(user=user).exists():
        raise ValidationError({field: [_("The owner must be a member of this organization.")]})


def _visible_invoice(actor: Actor, invoice: Invoice) -> Invoice:
    """The invoice, locked, if the actor may see it; the same error for another tenant's."""
    found = (
        Invoice.objects.select_for_update()
        .filter(pk=invoice.pk, customer__in=crm_selectors.customers_visible_to(actor))
        .first()
    )
    if found is None:
        raise ValidationError({"invoice": [_("No such invoice.")]})
    return found


def _locked(actor: Actor, dispute: Dispute) -> Dispute:
    found = disputes_visible_to(actor).select_for_update().filter(pk=dispute.pk).first()
    if found is None:
        raise ValidationError({"dispute": [_("No such dispute.")]})
    return found


def _require_active(dispute: Dispute) -> None:
    if not dispute.is_active:
        raise ValidationError({"status": [_("This dispute is already closed.")]})


def _timeline(actor: Actor, dispute: Dispute, summary: str, outcome: str = "") -> None:
    crm_services.interaction_log(
        actor=actor,
        customer=dispute.customer,
        kind=InteractionKind.NOTE,
        summary=summary[:500],
        outcome=outcome,
    )


@transaction.atomic
def dispute_open(
    *,
    actor: Actor,
    invoice: Invoice,
    reason: str,
    amount: Any = None,
    description: str = "",
    owner: User | None = None,
    target_date: datetime.date | None = None,
    external_id: str | None = None,
) -> Dispute:
    """Open a dispute on a visible, non-void invoice, for the whole of it (`amount` None) or for
    part of what is outstanding. Refused with a ValidationError on `invoice` when another dispute
    on it is in progress. Writes the dispute, an audit event and a timeline note together, and
    queues the `dispute.opened` webhook."""
    actor.require("dispute.open")
    invoice = _visible_invoice(actor, invoice)
    errors: dict[str, list[str]] = {}
    if invoice.voided_on:
        errors["invoice"] = [_("A void invoice cannot be disputed.")]
    elif Dispute.objects.filter(invoice=invoice, status__in=Dispute.ACTIVE).exists():
        errors["invoice"] = [_("This invoice already has a dispute in progress.")]
    value: Decimal | None = None
    if amount is not None:
        try:
            value = parse_amount(amount, invoice.currency, "amount")
        except ValidationError as exc:
            errors.update(exc.message_dict)
        else:
            if value > invoice.outstanding:
                errors["amount"] = [_("Only %(left)s is outstanding.") % {"left": invoice.outstanding}]
    today = actor.organization.local_today()
    if target_date is not None and target_date < today:
        errors["target_date"] = [_("The target date cannot be in the past.")]
    if owner is not None and not Membership.objects.filter(user=owner).exists():
        errors["owner"] = [_("The owner must be a member of this organization.")]
    if errors:
        raise ValidationError(errors)
    dispute = Dispute(
        organization=actor.organization,
        invoice=invoice,
        customer_id=invoice.customer_id,
        external_id=external_id or None,
        amount=value,
        reason=reason,
        description=description.strip(),
        owner=owner,
        target_date=target_date,
        opened_on=today,
        created_by=actor.user,
    )
    dispute.full_clean(
        exclude=["organization", "invoice", "customer", "owner", "credit_note", "created_by"],
        validate_constraints=False,
    )
    try:
        with transaction.atomic():
            dispute.save()
    except IntegrityError:
        # Lost a race with another request: tell which key it was.
        if Dispute.objects.filter(invoice=invoice, status__in=Dispute.ACTIVE).exists():
            raise ValidationError(
                {"invoice": [_("This invoice already has a dispute in progress.")]}
            ) from None
        raise ValidationError(
            {"external_id": [_("This value is already used in this organization.")]}
        ) from None
    audit.record(
        actor=actor,
        action="dispute.opened",
        instance=dispute,
        changes={
            "invoice": [None, invoice.pk],
            "reason": [None, reason],
            "amount": [None, str(value) if value is not None else None],
        },
        customer_id=invoice.customer_id,
    )
    disputed = format_amount(value if value is not None else invoice.total, invoice.currency)
    _timeline(
        actor,
        dispute,
        _("Dispute opened on invoice %(number)s (%(amount)s): %(reason)s")
        % {"number": invoice.number, "amount": disputed, "reason": dispute.get_reason_display()},
        outcome=dispute.description,
    )
    webhooks.emit(
        event="dispute.opened", event_id=f"dispute.opened:{dispute.pk}", payload=dispute_payload(dispute)
    )
    return dispute


@transaction.atomic
def dispute_update(*, actor: Actor, dispute: Dispute, **fields: Any) -> Dispute:
    """Change a dispute in progress: `status` to "in_review" (or back to "open"), `owner`,
    `target_date`, `description`. Resolving and rejecting have their own services. Changing the
    status or the owner is collector work ("dispute.resolve"); whoever may open a dispute may
    correct its description and target date."""
    actor.require("dispute.open")
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This cannot be changed here.")] for name in unknown})
    dispute = _locked(actor, dispute)
    _require_active(dispute)
    if ("status" in fields or "owner" in fields) and not actor.can("dispute.resolve"):
        raise PermissionDenied(_("You do not have permission to do that."))
    if "status" in fields and fields["status"] not in Dispute.ACTIVE:
        raise ValidationError({"status": [_("Resolve or reject a dispute through its own action.")]})
    if "owner" in fields:
        _check_member(fields["owner"], "owner")
    if fields.get("target_date") is not None and fields["target_date"] < dispute.opened_on:
        raise ValidationError(
            {"target_date": [_("The target date cannot be before the dispute was opened.")]}
        )
    if "description" in fields:
        fields["description"] = (fields["description"] or "").strip()
    before = audit.snapshot(dispute, list(fields))
    for name, value in fields.items():
        setattr(dispute, name, value)
    dispute.full_clean(
        exclude=["organization", "invoice", "customer", "owner", "credit_note", "created_by"],
        validate_constraints=False,
    )
    changes = audit.diff(before, audit.snapshot(dispute, list(fields)))
    if changes:
        dispute.save()
        audit.record(
            actor=actor,
            action="dispute.updated",
            instance=dispute,
            changes=changes,
            customer_id=dispute.customer_id,
        )
    return dispute


@transaction.atomic
def dispute_resolve(
    *,
    actor: Actor,
    dispute: Dispute,
    credit_amount: Any,
    credit_note_number: str | None = None,
    resolution: str = "",
    issue_date: datetime.date | None = None,
) -> Dispute:
    """Resolve a dispute in progress with a credit note of `credit_amount` (at most the disputed
    amount, or the invoice total for a whole-invoice dispute), created through
    `services.credit_note_create` and allocated to the disputed invoice for as much of it as is
    still outstanding (any rest stays unallocated credit). All of it, or nothing, is written;
    queues the `dispute.resolved` webhook."""
    actor.require("dispute.resolve")
    # Lock the invoice before the dispute, in the order dispute_open takes them.
    invoice = Invoice.objects.select_for_update().filter(pk=dispute.invoice_id).first()
    dispute = _locked(actor, dispute)
    assert invoice is not None  # the dispute is visible, so is its invoice
    _require_active(dispute)
    credit = parse_amount(credit_amount, invoice.currency, "credit_amount")
    ceiling = dispute.amount if dispute.amount is not None else invoice.total
    errors: dict[str, list[str]] = {}
    if credit > ceiling:
        errors["credit_amount"] = [_("At most %(ceiling)s is disputed.") % {"ceiling": ceiling}]
    on = issue_date or actor.organization.local_today()
    if on < invoice.issue_date:
        errors["issue_date"] = [_("The credit note cannot be dated before the invoice.")]
    if errors:
        raise ValidationError(errors)
    applied = min(credit, invoice.outstanding)
    previous = dispute.status
    try:
        note = services.credit_note_create(
            actor=actor,
            customer=invoice.customer,
            number=credit_note_number or f"CN-{invoice.number}-D{dispute.pk}",
            currency=invoice.currency,
            issue_date=on,
            total=credit,
            description=(_("Dispute on invoice %(number)s") % {"number": invoice.number})[:500],
            allocations=[{"invoice": invoice, "amount": applied}] if applied > ZERO else [],
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "number" in exc.error_dict:
            raise ValidationError({"credit_note_number": exc.message_dict["number"]}) from None
        raise
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolved_on = on
    dispute.resolution = resolution.strip()
    dispute.credit_note = note
    dispute.save(update_fields=["status", "resolved_on", "resolution", "credit_note"])
    audit.record(
        actor=actor,
        action="dispute.resolved",
        instance=dispute,
        changes={"status": [previous, "resolved"], "credit_note": [None, note.pk]},
        customer_id=dispute.customer_id,
    )
    _timeline(
        actor,
        dispute,
        _("Dispute on invoice %(number)s resolved with credit note %(note)s (%(amount)s)")
        % {"number": invoice.number, "note": note.number, "amount": format_amount(credit, invoice.currency)},
        outcome=dispute.resolution,
    )
    webhooks.emit(
        event="dispute.resolved", event_id=f"dispute.resolved:{dispute.pk}", payload=dispute_payload(dispute)
    )
    signals.emit_after_commit(signals.dispute_resolved, dispute=dispute)
    return dispute


@transaction.atomic
def dispute_reject(*, actor: Actor, dispute: Dispute, resolution: str) -> Dispute:
    """Reject a dispute in progress, saying why; the invoice is collected as before. Queues the
    `dispute.resolved` webhook with status "rejected"."""
    actor.require("dispute.resolve")
    if not (resolution or "").strip():
        raise ValidationError({"resolution": [_("Say why the dispute is rejected.")]})
    dispute = _locked(actor, dispute)
    _require_active(dispute)
    previous = dispute.status
    dispute.status = Dispute.Status.REJECTED
    dispute.resolved_on = actor.organization.local_today()
    dispute.resolution = resolution.strip()
    dispute.full_clean(
        exclude=["organization", "invoice", "customer", "owner", "credit_note", "created_by"],
        validate_constraints=False,
    )
    dispute.save(update_fields=["status", "resolved_on", "resolution"])
    audit.record(
        actor=actor,
        action="dispute.rejected",
        instance=dispute,
        changes={"status": [previous, "rejected"], "resolution": [None, dispute.resolution]},
        customer_id=dispute.customer_id,
    )
    _timeline(
        actor,
        dispute,
        _("Dispute on invoice %(number)s rejected") % {"number": dispute.invoice.number},
        outcome=dispute.resolution,
    )
    webhooks.emit(
        event="dispute.resolved", event_id=f"dispute.resolved:{dispute.pk}", payload=dispute_payload(dispute)
    )
    signals.emit_after_commit(signals.dispute_resolved, dispute=dispute)
    return dispute
