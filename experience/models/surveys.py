"""Satisfaction surveys: a survey (NPS or CSAT, with optional custom questions), the invitations
sent by email with a tokenized link that needs no login (one response per token, with an expiry),
and the responses."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer
from finance.models import Language, TenantModel


class Survey(TenantModel):
    class Kind(models.TextChoices):
        NPS = "nps", _("Net Promoter Score (0-10)")
        CSAT = "csat", _("Customer satisfaction (1-5)")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("By hand, to a segment")
        INVOICE_PAID = "invoice_paid", _("When an invoice is paid")
        DISPUTE_RESOLVED = "dispute_resolved", _("When a dispute is resolved")
        SERVICE_CLOSED = "service_closed", _("When a service request is closed")
        QUARTERLY = "quarterly", _("Quarterly relationship survey")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices, default=Kind.NPS)
    trigger = models.CharField(_("sent"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    # The main question, per language ({"en": "...", "zh-hans": "..."}); empty uses Kehu's wording.
    question = models.JSONField(_("question"), default=dict, blank=True)
    intro = models.JSONField(_("introduction"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    expiry_days = models.PositiveSmallIntegerField(
        _("link valid for (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # Not the same contact again within this many days (event triggers).
    quiet_days = models.PositiveSmallIntegerField(
        _("at most one invitation per contact every (days)"),
        default=30,
        validators=[MaxValueValidator(365)],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="survey_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> tuple[int, int]:
        return (0, 10) if self.kind == self.Kind.NPS else (1, 5)


class SurveyQuestion(TenantModel):
    """An optional custom question after the main one."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Free text")
        RATING = "rating", _("Rating 1-5")
        CHOICE = "choice", _("One of several answers")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.JSONField(_("question"), default=dict)  # per language
    choices = models.JSONField(_("answers"), default=list, blank=True)  # for CHOICE: [{"en":..,"zh-hans":..}]
    required = models.BooleanField(_("required"), default=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return str(self.text.get("en") or next(iter(self.text.values()), ""))


class SurveyInvitation(TenantModel):
    """One emailed link. The token is stored hashed; the link works once, until it expires."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not sent yet")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Could not be sent")
        RESPONDED = "responded", _("Answered")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_invitations")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    email = models.EmailField(_("email"))
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    # What triggered it (e.g. "invoice:123", "dispute:7", "service:9", "quarter:2026Q4", "manual:<uuid>"),
    # unique per survey and contact email so a trigger never sends twice.
    source = models.CharField(_("source"), max_length=100)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"))
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "survey", "email", "source"], name="survey_invitation_unique_source"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "customer", "-created_at"], name="invitation_customer")
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} → {self.email}"


class SurveyResponse(TenantModel):
    """The answer to one invitation (at most one). `score` is 0-10 (NPS) or 1-5 (CSAT)."""

    class Category(models.TextChoices):
        PROMOTER = "promoter", _("Promoter")
        PASSIVE = "passive", _("Passive")
        DETRACTOR = "detractor", _("Detractor")
        SATISFIED = "satisfied", _("Satisfied")
        NEUTRAL = "neutral", _("Neutral")
        DISSATISFIED = "dissatisfied", _("Dissatisfied")

    invitation = models.OneToOneField(SurveyInvitation, on_delete=models.CASCADE, related_name="response")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_responses")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"), validators=[MaxValueValidator(10)])
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    comment = models.TextField(_("comment"), max_length=5000, blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)  # question id → answer
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    responded_at = models.DateTimeField(_("answered"), default=timezone.now)

    class Meta:
        ordering = ["-responded_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(score__lte=10), name="survey_response_score_range")]
        indexes = [
            models.Index(fields=["organization", "survey", "-responded_at"], name="response_survey_time"),
            models.Index(fields=["organization", "customer", "-responded_at"], name="response_customer_time"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}: {self.score}"
