"""Writes of the receivables ledger. The API, pages, imports and tasks all call these.

Guarantees: amounts are Decimal and rounded to the currency's minor unit; every allocation locks
the invoice and its source (primary-key order) and re-checks what is left on both, and the
database's CHECK constraints refuse over-allocation even if this code were wrong.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Round
from django.utils.translation import gettext as _

from crm.models import Customer
from finance import audit
from finance.actors import Actor
from finance.bulk import BulkRowErrors, error_detail
from finance.models import AuditEvent
from finance.money import parse_amount, quantize
from receivables import signals
from receivables.models import (
    ZERO,
    Allocation,
    CreditNote,
    CustomerTerms,
    ExchangeRate,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentTerms,
    WriteOff,
)

DEFAULT_TERMS_DAYS = 30


def _save(instance: Any, unique_field: str = "number") -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError(
            {unique_field: [_("This value is already used in this organization.")]}
        ) from None


def _clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=["organization", *exclude])


def due_date_for(customer: Customer, issue_date: datetime.date) -> datetime.date:
    """The customer's payment terms, else the organization's default, else net 30."""
    customer_terms = CustomerTerms.objects.filter(customer=customer).select_related("terms").first()
    terms = customer_terms.terms if customer_terms else PaymentTerms.objects.filter(is_default=True).first()
    return _due_date(terms, issue_date)


@transaction.atomic
def customer_terms_set(*, actor: Actor, customer: Customer, terms: PaymentTerms) -> CustomerTerms:
    """Give a customer its own payment terms (credit applies an approved change of terms here);
    new invoices without a due date take them."""
    current = CustomerTerms.objects.select_for_update().filter(customer=customer).first()
    previous = str(current.terms) if current else None
    if current is None:
        current = CustomerTerms.objects.create(customer=customer, terms=terms)
    elif current.terms_id != terms.pk:
        current.terms = terms
        current.save(update_fields=["terms"])
    if previous != str(terms):
        audit.record(
            actor=actor,
            action="customer.terms_changed",
            instance=current,
            changes={"terms": [previous, str(terms)]},
            customer_id=customer.pk,
        )
    return current


def _due_date(terms: PaymentTerms | None, issue_date: datetime.date) -> datetime.date:
    if terms is None:
        return issue_date + datetime.timedelta(days=DEFAULT_TERMS_DAYS)
    return terms.due_date(issue_date)


def _due_date_rule_for_many(customer_ids: set[int]) -> Callable[[Customer, datetime.date], datetime.date]:
    """`due_date_for` for many customers with two queries in all, not two per invoice."""
    own = {
        t.customer_id: t.terms
        for t in CustomerTerms.objects.filter(customer_id__in=customer_ids).select_related("terms")
    }
    default = PaymentTerms.objects.filter(is_default=True).first() if len(own) < len(customer_ids) else None
    return lambda customer, issue_date: _due_date(own.get(customer.pk, default), issue_date)


# --- Invoices and credit notes ----------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal = ZERO


def line_amount(line: LineInput, currency: str) -> Decimal:
    """A line's amount with tax, rounded half-up to the minor unit; totals are sums of these."""
    return quantize(line.quantity * line.unit_price * (1 + line.tax_rate), currency)


@transaction.atomic
def invoice_create(
    *,
    actor: Actor,
    customer: Customer,
    number: str,
    currency: str,
    issue_date: datetime.date,
    total: Any = None,
    due_date: datetime.date | None = None,
    external_id: str | None = None,
    description: str = "",
    lines: list[LineInput] | None = None,
) -> Invoice:
    """Create an invoice. With lines, the total is the sum of rounded lines (and a given total
    must equal it); without a due date, it follows the customer's payment terms."""
    actor.require("invoice.create")
    invoice = _invoice_build(
        actor=actor,
        customer=customer,
        number=number,
        currency=currency,
        issue_date=issue_date,
        total=total,
        due_date=due_date,
        external_id=external_id,
        description=description,
        lines=lines,
    )
    _clean(invoice, INVOICE_CLEAN_EXCLUDE)
    _save(invoice)
    InvoiceLine.objects.bulk_create(_invoice_lines(invoice, lines or []))
    _invoice_created_event(actor, invoice).save()
    signals.emit_after_commit(signals.invoice_created, invoice=invoice)
    return invoice


INVOICE_CLEAN_EXCLUDE = ["customer", "allocated_total", "written_off_total"]


