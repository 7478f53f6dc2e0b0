"""Customers, their contacts, the interactions reps log, and the follow-ups those create."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance.models import Language, TenantModel
from finance.money import validate_country, validate_currency


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    FIRST_PURCHASE = "first_purchase", _("First purchase")
    REPEAT = "repeat", _("Repeat")
    LOYAL = "loyal", _("Loyal")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class Customer(TenantModel):
    """A company Kehu manages financially. Classification fields here are written by the app that
    computes each (analytics, credit, experience) through `crm.services`."""

    # NULL, not "", for "no external id": the per-organization unique key skips NULLs.
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)  # noqa: DJ001
    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=50, blank=True)
    country = models.CharField(_("country"), max_length=2, default="CN", validators=[validate_country])
    currency = models.CharField(_("currency"), max_length=3, default="CNY", validators=[validate_currency])
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    billing_address = models.TextField(_("billing address"), max_length=1000, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    customer_group = models.CharField(_("customer group"), max_length=100, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    notes = models.TextField(_("notes"), max_length=10000, blank=True)
    # Classifications computed by later modules (ABC, risk, loyalty); stored here so every app reads them.
    abc_class = models.CharField(_("ABC class"), max_length=1, blank=True)
    risk_class = models.CharField(_("risk class"), max_length=1, blank=True)
    loyalty_tier = models.CharField(_("loyalty tier"), max_length=30, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_unique_external_id",
                violation_error_message=_("A customer with this external id already exists."),
            )
        ]
        indexes = [
            models.Index(fields=["organization", "name"], name="customer_org_name"),
            models.Index(fields=["organization", "owner"], name="customer_org_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TenantModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.ENGLISH
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)
    is_billing = models.BooleanField(_("billing contact"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name", "id"]

    def __str__(self) -> str:
        return self.name


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    VISIT = "visit", _("Visit")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    MESSAGE = "message", _("Message")
    NOTE = "note", _("Note")


class Interaction(TenantModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="interactions"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    summary = models.CharField(_("summary"), max_length=500)
    outcome = models.TextField(_("outcome"), max_length=5000, blank=True)
    next_action = models.CharField(_("next action"), max_length=300, blank=True)
    next_action_due = models.DateField(_("next action due"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "customer", "-occurred_at"], name="interaction_timeline")
        ]

    def __str__(self) -> str:
        return self.summary[:80]


class FollowUp(TenantModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    title = models.CharField(_("title"), max_length=300)
    due_date = models.DateField(_("due date"))
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["done", "due_date", "id"]
        indexes = [
            models.Index(fields=["organization", "assignee", "done", "due_date"], name="followup_worklist")
        ]

    def __str__(self) -> str:
        return self.title


class FollowUpReminder(TenantModel):
    """One reminder digest per assignee and day: the unique key that makes the daily job idempotent."""

    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    follow_up_count = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assignee", "day"], name="followup_reminder_unique_day"
            )
        ]
