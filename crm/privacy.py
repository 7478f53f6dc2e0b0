"""Personal information rights (GDPR, PIPL): export, erasure, retention, consents, the register.

`crm` holds the core and a registry; every later app registers from its `AppConfig.ready()`:
- a *section* per kind of data it holds about a customer or contact: an exporter
  `export(*, customer=None, contact=None) -> JSON-able` and an eraser
  `erase(*, customer=None, contact=None, actor) -> list of result entries` that anonymises personal
  data in place and reports what it kept and why (financial documents are kept: accounting law);
- a *retention rule* per document type: `apply(*, organization, cutoff, erased_customer_ids) -> int`
  (rows deleted or anonymised), run by the daily `privacy_retention` job.

Erasure never touches audit events: they are append-only and sealed into a hash chain, so they
are reported as kept (legal obligation; tamper-evident audit trail).
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import (
    DEFAULT_RETENTION_YEARS,
    Contact,
    ContactConsent,
    Customer,
    ErasureRequest,
    ProcessingActivity,
    RetentionDocumentType,
    RetentionPolicy,
)
from finance import audit
from finance.actors import Actor
from finance.models import Organization

# What an anonymised required text field becomes (optional ones become empty).
ERASED = "[erased]"

Entry = dict[str, Any]


# --- The registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacySection:
    """One kind of data an app holds about a customer or contact: one JSON file in the export."""

    name: str  # "<app>.<what>", the file name in the ZIP
    export: Callable[..., Any]
    erase: Callable[..., list[Entry]] | None = None
    order: int = 100


@dataclass(frozen=True)
class RetentionRule:
    """Deletes or anonymises one kind of row past its document type's retention period."""

    name: str
    document_type: str
    apply: Callable[..., int]
    description: str = ""


SECTIONS: dict[str, PrivacySection] = {}
RETENTION_RULES: dict[str, RetentionRule] = {}


def register_section(section: PrivacySection) -> None:
    SECTIONS[section.name] = section


def register_retention_rule(rule: RetentionRule) -> None:
    RETENTION_RULES[rule.name] = rule


def sections() -> list[PrivacySection]:
    return sorted(SECTIONS.values(), key=lambda s: (s.order, s.name))


