"""The receivables ledger: documents (invoices, credit notes, payments) joined by dated allocations.

Nothing is updated in place to "paid": an invoice's outstanding amount as of any date follows from
its allocations and write-offs dated up to that date. The running totals kept on each document
(`allocated_total`, `written_off_total`) exist so the database itself can refuse over-allocation
(CHECK constraints); the allocation services keep them in step under row locks.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from finance.models import TenantModel
from finance.money import validate_currency

MONEY = {"max_digits": 18, "decimal_places": 2}
ZERO = Decimal("0")


class PaymentTerms(TenantModel):
    class Kind(models.TextChoices):
        NET = "net", _("Net N days")
        END_OF_MONTH = "eom", _("End of month + N days")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=3, choices=Kind.choices, default=Kind.NET)
    days = models.PositiveSmallIntegerField(_("days"), default=30)
    is_default = models.BooleanField(_("organization default"), default=False)

    class Meta:
        verbose_name = _("payment terms")
        verbose_name_plural = _("payment terms")
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="terms_unique_name")]

    def __str__(self) -> str:
        return self.name

    def due_date(self, issue_date: datetime.date) -> datetime.date:
        if self.kind == self.Kind.END_OF_MONTH:
            next_month = (issue_date.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            month_end = next_month - datetime.timedelta(days=1)
            return month_end + datetime.timedelta(days=self.days)
        return issue_date + datetime.timedelta(days=self.days)


class CustomerTerms(TenantModel):
    """A customer's default payment terms (kept here: crm does not know about receivables)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="receivable_terms")
    terms = models.ForeignKey(PaymentTerms, on_delete=models.PROTECT, related_name="+")
    statement_opt_in = models.BooleanField(_("monthly statement by email"), default=False)

    def __str__(self) -> str:
        return f"{self.customer}: {self.terms}"


