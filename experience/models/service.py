"""Service requests with their conversation, SLA policies per priority, and the organization's
business calendar the SLA clocks run on."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer
from finance.models import TenantModel


class Priority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class BusinessCalendar(TenantModel):
    """Working hours (the same every working day) and holidays, in the organization's timezone.
    One per organization; until someone saves one, Monday to Friday 09:00-18:00."""

    working_days = models.JSONField(_("working days"), default=list)  # 0 = Monday … 6 = Sunday
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))
    holidays = models.JSONField(_("holidays"), default=list, blank=True)  # ISO dates
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("business calendar")
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="business_calendar_one_per_org"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="calendar_hours_order"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Business calendar"))


class SlaPolicy(TenantModel):
    """Targets for one priority, in business minutes."""

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (business minutes)"),
        validators=[MinValueValidator(1), MaxValueValidator(100000)],
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution within (business minutes)"),
        validators=[MinValueValidator(1), MaxValueValidator(1000000)],
    )
    warn_percent = models.PositiveSmallIntegerField(
        _("warn when this share of the time is used (%)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "priority"], name="sla_policy_unique_priority")
        ]

    def __str__(self) -> str:
        return self.get_priority_display()


class ServiceRequest(TenantModel):
    class Category(models.TextChoices):
        QUESTION = "question", _("Question")
        BILLING = "billing", _("Billing")
        DELIVERY = "delivery", _("Delivery")
        PRODUCT = "product", _("Product issue")
        COMPLAINT = "complaint", _("Complaint")
        OTHER = "other", _("Other")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        PORTAL = "portal", _("Portal")
        CHAT = "chat", _("Chat / WeChat")
        VISIT = "visit", _("Visit")
        API = "api", _("ERP / API")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting for the customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING)

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="service_requests"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    number = models.CharField(_("number"), max_length=30)
    subject = models.CharField(_("subject"), max_length=300)
    description = models.TextField(_("description"), max_length=10000, blank=True)
    category = models.CharField(
        _("category"), max_length=10, choices=Category.choices, default=Category.QUESTION
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("reopened"), default=0)
    # SLA deadlines computed from the policy and the calendar when opened (or re-prioritised).
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # Which SLA alerts were sent: response_warning, response_breach, resolution_warning, resolution_breach.
    sla_alerts = models.JSONField(default=list, blank=True)
    first_response_breached = models.BooleanField(_("first response late"), default=False)
    resolution_breached = models.BooleanField(_("resolution late"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="service_request_unique_number"),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="service_request_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "resolution_due"], name="service_open_due"),
            models.Index(fields=["organization", "customer", "-opened_at"], name="service_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class ServiceNote(TenantModel):
    """One message of the conversation: to or from the customer, or internal."""

    class Kind(models.TextChoices):
        INBOUND = "inbound", _("From the customer")
        OUTBOUND = "outbound", _("To the customer")
        INTERNAL = "internal", _("Internal note")

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.INTERNAL)
    body = models.TextField(_("message"), max_length=10000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:80]
