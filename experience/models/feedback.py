"""Feedback items (from survey comments, interactions, or entered by hand) and the improvement
actions that answer them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer, Interaction
from experience.models.surveys import SurveyResponse
from finance.models import TenantModel


class FeedbackItem(TenantModel):
    class Source(models.TextChoices):
        SURVEY = "survey", _("Survey comment")
        INTERACTION = "interaction", _("Interaction")
        MANUAL = "manual", _("Entered by hand")

    class Category(models.TextChoices):
        PRODUCT = "product", _("Product")
        DELIVERY = "delivery", _("Delivery")
        BILLING = "billing", _("Billing and invoices")
        SERVICE = "service", _("Service")
        PRICE = "price", _("Price")
        OTHER = "other", _("Other")

    class Sentiment(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        NEUTRAL = "neutral", _("Neutral")
        NEGATIVE = "negative", _("Negative")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        PLANNED = "planned", _("Action planned")
        DONE = "done", _("Done")
        DECLINED = "declined", _("Declined")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="feedback_items")
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.MANUAL)
    response = models.OneToOneField(
        SurveyResponse, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback_item"
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.CharField(
        _("category"), max_length=10, choices=Category.choices, default=Category.OTHER
    )
    sentiment = models.CharField(_("sentiment"), max_length=10, choices=Sentiment.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    summary = models.CharField(_("summary"), max_length=300)
    detail = models.TextField(_("detail"), max_length=5000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("feedback item")
        verbose_name_plural = _("feedback items")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status", "-created_at"], name="feedback_board")]

    def __str__(self) -> str:
        return self.summary


class ImprovementAction(TenantModel):
    """What the company does about feedback: an owner, a due date and, once done, the outcome."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    feedback = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(_("action"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    due_date = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(_("outcome"), max_length=5000, blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("improvement action")
        verbose_name_plural = _("improvement actions")
        ordering = ["status", "due_date", "id"]

    def __str__(self) -> str:
        return self.title
