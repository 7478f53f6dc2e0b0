"""Promises to pay: recording one, cancelling it, and the daily check that marks each kept or broken.

A promise covers some of a customer's open invoices in one currency. What counts as paid towards
it is every allocation on those invoices dated from the day it was recorded up to the check's date,
so a rerun for the same day, or a day replayed later, reaches the same verdict. A promise is
resolved once (kept, broken or cancelled) and never reopened: the daily check is idempotent.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import Customer, InteractionKind
from finance import audit, webhooks
from finance.actors import Actor
from finance.models import Membership, User
from finance.money import format_amount, parse_amount, quantize, validate_currency
from receivables import signals
from receivables.models import (
    ZERO,
    CollectionProfile,
    Invoice,
    PromiseInvoice,
    PromiseToPay,
)
from receivables.selectors import open_invoices

DEFAULT_GRACE_DAYS = 2
# A dunning policy allows at most 60 grace days; `invoices_under_promise` relies on this bound.
MAX_GRACE_DAYS = 60
MAX_DAYS_AHEAD = 365


def promise_grace_days(customer: Customer) -> int:
    """The grace days after a promised date, from the customer's dunning policy (picked the way the
    dunning run picks it: by hand, else by rule, else the default), else 2."""
    from receivables.dunning import active_policies, policy_for

    profile = CollectionProfile.objects.filter(customer=customer).first()
    policy = policy_for(customer, active_policies(), profile.policy_id if profile else None)
    grace = policy.promise_grace_days if policy is not None else DEFAULT_GRACE_DAYS
    return min(grace, MAX_GRACE_DAYS)


def _check_visible(actor: Actor, customer: Customer, field: str = "customer") -> None:
    if not crm_selectors.customers_visible_to(actor).filter(pk=customer.pk).exists():
        raise ValidationError({field: [_("No such customer.")]})


def _covered_invoices(customer: Customer, currency: str, invoices: list[Invoice] | None) -> list[Invoice]:
    """The invoices a new promise covers, locked; raises ValidationError({"invoices": ...})."""
    if invoices:
        wanted = sorted({invoice.pk for invoice in invoices})
        found = {i.pk: i for i in Invoice.objects.select_for_update().filter(pk__in=wanted).order_by("pk")}
        problems = []
        for pk in wanted:
            invoice = found.get(pk)
            if invoice is None or invoice.customer_id != customer.pk:
                problems.append(_("Invoice %(id)s does not belong to this customer.") % {"id": pk})
            elif invoice.outstanding <= 0:
                problems.append(_("Invoice %(number)s is not open.") % {"number": invoice.number})
            elif invoice.currency != currency:
                problems.append(
                    _("Invoice %(number)s is in %(currency)s.")
                    % {"number": invoice.number, "currency": invoice.currency}
                )
        if problems:
            raise ValidationError({"invoices": problems})
        return [found[pk] for pk in wanted]
    covered = list(
        open_invoices().select_for_update().filter(customer=customer, currency=currency).order_by("pk")
    )
    if not covered:
        raise ValidationError(
            {"invoices": [_("This customer has no open invoice in %(currency)s.") % {"currency": currency}]}
        )
    return covered


@transaction.atomic
def promise_record(
    *,
    actor: Actor,
    customer: Customer,
    amount: Any,
    currency: str,
    promised_date: datetime.date,
    invoices: list[Invoice] | None = None,
    note: str = "",
    external_id: str | None = None,
    source: str = "browser",
) -> PromiseToPay:
    """Record a customer's promise to pay `amount` by `promised_date`.

    Guarantees: the amount is positive and rounded to the currency; the date is between the
    organization's today and a year ahead; the promise covers only the customer's open invoices
    in that currency (all of them when none are named). The promise, its invoices, the audit
    event and the timeline note are written together or not at all; every refusal is a
    ValidationError naming the field.
    """
    actor.require("promise.record")
    _check_visible(actor, customer)
    errors: dict[str, list[str]] = {}
    try:
        validate_currency(currency)
    except ValidationError as exc:
        raise ValidationError({"currency": exc.messages}) from None
    try:
        value = parse_amount(amount, currency, "amount")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    today = actor.organization.local_today()
    if promised_date < today:
        errors["promised_date"] = [_("The promised date cannot be in the past.")]
    elif promised_date > today + datetime.timedelta(days=MAX_DAYS_AHEAD):
        errors["promised_date"] = [_("The promised date must be within a year.")]
    if len(note) > 500:
        errors["note"] = [_("Keep the note under 500 characters.")]
    if errors:
        raise ValidationError(errors)
    covered = _covered_invoices(customer, currency, invoices)
    promise = PromiseToPay(
        organization=actor.organization,
        customer=customer,
        external_id=external_id or None,
        currency=currency,
        amount=value,
        promised_date=promised_date,
        recorded_on=today,
        grace_days=promise_grace_days(customer),
        note=note.strip(),
        source=source,
        created_by=actor.user,
    )
    promise.full_clean(exclude=["organization", "customer", "created_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            promise.save()
    except IntegrityError:
        raise ValidationError(
            {"external_id": [_("This value is already used in this organization.")]}
        ) from None
    PromiseInvoice.objects.bulk_create(
        PromiseInvoice(organization=actor.organization, promise=promise, invoice=invoice)
        for invoice in covered
    )
    audit.record(
        actor=actor,
        action="promise.recorded",
        instance=promise,
        changes={
            "amount": [None, str(promise.amount)],
            "currency": [None, currency],
            "promised_date": [None, str(promised_date)],
            "invoices": [None, [invoice.pk for invoice in covered]],
        },
        customer_id=customer.pk,
    )
    crm_services.interaction_log(
        actor=actor,
        customer=customer,
        kind=InteractionKind.NOTE,
        summary=_("Promise to pay %(amount)s by %(date)s")
        % {"amount": format_amount(promise.amount, currency), "date": promised_date.isoformat()},
        outcome=promise.note,
    )
    return promise


@transaction.atomic
def promise_cancel(*, actor: Actor, promise: PromiseToPay, reason: str = "") -> PromiseToPay:
    """Cancel an open promise (the customer withdrew it, or it was recorded by mistake). A promise
    already kept, broken or cancelled stays as it is: ValidationError."""
    actor.require("promise.record")
    locked = PromiseToPay.objects.select_for_update().filter(pk=promise.pk).first()
    if locked is None or not promises_visible_to(actor).filter(pk=promise.pk).exists():
        raise ValidationError({"promise": [_("No such promise.")]})
    if locked.status != PromiseToPay.Status.OPEN:
        raise ValidationError({"status": [_("Only an open promise can be cancelled.")]})
    locked.status = PromiseToPay.Status.CANCELLED
    locked.resolved_on = actor.organization.local_today()
    locked.save(update_fields=["status", "resolved_on"])
    changes: dict[str, Any] = {"status": ["open", "cancelled"]}
    if reason.strip():
        changes["reason"] = [None, reason.strip()]
    audit.record(
        actor=actor,
        action="promise.cancelled",
        instance=locked,
        changes=changes,
        customer_id=locked.customer_id,
    )
    return locked


def _paid_since_recorded(promise_ids: list[int], run_date: datetime.date) -> dict[int, Decimal]:
    """What was allocated to each promise's invoices from its recording day to `run_date`, in one
    query. (Each covered invoice appears once per promise, so no allocation is counted twice.)"""
    dated = Q(covered__invoice__allocations__allocated_on__gte=F("recorded_on")) & Q(
        covered__invoice__allocations__allocated_on__lte=run_date
    )
    rows = (
        PromiseToPay.objects.filter(pk__in=promise_ids)
        .annotate(
            paid=Coalesce(
                Sum("covered__invoice__allocations__amount", filter=dated),
                Value(ZERO),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            )
        )
        .values_list("pk", "currency", "paid")
    )
    return {pk: quantize(Decimal(str(paid)), currency) for pk, currency, paid in rows}


def _collector_or_owner(customer: Customer) -> User | None:
    """Who hears of a broken promise: the customer's collector, else its owner, if still a member."""
    profile = CollectionProfile.objects.filter(customer=customer).select_related("collector").first()
    candidates = [profile.collector if profile else None, customer.owner]
    members = set(
        Membership.objects.filter(user_id__in=[c.pk for c in candidates if c is not None]).values_list(
            "user_id", flat=True
        )
    )
    return next((c for c in candidates if c is not None and c.pk in members), None)


