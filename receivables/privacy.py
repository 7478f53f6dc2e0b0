"""What receivables holds about a customer or contact, for crm's privacy export, erasure and retention.

Erasure keeps the ledger (invoices, credit notes, payments, allocations, write-offs): accounting
law requires it for the retention period of each document type. Correspondence and free text that
may name people (dunning letters, statement emails, dispute and promise notes) is anonymised.
Retention never deletes a ledger document: past its period, an erased customer's documents lose
their free text (description, reference, reason) and stay as anonymous figures.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Contact, Customer, RetentionDocumentType
from crm.privacy import (
    ERASED,
    Entry,
    PrivacySection,
    RetentionRule,
    anonymise,
    anonymise_count,
    keep_documents,
    register_retention_rule,
    register_section,
    rows,
)
from finance.actors import Actor
from finance.models import Organization
from receivables.models import (
    Allocation,
    CollectionProfile,
    CreditNote,
    CustomerTerms,
    Dispute,
    DunningMessage,
    Invoice,
    InvoiceLine,
    LateFee,
    Payment,
    PromiseInvoice,
    PromiseToPay,
    Reminder,
    StatementSend,
    WriteOff,
)


def _letters(customer: Customer | None, contact: Contact | None) -> QuerySet[DunningMessage]:
    if customer is not None:
        return DunningMessage.objects.filter(customer=customer)
    if not contact.email:  # type: ignore[union-attr]
        return DunningMessage.objects.none()
    return DunningMessage.objects.filter(customer_id=contact.customer_id, recipient__iexact=contact.email)  # type: ignore[union-attr]


def _statement_sends(customer: Customer | None, contact: Contact | None) -> QuerySet[StatementSend]:
    if customer is not None:
        return StatementSend.objects.filter(customer=customer)
    if not contact.email:  # type: ignore[union-attr]
        return StatementSend.objects.none()
    return StatementSend.objects.filter(customer_id=contact.customer_id, email__iexact=contact.email)  # type: ignore[union-attr]


def export_ledger(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    if customer is None:
        return {}
    invoices = Invoice.objects.filter(customer=customer)
    return {
        "invoices": rows(invoices),
        "invoice_lines": rows(InvoiceLine.objects.filter(invoice__customer=customer)),
        "credit_notes": rows(CreditNote.objects.filter(customer=customer)),
        "payments": rows(Payment.objects.filter(customer=customer)),
        "allocations": rows(Allocation.objects.filter(invoice__customer=customer)),
        "write_offs": rows(WriteOff.objects.filter(invoice__customer=customer)),
        "late_fees": rows(LateFee.objects.filter(invoice__customer=customer)),
        "payment_terms": rows(CustomerTerms.objects.filter(customer=customer)),
    }


def export_collections(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    letters = {
        "dunning_letters": rows(_letters(customer, contact)),
        "statement_emails": rows(_statement_sends(customer, contact)),
    }
    if customer is None:
        return letters
    return {
        "disputes": rows(Dispute.objects.filter(customer=customer)),
        "promises_to_pay": rows(PromiseToPay.objects.filter(customer=customer)),
        "promise_invoices": rows(PromiseInvoice.objects.filter(promise__customer=customer)),
        "reminders": rows(Reminder.objects.filter(customer=customer)),
        "collection_profile": rows(CollectionProfile.objects.filter(customer=customer)),
        **letters,
    }


def erase_ledger(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    """The ledger is kept, each document type until the latest document's retention ends."""
    if customer is None:
        return []
    entries = [
        keep_documents(
            Invoice.objects.filter(customer=customer),
            section="receivables.ledger",
            label=_("invoices"),
            document_type=RetentionDocumentType.INVOICE,
            date_field="issue_date",
        ),
        keep_documents(
            CreditNote.objects.filter(customer=customer),
            section="receivables.ledger",
            label=_("credit notes"),
            document_type=RetentionDocumentType.CREDIT_NOTE,
            date_field="issue_date",
        ),
        keep_documents(
            Payment.objects.filter(customer=customer),
            section="receivables.ledger",
            label=_("payments"),
            document_type=RetentionDocumentType.PAYMENT,
            date_field="received_on",
        ),
        keep_documents(
            Allocation.objects.filter(invoice__customer=customer),
            section="receivables.ledger",
            label=_("allocations"),
            document_type=RetentionDocumentType.PAYMENT,
            date_field="allocated_on",
        ),
        keep_documents(
            WriteOff.objects.filter(invoice__customer=customer),
            section="receivables.ledger",
            label=_("write-offs"),
            document_type=RetentionDocumentType.WRITE_OFF,
            date_field="written_off_on",
        ),
    ]
    return [e for e in entries if e]


