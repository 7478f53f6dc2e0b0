"""Credit-limit changes, maker-checker: a request (maker) decided by another person (checker).

- Whoever requested a change cannot approve it; an API key may request but never approve.
- A finance manager approves new limits up to the policy's `manager_approval_max`; owners and
  admins any amount.
- A decrease requested by someone who may approve takes effect at once: tightening needs no
  second pair of eyes.
- One pending request per customer (a database constraint); deciding locks the request, so two
  checkers deciding at once cannot both succeed.
- Temporary limits expire through the daily job `credit_limits_expire`.
Every decision is audited; a changed limit emits `credit.limit_changed`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from credit import holds, selectors
from credit.models import CreditPolicy, CreditProfile, LimitRequest
from credit.scoring import profile_ensure
from crm.models import Customer
from finance import audit, webhooks
from finance.actors import Actor
from finance.models import Role
from receivables.models import PaymentTerms
from receivables.services import customer_terms_set

MAX_LIMIT = Decimal("1000000000000")
MAX_TEMPORARY_DAYS = 366


def limit_request_payload(request: LimitRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "customer": request.customer_id,
        "requested_limit": str(request.requested_limit),
        "temporary": request.temporary,
        "expires_on": request.expires_on,
        "status": request.status,
    }


def _check_customer(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise ValidationError({"customer": [_("No customer with this id.")]})


@transaction.atomic
def limit_request_create(
    *,
    actor: Actor,
    customer: Customer,
    requested_limit: Decimal,
    reason: str,
    temporary: bool = False,
    expires_on: datetime.date | None = None,
    payment_terms: PaymentTerms | None = None,
) -> LimitRequest:
    """Ask for a new limit (or a temporary one until `expires_on`), optionally with new payment
    terms. Raises ValidationError with field errors; writes nothing then."""
    actor.require("credit.request")
    _check_customer(actor, customer)
    today = actor.organization.local_today()
    profile = CreditProfile.objects.select_for_update().filter(pk=profile_ensure(customer).pk).get()
    errors: dict[str, list[str]] = {}
    if requested_limit < 0 or requested_limit > MAX_LIMIT:
        errors["requested_limit"] = [_("Give a limit from 0 to %(max)s.") % {"max": f"{MAX_LIMIT:,.0f}"}]
    if not reason.strip():
        errors["reason"] = [_("Say why the limit should change.")]
    if temporary:
        if expires_on is None:
            errors["expires_on"] = [_("A temporary limit needs an end date.")]
        elif not today < expires_on <= today + datetime.timedelta(days=MAX_TEMPORARY_DAYS):
            errors["expires_on"] = [_("Give a date after today and within a year.")]
        if "requested_limit" not in errors and requested_limit <= (profile.credit_limit or 0):
            errors.setdefault("requested_limit", []).append(
                _("A temporary limit must be above the permanent one.")
            )
    elif expires_on is not None:
        errors["expires_on"] = [_("Only a temporary limit has an end date.")]
    elif (
        "requested_limit" not in errors and requested_limit == profile.credit_limit and payment_terms is None
    ):
        errors["requested_limit"] = [_("This is already the customer's limit.")]
    if errors:
        raise ValidationError(errors)
    request = LimitRequest(
        customer=customer,
        current_limit=profile.credit_limit,
        requested_limit=requested_limit,
        temporary=temporary,
        expires_on=expires_on if temporary else None,
        suggested_limit=profile.suggested_limit,
        payment_terms=payment_terms,
        reason=reason.strip(),
        requested_by=actor.user,
        requested_by_key=actor.api_key,
    )
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:
        raise ValidationError(
            {"customer": [_("A limit request for this customer is already pending.")]}
        ) from None
    audit.record(
        actor=actor,
        action="credit.limit_requested",
        instance=request,
        changes={
            "credit_limit": [_text(profile.credit_limit), str(requested_limit)],
            "reason": [None, request.reason],
        },
        customer_id=customer.pk,
    )
    is_decrease = (
        not temporary and profile.credit_limit is not None and requested_limit < profile.credit_limit
    )
    if is_decrease and actor.user is not None and actor.can("credit.approve"):
        return _decide(
            actor, request, approve=True, note=_("A decrease takes effect without a second approval.")
        )
    return request


def _text(value: Decimal | datetime.date | None) -> str | None:
    return None if value is None else str(value)


def may_approve(actor: Actor, request: LimitRequest, *, policy: CreditPolicy | None = None) -> str | None:
    """Why `actor` may not approve `request` (a sentence), or None when they may. A list page
    passes the `policy` it read once, so asking for every row costs no query."""
    if actor.user is None or not actor.can("credit.approve"):
        return _("Only a finance manager, an admin or the owner may approve credit limits.")
    if request.requested_by_id is not None and request.requested_by_id == actor.user_id:
        return _("You requested this change: someone else must approve it.")
    if actor.role == Role.FINANCE_MANAGER:
        ceiling = (policy or selectors.credit_policy()).manager_approval_max
        if ceiling is not None and request.requested_limit > ceiling:
            return _("Limits above %(max)s need an admin or the owner.") % {"max": f"{ceiling:,.2f}"}
    return None


def _locked_pending(request: LimitRequest) -> LimitRequest:
    request = LimitRequest.objects.select_for_update().select_related("customer").get(pk=request.pk)
    if request.status != LimitRequest.Status.PENDING:
        decided = {
            LimitRequest.Status.APPROVED: _("This request is already approved."),
            LimitRequest.Status.REJECTED: _("This request is already rejected."),
            LimitRequest.Status.CANCELLED: _("This request is already cancelled."),
        }
        raise ValidationError(
            {"status": [decided.get(request.status, _("This request is no longer pending."))]}
        )
    return request


@transaction.atomic
def limit_request_approve(*, actor: Actor, request: LimitRequest, note: str = "") -> LimitRequest:
    """Approve a pending request and apply it. Raises PermissionDenied for the requester, API keys
    and approvers below the amount; ValidationError when it is no longer pending."""
    request = _locked_pending(request)
    refusal = may_approve(actor, request)
    if refusal:
        raise PermissionDenied(refusal)
    return _decide(actor, request, approve=True, note=note)


@transaction.atomic
def limit_request_reject(*, actor: Actor, request: LimitRequest, note: str) -> LimitRequest:
    """Reject a pending request with a reason (the requester may withdraw it with `cancel`)."""
    if actor.user is None or not actor.can("credit.approve"):
        raise PermissionDenied(_("Only a finance manager, an admin or the owner may reject credit limits."))
    if not note.strip():
        raise ValidationError({"note": [_("Say why the request is rejected.")]})
    request = _locked_pending(request)
    return _decide(actor, request, approve=False, note=note)


@transaction.atomic
def limit_request_cancel(*, actor: Actor, request: LimitRequest) -> LimitRequest:
    """The requester (or an approver) withdraws a pending request."""
    request = _locked_pending(request)
    mine = (request.requested_by_id is not None and request.requested_by_id == actor.user_id) or (
        request.requested_by_key_id is not None
        and actor.api_key is not None
        and request.requested_by_key_id == actor.api_key.pk
    )
    if not mine and not (actor.user is not None and actor.can("credit.approve")):
        raise PermissionDenied(_("Only the requester or an approver may cancel this request."))
    request.status = LimitRequest.Status.CANCELLED
    request.decided_by = actor.user
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        actor=actor,
        action="credit.limit_request_cancelled",
        instance=request,
        customer_id=request.customer_id,
    )
    return request


def _decide(actor: Actor, request: LimitRequest, *, approve: bool, note: str) -> LimitRequest:
    request.status = LimitRequest.Status.APPROVED if approve else LimitRequest.Status.REJECTED
    request.decided_by = actor.user
    request.decided_at = timezone.now()
    request.decision_note = note.strip()
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit.record(
        actor=actor,
        action="credit.limit_approved" if approve else "credit.limit_rejected",
        instance=request,
        changes={
            "status": [LimitRequest.Status.PENDING, request.status],
            "note": [None, request.decision_note],
        },
        customer_id=request.customer_id,
    )
    if approve:
        _apply(actor, request)
    return request


def _apply(actor: Actor, request: LimitRequest) -> None:
    customer = request.customer
    profile = CreditProfile.objects.select_for_update().get(customer=customer)
    before = {
        "credit_limit": _text(profile.credit_limit),
        "temporary_limit": _text(profile.temporary_limit),
        "temporary_limit_expires_on": _text(profile.temporary_limit_expires_on),
    }
    if request.temporary:
        profile.temporary_limit = request.requested_limit
        profile.temporary_limit_expires_on = request.expires_on
    else:
        profile.credit_limit = request.requested_limit
    profile.save(
        update_fields=["credit_limit", "temporary_limit", "temporary_limit_expires_on", "updated_at"]
    )
    if request.payment_terms_id:
        customer_terms_set(actor=actor, customer=customer, terms=request.payment_terms)
    _limit_changed(actor, profile, before, request)


def _limit_changed(
    actor: Actor, profile: CreditProfile, before: dict[str, Any], request: LimitRequest | None
) -> None:
    after = {
        "credit_limit": _text(profile.credit_limit),
        "temporary_limit": _text(profile.temporary_limit),
        "temporary_limit_expires_on": _text(profile.temporary_limit_expires_on),
    }
    changes = audit.diff(before, after)
    if not changes:
        return
    audit.record(
        actor=actor,
        action="credit.limit_changed",
        instance=profile,
        changes=changes,
        customer_id=profile.customer_id,
    )
    today = actor.organization.local_today()
    limit = profile.effective_limit(today)
    cause = request.pk if request else "expiry"
    webhooks.emit(
        event="credit.limit_changed",
        event_id=f"credit.limit_changed:{profile.pk}:{cause}:{timezone.now():%s.%f}",
        payload={
            "customer": profile.customer_id,
            "customer_external_id": profile.customer.external_id,
            "credit_limit": after["credit_limit"],
            "temporary_limit": after["temporary_limit"],
            "temporary_limit_expires_on": after["temporary_limit_expires_on"],
            "effective_limit": _text(limit),
            "currency": actor.organization.base_currency,
            "request": request.pk if request else None,
        },
    )
    holds.holds_refresh(actor=actor, customers=[profile.customer], today=today)


def credit_limits_expire(*, actor: Actor, run_date: datetime.date) -> dict[str, int]:
    """The daily job: clear temporary limits whose last day has passed (idempotent: a cleared one
    is not found again), audit each, emit `credit.limit_changed` and refresh holds."""
    expired = 0
    for profile in CreditProfile.objects.filter(temporary_limit_expires_on__lt=run_date).select_related(
        "customer"
    ):
        with transaction.atomic():
            profile = CreditProfile.objects.select_for_update().select_related("customer").get(pk=profile.pk)
            if profile.temporary_limit_expires_on is None or profile.temporary_limit_expires_on >= run_date:
                continue
            before = {
                "credit_limit": _text(profile.credit_limit),
                "temporary_limit": _text(profile.temporary_limit),
                "temporary_limit_expires_on": _text(profile.temporary_limit_expires_on),
            }
            profile.temporary_limit = None
            profile.temporary_limit_expires_on = None
            profile.save(update_fields=["temporary_limit", "temporary_limit_expires_on", "updated_at"])
            _limit_changed(actor, profile, before, None)
            expired += 1
    return {"expired": expired}
