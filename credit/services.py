"""Credit writes other than scoring, holds and limits: the profile's own fields, financial
statements, the ERP's open orders, the credit policy, and periodic reviews. Each is atomic,
validates before it writes and records its audit event."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from credit import holds, limits, scorecard, selectors
from credit.models import CreditPolicy, CreditProfile, CreditReview, FinancialStatement, OpenOrder
from credit.scoring import add_months, customer_refresh, profile_ensure
from crm.models import Customer
from crm.services import FollowUpEntry, follow_up_update, follow_ups_create_many
from finance import audit, tenancy
from finance.actors import Actor
from finance.models import Membership, Role, User
from finance.money import parse_amount

PROFILE_FIELDS = ("notes", "external_rating", "external_rating_source", "external_rating_date", "blocked")
POLICY_FIELDS = (
    "scorecard",
    "class_floors",
    "review_months",
    "max_days_past_due",
    "review_utilisation",
    "manager_approval_max",
    "net_worth_cap",
    "working_capital_cap",
    "limit_rounding",
    "override_days",
)


def _clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=["organization", *exclude], validate_constraints=False)


def _visible(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise ValidationError({"customer": [_("No customer with this id.")]})


# Profile -------------------------------------------------------------------------------------


@transaction.atomic
def profile_update(*, actor: Actor, customer: Customer, **fields: Any) -> CreditProfile:
    """Change a profile's notes, external rating or block. The limit is not among them: it changes
    only through an approved limit request. A new rating rescores the customer."""
    actor.require("credit.manage")
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    profile = CreditProfile.objects.select_for_update().get(pk=profile_ensure(customer).pk)
    before = audit.snapshot(profile, list(fields))
    for name, value in fields.items():
        setattr(profile, name, value)
    _clean(profile, ["customer", "factors", "suggested_reasons"])
    changes = audit.diff(before, audit.snapshot(profile, list(fields)))
    if not changes:
        return profile
    profile.save()
    audit.record(
        actor=actor,
        action="credit.profile_changed",
        instance=profile,
        changes=changes,
        customer_id=customer.pk,
    )
    return customer_refresh(actor=actor, customer=customer)


# Financial statements ------------------------------------------------------------------------


def _statement_errors(statement: FinancialStatement) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if statement.total_assets is not None and statement.total_assets <= 0:
        errors["total_assets"] = [_("Total assets must be above zero.")]
    if (
        statement.current_assets is not None
        and statement.total_assets is not None
        and statement.current_assets > statement.total_assets
    ):
        errors["current_assets"] = [_("Current assets cannot exceed total assets.")]
    if statement.inventory is not None and statement.current_assets is not None:
        if statement.inventory < 0:
            errors["inventory"] = [_("Inventory cannot be negative.")]
        elif statement.inventory > statement.current_assets:
            errors["inventory"] = [_("Inventory is part of current assets: it cannot exceed them.")]
    for name in (
        "cash",
        "current_assets",
        "current_liabilities",
        "total_liabilities",
        "interest_expense",
        "revenue",
    ):
        value = getattr(statement, name)
        if value is not None and value < 0:
            errors.setdefault(name, []).append(_("This figure cannot be negative."))
    if (
        statement.current_liabilities is not None
        and statement.total_liabilities is not None
        and statement.current_liabilities > statement.total_liabilities
    ):
        errors["current_liabilities"] = [_("Current liabilities cannot exceed total liabilities.")]
    if statement.fiscal_year is not None and not 1900 <= statement.fiscal_year <= 2200:
        errors["fiscal_year"] = [_("Give a year from 1900 to 2200.")]
    return errors


def _save_statement(
    actor: Actor, statement: FinancialStatement, action: str, before: dict[str, Any]
) -> FinancialStatement:
    errors = _statement_errors(statement)
    try:
        _clean(statement, ["customer", "created_by"])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            statement.save()
    except IntegrityError:
        raise ValidationError(
            {"fiscal_year": [_("This customer already has a statement for this year.")]}
        ) from None
    audit.record(
        actor=actor,
        action=action,
        instance=statement,
        changes=audit.diff(before, audit.snapshot(statement)),
        customer_id=statement.customer_id,
    )
    transaction.on_commit(lambda: _rescore_after_commit(actor, statement.customer_id))
    return statement


def _rescore_after_commit(actor: Actor, customer_id: int) -> None:
    # After commit the caller may have left its tenant context (seed_demo, a management command).
    with tenancy.tenant(actor.organization):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is not None:
            customer_refresh(actor=actor, customer=customer)


@transaction.atomic
def statement_create(*, actor: Actor, customer: Customer, **figures: Any) -> FinancialStatement:
    """Record a customer's statement for one fiscal year (one per year); rescores it after commit."""
    actor.require("credit.statement")
    _visible(actor, customer)
    statement = FinancialStatement(customer=customer, created_by=actor.user, **figures)
    return _save_statement(actor, statement, "credit.statement_created", {})


