"""Forms of the dunning pages: the policy editor (a policy form and a formset of levels, each level
with a subject and body per language) and the template preview."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.models import Language
from receivables.models import Channel, DunningPolicy

LANGUAGE_CODES = [code for code, _label in Language.choices]


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    is_default = forms.BooleanField(label=_("Organization default"), required=False)
    priority = forms.IntegerField(label=_("Priority"), min_value=0, max_value=32767, initial=100)
    customer_groups = forms.CharField(
        label=_("Customer groups"), required=False, help_text=_("Comma-separated; empty matches no rule.")
    )
    abc_classes = forms.CharField(label=_("ABC classes"), required=False, help_text=_("For example: A, B"))
    risk_classes = forms.CharField(label=_("Risk classes"), required=False, help_text=_("For example: C, D"))
    per_invoice = forms.BooleanField(label=_("One reminder per invoice"), required=False)
    grace_days_after_payment = forms.IntegerField(
        label=_("Grace days after a payment"), min_value=0, max_value=90, initial=3
    )
    promise_grace_days = forms.IntegerField(
        label=_("Grace days after a promised date"), min_value=0, max_value=60, initial=2
    )
    late_fee = forms.ChoiceField(label=_("Late fees"), choices=DunningPolicy.LateFee.choices)
    late_fee_amount = forms.DecimalField(
        label=_("Fixed fee"), min_value=0, decimal_places=2, max_digits=18, initial=0
    )
    late_fee_annual_rate = forms.DecimalField(
        label=_("Annual interest rate (%)"),
        min_value=0,
        max_value=100,
        decimal_places=3,
        max_digits=6,
        initial=0,
    )

    @classmethod
    def initial_for(cls, policy: DunningPolicy) -> dict[str, Any]:
        return {
            "name": policy.name,
            "is_active": policy.is_active,
            "is_default": policy.is_default,
            "priority": policy.priority,
            "customer_groups": ", ".join(policy.customer_groups),
            "abc_classes": ", ".join(policy.abc_classes),
            "risk_classes": ", ".join(policy.risk_classes),
            "per_invoice": policy.per_invoice,
            "grace_days_after_payment": policy.grace_days_after_payment,
            "promise_grace_days": policy.promise_grace_days,
            "late_fee": policy.late_fee,
            "late_fee_amount": policy.late_fee_amount,
            "late_fee_annual_rate": policy.late_fee_annual_rate,
        }

    def policy_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in ("customer_groups", "abc_classes", "risk_classes"):
            data[name] = _names(data[name])
        return data


class LevelForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=100)
    days = forms.IntegerField(
        label=_("Days from due date"),
        min_value=-60,
        max_value=3650,
        help_text=_("Negative: before the due date."),
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.EMAIL)
    minimum_amount = forms.DecimalField(
        label=_("Minimum amount"), min_value=0, decimal_places=2, max_digits=18, initial=0
    )
    pay_within_days = forms.IntegerField(label=_("Pay within days"), min_value=0, max_value=90, initial=7)
    send = forms.BooleanField(label=_("Send a reminder"), required=False, initial=True)
    attach_statement = forms.BooleanField(label=_("Attach the statement PDF"), required=False)
    create_task = forms.BooleanField(label=_("Create a collector task"), required=False)
    credit_hold = forms.BooleanField(label=_("Raise a credit hold"), required=False)
    charge_late_fee = forms.BooleanField(label=_("Charge the late fee"), required=False)
    stop = forms.BooleanField(label=_("Stop after this step"), required=False)
    subject_en = forms.CharField(label=_("Subject (English)"), max_length=300, required=False)
    body_en = forms.CharField(
        label=_("Body (English)"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    subject_zh = forms.CharField(label=_("Subject (Chinese)"), max_length=300, required=False)
    body_zh = forms.CharField(
        label=_("Body (Chinese)"), max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    LANGUAGE_SUFFIXES = {"en": "en", "zh-hans": "zh"}

    @classmethod
    def initial_for(cls, level: Any) -> dict[str, Any]:
        initial = {
            name: getattr(level, name)
            for name in (
                "id",
                "name",
                "days",
                "channel",
                "minimum_amount",
                "pay_within_days",
                "send",
                "attach_statement",
                "create_task",
                "credit_hold",
                "charge_late_fee",
                "stop",
            )
        }
        for language, suffix in cls.LANGUAGE_SUFFIXES.items():
            template = (level.templates or {}).get(language) or {}
            initial[f"subject_{suffix}"] = template.get("subject", "")
            initial[f"body_{suffix}"] = template.get("body", "")
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for suffix in self.LANGUAGE_SUFFIXES.values():
            subject, body = data.get(f"subject_{suffix}"), data.get(f"body_{suffix}")
            if bool(subject) != bool(body):
                raise forms.ValidationError(
                    _("Give both a subject and a body, or neither (the built-in text is used).")
                )
        return data

    def level_fields(self) -> dict[str, Any]:
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("DELETE",) and not k.startswith(("subject_", "body_"))
        }
        if not data.get("id"):
            data.pop("id", None)
        data["templates"] = {
            language: {
                "subject": self.cleaned_data[f"subject_{suffix}"],
                "body": self.cleaned_data[f"body_{suffix}"],
            }
            for language, suffix in self.LANGUAGE_SUFFIXES.items()
            if self.cleaned_data.get(f"subject_{suffix}")
        }
        return data


LevelFormSet = forms.formset_factory(LevelForm, extra=1, can_delete=True, max_num=20, validate_max=True)


class TemplatePreviewForm(forms.Form):
    customer = forms.IntegerField(min_value=1)
    language = forms.ChoiceField(choices=Language.choices)
    days = forms.IntegerField(min_value=-60, max_value=3650, required=False)
    name = forms.CharField(max_length=100, required=False)
    pay_within_days = forms.IntegerField(min_value=0, max_value=90, required=False)
    subject = forms.CharField(max_length=300, required=False)
    body = forms.CharField(max_length=20000, required=False)


class PreviewDateForm(forms.Form):
    date = forms.DateField(
        label=_("Run date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
