"""Forms of the education pages. They parse input only: `experience.education` validates the
business rules, and its ValidationErrors come back onto these forms' fields (`add_service_errors`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer, LifecycleStage
from crm.selectors import customer_groups
from experience import education
from experience.models import Attendance, Resource, Session
from finance.bulk import error_detail

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: each error on its field, the rest above it."""
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


class ResourceForm(forms.ModelForm):
    url = forms.URLField(label=_("Link"), required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Resource
        fields = ["title", "kind", "topic", "language", "url", "description", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}


class SessionForm(forms.ModelForm):
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DATETIME)
    host = forms.ModelChoiceField(label=_("Host"), queryset=None, required=False)

    class Meta:
        model = Session
        fields = ["starts_at", "duration_minutes", "location", "host"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["host"].queryset = education.hosts()
        if self.instance.pk:
            self.initial["starts_at"] = timezone.localtime(self.instance.starts_at)


class CustomerInviteForm(forms.Form):
    """Invite one customer (optionally one of its contacts) to a resource or a coming session."""

    resource = forms.ModelChoiceField(label=_("Resource"), queryset=None)
    session = forms.ModelChoiceField(
        label=_("Session"), queryset=None, required=False, help_text=_("For a course or webinar.")
    )
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=None, required=False)
    send_email = forms.BooleanField(label=_("Email the invitation to the contact"), required=False)

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resource"].queryset = Resource.objects.filter(is_active=True).order_by("title")
        self.fields["session"].queryset = (
            Session.objects.filter(starts_at__gte=timezone.now(), resource__is_active=True)
            .select_related("resource")
            .order_by("starts_at")
        )
        self.fields["contact"].queryset = Contact.objects.filter(customer=customer)


class SegmentInviteForm(forms.Form):
    """Invite every active customer matching all the criteria given (at least one)."""

    session = forms.ModelChoiceField(label=_("Session"), queryset=None, required=False)
    abc_class = forms.ChoiceField(
        label=_("ABC class"), required=False, choices=[("", "—"), ("A", "A"), ("B", "B"), ("C", "C")]
    )
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), required=False, choices=[("", "—"), *LifecycleStage.choices]
    )
    customer_group = forms.ChoiceField(label=_("Customer group"), required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    send_email = forms.BooleanField(label=_("Email the invitations"), required=False)

    def __init__(self, *args: Any, resource: Resource, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session"].queryset = Session.objects.filter(resource=resource).order_by("starts_at")
        self.fields["customer_group"].choices = [("", "—")] + [(g, g) for g in customer_groups()]
        self.fields["owner"].queryset = education.hosts()
        if resource.kind == Resource.Kind.GUIDE:
            del self.fields["session"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(name) for name in education.SEGMENT_FIELDS):
            raise ValidationError(_("Choose at least one criterion of the segment."))
        return data

    def segment(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in education.SEGMENT_FIELDS}


class AttendanceForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Attendance.Status.choices)
    on = forms.DateField(label=_("On"), required=False, widget=DATE, help_text=_("Empty: today."))
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *[(n, n) for n in range(1, 6)]],
    )
    feedback = forms.CharField(
        label=_("Feedback"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    @classmethod
    def for_attendance(cls, attendance: Attendance) -> AttendanceForm:
        return cls(
            initial={
                "status": attendance.status,
                "rating": attendance.rating,
                "feedback": attendance.feedback,
            },
            prefix=f"a{attendance.pk}",
        )