def _invoice_build(
    *,
    actor: Actor,
    customer: Customer,
    number: str,
    currency: str,
    issue_date: datetime.date,
    total: Any = None,
    due_date: datetime.date | None = None,
    external_id: str | None = None,
    description: str = "",
    lines: list[LineInput] | None = None,
    due_date_rule: Callable[[Customer, datetime.date], datetime.date] = due_date_for,
) -> Invoice:
    """The unsaved invoice of `invoice_create`, its total and due date checked."""
    errors: dict[str, list[str]] = {}
    if lines:
        computed = sum((line_amount(line, currency) for line in lines), ZERO)
        if total is not None and parse_amount(total, currency, "total") != computed:
            errors["total"] = [_("The total must equal the sum of the lines (%(sum)s).") % {"sum": computed}]
        total = computed
    if total is None:
        errors["total"] = [_("Give a total or lines.")]
    if errors:
        raise ValidationError(errors)
    invoice = Invoice(
        organization=actor.organization,
        customer=customer,
        number=number,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date or due_date_rule(customer, issue_date),
        total=parse_amount(total, currency, "total"),
        external_id=external_id or None,
        description=description,
    )
    if invoice.due_date < invoice.issue_date:
        raise ValidationError({"due_date": [_("The due date cannot be before the issue date.")]})
    return invoice


def _invoice_lines(invoice: Invoice, lines: list[LineInput]) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            organization=invoice.organization,
            invoice=invoice,
            position=position,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_rate=line.tax_rate,
            amount=line_amount(line, invoice.currency),
        )
        for position, line in enumerate(lines)
    ]


def _invoice_created_event(actor: Actor, invoice: Invoice) -> AuditEvent:
    return audit.build(
        actor=actor,
        action="invoice.created",
        instance=invoice,
        changes={"total": [None, str(invoice.total)], "currency": [None, invoice.currency]},
        customer_id=invoice.customer_id,
    )


INVOICE_FIELDS = {
    "customer",
    "number",
    "currency",
    "issue_date",
    "total",
    "due_date",
    "external_id",
    "description",
    "lines",
}


def _invoices_create_many(actor: Actor, items: list[dict[str, Any]]) -> dict[str, Invoice] | None:
    """New invoices from bulk items, by external id, as `invoice_create` makes them one by one
    (same checks, rows, lines, audit events and signals) in a few statements instead of some
    fifteen per invoice. None, with nothing written, as soon as an item fails a check or the
    database refuses a row (a number already used): the caller then creates them one by one,
    which names each row's error."""
    actor.require("invoice.create")
    if any(set(item) - INVOICE_FIELDS for item in items):
        return None
    due_date_rule = _due_date_rule_for_many(
        {item["customer"].pk for item in items if not item.get("due_date")}
    )
    invoices: list[Invoice] = []
    lines: list[InvoiceLine] = []
    try:
        for item in items:
            fields = {k: v for k, v in item.items() if k != "lines"}
            invoice_lines = [LineInput(**line) for line in item.get("lines") or []]
            invoice = _invoice_build(actor=actor, lines=invoice_lines, due_date_rule=due_date_rule, **fields)
            # The unique and check constraints are the database's to enforce here (the row is
            # refused), not one query each per invoice.
            invoice.full_clean(
                exclude=["organization", *INVOICE_CLEAN_EXCLUDE],
                validate_unique=False,
                validate_constraints=False,
            )
            invoices.append(invoice)
            lines += _invoice_lines(invoice, invoice_lines)
    except ValidationError:
        return None
    try:
        with transaction.atomic():
            Invoice.objects.bulk_create(invoices)
            InvoiceLine.objects.bulk_create(lines)  # takes each invoice's id, known now
            audit.record_many([_invoice_created_event(actor, invoice) for invoice in invoices])
    except IntegrityError:
        return None
    signals.emit_each_after_commit(signals.invoice_created, "invoice", invoices)
    return {invoice.external_id: invoice for invoice in invoices}


@transaction.atomic
def credit_note_create(
    *,
    actor: Actor,
    customer: Customer,
    number: str,
    currency: str,
    issue_date: datetime.date,
    total: Any,
    external_id: str | None = None,
    description: str = "",
    allocations: list[dict[str, Any]] | None = None,
) -> CreditNote:
    """Create a credit note and apply it to invoices (dated its issue date unless given)."""
    actor.require("credit_note.create")
    note = CreditNote(
        organization=actor.organization,
        customer=customer,
        number=number,
        currency=currency,
        issue_date=issue_date,
        total=parse_amount(total, currency, "total"),
        external_id=external_id or None,
        description=description,
    )
    _clean(note, ["customer", "allocated_total"])
    _save(note)
    audit.record(
        actor=actor,
        action="credit_note.created",
        instance=note,
        changes={"total": [None, str(note.total)], "currency": [None, currency]},
        customer_id=customer.pk,
    )
    _apply_many(actor, note, allocations or [], default_date=issue_date)
    return note


