"""crm's own privacy sections (customer, contacts, consents, interactions, follow-ups, audit
events) and its retention rule (interactions), registered from `CrmConfig.ready()`."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import (
    Contact,
    ContactConsent,
    Customer,
    CustomerStatus,
    ErasureRequest,
    FollowUp,
    Interaction,
    RetentionDocumentType,
)
from crm.privacy import (
    ERASED,
    Entry,
    PrivacySection,
    RetentionRule,
    anonymise,
    kept,
    register_retention_rule,
    register_section,
    row,
    rows,
)
from finance.actors import Actor
from finance.models import AuditEvent, Organization

# Personal fields of a contact and of a customer, cleared on erasure when the model has them
# (the encrypted fields come from finance.crypto).
CONTACT_CLEARED = ["title", "email", "phone", "identity_number"]
CUSTOMER_CLEARED = ["email", "phone", "notes", "bank_account"]


def _contacts(customer: Customer | None, contact: Contact | None) -> QuerySet[Contact]:
    if contact is not None:
        return Contact.objects.filter(pk=contact.pk)
    return Contact.objects.filter(customer=customer)


def _interactions(customer: Customer | None, contact: Contact | None) -> QuerySet[Interaction]:
    if contact is not None:
        return Interaction.objects.filter(contact=contact)
    return Interaction.objects.filter(customer=customer)


def _audit_events(customer: Customer | None, contact: Contact | None) -> QuerySet[AuditEvent]:
    if customer is not None:
        return AuditEvent.objects.filter(customer_id=customer.pk)
    consent_ids = [
        str(pk) for pk in ContactConsent.objects.filter(contact=contact).values_list("pk", flat=True)
    ]
    return AuditEvent.objects.filter(
        Q(object_type="crm.contact", object_id=str(contact.pk))  # type: ignore[union-attr]
        | Q(object_type="crm.contactconsent", object_id__in=consent_ids)
    )


def _present(model: type, names: list[str]) -> list[str]:
    fields = {f.name for f in model._meta.concrete_fields}
    return [name for name in names if name in fields]


# --- Exporters ------------------------------------------------------------------------------------


def export_customer(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    if customer is not None:
        return row(customer, exclude=["tax_id_index"])
    return {"id": contact.customer_id, "name": contact.customer.name}  # type: ignore[union-attr]


def export_contacts(
    *, customer: Customer | None = None, contact: Contact | None = None
) -> list[dict[str, Any]]:
    return rows(_contacts(customer, contact))


def export_consents(
    *, customer: Customer | None = None, contact: Contact | None = None
) -> list[dict[str, Any]]:
    return rows(ContactConsent.objects.filter(contact__in=_contacts(customer, contact)))


def export_interactions(
    *, customer: Customer | None = None, contact: Contact | None = None
) -> list[dict[str, Any]]:
    return rows(_interactions(customer, contact))


def export_follow_ups(
    *, customer: Customer | None = None, contact: Contact | None = None
) -> list[dict[str, Any]]:
    return rows(FollowUp.objects.filter(customer=customer)) if customer is not None else []


def export_erasures(
    *, customer: Customer | None = None, contact: Contact | None = None
) -> list[dict[str, Any]]:
    if customer is not None:
        return rows(ErasureRequest.objects.filter(customer=customer))
    return rows(ErasureRequest.objects.filter(contact=contact))


def export_audit(*, customer: Customer | None = None, contact: Contact | None = None) -> list[dict[str, Any]]:
    return rows(_audit_events(customer, contact))


# --- Erasers --------------------------------------------------------------------------------------


def erase_contacts(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    """Each contact keeps its row (interactions, surveys point at it) under a placeholder name;
    every personal field is cleared. Instance saves: encrypted fields cannot be compared in SQL."""
    contacts = list(_contacts(customer, contact))
    if not contacts:
        return []
    cleared = _present(Contact, CONTACT_CLEARED)
    changed = 0
    for person in contacts:
        values: dict[str, Any] = {"name": f"{_('Erased contact')} #{person.pk}", **dict.fromkeys(cleared, "")}
        if any(getattr(person, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(person, name, value)
            person.save(update_fields=[*values, "updated_at"])
            changed += 1
    consents = ContactConsent.objects.filter(contact__in=[c.pk for c in contacts]).count()
    entries: list[Entry] = [
        {
            "section": "crm.contacts",
            "status": "anonymised",
            "label": str(_("contacts")),
            "count": len(contacts),
            "changed": changed,
            "fields": ["name", *cleared],
            "text": _("%(count)s contacts anonymised (%(fields)s)")
            % {"count": len(contacts), "fields": ", ".join(["name", *cleared])},
        }
    ]
    if consents:
        entries.append(
            kept(
                section="crm.consents",
                label=_("consent records"),
                count=consents,
                reason=_("proof of consent and of its withdrawal (GDPR art. 7(1), PIPL art. 14)"),
            )
        )
    return entries


def erase_customer(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    """A customer's erasure anonymises its trading name (a sole trader's is a person's name), email,
    phone, notes and bank account, and archives it; the legal identity stays on retained invoices."""
    if customer is None:
        return []
    cleared = _present(Customer, CUSTOMER_CLEARED)
    values: dict[str, Any] = {
        "name": f"{_('Erased customer')} #{customer.pk}",
        "tags": [],
        "status": CustomerStatus.ARCHIVED,
        **dict.fromkeys(cleared, ""),
    }
    changed = 0
    if any(getattr(customer, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(customer, name, value)
        customer.save(update_fields=[*values, "updated_at"])
        changed = 1
    fields = ["name", "tags", *cleared]
    return [
        {
            "section": "crm.customer",
            "status": "anonymised",
            "label": str(_("customer")),
            "count": 1,
            "changed": changed,
            "fields": fields,
            "text": _("Customer anonymised (%(fields)s) and archived") % {"fields": ", ".join(fields)},
        },
        kept(
            section="crm.customer",
            label=_("customer legal identity (legal name, tax id, billing address, external id)"),
            count=1,
            reason=_("identifies the counterparty of the retained accounting records"),
        ),
    ]


def erase_interactions(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    entry = anonymise(
        _interactions(customer, contact),
        section="crm.interactions",
        label=_("interactions"),
        values={"summary": ERASED, "outcome": "", "next_action": ""},
    )
    return [entry] if entry else []


def erase_follow_ups(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    if customer is None:
        return []
    entry = anonymise(
        FollowUp.objects.filter(customer=customer),
        section="crm.follow_ups",
        label=_("follow-ups"),
        values={"title": ERASED},
    )
    return [entry] if entry else []


def erase_audit(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    count = _audit_events(customer, contact).count()
    if not count:
        return []
    return [
        kept(
            section="finance.audit_events",
            label=_("audit events"),
            count=count,
            reason=_("legal obligation: the audit trail is append-only and tamper-evident"),
        )
    ]


# --- Retention ------------------------------------------------------------------------------------


def _start_of(day: datetime.date, organization: Organization) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=organization.tzinfo)


def retain_interactions(
    *, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]
) -> int:
    """Interactions that happened before the cutoff are deleted (their follow-ups stay, unlinked)."""
    deleted, _detail = Interaction.objects.filter(occurred_at__lt=_start_of(cutoff, organization)).delete()
    return deleted


def register() -> None:
    for order, name, export, erase in [
        (10, "crm.customer", export_customer, erase_customer),
        (11, "crm.contacts", export_contacts, erase_contacts),
        (12, "crm.consents", export_consents, None),
        (13, "crm.interactions", export_interactions, erase_interactions),
        (14, "crm.follow_ups", export_follow_ups, erase_follow_ups),
        (15, "crm.erasure_requests", export_erasures, None),
        (900, "finance.audit_events", export_audit, erase_audit),
    ]:
        register_section(PrivacySection(name=name, export=export, erase=erase, order=order))
    register_retention_rule(
        RetentionRule(
            name="crm.interactions",
            document_type=RetentionDocumentType.INTERACTION,
            apply=retain_interactions,
            description=gettext_lazy("Interactions older than the retention are deleted."),
        )
    )