def promise_payload(promise: PromiseToPay) -> dict[str, Any]:
    return {
        "id": promise.pk,
        "external_id": promise.external_id,
        "customer": promise.customer_id,
        "currency": promise.currency,
        "amount": str(promise.amount),
        "paid_amount": str(promise.paid_amount),
        "promised_date": promise.promised_date.isoformat(),
        "grace_days": promise.grace_days,
        "recorded_on": promise.recorded_on.isoformat(),
        "status": promise.status,
        "resolved_on": promise.resolved_on.isoformat() if promise.resolved_on else None,
        "invoices": sorted(
            PromiseInvoice.objects.filter(promise=promise).values_list("invoice_id", flat=True)
        ),
    }


def _break(actor: Actor, promise: PromiseToPay, run_date: datetime.date) -> None:
    promise.status = PromiseToPay.Status.BROKEN
    promise.resolved_on = run_date
    promise.save(update_fields=["status", "resolved_on", "paid_amount"])
    audit.record(
        actor=actor,
        action="promise.broken",
        instance=promise,
        changes={"status": ["open", "broken"], "paid_amount": [None, str(promise.paid_amount)]},
        customer_id=promise.customer_id,
    )
    customer = Customer.objects.select_related("owner").get(pk=promise.customer_id)
    crm_services.follow_up_create(
        actor=actor,
        customer=customer,
        title=_("Broken promise to pay: %(amount)s by %(date)s (%(paid)s paid)")
        % {
            "amount": format_amount(promise.amount, promise.currency),
            "date": promise.promised_date.isoformat(),
            "paid": format_amount(promise.paid_amount, promise.currency),
        },
        due_date=run_date,
        assignee=_collector_or_owner(customer),
    )
    webhooks.emit(
        event="promise.broken", event_id=f"promise.broken:{promise.pk}", payload=promise_payload(promise)
    )
    signals.emit_after_commit(signals.promise_broken, promise=promise)


