"""Writes of customers and their relationship data. Views, the API, imports and tasks call these."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Contact, Customer, CustomerStatus, FollowUp, Interaction
from crm.registry import registry
from crm.validators import normalize_tax_id
from finance import audit
from finance.actors import Actor
from finance.bulk import BulkRowErrors, update_values
from finance.crypto import blind_index
from finance.models import AuditEvent, Membership, User
from finance.sensitive import encrypted_changes, plaintexts

CUSTOMER_FIELDS = (
    "external_id",
    "name",
    "legal_name",
    "tax_id",
    "bank_account",
    "country",
    "currency",
    "email",
    "phone",
    "billing_address",
    "industry",
    "customer_group",
    "owner",
    "lifecycle_stage",
    "status",
    "tags",
    "notes",
)
CLASSIFICATION_FIELDS = ("abc_class", "risk_class", "loyalty_tier", "lifecycle_stage", "customer_group")
CONTACT_FIELDS = (
    "name",
    "title",
    "email",
    "phone",
    "identity_number",
    "preferred_language",
    "is_primary",
    "is_billing",
)
# Account numbers and identity numbers: letters, digits, spaces and hyphens.
_ACCOUNT_CHARACTERS = re.compile(r"^[0-9A-Za-z][0-9A-Za-z \-]*$")


def _require_customer_access(actor: Actor, customer: Customer) -> None:
    if actor.sees_own_customers_only and customer.owner_id != actor.user_id:
        raise PermissionDenied(_("This customer belongs to another sales rep."))


def _check_owner(actor: Actor, owner: User | None, previous: User | None) -> None:
    if owner == previous:
        return
    if actor.sees_own_customers_only and (owner is None or owner.pk != actor.user_id):
        raise PermissionDenied(_("You cannot give a customer to another owner."))
    if owner is not None and owner.pk != actor.user_id and not actor.can("customer.assign_owner"):
        raise PermissionDenied(_("You cannot give a customer to another owner."))
    if owner is not None and not Membership.objects.filter(user=owner).exists():
        raise ValidationError({"owner": _("The owner must be a member of this organization.")})


def _clean_identifier(value: str | None) -> tuple[str, list[str]]:
    """An account or identity number stripped of surrounding spaces, and what is wrong with it."""
    value = (value or "").strip()
    if value and not _ACCOUNT_CHARACTERS.match(value):
        return value, [_("Use letters, digits, spaces and hyphens only.")]
    return value, []


# Who may set or change a sensitive identifier: the roles that may see it (sensitive.view). A bank
# account is where money goes and an identity number identifies a person, so neither may be set by
# anyone else; a tax id may be entered once by whoever creates the customer (reps onboard them)
# but a saved one is changed only by those roles.
ALWAYS_GUARDED = ("bank_account", "identity_number")


def _check_sensitive_changes(actor: Actor, before: dict[str, Any], instance: Customer | Contact) -> None:
    """Raises ValidationError naming each sensitive field the actor may not set or change."""
    if actor.can("sensitive.view"):
        return
    errors: dict[str, list[str]] = {}
    for name, old in before.items():
        new = getattr(instance, name, None)
        if (old or "") == (new or ""):
            continue
        if name in ALWAYS_GUARDED or old:
            errors[name] = [_("Only owners, admins and finance managers may set or change this value.")]
    if errors:
        raise ValidationError(errors)


def _duplicate_tax_id_error(customer: Customer) -> str | None:
    """The error when another customer of this organization already has the tax id (found by the
    blind index; the tenant-scoped manager never looks at another organization)."""
    if not customer.tax_id_index:
        return None
    other = (
        Customer.objects.filter(tax_id_index=customer.tax_id_index)
        .exclude(pk=customer.pk)
        .order_by("pk")
        .only("pk", "name")
        .first()
    )
    if other is None:
        return None
    return _("Customer “%(name)s” (id %(id)s) already has this tax id.") % {
        "name": other.name,
        "id": other.pk,
    }


def _clean_customer(customer: Customer, *, check_duplicate: bool = True) -> None:
    """Normalize and validate; sets the tax id's blind index. Raises ValidationError."""
    errors: dict[str, Any] = {}
    for name in ("billing_address", "notes"):  # a browser sends CRLF: not a change of the text
        value = getattr(customer, name, None)
        if isinstance(value, str):
            setattr(customer, name, value.replace("\r\n", "\n"))
    try:
        customer.tax_id = normalize_tax_id(customer.country, customer.tax_id or "")
    except ValidationError as exc:
        errors["tax_id"] = exc.messages
    else:
        customer.tax_id_index = blind_index(customer.tax_id)
        duplicate = _duplicate_tax_id_error(customer) if check_duplicate else None
        if duplicate:
            errors["tax_id"] = [duplicate]
    customer.bank_account, problems = _clean_identifier(customer.bank_account)
    if problems:
        errors["bank_account"] = problems
    if customer.external_id is not None:
        customer.external_id = customer.external_id.strip() or None
    if not isinstance(customer.tags, list) or not all(
        isinstance(t, str) and 0 < len(t) <= 50 for t in customer.tags
    ):
        errors["tags"] = [_("Tags are a list of short texts.")]
    try:
        customer.full_clean(exclude=["organization"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _save_unique(instance: Customer) -> None:
    """Save; a race on the external id becomes the same error the validation gives."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(
            {"external_id": [_("A customer with this external id already exists.")]}
        ) from None


@transaction.atomic
def customer_create(*, actor: Actor, **fields: Any) -> Customer:
    """Create a customer. A sales rep's new customer is their own; the tax id is validated."""
    actor.require("customer.create")
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValueError(f"Unknown customer fields: {sorted(unknown)}")
    if actor.sees_own_customers_only:
        fields["owner"] = actor.user  # a rep's new customer is always their own
    elif "owner" not in fields:
        fields["owner"] = actor.user
    _check_owner(actor, fields.get("owner"), None)
    customer = Customer(organization=actor.organization, **fields)
    _clean_customer(customer)
    _check_sensitive_changes(actor, {"tax_id": "", "bank_account": ""}, customer)
    _save_unique(customer)
    audit.record(
        actor=actor,
        action="customer.created",
        instance=customer,
        changes=audit.diff({}, audit.snapshot(customer)),
        customer_id=customer.pk,
    )
    return customer


@transaction.atomic
def customer_update(*, actor: Actor, customer: Customer, **fields: Any) -> Customer:
    """Change a customer's fields; records what changed. Raises ValidationError, nothing written."""
    actor.require("customer.change")
    _require_customer_access(actor, customer)
    unknown = set(fields) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValueError(f"Unknown customer fields: {sorted(unknown)}")
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if "owner" in fields:
        _check_owner(actor, fields["owner"], customer.owner)
    if "status" in fields and fields["status"] != customer.status:
        actor.require("customer.archive")
    before = audit.snapshot(customer)
    before_sensitive = plaintexts(customer)
    for name, value in fields.items():
        setattr(customer, name, value)
    _clean_customer(customer)
    _check_sensitive_changes(actor, before_sensitive, customer)
    changes = audit.diff(before, audit.snapshot(customer))
    changes.update(encrypted_changes(before_sensitive, customer))
    if changes:
        _save_unique(customer)
        audit.record(
            actor=actor,
            action="customer.updated",
            instance=customer,
            changes=changes,
            customer_id=customer.pk,
        )
    return customer


@transaction.atomic
def customer_archive(*, actor: Actor, customer: Customer) -> Customer:
    actor.require("customer.archive")
    return _set_status(actor, customer, CustomerStatus.ARCHIVED, "customer.archived")


@transaction.atomic
def customer_restore(*, actor: Actor, customer: Customer) -> Customer:
    actor.require("customer.archive")
    return _set_status(actor, customer, CustomerStatus.ACTIVE, "customer.restored")


def _set_status(actor: Actor, customer: Customer, status: str, action: str) -> Customer:
    _require_customer_access(actor, customer)
    if customer.status != status:
        before = customer.status
        customer.status = status
        customer.save(update_fields=["status", "updated_at"])
        audit.record(
            actor=actor,
            action=action,
            instance=customer,
            changes={"status": [before, status]},
            customer_id=customer.pk,
        )
    return customer


def customer_has_financial_history(customer: Customer) -> bool:
    return any(check(customer) for check in registry.financial_history_checks)


@transaction.atomic
def customer_delete(*, actor: Actor, customer: Customer) -> None:
    """Delete a customer with no financial history; one with history must be archived instead."""
    actor.require("customer.delete")
    if customer_has_financial_history(customer):
        raise ValidationError(_("This customer has financial history: archive it instead of deleting it."))
    audit.record(
        actor=actor,
        action="customer.deleted",
        instance=customer,
        changes=audit.diff(audit.snapshot(customer), {}),
        customer_id=customer.pk,
    )
    customer.delete()


@transaction.atomic
def customer_set_classification(*, actor: Actor, customer: Customer, **values: str) -> Customer:
    """How later apps (analytics, credit, experience) write the classification fields they compute."""
    unknown = set(values) - set(CLASSIFICATION_FIELDS)
    if unknown:
        raise ValueError(f"Not classification fields: {sorted(unknown)}")
    before = audit.snapshot(customer, list(values))
    for name, value in values.items():
        setattr(customer, name, value)
    changes = audit.diff(before, audit.snapshot(customer, list(values)))
    if changes:
        customer.save(update_fields=[*values, "updated_at"])
        audit.record(
            actor=actor,
            action="customer.classified",
            instance=customer,
            changes=changes,
            customer_id=customer.pk,
        )
    return customer


def customers_classify_many(*, actor: Actor, values: dict[int, dict[str, str]]) -> int:
    """Write computed classifications for many customers at once (a nightly analytics run):
    `values` maps customer id to {field: value}. Only customers whose values differ are written,
    in one bulk UPDATE, with one audit event each, inside the caller's transaction. Returns how
    many customers changed."""
    fields = sorted({name for wanted in values.values() for name in wanted})
    unknown = set(fields) - set(CLASSIFICATION_FIELDS)
    if unknown:
        raise ValueError(f"Not classification fields: {sorted(unknown)}")
    if not values:
        return 0
    current = {row[0]: row for row in Customer.objects.values_list("pk", "name", *fields)}
    updates = []
    events = []
    now = timezone.now()
    object_type = Customer._meta.label_lower
    for customer_id, wanted in values.items():
        row = current.get(customer_id)
        if row is None:
            continue
        before = dict(zip(fields, row[2:], strict=True))
        changes = {name: [before[name], value] for name, value in wanted.items() if before[name] != value}
        if not changes:
            continue
        after = {**before, **wanted}
        updates.append((customer_id, *(after[name] for name in fields), now))
        events.append(  # audit.EVENT_COLUMNS
            (
                actor.organization.pk,
                actor.user_id,
                actor.api_key.pk if actor.api_key else None,
                "customer.classified",
                object_type,
                str(customer_id),
                row[1][:200],
                customer_id,
                changes,
                "",
                now,
            )
        )
    update_values(Customer, [*fields, "updated_at"], updates)
    audit.record_rows(events)
    return len(events)


@dataclass(frozen=True)
class BulkResult:
    external_id: str
    id: int
    status: str  # created | updated | unchanged


@transaction.atomic
def customers_bulk_upsert(*, actor: Actor, items: list[dict[str, Any]]) -> list[BulkResult]:
    """Create or update customers by external id, all or nothing.

    Every row is validated before anything is written; any error raises BulkRowErrors (one dict
    of field errors per row, {} for a valid one) and the database is unchanged.
    """
    actor.require("customer.create")
    actor.require("customer.change")
    external_ids = [item.get("external_id") for item in items]
    existing = {
        c.external_id: c
        for c in Customer.objects.select_for_update().filter(external_id__in=[e for e in external_ids if e])
    }
    row_errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    plan: list[tuple[Customer, dict[str, Any], dict[str, Any], str]] = []
    candidates: list[Customer | None] = []
    for item in items:
        errors: dict[str, Any] = {}
        external_id = item.get("external_id")
        if not external_id:
            errors["external_id"] = [_("Each item needs an external_id.")]
        elif external_id in seen:
            errors["external_id"] = [_("This external_id appears twice in the request.")]
        seen.add(external_id or "")
        customer = existing.get(external_id)
        try:
            if customer is None:
                fields = dict(item)
                if actor.sees_own_customers_only or "owner" not in fields:
                    fields["owner"] = actor.user
                _check_owner(actor, fields.get("owner"), None)
                candidate = Customer(organization=actor.organization, **fields)
                before: dict[str, Any] = {}
                before_sensitive: dict[str, Any] = {}
            else:
                _require_customer_access(actor, customer)
                if "owner" in item:
                    _check_owner(actor, item["owner"], customer.owner)
                before = audit.snapshot(customer)
                before_sensitive = plaintexts(customer)
                candidate = customer
                for name, value in item.items():
                    setattr(candidate, name, value)
            if not errors:
                _clean_customer(candidate, check_duplicate=False)
                _check_sensitive_changes(
                    actor, before_sensitive or {"tax_id": "", "bank_account": ""}, candidate
                )
        except ValidationError as exc:
            errors.update(
                exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            )
        except PermissionDenied as exc:
            errors["non_field_errors"] = [str(exc)]
        row_errors.append(errors)
        candidates.append(None if errors else candidate)
        if not errors:
            status = "created" if customer is None else "updated"
            plan.append((candidate, before, before_sensitive, status))
    _bulk_duplicate_tax_ids(candidates, row_errors)
    if any(row_errors):
        raise BulkRowErrors(row_errors)

    results: list[BulkResult] = []
    events = []
    for customer, before, before_sensitive, status in plan:
        changes = audit.diff(before, audit.snapshot(customer))
        changes.update(encrypted_changes(before_sensitive, customer))
        if status == "updated" and not changes:
            status = "unchanged"
        else:
            customer.save()
            events.append(
                audit.build(
                    actor=actor,
                    action=f"customer.{status}",
                    instance=customer,
                    changes=changes,
                    customer_id=customer.pk,
                )
            )
        results.append(BulkResult(external_id=customer.external_id or "", id=customer.pk, status=status))
    AuditEvent.objects.bulk_create(events)
    return results


def _bulk_duplicate_tax_ids(candidates: list[Customer | None], row_errors: list[dict[str, Any]]) -> None:
    """Tax ids used by another customer of the organization, or twice in the request, in one query."""
    indexes = {c.tax_id_index for c in candidates if c is not None and c.tax_id_index}
    holders: dict[str, list[tuple[int, str]]] = {}
    for pk, name, index in Customer.objects.filter(tax_id_index__in=indexes).values_list(
        "pk", "name", "tax_id_index"
    ):
        holders.setdefault(index, []).append((pk, name))
    first_row: dict[str, int] = {}
    for row, candidate in enumerate(candidates):
        if candidate is None or not candidate.tax_id_index:
            continue
        others = [(pk, name) for pk, name in holders.get(candidate.tax_id_index, []) if pk != candidate.pk]
        if others:
            row_errors[row]["tax_id"] = [
                _("Customer “%(name)s” (id %(id)s) already has this tax id.")
                % {"name": others[0][1], "id": others[0][0]}
            ]
        elif candidate.tax_id_index in first_row:
            row_errors[row]["tax_id"] = [_("This tax id appears twice in the request.")]
        first_row.setdefault(candidate.tax_id_index, row)


# --- Contacts ---------------------------------------------------------------------------------


def _clean_contact(contact: Contact) -> None:
    errors: dict[str, Any] = {}
    contact.identity_number, problems = _clean_identifier(contact.identity_number)
    if problems:
        errors["identity_number"] = problems
    try:
        contact.full_clean(exclude=["organization", "customer"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _one_primary(contact: Contact) -> None:
    """At most one primary contact per customer: making one primary unsets the others."""
    if contact.is_primary:
        Contact.objects.filter(customer_id=contact.customer_id, is_primary=True).exclude(
            pk=contact.pk
        ).update(is_primary=False)


@transaction.atomic
def contact_create(*, actor: Actor, customer: Customer, **fields: Any) -> Contact:
    actor.require("contact.change")
    _require_customer_access(actor, customer)
    contact = Contact(organization=actor.organization, customer=customer, **fields)
    _clean_contact(contact)
    _check_sensitive_changes(actor, {"identity_number": ""}, contact)
    contact.save()
    _one_primary(contact)
    audit.record(
        actor=actor,
        action="contact.created",
        instance=contact,
        changes=audit.diff({}, audit.snapshot(contact)),
        customer_id=customer.pk,
    )
    return contact


@transaction.atomic
def contact_update(*, actor: Actor, contact: Contact, **fields: Any) -> Contact:
    actor.require("contact.change")
    _require_customer_access(actor, contact.customer)
    fields.pop("customer", None)
    before = audit.snapshot(contact)
    before_sensitive = plaintexts(contact)
    for name, value in fields.items():
        setattr(contact, name, value)
    _clean_contact(contact)
    _check_sensitive_changes(actor, before_sensitive, contact)
    changes = audit.diff(before, audit.snapshot(contact))
    changes.update(encrypted_changes(before_sensitive, contact))
    if changes:
        contact.save()
        _one_primary(contact)
        audit.record(
            actor=actor,
            action="contact.updated",
            instance=contact,
            changes=changes,
            customer_id=contact.customer_id,
        )
    return contact


@transaction.atomic
def contact_delete(*, actor: Actor, contact: Contact) -> None:
    actor.require("contact.change")
    _require_customer_access(actor, contact.customer)
    audit.record(
        actor=actor,
        action="contact.deleted",
        instance=contact,
        changes=audit.diff(audit.snapshot(contact), {}),
        customer_id=contact.customer_id,
    )
    contact.delete()


# --- Sensitive values ---------------------------------------------------------------------------

REVEALABLE = {"customer": ("tax_id", "bank_account"), "contact": ("identity_number",)}


@transaction.atomic
def sensitive_reveal(*, actor: Actor, customer: Customer, field: str, contact: Contact | None = None) -> str:
    """One sensitive value in plaintext for an actor allowed `sensitive.view` (the browser's "Show");
    records a `sensitive.viewed` audit event naming the field, never the value."""
    actor.require("sensitive.view")
    _require_customer_access(actor, customer)
    instance: Customer | Contact = customer if contact is None else contact
    if contact is not None and contact.customer_id != customer.pk:
        raise ValidationError({"contact": [_("This contact belongs to another customer.")]})
    if field not in REVEALABLE["customer" if contact is None else "contact"]:
        raise ValidationError({"field": [_("This field cannot be shown.")]})
    audit.record(
        actor=actor,
        action="sensitive.viewed",
        instance=instance,
        changes={"fields": [field]},
        customer_id=customer.pk,
    )
    return getattr(instance, field)


# --- Interactions and follow-ups --------------------------------------------------------------


@transaction.atomic
def interaction_log(
    *,
    actor: Actor,
    customer: Customer,
    kind: str,
    summary: str,
    occurred_at: datetime.datetime | None = None,
    contact: Contact | None = None,
    outcome: str = "",
    next_action: str = "",
    next_action_due: datetime.date | None = None,
    user: User | None = None,
) -> Interaction:
    """Log an interaction; a next action with a due date also creates a follow-up for the logger."""
    actor.require("interaction.log")
    _require_customer_access(actor, customer)
    errors: dict[str, Any] = {}
    if contact is not None and contact.customer_id != customer.pk:
        errors["contact"] = [_("This contact belongs to another customer.")]
    if next_action_due and not next_action.strip():
        errors["next_action"] = [_("Say what the next action is.")]
    if next_action.strip() and not next_action_due:
        errors["next_action_due"] = [_("Give the next action a due date.")]
    interaction = Interaction(
        organization=actor.organization,
        customer=customer,
        contact=contact,
        kind=kind,
        summary=summary,
        occurred_at=occurred_at or timezone.now(),
        outcome=outcome,
        next_action=next_action.strip(),
        next_action_due=next_action_due,
        user=user or actor.user,
    )
    try:
        interaction.full_clean(exclude=["organization", "customer", "contact", "user"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    interaction.save()
    audit.record(
        actor=actor,
        action="interaction.logged",
        instance=interaction,
        changes={"kind": [None, kind], "summary": [None, summary]},
        customer_id=customer.pk,
    )
    if interaction.next_action and interaction.next_action_due:
        follow_up_create(
            actor=actor,
            customer=customer,
            title=interaction.next_action,
            due_date=interaction.next_action_due,
            assignee=interaction.user or customer.owner,
            interaction=interaction,
        )
    return interaction


@dataclass(frozen=True)
class TimelineEntry:
    customer_id: int
    kind: str
    summary: str


def interactions_log_many(*, actor: Actor, entries: list[TimelineEntry]) -> list[Interaction]:
    """Log many system interactions at once (a dunning run's reminders on each customer's
    timeline): one insert for the interactions and one for their audit events, inside the
    caller's transaction. Entries are written as given; callers pass only customers they act on."""
    actor.require("interaction.log")
    now = timezone.now()
    interactions = Interaction.objects.bulk_create(
        [
            Interaction(
                organization=actor.organization,
                customer_id=entry.customer_id,
                kind=entry.kind,
                summary=entry.summary[:500],
                occurred_at=now,
                user=actor.user,
            )
            for entry in entries
        ]
    )
    AuditEvent.objects.bulk_create(
        [
            audit.build(
                actor=actor,
                action="interaction.logged",
                instance=interaction,
                changes={"kind": [None, interaction.kind], "summary": [None, interaction.summary]},
                customer_id=interaction.customer_id,
            )
            for interaction in interactions
        ]
    )
    return interactions


@dataclass(frozen=True)
class FollowUpEntry:
    customer_id: int
    title: str
    due_date: datetime.date
    assignee_id: int | None


def follow_ups_create_many(*, actor: Actor, entries: list[FollowUpEntry]) -> list[FollowUp]:
    """Create many system follow-ups at once (a dunning run's collector tasks): one insert for the
    follow-ups, one for their audit events. An assignee who is not a member is dropped (the task
    stays unassigned rather than lost)."""
    actor.require("followup.change")
    if not entries:
        return []
    wanted = {entry.assignee_id for entry in entries if entry.assignee_id}
    member_ids = set(Membership.objects.filter(user_id__in=wanted).values_list("user_id", flat=True))
    follow_ups = FollowUp.objects.bulk_create(
        [
            FollowUp(
                organization=actor.organization,
                customer_id=entry.customer_id,
                assignee_id=entry.assignee_id if entry.assignee_id in member_ids else None,
                title=entry.title[:300],
                due_date=entry.due_date,
            )
            for entry in entries
        ]
    )
    AuditEvent.objects.bulk_create(
        [
            audit.build(
                actor=actor,
                action="followup.created",
                instance=follow_up,
                changes={"title": [None, follow_up.title], "due_date": [None, str(follow_up.due_date)]},
                customer_id=follow_up.customer_id,
            )
            for follow_up in follow_ups
        ]
    )
    return follow_ups


@transaction.atomic
def follow_up_create(
    *,
    actor: Actor,
    customer: Customer,
    title: str,
    due_date: datetime.date,
    assignee: User | None = None,
    interaction: Interaction | None = None,
) -> FollowUp:
    actor.require("followup.change")
    _require_customer_access(actor, customer)
    assignee = assignee or actor.user or customer.owner
    if assignee is not None and not Membership.objects.filter(user=assignee).exists():
        raise ValidationError({"assignee": [_("The assignee must be a member of this organization.")]})
    follow_up = FollowUp(
        organization=actor.organization,
        customer=customer,
        interaction=interaction,
        assignee=assignee,
        title=title,
        due_date=due_date,
    )
    follow_up.full_clean(exclude=["organization", "customer", "interaction", "assignee"])
    follow_up.save()
    audit.record(
        actor=actor,
        action="followup.created",
        instance=follow_up,
        changes={"title": [None, title], "due_date": [None, str(due_date)]},
        customer_id=customer.pk,
    )
    return follow_up


@transaction.atomic
def follow_up_update(*, actor: Actor, follow_up: FollowUp, **fields: Any) -> FollowUp:
    """Change a follow-up; marking it done stamps `done_at`, reopening clears it."""
    actor.require("followup.change")
    if actor.sees_own_customers_only and actor.user_id not in (
        follow_up.assignee_id,
        follow_up.customer.owner_id,
    ):
        raise PermissionDenied(_("This follow-up belongs to another sales rep."))
    fields.pop("customer", None)
    fields.pop("interaction", None)
    if "assignee" in fields and fields["assignee"] is not None:
        if not Membership.objects.filter(user=fields["assignee"]).exists():
            raise ValidationError({"assignee": [_("The assignee must be a member of this organization.")]})
    before = audit.snapshot(follow_up)
    for name, value in fields.items():
        setattr(follow_up, name, value)
    if follow_up.done and follow_up.done_at is None:
        follow_up.done_at = timezone.now()
    elif not follow_up.done:
        follow_up.done_at = None
    follow_up.full_clean(exclude=["organization", "customer", "interaction", "assignee"])
    changes = audit.diff(before, audit.snapshot(follow_up))
    if changes:
        follow_up.save()
        audit.record(
            actor=actor,
            action="followup.updated",
            instance=follow_up,
            changes=changes,
            customer_id=follow_up.customer_id,
        )
    return follow_up
