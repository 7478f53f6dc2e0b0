"""Forms of the privacy pages: consents, the register, retention policies, erasure."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from crm.models import (
    ConsentPurpose,
    ConsentSource,
    LawfulBasis,
    ProcessingActivity,
    RetentionDocumentType,
)


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    lawful_basis = forms.ChoiceField(label=_("Lawful basis"), choices=LawfulBasis.choices)
    granted = forms.TypedChoiceField(
        label=_("Decision"),
        choices=[("true", _("Granted")), ("false", _("Withdrawn or refused"))],
        coerce=lambda value: value == "true",
    )
    source = forms.ChoiceField(label=_("Source"), choices=ConsentSource.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ProcessingActivityForm(forms.ModelForm):
    class Meta:
        model = ProcessingActivity
        fields = [
            "name",
            "purpose",
            "data_subjects",
            "personal_data",
            "lawful_basis",
            "recipients",
            "cross_border_transfer",
            "retention",
            "security_measures",
        ]
        widgets = {
            name: forms.Textarea(attrs={"rows": 2})
            for name in [
                "purpose",
                "data_subjects",
                "personal_data",
                "recipients",
                "cross_border_transfer",
                "retention",
                "security_measures",
            ]
        }

    def validate_unique(self) -> None:
        """Uniqueness per organization is the service's to check (the form has no organization)."""


class RetentionPolicyForm(forms.Form):
    document_type = forms.ChoiceField(label=_("Document type"), choices=RetentionDocumentType.choices)
    years = forms.IntegerField(
        label=_("Years"),
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        min_value=1,
        max_value=100,
    )
    note = forms.CharField(label=_("Legal basis or note"), max_length=300, required=False)


class ErasureForm(forms.Form):
    reason = forms.CharField(
        label=_("Request and reason"),
        max_length=500,
        required=False,
        help_text=_("For example: email from the data subject of 2025-03-02 asking for erasure."),
    )
    confirm = forms.BooleanField(label=_("I understand that this cannot be undone."), required=True)