def promises_check(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily job: each open promise recorded by `run_date` gets its `paid_amount` (allocations
    on its invoices dated from its recording day to `run_date`); paid in full → kept; past the
    promised date plus its grace days and not paid in full → broken, which records an audit event,
    gives the collector (else the customer's owner) a follow-up due that day, queues the
    `promise.broken` webhook and sends `signals.promise_broken` after commit.

    Each promise is settled in its own transaction under a row lock, and only open promises are
    looked at, so a second run (or a run racing a cancellation) changes nothing more.
    """
    candidates = list(
        PromiseToPay.objects.filter(status=PromiseToPay.Status.OPEN, recorded_on__lte=run_date).values_list(
            "pk", flat=True
        )
    )
    paid_by_promise = _paid_since_recorded(candidates, run_date)
    kept = broken = 0
    for pk in candidates:
        with transaction.atomic():
            promise = (
                PromiseToPay.objects.select_for_update()
                .filter(pk=pk, status=PromiseToPay.Status.OPEN)
                .first()
            )
            if promise is None:
                continue
            paid = paid_by_promise.get(pk, ZERO)
            overdue = run_date > promise.promised_date + datetime.timedelta(days=promise.grace_days)
            if overdue and paid < promise.amount:
                # Read again under the lock: a payment may have arrived since the batch read.
                paid = _paid_since_recorded([pk], run_date).get(pk, ZERO)
            promise.paid_amount = paid
            if paid >= promise.amount:
                promise.status, promise.resolved_on = PromiseToPay.Status.KEPT, run_date
                promise.save(update_fields=["status", "resolved_on", "paid_amount"])
                audit.record(
                    actor=actor,
                    action="promise.kept",
                    instance=promise,
                    changes={"status": ["open", "kept"], "paid_amount": [None, str(paid)]},
                    customer_id=promise.customer_id,
                )
                kept += 1
            elif overdue:
                _break(actor, promise, run_date)
                broken += 1
            else:
                PromiseToPay.objects.filter(pk=pk).update(paid_amount=paid)
    return {"checked": len(candidates), "kept": kept, "broken": broken}


def kept_promise_rate(*, customer: Customer) -> dict[str, Any]:
    """How reliably a customer keeps promises: {"kept", "broken", "rate"}, where rate is kept over
    kept plus broken (4 decimal places), None when no promise has been resolved either way.
    Open and cancelled promises do not count."""
    counts = PromiseToPay.objects.filter(customer=customer).aggregate(
        kept=Count("pk", filter=Q(status=PromiseToPay.Status.KEPT)),
        broken=Count("pk", filter=Q(status=PromiseToPay.Status.BROKEN)),
    )
    resolved = counts["kept"] + counts["broken"]
    rate = (Decimal(counts["kept"]) / resolved).quantize(Decimal("0.0001")) if resolved else None
    return {"kept": counts["kept"], "broken": counts["broken"], "rate": rate}


def promises_visible_to(actor: Actor) -> QuerySet[PromiseToPay]:
    """The promises of the customers the actor may see; none without "collections.view"."""
    if not actor.can("collections.view"):
        return PromiseToPay.objects.none()
    return PromiseToPay.objects.filter(customer__in=crm_selectors.customers_visible_to(actor))


def invoices_under_promise(run_date: datetime.date) -> set[int]:
    """Ids of the invoices covered by an open promise still within its promised date plus grace
    days on `run_date` (promised_date + grace_days >= run_date): dunning leaves them alone.

    Portable: SQL narrows to open promises dated at most MAX_GRACE_DAYS before `run_date`, and the
    exact per-promise grace is applied in Python over those few rows."""
    earliest = run_date - datetime.timedelta(days=MAX_GRACE_DAYS)
    rows = PromiseInvoice.objects.filter(
        promise__status=PromiseToPay.Status.OPEN, promise__promised_date__gte=earliest
    ).values_list("invoice_id", "promise__promised_date", "promise__grace_days")
    return {
        invoice_id
        for invoice_id, promised_date, grace_days in rows
        if promised_date + datetime.timedelta(days=grace_days) >= run_date
    }