# --- Helpers for the apps' exporters and erasers ------------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-able value: Decimals as strings, dates ISO, relations as ids."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def row(instance: models.Model, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every stored field of a row (relations by id), for the export."""
    skipped = {"organization", *exclude}
    return {
        field.attname: plain(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
        if field.name not in skipped
    }


def rows(queryset: QuerySet, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    return [row(instance, exclude) for instance in queryset.order_by("pk")]


def anonymise(queryset: QuerySet, *, section: str, label: str, values: dict[str, Any]) -> Entry | None:
    """Overwrite `values` on the rows that still differ; None when there are no rows at all.

    Counts only the rows it changed, so a second erasure reports 0 (idempotent)."""
    total = queryset.count()
    if not total:
        return None
    changed = queryset.exclude(Q(**values)).update(**values)
    return {
        "section": section,
        "status": "anonymised",
        "label": str(label),
        "count": total,
        "changed": changed,
        "fields": sorted(values),
        "text": _("%(count)s %(label)s anonymised (%(fields)s)")
        % {"count": total, "label": label, "fields": ", ".join(sorted(values))},
    }


def anonymise_count(queryset: QuerySet, values: dict[str, Any]) -> int:
    """For retention rules: overwrite `values` on the rows that still differ; how many changed."""
    return queryset.exclude(Q(**values)).update(**values)


def kept(
    *, section: str, label: str, count: int, reason: str, kept_until: datetime.date | None = None
) -> Entry:
    if kept_until:
        text = _("%(count)s %(label)s kept until %(until)s: %(reason)s") % {
            "count": count,
            "label": label,
            "until": kept_until.isoformat(),
            "reason": reason,
        }
    else:
        text = _("%(count)s %(label)s kept: %(reason)s") % {"count": count, "label": label, "reason": reason}
    return {
        "section": section,
        "status": "kept",
        "label": str(label),
        "count": count,
        "kept_until": kept_until.isoformat() if kept_until else None,
        "reason": str(reason),
        "text": text,
    }


def retention_years(document_type: str) -> int:
    """The current organization's retention for a document type (10 years without a policy)."""
    policy = RetentionPolicy.objects.filter(document_type=document_type).first()
    return policy.years if policy else DEFAULT_RETENTION_YEARS


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def keep_documents(
    queryset: QuerySet, *, section: str, label: str, document_type: str, date_field: str
) -> Entry | None:
    """A `kept` entry for financial documents: kept until the latest one's retention ends."""
    summary = queryset.aggregate(count=models.Count("pk"), last=Max(date_field))
    if not summary["count"]:
        return None
    years = retention_years(document_type)
    last = summary["last"]
    if isinstance(last, datetime.datetime):
        last = last.date()
    return kept(
        section=section,
        label=label,
        count=summary["count"],
        kept_until=add_years(last, years) if last else None,
        reason=_("accounting records, retention %(years)s years") % {"years": years},
    )


def subject_customer_ids(*, customer: Customer | None, contact: Contact | None) -> int:
    return customer.pk if customer is not None else contact.customer_id  # type: ignore[union-attr]


# --- Consents -----------------------------------------------------------------------------------


def consent_record(
    *,
    actor: Actor,
    contact: Contact,
    purpose: str,
    lawful_basis: str,
    granted: bool,
    source: str,
    note: str = "",
) -> ContactConsent:
    """Append one consent decision; the contact's current state for the purpose becomes this one."""
    actor.require("contact.change")
    with transaction.atomic():
        consent = ContactConsent(
            organization=actor.organization,
            contact=contact,
            purpose=purpose,
            lawful_basis=lawful_basis,
            granted=granted,
            source=source,
            note=note,
            recorded_by=actor.user,
        )
        consent.full_clean()
        consent.save()
        audit.record(
            actor=actor,
            action="privacy.consent_recorded",
            instance=consent,
            changes=audit.snapshot(consent, ["purpose", "lawful_basis", "granted", "source"]),
            customer_id=contact.customer_id,
        )
    return consent


def consents_current(contact: Contact) -> list[ContactConsent]:
    """The latest decision per purpose (the contact's current consents)."""
    latest: dict[str, ContactConsent] = {}
    for consent in contact.consents.select_related("recorded_by").order_by("-recorded_at", "-id"):
        latest.setdefault(consent.purpose, consent)
    return sorted(latest.values(), key=lambda c: c.purpose)


def contacts_privacy_overview(customer: Customer) -> list[dict[str, Any]]:
    """Each contact of the customer with its current consents and whether it was erased, in three
    queries whatever the number of contacts (the customer page's panel)."""
    contacts = list(customer.contacts.order_by("name", "pk"))
    latest: dict[tuple[int, str], ContactConsent] = {}
    consents = ContactConsent.objects.filter(contact__customer=customer).select_related("recorded_by")
    for consent in consents.order_by("-recorded_at", "-id"):
        latest.setdefault((consent.contact_id, consent.purpose), consent)
    erasures = ErasureRequest.objects.filter(customer=customer, status=ErasureRequest.Status.COMPLETED)
    erased_contacts = set(erasures.values_list("contact_id", flat=True))
    customer_erased = None in erased_contacts
    return [
        {
            "contact": contact,
            "current": sorted(
                (c for (contact_id, _p), c in latest.items() if contact_id == contact.pk),
                key=lambda c: c.purpose,
            ),
            "erased": customer_erased or contact.pk in erased_contacts,
        }
        for contact in contacts
    ]


def consent_history(contact: Contact) -> QuerySet[ContactConsent]:
    return contact.consents.select_related("recorded_by").order_by("-recorded_at", "-id")


# --- Export -------------------------------------------------------------------------------------


def _check_subject(customer: Customer | None, contact: Contact | None) -> None:
    if (customer is None) == (contact is None):
        raise ValidationError(_("Name either a customer or a contact."))


def privacy_export(
    *, actor: Actor, customer: Customer | None = None, contact: Contact | None = None
) -> bytes:
    """Everything Kehu holds about the customer or contact: a ZIP with one JSON file per section
    (every app registers its sections) and manifest.json. Records `privacy.exported`."""
    actor.require("privacy.export")
    _check_subject(customer, contact)
    subject = customer if customer is not None else contact
    files: list[dict[str, Any]] = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section in sections():
            content = section.export(customer=customer, contact=contact)
            name = f"{section.name}.json"
            archive.writestr(name, json.dumps(content, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))
            files.append({"section": section.name, "file": name, "records": _record_count(content)})
        manifest = {
            "generated_at": timezone.now().isoformat(),
            "organization": actor.organization.name,
            "subject": {
                "type": "customer" if customer is not None else "contact",
                "id": subject.pk,  # type: ignore[union-attr]
                "customer_id": subject_customer_ids(customer=customer, contact=contact),
            },
            "requested_by": str(actor),
            "format": _("One JSON file per section; amounts are strings, dates ISO 8601."),
            "sections": files,
        }
        archive.writestr(
            "manifest.json", json.dumps(manifest, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        )
    audit.record(
        actor=actor,
        action="privacy.exported",
        instance=subject,  # type: ignore[arg-type]
        changes={"sections": len(files)},
        customer_id=subject_customer_ids(customer=customer, contact=contact),
    )
    return buffer.getvalue()


def _record_count(content: Any) -> int:
    if isinstance(content, list):
        return len(content)
    if isinstance(content, dict) and content and all(isinstance(v, list) for v in content.values()):
        return sum(len(v) for v in content.values())
    return 1 if content else 0


def export_filename(*, customer: Customer | None = None, contact: Contact | None = None) -> str:
    if customer is not None:
        return f"kehu-customer-{customer.pk}-personal-data.zip"
    return f"kehu-contact-{contact.pk}-personal-data.zip"  # type: ignore[union-attr]


# --- Erasure ------------------------------------------------------------------------------------


def _erase_all(*, actor: Actor, customer: Customer | None, contact: Contact | None) -> list[Entry]:
    entries: list[Entry] = []
    # Later apps first: they may match rows by a contact's email before crm clears it.
    for section in reversed(sections()):
        if section.erase is None:
            continue
        entries.extend(e for e in section.erase(customer=customer, contact=contact, actor=actor) if e)
    return entries


def erased_customer_ids() -> set[int]:
    """Customers whose personal data was erased (a completed customer-level erasure)."""
    return set(
        ErasureRequest.objects.filter(
            contact__isnull=True, status=ErasureRequest.Status.COMPLETED
        ).values_list("customer_id", flat=True)
    )


def is_erased(*, customer: Customer | None = None, contact: Contact | None = None) -> bool:
    requests = ErasureRequest.objects.filter(status=ErasureRequest.Status.COMPLETED)
    if contact is not None:
        return requests.filter(
            Q(contact=contact) | Q(customer_id=contact.customer_id, contact__isnull=True)
        ).exists()
    return requests.filter(customer=customer, contact__isnull=True).exists()


def privacy_erase_preview(
    *, actor: Actor, customer: Customer | None = None, contact: Contact | None = None
) -> list[Entry]:
    """What an erasure would anonymise and keep, without changing anything (run and rolled back)."""
    actor.require("privacy.erase")
    _check_subject(customer, contact)
    with transaction.atomic():
        entries = _erase_all(actor=actor, customer=customer, contact=contact)
        transaction.set_rollback(True)
    if customer is not None:
        customer.refresh_from_db()
    if contact is not None:
        contact.refresh_from_db()
    return entries


def privacy_erase(
    *,
    actor: Actor,
    customer: Customer | None = None,
    contact: Contact | None = None,
    reason: str = "",
) -> ErasureRequest:
    """Anonymise the personal data of a contact, or of a customer (all its contacts, its trading
    name, email, phone, notes...), in every app, keeping the financial documents accounting law
    requires; the request's `result` lists what was anonymised and what was kept, and why.

    Idempotent: erasing again re-runs the erasers (catching rows added since), changes nothing
    already anonymised, and returns the same request; `privacy.erased` is recorded once per change.
    """
    actor.require("privacy.erase")
    _check_subject(customer, contact)
    if len(reason) > 500:
        raise ValidationError({"reason": [_("Ensure this value has at most 500 characters.")]})
    target_customer = customer if customer is not None else contact.customer  # type: ignore[union-attr]
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=target_customer.pk).first()
        entries = _erase_all(actor=actor, customer=customer, contact=contact)
        request = ErasureRequest.objects.filter(
            customer=target_customer, contact=contact, status=ErasureRequest.Status.COMPLETED
        ).first()
        changed = sum(e.get("changed", 0) for e in entries)
        result = {
            "subject": "customer" if customer is not None else "contact",
            "anonymised": [e for e in entries if e["status"] == "anonymised"],
            "kept": [e for e in entries if e["status"] == "kept"],
        }
        created = request is None
        if request is None:
            request = ErasureRequest.objects.create(
                organization=actor.organization,
                customer=target_customer,
                contact=contact,
                requested_by=actor.user,
                reason=reason,
                result=result,
                completed_at=timezone.now(),
            )
        else:
            request.result = result
            request.save(update_fields=["result"])
        if created or changed:
            audit.record(
                actor=actor,
                action="privacy.erased",
                instance=request,
                changes={"anonymised": changed, "kept": sum(e["count"] for e in result["kept"])},
                customer_id=target_customer.pk,
            )
    return request


# --- Retention ----------------------------------------------------------------------------------


def retention_policies() -> list[dict[str, Any]]:
    """Every document type with its years (policy row or the default) and the rules applying it."""
    policies = {p.document_type: p for p in RetentionPolicy.objects.all()}
    result = []
    for value, label in RetentionDocumentType.choices:
        policy = policies.get(value)
        result.append(
            {
                "document_type": value,
                "label": label,
                "years": policy.years if policy else DEFAULT_RETENTION_YEARS,
                "note": policy.note if policy else "",
                "policy": policy,
                "rules": [r for r in RETENTION_RULES.values() if r.document_type == value],
            }
        )
    return result


def retention_policy_set(*, actor: Actor, document_type: str, years: int, note: str = "") -> RetentionPolicy:
    """Set an organization's retention for a document type (creates or updates its one row)."""
    actor.require("privacy.manage")
    with transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(document_type=document_type).first()
        before = audit.snapshot(policy) if policy else {}
        if policy is None:
            policy = RetentionPolicy(organization=actor.organization, document_type=document_type)
        policy.years, policy.note = years, note
        policy.full_clean()
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"document_type": [_("This document type already has a retention policy.")]}
            ) from exc
        audit.record(
            actor=actor,
            action="privacy.retention_set",
            instance=policy,
            changes=audit.diff(before, audit.snapshot(policy)),
        )
    return policy


