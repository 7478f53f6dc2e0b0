"""Customer statements: opening balance, the period's activity, open items with aging, closing
balance, per currency; rendered as HTML and as PDF (WeasyPrint) from one template."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from crm.models import Customer
from finance.models import Organization
from finance.money import quantize
from receivables.models import CreditNote, Invoice, Payment, WriteOff
from receivables.selectors import aging_invoices

ZERO = Decimal("0")


@dataclass
class StatementLine:
    date: datetime.date
    kind: str
    reference: str
    debit: Decimal
    credit: Decimal
    balance: Decimal = ZERO


@dataclass
class CurrencySection:
    currency: str
    opening: Decimal
    lines: list[StatementLine]
    closing: Decimal
    open_items: list[Invoice] = field(default_factory=list)


@dataclass
class Statement:
    organization: Organization
    customer: Customer
    date_from: datetime.date
    date_to: datetime.date
    sections: list[CurrencySection]
    language: str


def balance_as_of(customer: Customer, currency: str, as_of: datetime.date) -> Decimal:
    """What the customer owes in `currency` at the end of `as_of`: invoices − approved write-offs −
    payments − credit notes, each counted from its own date (voided documents from their void date)."""
    not_void = Q(voided_on__isnull=True) | Q(voided_on__gt=as_of)
    invoiced = Invoice.objects.filter(
        not_void, customer=customer, currency=currency, issue_date__lte=as_of
    ).aggregate(s=Sum("total"))["s"]
    credited = CreditNote.objects.filter(
        not_void, customer=customer, currency=currency, issue_date__lte=as_of
    ).aggregate(s=Sum("total"))["s"]
    paid = Payment.objects.filter(customer=customer, currency=currency, received_on__lte=as_of).aggregate(
        s=Sum("amount")
    )["s"]
    written_off = WriteOff.objects.filter(
        invoice__customer=customer,
        invoice__currency=currency,
        status=WriteOff.Status.APPROVED,
        written_off_on__lte=as_of,
    ).aggregate(s=Sum("amount"))["s"]
    return quantize(
        (invoiced or ZERO) - (credited or ZERO) - (paid or ZERO) - (written_off or ZERO), currency
    )


def build_statement(*, customer: Customer, date_from: datetime.date, date_to: datetime.date) -> Statement:
    """The statement for a period; per currency, opening + debits − credits = closing."""
    organization = customer.organization
    currencies = sorted(
        set(Invoice.objects.filter(customer=customer).values_list("currency", flat=True))
        | set(Payment.objects.filter(customer=customer).values_list("currency", flat=True))
        | set(CreditNote.objects.filter(customer=customer).values_list("currency", flat=True))
    )
    sections = []
    period = {"gte": date_from, "lte": date_to}
    for currency in currencies:
        opening = balance_as_of(customer, currency, date_from - datetime.timedelta(days=1))
        lines: list[StatementLine] = []
        for invoice in Invoice.objects.filter(
            customer=customer, currency=currency, issue_date__gte=period["gte"], issue_date__lte=period["lte"]
        ).exclude(voided_on__lte=date_to):
            lines.append(StatementLine(invoice.issue_date, _("Invoice"), invoice.number, invoice.total, ZERO))
        for note in CreditNote.objects.filter(
            customer=customer, currency=currency, issue_date__gte=period["gte"], issue_date__lte=period["lte"]
        ).exclude(voided_on__lte=date_to):
            lines.append(StatementLine(note.issue_date, _("Credit note"), note.number, ZERO, note.total))
        for payment in Payment.objects.filter(
            customer=customer,
            currency=currency,
            received_on__gte=period["gte"],
            received_on__lte=period["lte"],
        ):
            lines.append(StatementLine(payment.received_on, _("Payment"), str(payment), ZERO, payment.amount))
        for write_off in WriteOff.objects.filter(
            invoice__customer=customer,
            invoice__currency=currency,
            status=WriteOff.Status.APPROVED,
            written_off_on__gte=period["gte"],
            written_off_on__lte=period["lte"],
        ).select_related("invoice"):
            lines.append(
                StatementLine(
                    write_off.written_off_on, _("Write-off"), write_off.invoice.number, ZERO, write_off.amount
                )
            )
        lines.sort(key=lambda line: (line.date, line.debit == 0))
        running = opening
        for line in lines:
            running += line.debit - line.credit
            line.balance = running
        closing = balance_as_of(customer, currency, date_to)
        if not lines and not opening and not closing:
            continue
        open_items = list(
            aging_invoices(organization=organization, as_of=date_to).filter(
                customer=customer, currency=currency
            )
        )
        for invoice in open_items:
            invoice.days_past_due = max(0, (date_to - invoice.due_date).days)  # type: ignore[attr-defined]
        sections.append(CurrencySection(currency, opening, lines, closing, open_items))
    language = _statement_language(customer, organization)
    return Statement(organization, customer, date_from, date_to, sections, language)


def _statement_language(customer: Customer, organization: Organization) -> str:
    contact = (
        customer.contacts.filter(is_billing=True).first() or customer.contacts.filter(is_primary=True).first()
    )
    return contact.preferred_language if contact else organization.language


def render_statement_html(statement: Statement, *, for_pdf: bool = False) -> str:
    with translation.override(statement.language):
        return render_to_string(
            "receivables/statement.html", {"statement": statement, "for_pdf": for_pdf, "standalone": True}
        )


def render_statement_pdf(statement: Statement) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_statement_html(statement, for_pdf=True)).write_pdf()


def previous_month(run_date: datetime.date) -> tuple[datetime.date, datetime.date]:
    end = run_date.replace(day=1) - datetime.timedelta(days=1)
    return end.replace(day=1), end


def statement_recipient(customer: Customer) -> str:
    """The billing contact's email, else the primary contact's, else the customer's ("" if none)."""
    contact = (
        customer.contacts.filter(is_billing=True).exclude(email="").first()
        or customer.contacts.filter(is_primary=True).exclude(email="").first()
    )
    return contact.email if contact else customer.email