class Document(TenantModel):
    """Fields shared by invoices and credit notes."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    number = models.CharField(_("number"), max_length=50)
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    issue_date = models.DateField(_("issue date"))
    total = models.DecimalField(_("total"), **MONEY)
    description = models.CharField(_("description"), max_length=500, blank=True)
    allocated_total = models.DecimalField(**MONEY, default=ZERO, editable=False)
    voided_on = models.DateField(_("voided on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.number


class Invoice(Document):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="invoices"
    )
    due_date = models.DateField(_("due date"))
    written_off_total = models.DecimalField(**MONEY, default=ZERO, editable=False)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="invoice_unique_number"),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="invoice_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="invoice_total_positive"),
            models.CheckConstraint(
                condition=Q(allocated_total__gte=0) & Q(written_off_total__gte=0),
                name="invoice_settled_not_negative",
            ),
            models.CheckConstraint(
                # Rounded: on SQLite 0.10 + 0.20 is 0.30000000000000004, more than a 0.30 total.
                condition=Q(total__gte=Round(F("allocated_total") + F("written_off_total"), 2)),
                name="invoice_not_over_settled",
            ),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "customer", "due_date"], name="invoice_customer_due"),
            models.Index(
                fields=["organization", "due_date"],
                name="invoice_open_due",
                condition=Q(voided_on__isnull=True),
            ),
        ]

    @property
    def settled_total(self) -> Decimal:
        return self.allocated_total + self.written_off_total

    @property
    def outstanding(self) -> Decimal:
        return ZERO if self.voided_on else self.total - self.settled_total

    @property
    def status(self) -> str:
        if self.voided_on:
            return "void"
        if self.settled_total == 0:
            return "open"
        if self.settled_total < self.total:
            return "partially_paid"
        return "written_off" if self.written_off_total == self.total else "paid"


class InvoiceLine(TenantModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=4)
    tax_rate = models.DecimalField(_("tax rate"), max_digits=6, decimal_places=4, default=ZERO)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.description


class CreditNote(Document):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="credit_notes"
    )

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="credit_note_unique_number"),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="credit_note_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="credit_note_total_positive"),
            models.CheckConstraint(
                condition=Q(allocated_total__gte=0) & Q(total__gte=F("allocated_total")),
                name="credit_note_not_over_allocated",
            ),
        ]

    @property
    def unallocated(self) -> Decimal:
        return self.total - self.allocated_total


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CARD = "card", _("Card")
    CASH = "cash", _("Cash")
    CHEQUE = "cheque", _("Cheque")
    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    OTHER = "other", _("Other")


class Payment(TenantModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="payments"
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    received_on = models.DateField(_("received on"))
    amount = models.DecimalField(_("amount"), **MONEY)
    method = models.CharField(
        _("method"), max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.BANK_TRANSFER
    )
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    allocated_total = models.DecimalField(**MONEY, default=ZERO, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="payment_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(allocated_total__gte=0) & Q(amount__gte=F("allocated_total")),
                name="payment_not_over_allocated",
            ),
        ]

    def __str__(self) -> str:
        return self.reference or self.external_id or f"#{self.pk}"

    @property
    def unapplied(self) -> Decimal:
        return self.amount - self.allocated_total


class Allocation(TenantModel):
    """Part of a payment or a credit note applied to an invoice, on a date."""

    # Indexed below, with the date and amount (db_index=False: no second index on the same key).
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations", db_index=False)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    credit_note = models.ForeignKey(
        CreditNote,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="allocations",
        db_index=False,
    )
    amount = models.DecimalField(_("amount"), **MONEY)
    allocated_on = models.DateField(_("allocated on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["allocated_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=(Q(payment__isnull=False) & Q(credit_note__isnull=True))
                | (Q(payment__isnull=True) & Q(credit_note__isnull=False)),
                name="allocation_one_source",
            ),
        ]
        # Each document's allocations by date, with the amount and the organization (which the
        # row-level security policy reads): sums as of a date (aging, unapplied cash) read these
        # indexes alone, never the table, and they serve the foreign keys. Led by the document, not
        # the organization, so that no other index competes for those scans (docs/performance.md).
        indexes = [
            models.Index(
                fields=["invoice", "allocated_on", "amount", "organization"], name="allocation_invoice_date"
            ),
            models.Index(
                fields=["payment", "allocated_on", "amount", "organization"],
                name="allocation_payment_date",
                condition=Q(payment__isnull=False),
            ),
            models.Index(
                fields=["credit_note", "allocated_on", "amount", "organization"],
                name="allocation_credit_note_date",
                condition=Q(credit_note__isnull=False),
            ),
            # Is anything allocated after a report's date (selectors._settling; its first and last date)?
            models.Index(fields=["organization", "allocated_on"], name="allocation_org_date"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.invoice}"


class WriteOff(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=500)
    written_off_on = models.DateField(_("date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} of {self.invoice}"


class ExchangeRate(TenantModel):
    """Base-currency units per one unit of `currency`, from `date` on."""

    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    date = models.DateField(_("date"))
    rate = models.DecimalField(_("rate"), max_digits=20, decimal_places=10)

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "currency", "date"], name="rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date} {self.rate}"


class ReceivablesSnapshot(TenantModel):
    """The aging totals and KPIs of one day, stored by the nightly job so dashboards show trends.
    One per organization and date: a rerun replaces the day's figures."""

    date = models.DateField(_("date"))
    totals = models.JSONField(_("aging totals"), default=dict)  # bucket → "0.00", base currency
    kpis = models.JSONField(_("KPIs"), default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("receivables snapshot")
        verbose_name_plural = _("receivables snapshots")
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "date"], name="receivables_snapshot_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.date}"


class StatementSend(TenantModel):
    """One emailed statement per customer and period: the key that makes the monthly job idempotent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    email = models.EmailField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "period_start"], name="statement_send_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.period_start}"


class ImportJob(TenantModel):
    """A browser import of invoices or payments: upload → mapping → preview → background run.
    A file is all or nothing: the run writes every row in one transaction or none."""

    class Kind(models.TextChoices):
        INVOICES = "invoices", _("Invoices")
        PAYMENTS = "payments", _("Payments")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        VALIDATED = "validated", _("Checked")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    filename = models.CharField(_("file"), max_length=255)
    headers = models.JSONField(default=list)
    rows = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    row_errors = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.UPLOADED)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename
