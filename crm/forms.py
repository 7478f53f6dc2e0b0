from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Contact, Customer, CustomerStatus, FollowUp, Interaction, LifecycleStage
from finance.crypto import mask
from finance.money import country_choices, currency_codes
from finance.selectors import members


class SensitiveFieldsMixin:
    """Saved sensitive values are never written into a form's HTML: the input starts empty, its help
    text shows the masked value, and leaving it empty keeps what is saved."""

    sensitive_fields: tuple[str, ...] = ()
    fields: dict[str, forms.Field]
    initial: dict[str, Any]
    instance: Any
    cleaned_data: dict[str, Any]

    def limit_sensitive_fields(self, can_edit: bool) -> None:
        """For roles that may not see them: no bank account or identity number field, and a saved
        tax id stays as it is (crm.services refuses such changes as well)."""
        if can_edit:
            return
        for name in ("bank_account", "identity_number"):
            self.fields.pop(name, None)
        if "tax_id" in self.fields and self.instance.pk and getattr(self.instance, "tax_id", ""):
            self.fields["tax_id"].disabled = True

    def hide_saved_sensitive_values(self) -> None:
        for name in self.sensitive_fields:
            field = self.fields.get(name)
            saved = getattr(self.instance, name, "") if self.instance.pk else ""
            if field is None:
                continue
            field.widget.attrs["autocomplete"] = "off"
            if saved:
                self.initial[name] = ""
                field.help_text = _("Saved as %(masked)s. Leave empty to keep it.") % {"masked": mask(saved)}

    def keep_saved(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value and self.instance.pk:
            return getattr(self.instance, name) or ""
        return value


class CustomerForm(SensitiveFieldsMixin, forms.ModelForm):
    sensitive_fields = ("tax_id", "bank_account")
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))

    class Meta:
        model = Customer
        fields = [
            "name",
            "legal_name",
            "external_id",
            "tax_id",
            "bank_account",
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
        self,
        *args: Any,
        language: str = "en",
        can_assign_owner: bool = True,
        can_edit_sensitive: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"] = forms.ChoiceField(label=_("Country"), choices=country_choices(language))
        self.fields["currency"] = forms.ChoiceField(
            label=_("Currency"), choices=[(c, c) for c in sorted(currency_codes())]
        )
        self.fields["owner"].queryset = members()
        if not can_assign_owner:
            del self.fields["owner"]
        self.hide_saved_sensitive_values()
        self.limit_sensitive_fields(can_edit_sensitive)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags or [])
        else:
            self.initial.setdefault("country", "CN")
            self.initial.setdefault("currency", "CNY")

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip()[:50] for t in raw.replace("，", ",").split(",") if t.strip()]

    def clean_tax_id(self) -> str:
        return self.keep_saved("tax_id")

    def clean_bank_account(self) -> str:
        return self.keep_saved("bank_account")

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


class ContactForm(SensitiveFieldsMixin, forms.ModelForm):
    sensitive_fields = ("identity_number",)

    class Meta:
        model = Contact
        fields = [
            "name",
            "title",
            "email",
            "phone",
            "identity_number",
            "preferred_language",
            "is_primary",
            "is_billing",
        ]

    def __init__(self, *args: Any, can_edit_sensitive: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hide_saved_sensitive_values()
        self.limit_sensitive_fields(can_edit_sensitive)

    def clean_identity_number(self) -> str:
        return self.keep_saved("identity_number")

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
