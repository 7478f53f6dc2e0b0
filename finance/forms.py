from django import forms
from django.utils.translation import gettext_lazy as _

from finance.models import ApiKeyScope


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=ApiKeyScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiKeyScope.READ],
    )
    rate_limit_per_minute = forms.IntegerField(
        label=_("Rate limit per minute"),
        required=False,
        min_value=1,
        max_value=100_000,
        help_text=_("Empty: the default limit."),
    )


class ApiKeyRotateForm(forms.Form):
    OVERLAP_CHOICES = [
        (0, _("None: the old key stops now")),
        (1, _("1 hour")),
        (24, _("24 hours")),
        (168, _("7 days")),
    ]
    overlap_hours = forms.TypedChoiceField(
        label=_("Old key keeps working for"), choices=OVERLAP_CHOICES, coerce=int, initial=24
    )
    rate_limit_per_minute = forms.IntegerField(
        label=_("Rate limit per minute"), required=False, min_value=1, max_value=100_000
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