@transaction.atomic
def invoice_void(*, actor: Actor, invoice: Invoice, voided_on: datetime.date | None = None) -> Invoice:
    """Void an invoice that has no allocations or write-offs; it leaves every report from that day."""
    actor.require("invoice.void")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.voided_on:
        raise ValidationError(_("This invoice is already void."))
    if invoice.allocated_total or invoice.written_off_total or invoice.allocations.exists():
        raise ValidationError(_("An invoice with payments, credits or write-offs cannot be voided."))
    invoice.voided_on = voided_on or actor.organization.local_today()
    invoice.save(update_fields=["voided_on"])
    audit.record(
        actor=actor,
        action="invoice.voided",
        instance=invoice,
        changes={"voided_on": [None, str(invoice.voided_on)]},
        customer_id=invoice.customer_id,
    )
    return invoice


# --- Payments and allocations -----------------------------------------------------------------


def _lock_invoices(ids: list[int]) -> dict[int, Invoice]:
    return {i.pk: i for i in Invoice.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _plus(field: str, amount: Decimal) -> Round:
    """`field + amount` computed by the database, rounded to cents. On SQLite decimals are
    floats: 0.10 + 0.20 there is 0.30000000000000004, which the CHECK against a 0.30 payment would
    refuse (IntegrityError). On PostgreSQL (NUMERIC) the rounding changes nothing."""
    return Round(F(field) + amount, 2)


def _allocate(
    actor: Actor,
    source: Payment | CreditNote,
    invoice: Invoice,
    amount: Decimal,
    allocated_on: datetime.date,
) -> Allocation:
    """Apply `amount` of a locked source to a locked invoice, or raise ValidationError."""
    source_date = source.received_on if isinstance(source, Payment) else source.issue_date
    left_on_source = (source.amount if isinstance(source, Payment) else source.total) - source.allocated_total
    if invoice.customer_id != source.customer_id:
        raise ValidationError({"invoice": [_("The invoice belongs to another customer.")]})
    if invoice.currency != source.currency:
        raise ValidationError({"invoice": [_("The invoice is in another currency.")]})
    if invoice.voided_on:
        raise ValidationError({"invoice": [_("The invoice is void.")]})
    if allocated_on < invoice.issue_date or allocated_on < source_date:
        raise ValidationError({"allocated_on": [_("An allocation cannot be dated before either document.")]})
    if amount > invoice.outstanding:
        raise ValidationError(
            {
                "amount": [
                    _("Only %(left)s is outstanding on invoice %(number)s.")
                    % {"left": invoice.outstanding, "number": invoice.number}
                ]
            }
        )
    if amount > left_on_source:
        raise ValidationError(
            {"amount": [_("Only %(left)s is left to allocate.") % {"left": left_on_source}]}
        )
    allocation = Allocation(
        organization=actor.organization,
        invoice=invoice,
        payment=source if isinstance(source, Payment) else None,
        credit_note=source if isinstance(source, CreditNote) else None,
        amount=amount,
        allocated_on=allocated_on,
        created_by=actor.user,
    )
    allocation.save()
    Invoice.objects.filter(pk=invoice.pk).update(allocated_total=_plus("allocated_total", amount))
    type(source).objects.filter(pk=source.pk).update(allocated_total=_plus("allocated_total", amount))
    invoice.allocated_total += amount
    source.allocated_total += amount
    audit.record(
        actor=actor,
        action="allocation.created",
        instance=allocation,
        changes={"amount": [None, str(amount)], "invoice": [None, invoice.pk]},
        customer_id=invoice.customer_id,
    )
    if invoice.outstanding == 0:
        signals.emit_after_commit(signals.invoice_settled, invoice=invoice)
    return allocation


def _apply_many(
    actor: Actor,
    source: Payment | CreditNote,
    requested: list[dict[str, Any]],
    *,
    default_date: datetime.date,
) -> list[Allocation]:
    """Allocations given with a document: each {'invoice': Invoice, 'amount', 'allocated_on'?}."""
    if not requested:
        return []
    invoices = _lock_invoices(sorted({item["invoice"].pk for item in requested}))
    errors: list[dict[str, Any]] = []
    made = []
    for item in requested:
        try:
            made.append(
                _allocate(
                    actor,
                    source,
                    invoices[item["invoice"].pk],
                    parse_amount(item["amount"], source.currency, "amount"),
                    item.get("allocated_on") or default_date,
                )
            )
            errors.append({})
        except ValidationError as exc:
            errors.append(exc.message_dict)
    if any(errors):
        raise BulkRowErrors(errors, key="allocations")
    return made


@transaction.atomic
def payment_record(
    *,
    actor: Actor,
    customer: Customer,
    currency: str,
    received_on: datetime.date,
    amount: Any,
    method: str = "bank_transfer",
    reference: str = "",
    external_id: str | None = None,
    allocations: list[dict[str, Any]] | None = None,
    auto_allocate: bool = True,
) -> Payment:
    """Record a payment. Explicit allocations are applied as given; otherwise (with
    `auto_allocate`) it pays the customer's open invoices in its currency, oldest due date first,
    then lowest id. Whatever is left stays unapplied cash on account."""
    actor.require("payment.post")
    payment = Payment(
        organization=actor.organization,
        customer=customer,
        currency=currency,
        received_on=received_on,
        amount=parse_amount(amount, currency, "amount"),
        method=method,
        reference=reference,
        external_id=external_id or None,
    )
    _clean(payment, ["customer", "allocated_total"])
    _save(payment, "external_id")
    audit.record(
        actor=actor,
        action="payment.recorded",
        instance=payment,
        changes={"amount": [None, str(payment.amount)], "currency": [None, currency]},
        customer_id=customer.pk,
    )
    if allocations:
        _apply_many(actor, payment, allocations, default_date=received_on)
    elif auto_allocate:
        payment_auto_allocate(actor=actor, payment=payment)
    signals.emit_after_commit(signals.payment_recorded, payment=payment)
    return payment


def open_invoices_for(payment_or_note: Payment | CreditNote, on: datetime.date) -> list[Invoice]:
    """Invoices a payment may pay: same customer and currency, issued by `on`, not void, open."""
    return list(
        Invoice.objects.filter(
            customer_id=payment_or_note.customer_id,
            currency=payment_or_note.currency,
            voided_on__isnull=True,
            issue_date__lte=on,
            total__gt=F("allocated_total") + F("written_off_total"),
        ).order_by("due_date", "id")
    )


def payment_auto_allocate(*, actor: Actor, payment: Payment) -> list[Allocation]:
    """Oldest due date first, then lowest id; stops when the payment is used up."""
    candidates = open_invoices_for(payment, payment.received_on)
    locked = _lock_invoices([i.pk for i in candidates])
    made = []
    for invoice in candidates:
        left = payment.amount - payment.allocated_total
        if left <= 0:
            break
        invoice = locked[invoice.pk]
        amount = min(left, invoice.outstanding)
        if amount > 0:
            made.append(_allocate(actor, payment, invoice, amount, payment.received_on))
    return made


@transaction.atomic
def allocation_create(
    *,
    actor: Actor,
    invoice: Invoice,
    amount: Any,
    payment: Payment | None = None,
    credit_note: CreditNote | None = None,
    allocated_on: datetime.date | None = None,
) -> Allocation:
    """Apply unapplied cash or unallocated credit to an invoice later."""
    actor.require("payment.post")
    if (payment is None) == (credit_note is None):
        raise ValidationError(_("Name either a payment or a credit note."))
    source_model = Payment if payment is not None else CreditNote
    source_id = (payment or credit_note).pk  # type: ignore[union-attr]
    # Lock in primary-key order within each table: invoices first, then the source.
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    source = source_model.objects.select_for_update().get(pk=source_id)
    on = allocated_on or actor.organization.local_today()
    return _allocate(actor, source, invoice, parse_amount(amount, invoice.currency, "amount"), on)


# --- Write-offs ---------------------------------------------------------------------------------


def write_off_threshold(actor: Actor) -> Decimal:
    return Decimal(str(actor.organization.settings.get("write_off_approval_threshold", "1000")))


@transaction.atomic
def invoice_write_off(
    *, actor: Actor, invoice: Invoice, amount: Any, reason: str, written_off_on: datetime.date | None = None
) -> WriteOff:
    """Request a write-off. At or below the organization's threshold it takes effect at once;
    above it, it waits for approval by someone else (maker-checker)."""
    actor.require("writeoff.request")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    amount = parse_amount(amount, invoice.currency, "amount")
    if not reason.strip():
        raise ValidationError({"reason": [_("Give a reason.")]})
    if amount > invoice.outstanding:
        raise ValidationError(
            {"amount": [_("Only %(left)s is outstanding.") % {"left": invoice.outstanding}]}
        )
    on = written_off_on or actor.organization.local_today()
    if on < invoice.issue_date:
        raise ValidationError({"written_off_on": [_("A write-off cannot be dated before the invoice.")]})
    write_off = WriteOff(
        organization=actor.organization,
        invoice=invoice,
        amount=amount,
        reason=reason.strip(),
        written_off_on=on,
        requested_by=actor.user,
    )
    write_off.save()
    audit.record(
        actor=actor,
        action="write_off.requested",
        instance=write_off,
        changes={"amount": [None, str(amount)], "reason": [None, write_off.reason]},
        customer_id=invoice.customer_id,
    )
    base_amount = _base_amount(invoice.currency, amount, invoice.issue_date, actor)
    if base_amount is not None and base_amount <= write_off_threshold(actor):
        _write_off_apply(actor, write_off, invoice)
    return write_off


def _base_amount(currency: str, amount: Decimal, on: datetime.date, actor: Actor) -> Decimal | None:
    if currency == actor.organization.base_currency:
        return amount
    rate = ExchangeRate.objects.filter(currency=currency, date__lte=on).order_by("-date").first()
    return amount * rate.rate if rate else None


def _write_off_apply(actor: Actor, write_off: WriteOff, invoice: Invoice) -> None:
    if write_off.amount > invoice.outstanding:
        raise ValidationError(
            {"amount": [_("Only %(left)s is outstanding.") % {"left": invoice.outstanding}]}
        )
    write_off.status = WriteOff.Status.APPROVED
    write_off.approved_by = actor.user
    write_off.save(update_fields=["status", "approved_by"])
    Invoice.objects.filter(pk=invoice.pk).update(
        written_off_total=_plus("written_off_total", write_off.amount)
    )
    invoice.written_off_total += write_off.amount
    audit.record(
        actor=actor,
        action="write_off.approved",
        instance=write_off,
        changes={"status": ["pending", "approved"]},
        customer_id=invoice.customer_id,
    )
    if invoice.outstanding == 0:
        signals.emit_after_commit(signals.invoice_settled, invoice=invoice)


@transaction.atomic
def write_off_decide(*, actor: Actor, write_off: WriteOff, approve: bool) -> WriteOff:
    """Approve or reject a pending write-off; the requester cannot decide their own."""
    actor.require("writeoff.approve")
    write_off = WriteOff.objects.select_for_update().get(pk=write_off.pk)
    if write_off.status != WriteOff.Status.PENDING:
        raise ValidationError(_("This write-off was already decided."))
    if write_off.requested_by_id is not None and write_off.requested_by_id == actor.user_id:
        raise ValidationError(_("Someone other than the requester must decide this write-off."))
    invoice = Invoice.objects.select_for_update().get(pk=write_off.invoice_id)
    if approve:
        _write_off_apply(actor, write_off, invoice)
    else:
        write_off.status = WriteOff.Status.REJECTED
        write_off.approved_by = actor.user
        write_off.save(update_fields=["status", "approved_by"])
        audit.record(
            actor=actor,
            action="write_off.rejected",
            instance=write_off,
            changes={"status": ["pending", "rejected"]},
            customer_id=invoice.customer_id,
        )
    return write_off


# --- Exchange rates -----------------------------------------------------------------------------


@transaction.atomic
def exchange_rate_set(*, actor: Actor, currency: str, date: datetime.date, rate: Any) -> ExchangeRate:
    """Set the rate of `currency` (base-currency units per unit) from `date`; replaces that day's."""
    actor.require("exchange_rate.change")
    if currency == actor.organization.base_currency:
        raise ValidationError({"currency": [_("The base currency needs no rate.")]})
    try:
        value = Decimal(str(rate))
    except (InvalidOperation, ValueError):
        raise ValidationError({"rate": [_("Enter a number.")]}) from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1e10"):
        raise ValidationError({"rate": [_("Must be a positive number.")]})
    existing = ExchangeRate.objects.select_for_update().filter(currency=currency, date=date).first()
    before = str(existing.rate) if existing else None
    rate_row = existing or ExchangeRate(organization=actor.organization, currency=currency, date=date)
    rate_row.rate = value.quantize(Decimal("1e-10"))
    _clean(rate_row, [])
    rate_row.save()
    audit.record(
        actor=actor,
        action="exchange_rate.set",
        instance=rate_row,
        changes={"rate": [before, str(rate_row.rate)]},
    )
    return rate_row


# --- Bulk upserts from the ERP ------------------------------------------------------------------

# Fields an ERP may change on a document that already has activity; the rest are fixed.
MUTABLE_FIELDS = {
    "invoice": {"description", "due_date", "number"},
    "credit_note": {"description", "number"},
    "payment": {"reference", "method"},
}
MODELS = {"invoice": Invoice, "credit_note": CreditNote, "payment": Payment}


@dataclass(frozen=True)
class BulkResult:
    external_id: str
    id: int
    status: str  # created | updated | unchanged


def _differences(document: Any, item: dict[str, Any]) -> dict[str, Any]:
    changed = {}
    for name, value in item.items():
        if name in {"external_id", "allocations", "auto_allocate", "lines"}:
            continue
        current = getattr(document, name, None)
        if isinstance(current, Decimal) and value is not None:
            value = quantize(Decimal(str(value)), document.currency)
        if current != value:
            changed[name] = value
    return changed


def documents_bulk_upsert(
    *, actor: Actor, kind: str, items: list[dict[str, Any]], progress: Callable[[int], None] | None = None
) -> list[BulkResult]:
    """Create or update invoices, credit notes or payments by external id, all or nothing.

    A new external id creates the document through the same service as a single POST. An existing
    one is `unchanged` when nothing differs, `updated` when only descriptive fields differ, and an
    error when amounts, currency, customer or dates would change (void and re-issue instead).
    Raises BulkRowErrors with one dict of errors per item; nothing is written then.
    """

    model = MODELS[kind]
    create = {"invoice": invoice_create, "credit_note": credit_note_create, "payment": payment_record}[kind]
    seen: set[str] = set()
    errors: list[dict[str, Any]] = []
    results: list[BulkResult] = []
    with transaction.atomic():
        existing = {
            d.external_id: d
            for d in model.objects.select_for_update().filter(
                external_id__in=[i["external_id"] for i in items]
            )
        }
        created: dict[str, Any] = {}
        new = [item for item in items if item["external_id"] not in existing]
        if kind == "invoice" and len(new) > 1 and len({item["external_id"] for item in new}) == len(new):
            created = _invoices_create_many(actor, new) or {}
        for position, item in enumerate(items):
            if progress is not None and position % 100 == 0:
                progress(position)
            external_id = item["external_id"]
            if external_id in seen:
                errors.append({"external_id": [_("This external_id appears twice in the request.")]})
                continue
            seen.add(external_id)
            document = existing.get(external_id)
            if external_id in created:
                results.append(BulkResult(external_id, created[external_id].pk, "created"))
                errors.append({})
                continue
            try:
                with transaction.atomic():
                    if document is None:
                        fields = {k: v for k, v in item.items() if k != "lines"}
                        if kind == "invoice" and item.get("lines"):
                            fields["lines"] = [LineInput(**line) for line in item["lines"]]
                        document = create(actor=actor, **fields)
                        results.append(BulkResult(external_id, document.pk, "created"))
                    else:
                        changes = _differences(document, item)
                        fixed = set(changes) - MUTABLE_FIELDS[kind]
                        if fixed:
                            raise ValidationError(
                                {
                                    name: [_("Cannot change this on an existing document.")]
                                    for name in sorted(fixed)
                                }
                            )
                        if not changes:
                            results.append(BulkResult(external_id, document.pk, "unchanged"))
                        else:
                            before = audit.snapshot(document, list(changes))
                            for name, value in changes.items():
                                setattr(document, name, value)
                            _clean(document, ["customer", "allocated_total"])
                            _save(document)
                            audit.record(
                                actor=actor,
                                action=f"{kind}.updated",
                                instance=document,
                                changes=audit.diff(before, audit.snapshot(document, list(changes))),
                                customer_id=document.customer_id,
                            )
                            results.append(BulkResult(external_id, document.pk, "updated"))
                errors.append({})
            except ValidationError as exc:
                errors.append(error_detail(exc))
        if any(errors):
            raise BulkRowErrors(errors)
    return results