def retention_policy_delete(*, actor: Actor, policy: RetentionPolicy) -> None:
    """Drop a policy: the document type falls back to the 10-year default."""
    actor.require("privacy.manage")
    with transaction.atomic():
        audit.record(
            actor=actor, action="privacy.retention_deleted", instance=policy, changes=audit.snapshot(policy)
        )
        policy.delete()


def retention_apply(
    *, organization: Organization, today: datetime.date, actor: Actor | None = None
) -> dict[str, int]:
    """Delete or anonymise what is past its retention, one registered rule per kind of row.

    The cutoff of a document type is `today` minus its years: rows dated before it are past
    retention. Idempotent: a rule only touches rows not yet deleted or anonymised, so a second
    run reports 0. Runs inside the organization's tenant context."""
    actor = actor or Actor.system(organization)
    erased = erased_customer_ids()
    years = {p["document_type"]: p["years"] for p in retention_policies()}
    counts: dict[str, int] = {}
    with transaction.atomic():
        for rule in sorted(RETENTION_RULES.values(), key=lambda r: r.name):
            cutoff = add_years(today, -years.get(rule.document_type, DEFAULT_RETENTION_YEARS))
            counts[rule.name] = rule.apply(
                organization=organization, cutoff=cutoff, erased_customer_ids=erased
            )
        if any(counts.values()):
            audit.record(
                actor=actor,
                action="privacy.retention_applied",
                instance=organization,
                changes={name: n for name, n in counts.items() if n},
            )
    return counts


