"""Collections: dunning policies and their levels, the reminders sent, promises to pay, disputes,
late fees, and each customer's collection profile (policy by hand, collector, snooze).

The unique key of a reminder is (invoice, level): whatever runs twice, retries or dies midway, an
invoice is reminded at a level once. A message is what one customer receives in one run; it lists
the invoices whose reminders it carries, and keeps its own delivery state (attempts, backoff).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from finance.models import TenantModel
from finance.money import validate_currency
from receivables.models.ledger import MONEY, ZERO, CreditNote, Invoice


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WECOM = "wecom", _("WeCom")


class DunningPolicy(TenantModel):
    """An ordered list of levels; a customer gets the policy picked for them by hand, else the first
    active policy (by priority) whose rules match the customer's classification, else the default."""

    class LateFee(models.TextChoices):
        NONE = "none", _("No late fees")
        FIXED = "fixed", _("Fixed fee")
        INTEREST = "interest", _("Annual interest from the due date")

    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(_("organization default"), default=False)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    customer_groups = models.JSONField(_("customer groups"), default=list, blank=True)
    abc_classes = models.JSONField(_("ABC classes"), default=list, blank=True)
    risk_classes = models.JSONField(_("risk classes"), default=list, blank=True)
    per_invoice = models.BooleanField(_("one reminder per invoice"), default=False)
    grace_days_after_payment = models.PositiveSmallIntegerField(
        _("grace days after a payment"), default=3, validators=[MaxValueValidator(90)]
    )
    promise_grace_days = models.PositiveSmallIntegerField(
        _("grace days after a promised date"), default=2, validators=[MaxValueValidator(60)]
    )
    late_fee = models.CharField(_("late fees"), max_length=10, choices=LateFee.choices, default=LateFee.NONE)
    late_fee_amount = models.DecimalField(
        _("fixed fee"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    late_fee_annual_rate = models.DecimalField(
        _("annual interest rate (%)"),
        max_digits=6,
        decimal_places=3,
        default=ZERO,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("100"))],
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("dunning policy")
        verbose_name_plural = _("dunning policies")
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="dunning_policy_unique_name"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="dunning_policy_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def matches(self, customer: Customer) -> bool:
        """True when every rule the policy names matches (a policy naming no rule matches none)."""
        rules = [
            (self.customer_groups, customer.customer_group),
            (self.abc_classes, customer.abc_class),
            (self.risk_classes, customer.risk_class),
        ]
        named = [(values, value) for values, value in rules if values]
        return bool(named) and all(value in values for values, value in named)


class DunningLevel(TenantModel):
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    sequence = models.PositiveSmallIntegerField(_("step"))
    name = models.CharField(_("name"), max_length=100)
    days = models.SmallIntegerField(
        _("days from due date"),
        help_text=_("Negative for a friendly reminder before the due date."),
        validators=[MinValueValidator(-60), MaxValueValidator(3650)],
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    minimum_amount = models.DecimalField(
        _("minimum amount"), **MONEY, default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    pay_within_days = models.PositiveSmallIntegerField(
        _("pay within days"), default=7, validators=[MaxValueValidator(90)]
    )
    send = models.BooleanField(_("send a reminder"), default=True)
    attach_statement = models.BooleanField(_("attach the statement PDF"), default=False)
    create_task = models.BooleanField(_("create a collector task"), default=False)
    credit_hold = models.BooleanField(_("raise a credit hold"), default=False)
    charge_late_fee = models.BooleanField(_("charge the policy's late fee"), default=False)
    stop = models.BooleanField(_("stop dunning after this step"), default=False)
    # {"en": {"subject": "...", "body": "..."}, "zh-hans": {...}}
    templates = models.JSONField(_("templates"), default=dict, blank=True)

    class Meta:
        verbose_name = _("dunning level")
        verbose_name_plural = _("dunning levels")
        ordering = ["policy", "days", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "sequence"], name="dunning_level_unique_sequence"),
            models.UniqueConstraint(fields=["policy", "days"], name="dunning_level_unique_days"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} · {self.name}"


class CollectionProfile(TenantModel):
    """How one customer is collected: a policy chosen by hand, the collector, a snooze."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="collection_profile")
    policy = models.ForeignKey(
        DunningPolicy,
        verbose_name=_("dunning policy"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collector"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    snoozed_until = models.DateField(_("snoozed until"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "collector"], name="collection_profile_collector")]

    def __str__(self) -> str:
        return str(self.customer)


class DunningMessage(TenantModel):
    """What one customer receives in one run (or one invoice, in per-invoice mode), with its
    delivery state. Created with its reminders in one transaction before it is sent, so a worker
    that dies after creating it leaves a pending message the next attempt sends: no gap."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        LOGGED = "logged", _("Logged (no provider)")
        FAILED = "failed", _("Failed, will retry")
        BOUNCED = "bounced", _("Bounced")
        FLAGGED = "flagged", _("Flagged for a collector")
        SKIPPED = "skipped", _("Not sent (no message at this step)")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="messages")
    run_date = models.DateField(_("run date"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    language = models.CharField(max_length=10, blank=True)
    totals = models.JSONField(_("totals"), default=dict)  # currency → "0.00"
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"), blank=True)
    html = models.TextField(blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-run_date", "-id"]
        indexes = [
            models.Index(fields=["organization", "run_date"], name="dunning_message_run"),
            models.Index(fields=["organization", "customer", "run_date"], name="dunning_message_customer"),
            models.Index(
                fields=["organization", "status"],
                name="dunning_message_undelivered",
                condition=Q(status__in=["pending", "sending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.level.name} · {self.run_date}"


class Reminder(TenantModel):
    """One invoice reminded at one level: unique, so it happens once."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="reminders")
    message = models.ForeignKey(DunningMessage, on_delete=models.CASCADE, related_name="reminders")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    run_date = models.DateField(_("run date"))
    days_past_due = models.IntegerField(_("days past due"))
    outstanding = models.DecimalField(_("outstanding"), **MONEY)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-run_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "invoice", "level"], name="reminder_once_per_level"
            )
        ]
        indexes = [models.Index(fields=["organization", "customer", "run_date"], name="reminder_customer")]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.level.name}"


class PromiseToPay(TenantModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        KEPT = "kept", _("Kept")
        BROKEN = "broken", _("Broken")
        CANCELLED = "cancelled", _("Cancelled")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    amount = models.DecimalField(_("amount"), **MONEY)
    promised_date = models.DateField(_("promised date"))
    recorded_on = models.DateField(_("recorded on"))
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=2)
    invoices = models.ManyToManyField(Invoice, through="PromiseInvoice", related_name="promises")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(_("note"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=10, default="browser")
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    paid_amount = models.DecimalField(_("paid since the promise"), **MONEY, default=ZERO)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["promised_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="promise_unique_external_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
        ]
        indexes = [models.Index(fields=["organization", "status", "promised_date"], name="promise_open_due")]

    def __str__(self) -> str:
        return f"{self.customer} · {self.amount} {self.currency} · {self.promised_date}"


class PromiseInvoice(TenantModel):
    promise = models.ForeignKey(PromiseToPay, on_delete=models.CASCADE, related_name="covered")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["promise", "invoice"], name="promise_invoice_unique")]


class Dispute(TenantModel):
    class Reason(models.TextChoices):
        PRICING = "pricing", _("Pricing")
        QUANTITY = "quantity", _("Quantity")
        QUALITY = "quality", _("Quality or damage")
        NOT_RECEIVED = "not_received", _("Goods or service not received")
        DUPLICATE = "duplicate", _("Duplicate billing")
        TAX = "tax", _("Tax")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_REVIEW = "in_review", _("In review")
        RESOLVED = "resolved", _("Resolved with a credit note")
        REJECTED = "rejected", _("Rejected")

    ACTIVE = (Status.OPEN, Status.IN_REVIEW)

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.PROTECT, related_name="disputes"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    amount = models.DecimalField(
        _("disputed amount"), **MONEY, null=True, blank=True, help_text=_("Empty for the whole invoice.")
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    target_date = models.DateField(_("target date"), null=True, blank=True)
    opened_on = models.DateField(_("opened on"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), max_length=5000, blank=True)
    credit_note = models.ForeignKey(
        CreditNote,
        verbose_name=_("credit note"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="dispute_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0), name="dispute_amount_positive"
            ),
            # At most one dispute in progress per invoice: a second one is a comment on the first.
            models.UniqueConstraint(
                fields=["organization", "invoice"],
                condition=Q(status__in=["open", "in_review"]),
                name="dispute_one_active_per_invoice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} · {self.get_reason_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class LateFee(TenantModel):
    """A late fee charged once per overdue invoice and level, posted as its own invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="late_fees")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="+")
    fee_invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="late_fee_for")
    amount = models.DecimalField(_("amount"), **MONEY)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "invoice", "level"], name="late_fee_once_per_level"
            )
        ]