def statement_email(
    *, actor: Any, customer: Customer, date_from: datetime.date, date_to: datetime.date, email: str = ""
) -> bool:
    """Email the statement of a period (PDF attached) to the customer's billing address and log it
    on the customer's timeline. False, sending nothing, when the customer has no email address;
    the mail backend's errors propagate (the caller records or reports them)."""
    from django.core.mail import EmailMessage

    from crm.services import interaction_log

    email = email or statement_recipient(customer)
    if not email:
        return False
    statement = build_statement(customer=customer, date_from=date_from, date_to=date_to)
    with translation.override(statement.language):
        subject = _("Statement of account %(start)s – %(end)s, %(organization)s") % {
            "start": date_from.isoformat(),
            "end": date_to.isoformat(),
            "organization": actor.organization.name,
        }
        body = _("Please find attached your statement of account. Thank you for your business.")
    message = EmailMessage(subject, body, to=[email])
    message.attach(f"statement-{date_from:%Y-%m}.pdf", render_statement_pdf(statement), "application/pdf")
    message.send()
    interaction_log(
        actor=actor,
        customer=customer,
        kind="email",
        summary=_("Statement %(start)s – %(end)s emailed to %(email)s")
        % {"start": date_from.isoformat(), "end": date_to.isoformat(), "email": email},
        user=actor.user,
    )
    return True


def send_monthly_statements(*, actor: Any, run_date: datetime.date) -> dict[str, Any]:
    """On the first day of a month, email last month's statement (PDF attached) to the billing
    contact of every customer who opted in; once per customer and period, logged on the timeline.

    Other days it does nothing, so the daily dispatcher can run it without a calendar of its own.
    """
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from receivables.models import CustomerTerms, StatementSend

    if run_date.day != 1:
        return {"skipped": "not the first day of the month"}
    date_from, date_to = previous_month(run_date)
    sent = failed = 0
    for terms in CustomerTerms.objects.filter(statement_opt_in=True).select_related("customer"):
        customer = terms.customer
        email = statement_recipient(customer)
        if not email:
            continue
        try:
            with transaction.atomic():
                record, _created = StatementSend.objects.get_or_create(
                    customer=customer,
                    period_start=date_from,
                    defaults={"period_end": date_to, "email": email},
                )
        except IntegrityError:
            record = StatementSend.objects.get(customer=customer, period_start=date_from)
        if record.sent_at is not None:
            continue
        try:
            statement_email(actor=actor, customer=customer, date_from=date_from, date_to=date_to, email=email)
        except Exception as exc:  # SMTP errors of every kind: recorded, retried by the next run
            record.error = repr(exc)[:1000]
            record.save(update_fields=["error"])
            failed += 1
            continue
        record.sent_at, record.error = timezone.now(), ""
        record.save(update_fields=["sent_at", "error"])
        sent += 1
    if failed:
        raise RuntimeError(f"{failed} statements could not be sent; the next run retries them")
    return {"sent": sent, "period": [date_from.isoformat(), date_to.isoformat()]}


STATEMENT_LINK_SALT = "kehu.receivables.statement-link"
STATEMENT_LINK_MAX_AGE = datetime.timedelta(days=60)


def statement_link(*, organization_id: int, customer_id: int) -> str:
    """An absolute link a customer can open without an account: the signed (organization,
    customer) pair, valid for 60 days, showing the statement of the last 90 days as a PDF."""
    from django.conf import settings
    from django.core import signing
    from django.urls import reverse

    token = signing.dumps([organization_id, customer_id], salt=STATEMENT_LINK_SALT, compress=True)
    return settings.SITE_URL.rstrip("/") + reverse("statement-link", args=[token])


def statement_link_target(token: str) -> tuple[int, int] | None:
    """The (organization id, customer id) a link names, or None if forged or expired."""
    from django.core import signing

    try:
        organization_id, customer_id = signing.loads(
            token, salt=STATEMENT_LINK_SALT, max_age=STATEMENT_LINK_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return int(organization_id), int(customer_id)