def retention_job(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily job (finance.jobs): apply the organization's retention policies."""
    return retention_apply(organization=actor.organization, today=run_date, actor=actor)


# --- The register of processing activities -------------------------------------------------------

ACTIVITY_FIELDS = [
    "name",
    "purpose",
    "data_subjects",
    "personal_data",
    "lawful_basis",
    "recipients",
    "cross_border_transfer",
    "retention",
    "security_measures",
]


def processing_activity_save(
    *, actor: Actor, activity: ProcessingActivity | None = None, **fields: Any
) -> ProcessingActivity:
    """Create (no `activity`) or update an entry of the register; names are unique per organization."""
    actor.require("privacy.manage")
    unknown = set(fields) - set(ACTIVITY_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        before = audit.snapshot(activity) if activity else {}
        if activity is None:
            activity = ProcessingActivity(organization=actor.organization)
        for name, value in fields.items():
            setattr(activity, name, value)
        activity.full_clean()
        try:
            with transaction.atomic():
                activity.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"name": [_("A processing activity with this name already exists.")]}
            ) from exc
        audit.record(
            actor=actor,
            action="privacy.activity_saved",
            instance=activity,
            changes=audit.diff(before, audit.snapshot(activity)),
        )
    return activity


def processing_activity_delete(*, actor: Actor, activity: ProcessingActivity) -> None:
    actor.require("privacy.manage")
    with transaction.atomic():
        audit.record(
            actor=actor, action="privacy.activity_deleted", instance=activity, changes={"name": activity.name}
        )
        activity.delete()


