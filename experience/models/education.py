"""Customer education: resources (guides, courses, webinars), their scheduled sessions, and who
was invited, attended and completed, with their feedback."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer
from finance.models import Language, TenantModel


class Resource(TenantModel):
    class Kind(models.TextChoices):
        GUIDE = "guide", _("Guide")
        COURSE = "course", _("Course")
        WEBINAR = "webinar", _("Webinar")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    topic = models.CharField(_("topic"), max_length=100)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    url = models.URLField(_("link"), blank=True)
    description = models.TextField(_("description"), max_length=5000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("education resource")
        verbose_name_plural = _("education resources")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class Session(TenantModel):
    """A dated occurrence of a course or webinar (guides need none)."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField(_("starts"))
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), default=60, validators=[MinValueValidator(5), MaxValueValidator(1440)]
    )
    location = models.CharField(_("where"), max_length=300, blank=True)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["starts_at", "id"]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d}"


class Attendance(TenantModel):
    """A customer's (and optionally one contact's) place on a resource or session."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ATTENDED = "attended", _("Attended")
        COMPLETED = "completed", _("Completed")
        NO_SHOW = "no_show", _("Did not attend")

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="attendances")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="attendances"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="education")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.INVITED)
    invited_on = models.DateField(_("invited on"), default=timezone.localdate)
    attended_on = models.DateField(_("attended on"), null=True, blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating (1-5)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    feedback = models.TextField(_("feedback"), max_length=5000, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        ordering = ["-invited_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "resource", "session", "customer", "contact"],
                name="attendance_unique_place",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.customer_id} {self.status}"