@transaction.atomic
def statement_update(*, actor: Actor, statement: FinancialStatement, **figures: Any) -> FinancialStatement:
    actor.require("credit.statement")
    statement = FinancialStatement.objects.select_for_update().get(pk=statement.pk)
    figures.pop("customer", None)
    before = audit.snapshot(statement)
    for name, value in figures.items():
        setattr(statement, name, value)
    return _save_statement(actor, statement, "credit.statement_changed", before)


@transaction.atomic
def statement_delete(*, actor: Actor, statement: FinancialStatement) -> None:
    actor.require("credit.statement")
    customer_id = statement.customer_id
    audit.record(
        actor=actor,
        action="credit.statement_deleted",
        instance=statement,
        changes={"fiscal_year": [statement.fiscal_year, None]},
        customer_id=customer_id,
    )
    statement.delete()
    transaction.on_commit(lambda: _rescore_after_commit(actor, customer_id))


# Orders from the ERP -------------------------------------------------------------------------


@transaction.atomic
def order_upsert(
    *, actor: Actor, external_id: str, customer: Customer, amount: Decimal, currency: str, status: str
) -> tuple[OpenOrder, bool]:
    """Create or update the order `external_id` (closing it takes it out of exposure). Returns
    (order, created). An order cannot move to another customer. Refreshes the customer's holds."""
    actor.require("credit.order")
    _visible(actor, customer)
    amount = parse_amount(amount, currency, "amount")
    if amount < 0:
        raise ValidationError({"amount": [_("An order amount cannot be negative.")]})
    if status not in OpenOrder.Status.values:
        raise ValidationError({"status": [_("Use open or closed.")]})
    order = OpenOrder.objects.select_for_update().filter(external_id=external_id).first()
    created = order is None
    if order is None:
        order = OpenOrder(external_id=external_id, customer=customer)
        before: dict[str, Any] = {}
    else:
        if order.customer_id != customer.pk:
            raise ValidationError({"customer": [_("This order belongs to another customer.")]})
        before = audit.snapshot(order, ["amount", "currency", "status"])
    order.amount, order.currency, order.status = amount, currency, status
    _clean(order, ["customer"])
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:  # created meanwhile by a concurrent request with the same external id
        raise ValidationError(
            {"external_id": [_("This order was just created by another request: retry.")]}
        ) from None
    changes = audit.diff(before, audit.snapshot(order, ["amount", "currency", "status"]))
    if changes:
        audit.record(
            actor=actor,
            action="credit.order_created" if created else "credit.order_changed",
            instance=order,
            changes=changes,
            customer_id=customer.pk,
        )
        holds.holds_refresh(actor=actor, customers=[customer], today=actor.organization.local_today())
    return order, created


# Policy --------------------------------------------------------------------------------------


@transaction.atomic
def policy_update(*, actor: Actor, **fields: Any) -> CreditPolicy:
    """Change the organization's credit policy and scorecard; everything is validated before
    anything is written (field errors name paths like `scorecard.factors.tenure.weight`)."""
    actor.require("credit.policy")
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown setting.")] for name in sorted(unknown)})
    policy = CreditPolicy.objects.select_for_update().first()
    if policy is None:  # the first change saves the defaults; a concurrent first change loses the race
        try:
            with transaction.atomic():
                policy = selectors.credit_policy()
                policy.save()
        except IntegrityError:
            policy = CreditPolicy.objects.select_for_update().get()
    errors: dict[str, list[str]] = {}
    for name, check in (
        ("scorecard", scorecard.validate_scorecard),
        ("class_floors", scorecard.validate_class_floors),
        ("review_months", scorecard.validate_review_months),
    ):
        if name in fields:
            try:
                fields[name] = check(fields[name])
            except ValidationError as error:
                for path, messages in error.message_dict.items():
                    key = path if path.startswith(name) else f"{name}.{path}"
                    errors.setdefault(key, []).extend(messages)
    before = audit.snapshot(policy, list(fields))
    for name, value in fields.items():
        setattr(policy, name, value)
    try:
        _clean(policy, [])
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    for name in ("review_utilisation", "net_worth_cap", "working_capital_cap"):
        value = getattr(policy, name)
        if value is not None and not Decimal(0) <= Decimal(value) <= Decimal(100):
            errors.setdefault(name, []).append(_("Give a percentage from 0 to 100."))
    if errors:
        raise ValidationError(errors)
    policy.save()
    changes = audit.diff(before, audit.snapshot(policy, list(fields)))
    if changes:
        audit.record(actor=actor, action="credit.policy_changed", instance=policy, changes=changes)
    return policy


