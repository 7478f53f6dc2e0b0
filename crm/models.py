"""Customers, their contacts, the interactions reps log, and the follow-ups those create."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance.crypto import BlindIndexField, EncryptedTextField
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
    # Sensitive: stored encrypted (finance.crypto); searched and de-duplicated through tax_id_index.
    tax_id = EncryptedTextField(_("tax id"), max_length=50, blank=True)
    tax_id_index = BlindIndexField(_("tax id blind index"))
    bank_account = EncryptedTextField(_("bank account number"), max_length=50, blank=True)
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
            models.Index(fields=["organization", "tax_id_index"], name="customer_org_tax_index"),
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
    identity_number = EncryptedTextField(_("personal identity number"), max_length=50, blank=True)
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


# --- Personal information rights (GDPR / PIPL): consents, retention, the register, erasures. ---


class ConsentPurpose(models.TextChoices):
    MARKETING_EMAIL = "marketing_email", _("Marketing email")
    SURVEYS = "surveys", _("Satisfaction surveys")
    PHONE_CALLS = "phone_calls", _("Phone calls")
    CREDIT_ASSESSMENT = "credit_assessment", _("Processing for credit assessment")
    CROSS_BORDER = "cross_border", _("Transfer outside the country")


class LawfulBasis(models.TextChoices):
    """GDPR art. 6(1) bases; PIPL art. 13 has close analogues (consent, contract, legal duty...)."""

    CONSENT = "consent", _("Consent")
    CONTRACT = "contract", _("Performance of a contract")
    LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
    VITAL_INTERESTS = "vital_interests", _("Vital interests")
    PUBLIC_TASK = "public_task", _("Public task")
    LEGITIMATE_INTERESTS = "legitimate_interests", _("Legitimate interests")
    PUBLICLY_AVAILABLE = "publicly_available", _("Information already made public (PIPL)")


class ConsentSource(models.TextChoices):
    FORM = "form", _("Web form")
    API = "api", _("API")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    IN_PERSON = "in_person", _("In person")
    CONTRACT = "contract", _("Contract")
    OTHER = "other", _("Other")


class ContactConsent(TenantModel):
    """One recorded decision of a contact about one purpose. Append-only: the current state of a
    purpose is its latest row, and the rows before it are the history that proves it."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consents"
    )
    purpose = models.CharField(_("purpose"), max_length=30, choices=ConsentPurpose.choices)
    lawful_basis = models.CharField(_("lawful basis"), max_length=30, choices=LawfulBasis.choices)
    granted = models.BooleanField(_("granted"))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=20, choices=ConsentSource.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "contact", "purpose", "-recorded_at"], name="consent_latest")
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {'+' if self.granted else '-'}"


class RetentionDocumentType(models.TextChoices):
    INVOICE = "invoice", _("Invoices")
    CREDIT_NOTE = "credit_note", _("Credit notes")
    PAYMENT = "payment", _("Payments and allocations")
    WRITE_OFF = "write_off", _("Write-offs")
    DISPUTE = "dispute", _("Disputes")
    PROMISE = "promise", _("Promises to pay")
    DUNNING_LETTER = "dunning_letter", _("Dunning letters")
    INTERACTION = "interaction", _("Interactions")
    SURVEY_RESPONSE = "survey_response", _("Survey responses")
    FEEDBACK = "feedback", _("Feedback")
    SERVICE_REQUEST = "service_request", _("Service requests")
    CREDIT_ASSESSMENT = "credit_assessment", _("Credit assessments")


DEFAULT_RETENTION_YEARS = 10


class RetentionPolicy(TenantModel):
    """How many years an organization keeps one type of document; no row means 10 years."""

    document_type = models.CharField(_("document type"), max_length=30, choices=RetentionDocumentType.choices)
    years = models.PositiveSmallIntegerField(
        _("years"), validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    note = models.CharField(_("legal basis or note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        ordering = ["document_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "document_type"],
                name="retention_policy_unique_type",
                violation_error_message=_("This document type already has a retention policy."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_document_type_display()}: {self.years}"


class ProcessingActivity(TenantModel):
    """One entry of the register of processing activities (GDPR art. 30; PIPL art. 54-56 records)."""

    name = models.CharField(_("name"), max_length=200)
    purpose = models.TextField(_("purpose"), max_length=2000)
    data_subjects = models.TextField(_("categories of data subjects"), max_length=2000)
    personal_data = models.TextField(_("categories of personal data"), max_length=2000)
    lawful_basis = models.CharField(_("lawful basis"), max_length=30, choices=LawfulBasis.choices)
    recipients = models.TextField(_("recipients"), max_length=2000, blank=True)
    cross_border_transfer = models.TextField(_("cross-border transfer"), max_length=2000, blank=True)
    retention = models.TextField(_("retention"), max_length=2000)
    security_measures = models.TextField(_("security measures"), max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("processing activity")
        verbose_name_plural = _("processing activities")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="processing_activity_unique_name",
                violation_error_message=_("A processing activity with this name already exists."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class ErasureRequest(TenantModel):
    """An erasure of a contact or of a customer's personal data, and what it kept and why.

    A completed request is what marks its subject as erased."""

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="erasure_requests"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="erasure_requests",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.COMPLETED)
    result = models.JSONField(_("result"), default=dict, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        if self.contact_id:
            return f"erasure of contact {self.contact_id}"
        return f"erasure of customer {self.customer_id}"
