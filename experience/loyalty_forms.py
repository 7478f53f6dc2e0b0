"""Forms of the loyalty pages. They parse input only: the services check the business rules and
their ValidationErrors come back onto these forms' fields (`add_service_errors`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from experience.models import LoyaltyProgram, LoyaltyTier
from finance.bulk import error_detail
from receivables.models import Invoice

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
WHOLE_INPUT = forms.NumberInput(attrs={"inputmode": "numeric", "class": "amount"})
MAX_POINTS = 2_000_000_000


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: each error on its field, the rest above it."""
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


class ProgramForm(forms.ModelForm):
    class Meta:
        model = LoyaltyProgram
        fields = [
            "is_active",
            "points_per_unit",
            "early_days",
            "early_bonus_percent",
            "expiry_months",
            "point_value",
            "on_time_percent",
        ]


class TierForm(forms.ModelForm):
    class Meta:
        model = LoyaltyTier
        fields = [
            "name",
            "min_paid_revenue",
            "discount_percent",
            "extra_terms_days",
            "points_multiplier",
            "benefits",
        ]
        widgets = {"benefits": forms.Textarea(attrs={"rows": 2})}

    def validate_unique(self) -> None:
        """Uniqueness is the service's to check (it answers on the right field)."""


class PeriodForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end comes before the start."))
        return data


class RedeemForm(forms.Form):
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=MAX_POINTS, widget=WHOLE_INPUT)
    invoice = forms.ModelChoiceField(
        label=_("Apply to invoice"),
        queryset=Invoice.objects.none(),
        required=False,
        empty_label=_("Leave unallocated"),
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args: Any, invoices: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if invoices is not None:
            self.fields["invoice"].queryset = invoices


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        widget=WHOLE_INPUT,
        help_text=_("Negative to remove points."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300)
