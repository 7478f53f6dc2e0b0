from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer, CustomerStatus, FollowUp, Interaction, LifecycleStage
from finance.money import country_choices, currency_codes
from finance.selectors import members


class CustomerForm(forms.ModelForm):
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))

    class Meta:
        model = Customer
        fields = [
            "name",
            "legal_name",
            "external_id",
            "tax_id",
            "country",
            "currency",
            "email",
            "phone",
            "billing_address",
            "industry",
            "customer_group",
            "owner",
            "lifecycle_stage",
            "tags",
            "notes",
        ]
        widgets = {
            "billing_address": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(
        self, *args: Any, language: str = "en", can_assign_owner: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"] = forms.ChoiceField(label=_("Country"), choices=country_choices(language))
        self.fields["currency"] = forms.ChoiceField(
            label=_("Currency"), choices=[(c, c) for c in sorted(currency_codes())]
        )
        self.fields["owner"].queryset = members()
        if not can_assign_owner:
            del self.fields["owner"]
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags or [])
        else:
            self.initial.setdefault("country", "CN")
            self.initial.setdefault("currency", "CNY")

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip()[:50] for t in raw.replace("，", ",").split(",") if t.strip()]

    def clean_external_id(self) -> str | None:
        return (self.cleaned_data.get("external_id") or "").strip() or None

    def _post_clean(self) -> None:
        # Validation belongs to the service (tax id, ownership, uniqueness); see the view.
        pass


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    group = forms.ChoiceField(label=_("Group"), required=False)
    stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("All stages")), *LifecycleStage.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *CustomerStatus.choices]
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("name", _("Name")),
            ("-updated_at", _("Recently updated")),
            ("-created_at", _("Newest")),
        ],
    )

    def __init__(self, *args: Any, groups: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("All owners"))] + [(u.pk, str(u)) for u in members()]
        self.fields["group"].choices = [("", _("All groups"))] + [(g, g) for g in groups]


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "title", "email", "phone", "preferred_language", "is_primary", "is_billing"]

    def _post_clean(self) -> None:
        pass


class InteractionForm(forms.ModelForm):
    # Declared here so the form class never queries a tenant table at import time.
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.unscoped.none(), required=False)

    class Meta:
        model = Interaction
        fields = ["kind", "summary", "contact", "occurred_at", "outcome", "next_action", "next_action_due"]
        widgets = {
            "kind": forms.RadioSelect,
            "summary": forms.Textarea(attrs={"rows": 2}),
            "outcome": forms.Textarea(attrs={"rows": 2}),
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "next_action_due": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = customer.contacts.all()
        self.fields["contact"].required = False
        self.fields["occurred_at"].required = False
        self.fields["kind"].initial = "call"
        self.fields["occurred_at"].initial = timezone.localtime().strftime("%Y-%m-%dT%H:%M")

    def _post_clean(self) -> None:
        pass


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = ["title", "due_date", "assignee"]
        widgets = {"due_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = members()

    def _post_clean(self) -> None:
        pass