def erase_collections(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    section = "receivables.collections"
    entries = [
        anonymise(
            _letters(customer, contact),
            section=section,
            label=_("dunning letters"),
            values={"recipient": "", "subject": ERASED, "body": "", "html": "", "last_error": ""},
        ),
        anonymise(
            _statement_sends(customer, contact),
            section=section,
            label=_("statement emails"),
            values={"email": "", "error": ""},
        ),
    ]
    if customer is not None:
        entries += [
            anonymise(
                Dispute.objects.filter(customer=customer),
                section=section,
                label=_("disputes"),
                values={"description": "", "resolution": ""},
            ),
            anonymise(
                PromiseToPay.objects.filter(customer=customer),
                section=section,
                label=_("promises to pay"),
                values={"note": ""},
            ),
        ]
    return [e for e in entries if e]


def _retain(date_filter: str, model: Any, values: dict[str, Any], erased_only: bool = False):  # noqa: ANN202
    def apply(*, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]) -> int:
        rows_past = model.objects.filter(**{date_filter: cutoff})
        if erased_only:
            customer_field = "invoice__customer_id__in" if model is WriteOff else "customer_id__in"
            rows_past = rows_past.filter(**{customer_field: erased_customer_ids})
        return anonymise_count(rows_past, values)

    return apply


def register() -> None:
    register_section(
        PrivacySection(name="receivables.ledger", export=export_ledger, erase=erase_ledger, order=20)
    )
    register_section(
        PrivacySection(
            name="receivables.collections", export=export_collections, erase=erase_collections, order=21
        )
    )
    rules = [
        (
            "receivables.dunning_letters",
            RetentionDocumentType.DUNNING_LETTER,
            "run_date__lt",
            DunningMessage,
            {"recipient": "", "body": "", "html": "", "last_error": ""},
            False,
            gettext_lazy("Dunning letters past the retention lose their recipient and text."),
        ),
        (
            "receivables.statement_emails",
            RetentionDocumentType.DUNNING_LETTER,
            "period_end__lt",
            StatementSend,
            {"email": "", "error": ""},
            False,
            gettext_lazy("Statement emails past the retention lose their address."),
        ),
        (
            "receivables.disputes",
            RetentionDocumentType.DISPUTE,
            "resolved_on__lt",
            Dispute,
            {"description": "", "resolution": ""},
            False,
            gettext_lazy("Disputes resolved before the cutoff lose their description and resolution text."),
        ),
        (
            "receivables.promises",
            RetentionDocumentType.PROMISE,
            "recorded_on__lt",
            PromiseToPay,
            {"note": ""},
            False,
            gettext_lazy("Promises to pay past the retention lose their note."),
        ),
        (
            "receivables.invoices",
            RetentionDocumentType.INVOICE,
            "issue_date__lt",
            Invoice,
            {"description": ""},
            True,
            gettext_lazy(
                "Erased customers' invoices past the retention lose their description; figures stay."
            ),
        ),
        (
            "receivables.credit_notes",
            RetentionDocumentType.CREDIT_NOTE,
            "issue_date__lt",
            CreditNote,
            {"description": ""},
            True,
            gettext_lazy(
                "Erased customers' credit notes past the retention lose their description; figures stay."
            ),
        ),
        (
            "receivables.payments",
            RetentionDocumentType.PAYMENT,
            "received_on__lt",
            Payment,
            {"reference": ""},
            True,
            gettext_lazy("Erased customers' payments past the retention lose their reference; figures stay."),
        ),
        (
            "receivables.write_offs",
            RetentionDocumentType.WRITE_OFF,
            "written_off_on__lt",
            WriteOff,
            {"reason": ERASED},
            True,
            gettext_lazy(
                "Erased customers' write-offs past the retention lose their reason text; figures stay."
            ),
        ),
    ]
    for name, document_type, date_filter, model, values, erased_only, description in rules:
        register_retention_rule(
            RetentionRule(
                name=name,
                document_type=document_type,
                apply=_retain(date_filter, model, values, erased_only),
                description=description,
            )
        )