# Reviews -------------------------------------------------------------------------------------


def credit_officer() -> User | None:
    """Who gets review tasks: the first finance manager, else the owner, else an admin."""
    for role in (Role.FINANCE_MANAGER, Role.OWNER, Role.ADMIN):
        membership = (
            Membership.objects.filter(role=role, user__is_active=True)
            .select_related("user")
            .order_by("pk")
            .first()
        )
        if membership is not None:
            return membership.user
    return None


def credit_reviews(*, actor: Actor, run_date: datetime.date) -> dict[str, int]:
    """The daily job: a review (unique per customer and due date) and a follow-up task for the
    credit officer for every profile whose next review is due by `run_date` and has no open
    review. Rerunning it creates nothing twice."""
    due = list(
        CreditProfile.objects.filter(next_review_on__lte=run_date)
        .exclude(customer__status="archived")
        .select_related("customer")
        .order_by("next_review_on", "pk")
    )
    open_for = set(
        CreditReview.objects.filter(
            completed_on__isnull=True, customer_id__in=[p.customer_id for p in due]
        ).values_list("customer_id", flat=True)
    )
    officer = credit_officer()
    created = 0
    for profile in due:
        if profile.customer_id in open_for:
            continue
        with transaction.atomic():
            review, was_created = CreditReview.objects.get_or_create(
                customer=profile.customer,
                due_on=profile.next_review_on,
                defaults={"risk_class": profile.risk_class},
            )
            if not was_created:
                continue
            task = follow_ups_create_many(
                actor=actor,
                entries=[
                    FollowUpEntry(
                        customer_id=profile.customer_id,
                        title=_("Credit review (class %(class)s) due") % {"class": profile.risk_class or "—"},
                        due_date=max(profile.next_review_on, run_date),
                        assignee_id=officer.pk if officer else None,
                    )
                ],
            )
            review.follow_up = task[0] if task else None
            review.save(update_fields=["follow_up"])
            audit.record(
                actor=actor,
                action="credit.review_due",
                instance=review,
                changes={"due_on": [None, str(review.due_on)]},
                customer_id=profile.customer_id,
            )
            created += 1
    return {"due": len(due), "created": created}


@transaction.atomic
def review_complete(
    *,
    actor: Actor,
    review: CreditReview,
    decision: str,
    notes: str,
    requested_limit: Decimal | None = None,
) -> CreditReview:
    """Record a review's decision: keep; request a new limit (goes to approval); put on hold; or
    block. Closes the review and its task and schedules the next one by risk class."""
    actor.require("credit.manage")
    review = CreditReview.objects.select_for_update().select_related("customer").get(pk=review.pk)
    errors: dict[str, list[str]] = {}
    if review.completed_on is not None:
        errors["review"] = [_("This review is already completed.")]
    if decision not in CreditReview.Decision.values:
        errors["decision"] = [_("Choose a decision.")]
    if not notes.strip():
        errors["notes"] = [_("Write down what the review found.")]
    if decision == CreditReview.Decision.CHANGE_LIMIT and requested_limit is None:
        errors["requested_limit"] = [_("Give the new limit to request.")]
    if errors:
        raise ValidationError(errors)
    customer = review.customer
    today = actor.organization.local_today()
    if decision == CreditReview.Decision.CHANGE_LIMIT:
        limits.limit_request_create(
            actor=actor,
            customer=customer,
            requested_limit=requested_limit,
            reason=_("Credit review: %(notes)s") % {"notes": notes.strip()},
        )
    elif decision == CreditReview.Decision.HOLD:
        holds.hold_place(actor=actor, customer=customer, detail=notes.strip())
    elif decision == CreditReview.Decision.BLOCK:
        profile_update(actor=actor, customer=customer, blocked=True)
    review.decision, review.notes = decision, notes.strip()
    review.completed_on, review.completed_by = today, actor.user
    review.save(update_fields=["decision", "notes", "completed_on", "completed_by"])
    profile = CreditProfile.objects.select_for_update().get(customer=customer)
    months = selectors.policy_review_months(selectors.credit_policy())
    profile.last_review_on = today
    profile.next_review_on = add_months(today, months.get(profile.risk_class or "C", 6))
    profile.save(update_fields=["last_review_on", "next_review_on", "updated_at"])
    if review.follow_up_id and not review.follow_up.done:
        follow_up_update(actor=actor, follow_up=review.follow_up, done=True)
    audit.record(
        actor=actor,
        action="credit.review_completed",
        instance=review,
        changes={"decision": [None, decision], "next_review_on": [None, str(profile.next_review_on)]},
        customer_id=customer.pk,
    )
    return review