def processing_activities_csv(activities: Iterable[ProcessingActivity]) -> str:
    """The register as CSV (one row per activity, the columns of GDPR art. 30(1))."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(ProcessingActivity._meta.get_field(name).verbose_name) for name in ACTIVITY_FIELDS])
    for activity in activities:
        writer.writerow(
            [
                _csv_safe(
                    activity.get_lawful_basis_display() if name == "lawful_basis" else getattr(activity, name)
                )
                for name in ACTIVITY_FIELDS
            ]
        )
    return out.getvalue()


def _csv_safe(value: Any) -> str:
    """Text a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# The demo organization's register: what Kehu itself processes.
DEFAULT_REGISTER: list[dict[str, str]] = [
    {
        "name": "Customer relationship management",
        "purpose": "Managing customer accounts, contacts, interactions and follow-ups.",
        "data_subjects": "Customers' contact persons; sole-trader customers.",
        "personal_data": "Name, job title, business email and phone, interaction notes.",
        "lawful_basis": "contract",
        "recipients": "Sales and finance staff of the organization.",
        "cross_border_transfer": "",
        "retention": "Interactions: per retention policy (default 10 years); contacts until erased.",
        "security_measures": "Role-based access, tenant isolation (row-level security), audit log, TLS.",
    },
    {
        "name": "Invoicing and receivables",
        "purpose": "Issuing invoices, recording payments, collecting overdue amounts.",
        "data_subjects": "Customers' billing contacts; sole-trader customers.",
        "personal_data": "Name, billing address, tax id, bank account, payment history.",
        "lawful_basis": "legal_obligation",
        "recipients": "Finance staff; tax authority; auditors.",
        "cross_border_transfer": "",
        "retention": "Accounting records: 10 years from the document date (accounting law).",
        "security_measures": "Encrypted tax id and bank account fields, tamper-evident audit trail.",
    },
    {
        "name": "Credit assessment",
        "purpose": "Setting and reviewing credit limits and holds.",
        "data_subjects": "Sole-trader customers; guarantors.",
        "personal_data": "Payment behaviour, credit scores, financial statements.",
        "lawful_basis": "legitimate_interests",
        "recipients": "Credit managers; credit rating agencies.",
        "cross_border_transfer": "",
        "retention": "Credit assessments: per retention policy (default 10 years).",
        "security_measures": "Maker-checker approvals, role-based access, audit log.",
    },
    {
        "name": "Customer satisfaction and service",
        "purpose": "Satisfaction surveys, feedback, service requests, loyalty programme.",
        "data_subjects": "Customers' contact persons.",
        "personal_data": "Name, email, survey answers and comments, service request details.",
        "lawful_basis": "consent",
        "recipients": "Customer success staff.",
        "cross_border_transfer": "",
        "retention": "Survey comments and feedback: per retention policy (default 10 years).",
        "security_measures": "Single-use hashed survey links, role-based access, audit log.",
    },
]


def seed(organization: Organization) -> None:
    """The demo organization's register of processing activities (skips names already there)."""
    from finance import tenancy

    with tenancy.tenant(organization):
        existing = set(ProcessingActivity.objects.values_list("name", flat=True))
        for entry in DEFAULT_REGISTER:
            if entry["name"] not in existing:
                ProcessingActivity.objects.create(organization=organization, **entry)
