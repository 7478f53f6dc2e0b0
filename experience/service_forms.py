"""Forms of the service pages. They parse input only: the services validate the business rules
and their ValidationErrors come back onto these forms' fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer
from experience.models import ServiceNote, ServiceRequest
from experience.models.service import Priority
from finance.bulk import error_detail
from finance.models import Membership, User

WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
WHOLE = forms.NumberInput(attrs={"inputmode": "numeric", "class": "amount"})


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: each error on its field, the rest above it."""
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


def _members() -> Any:
    return User.objects.filter(pk__in=Membership.objects.values("user_id")).order_by("first_name", "email")


class ServiceRequestForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.none(), required=False)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    description = forms.CharField(
        label=_("Description"), max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    category = forms.ChoiceField(label=_("Category"), choices=ServiceRequest.Category.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    channel = forms.ChoiceField(label=_("Channel"), choices=ServiceRequest.Channel.choices)
    assignee = MemberChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, customers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers.order_by("name")
        self.fields["contact"].queryset = Contact.objects.filter(customer__in=customers).select_related(
            "customer"
        )
        self.fields["contact"].label_from_instance = lambda c: f"{c.name} ({c.customer.name})"
        self.fields["assignee"].queryset = _members()


class ServiceRequestUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ServiceRequest.Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = forms.ChoiceField(label=_("Category"), choices=ServiceRequest.Category.choices)
    assignee = MemberChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _members()


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=ServiceNote.Kind.choices, initial=ServiceNote.Kind.OUTBOUND
    )
    body = forms.CharField(label=_("Message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 3}))


class CalendarForm(forms.Form):
    """Working days and hours; unknown weekdays and bad dates are left to the service, which names
    the field (so the page and the service say the same thing)."""

    working_days = forms.MultipleChoiceField(
        label=_("Working days"), choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    opens_at = forms.CharField(label=_("Opens at"), widget=TIME)
    closes_at = forms.CharField(label=_("Closes at"), widget=TIME)
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One date per line, like 2026-10-01."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Accept any submitted weekday: the service says which one is not a weekday.
        self.fields["working_days"].valid_value = lambda value: True  # type: ignore[method-assign]

    def holiday_list(self) -> list[str]:
        text = self.cleaned_data.get("holidays") or ""
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class PolicyForm(forms.Form):
    """The four priorities' targets: fields `<priority>_first_response_minutes` and so on."""

    FIELDS = ("first_response_minutes", "resolution_minutes", "warn_percent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {
            "first_response_minutes": _("First response (business minutes)"),
            "resolution_minutes": _("Resolution (business minutes)"),
            "warn_percent": _("Warn at (%)"),
        }
        bounds = {
            "first_response_minutes": (1, 100000),
            "resolution_minutes": (1, 1000000),
            "warn_percent": (1, 99),
        }
        for priority in Priority.values:
            for name in self.FIELDS:
                low, high = bounds[name]
                self.fields[f"{priority}_{name}"] = forms.IntegerField(
                    label=labels[name], min_value=low, max_value=high, widget=WHOLE
                )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"priority": label, "fields": [self[f"{value}_{name}"] for name in self.FIELDS]}
            for value, label in Priority.choices
        ]

    def policies(self) -> dict[str, dict[str, int]]:
        return {
            priority: {name: self.cleaned_data[f"{priority}_{name}"] for name in self.FIELDS}
            for priority in Priority.values
        }
