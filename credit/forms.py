"""Forms of the credit pages. They parse input only: the services validate the business rules
and their ValidationErrors come back onto these forms' fields (`add_service_errors`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credit import scorecard
from credit.models import CreditPolicy, CreditReview, FinancialStatement
from finance.bulk import error_detail
from finance.money import currency_codes
from receivables.models import PaymentTerms

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "class": "amount"})
NUMBER_INPUT = forms.NumberInput(attrs={"inputmode": "decimal", "class": "amount"})
WHOLE_INPUT = forms.NumberInput(attrs={"inputmode": "numeric", "class": "amount"})
MAX_MONEY = Decimal("9999999999999999.99")


def money_field(label: Any, *, required: bool = True, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=18,
        decimal_places=2,
        max_value=MAX_MONEY,
        min_value=-MAX_MONEY,
        widget=MONEY_INPUT,
        help_text=help_text,
    )


def _label(model: Any, name: str) -> Any:
    """A model field's verbose name as a form label (lazy: translated when shown)."""
    return capfirst(model._meta.get_field(name).verbose_name)


def add_service_errors(form: forms.Form, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    """A service's ValidationError onto the form: each error on its field (or the field `aliases`
    names for it), the rest above the form."""
    aliases = aliases or {}
    for name, errors in error_detail(exc).items():
        target = aliases.get(name, name)
        if target in form.fields:
            form.add_error(target, errors)
        else:
            form.add_error(None, errors)


class LimitRequestForm(forms.Form):
    requested_limit = forms.DecimalField(
        label=gettext_lazy("Requested limit"),
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=2,
        widget=MONEY_INPUT,
    )
    temporary = forms.BooleanField(
        label=gettext_lazy("Temporary (above the credit limit, until a date)"), required=False
    )
    expires_on = forms.DateField(label=gettext_lazy("Temporary until"), required=False, widget=DATE)
    payment_terms = forms.ModelChoiceField(
        label=gettext_lazy("New payment terms"),
        queryset=PaymentTerms.unscoped.none(),
        required=False,
        empty_label=gettext_lazy("Keep the current terms"),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_terms"].queryset = PaymentTerms.objects.order_by("days", "name")


class HoldForm(forms.Form):
    detail = forms.CharField(
        label=gettext_lazy("Why the customer goes on hold"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReleaseForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why the hold is released"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ApproveForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note (optional)"), required=False, max_length=2000)


class RejectForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Why it is rejected"), max_length=2000)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"), choices=CreditReview.Decision.choices, widget=forms.RadioSelect
    )
    requested_limit = forms.DecimalField(
        label=gettext_lazy("New limit to request"),
        required=False,
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=2,
        widget=MONEY_INPUT,
        help_text=gettext_lazy("Only for “Request a new limit”: it goes to approval."),
    )
    notes = forms.CharField(
        label=gettext_lazy("What the review found"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class StatementForm(forms.Form):
    """One fiscal year's figures; labels come from the model so the page and the API agree."""

    fiscal_year = forms.IntegerField(
        label=_label(FinancialStatement, "fiscal_year"),
        min_value=1900,
        max_value=2200,
        widget=WHOLE_INPUT,
    )
    period_end = forms.DateField(label=_label(FinancialStatement, "period_end"), widget=DATE)
    currency = forms.ChoiceField(label=_label(FinancialStatement, "currency"))

    OPTIONAL = ("cash", "inventory", "interest_expense")  # default to zero when left empty

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in sorted(currency_codes())]
        for name in FinancialStatement.FIGURES:
            self.fields[name] = money_field(
                _label(FinancialStatement, name), required=name not in self.OPTIONAL
            )
        self.fields["source"] = forms.CharField(
            label=_label(FinancialStatement, "source"),
            required=False,
            max_length=200,
            help_text=gettext_lazy("Audited accounts, tax filing, management accounts…"),
        )

    def figures(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for name in self.OPTIONAL:
            if data.get(name) is None:
                data[name] = Decimal(0)
        return data

    @staticmethod
    def initial_for(statement: FinancialStatement) -> dict[str, Any]:
        names = ["fiscal_year", "period_end", "currency", *FinancialStatement.FIGURES, "source"]
        return {name: getattr(statement, name) for name in names}

    def head_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("fiscal_year", "period_end", "currency", "source")]

    def balance_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FinancialStatement.FIGURES[:8]]

    def income_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FinancialStatement.FIGURES[8:]]


def bands_json(factors: dict[str, Any], multipliers: dict[str, Any]) -> str:
    """The bands as JSON to edit by hand: one line per factor, so the whole card fits a screen."""
    lines = [
        f"    {json.dumps(key)}: {json.dumps(settings, ensure_ascii=False)}"
        for key, settings in factors.items()
    ]
    return (
        '{\n  "factors": {\n'
        + ",\n".join(lines)
        + '\n  },\n  "limit_multipliers": '
        + json.dumps(multipliers)
        + "\n}"
    )


def _json_number(value: Decimal) -> int | float:
    """A weight as JSON stores it: whole numbers as integers."""
    return int(value) if value == value.to_integral_value() else float(value)


class PolicyForm(forms.Form):
    """The credit policy: its numbers, the class floors, review intervals, a weight per factor and
    the bands (and limit multipliers) as JSON."""

    NUMBERS = (
        "max_days_past_due",
        "review_utilisation",
        "manager_approval_max",
        "net_worth_cap",
        "working_capital_cap",
        "limit_rounding",
        "override_days",
    )
    FLOOR_CLASSES = ("A", "B", "C", "D")

    bands = forms.CharField(
        label=gettext_lazy("Bands and limit multipliers (JSON)"),
        widget=forms.Textarea(attrs={"rows": 20, "spellcheck": "false", "class": "code"}),
        help_text=gettext_lazy(
            "Per factor: bands as [threshold, points] and the points “otherwise”, or points per grade; "
            "then the limit multiplier of each class. Weights are set above."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.NUMBERS:
            field = CreditPolicy._meta.get_field(name)
            if name in ("max_days_past_due", "override_days"):
                self.fields[name] = forms.IntegerField(
                    label=capfirst(field.verbose_name), min_value=0, max_value=3650, widget=WHOLE_INPUT
                )
            else:
                self.fields[name] = forms.DecimalField(
                    label=capfirst(field.verbose_name),
                    required=name != "manager_approval_max",
                    min_value=Decimal(0),
                    max_digits=field.max_digits,
                    decimal_places=field.decimal_places,
                    widget=NUMBER_INPUT,
                    help_text=_("Empty: no ceiling.") if name == "manager_approval_max" else "",
                )
        for risk_class in self.FLOOR_CLASSES:
            self.fields[f"floor_{risk_class}"] = forms.IntegerField(
                label=risk_class, min_value=1, max_value=100, widget=WHOLE_INPUT
            )
        for risk_class in scorecard.CLASSES:
            self.fields[f"review_{risk_class}"] = forms.IntegerField(
                label=risk_class, min_value=1, max_value=60, widget=WHOLE_INPUT
            )
        for key, factor in scorecard.FACTORS.items():
            self.fields[f"weight_{key}"] = forms.DecimalField(
                label=factor.label, min_value=Decimal(0), max_digits=6, decimal_places=2, widget=NUMBER_INPUT
            )
        # bands last, after the weights
        self.fields["bands"] = self.fields.pop("bands")
        self.group_errors: dict[str, list[str]] = {}

    @classmethod
    def initial_for(
        cls, policy: CreditPolicy, card: dict[str, Any], floors: dict[str, int], months: dict[str, int]
    ) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(policy, name) for name in cls.NUMBERS}
        initial.update({f"floor_{c}": floors.get(c) for c in cls.FLOOR_CLASSES})
        initial.update({f"review_{c}": months.get(c) for c in scorecard.CLASSES})
        factors = card.get("factors", {})
        initial.update({f"weight_{key}": factors.get(key, {}).get("weight", 0) for key in scorecard.FACTORS})
        without_weights = {
            key: {name: value for name, value in settings.items() if name != "weight"}
            for key, settings in factors.items()
        }
        initial["bands"] = bands_json(without_weights, card.get("limit_multipliers", {}))
        return initial

    def clean_bands(self) -> Any:
        try:
            value = json.loads(self.cleaned_data["bands"])
        except ValueError as exc:
            raise ValidationError(_("This is not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise ValidationError(_("Give a JSON object with “factors” and “limit_multipliers”."))
        return value

    def policy_fields(self) -> dict[str, Any]:
        """The keyword arguments of `services.policy_update`."""
        data = self.cleaned_data
        card = dict(data["bands"])
        factors = card.get("factors")
        factors = (
            {key: dict(settings) for key, settings in factors.items()} if isinstance(factors, dict) else {}
        )
        for key in scorecard.FACTORS:
            settings = factors.get(key)
            if not isinstance(settings, dict):
                settings = factors[key] = {}
            settings["weight"] = _json_number(data[f"weight_{key}"])
        card["factors"] = factors
        fields = {name: data[name] for name in self.NUMBERS}
        fields["scorecard"] = card
        fields["class_floors"] = {c: data[f"floor_{c}"] for c in self.FLOOR_CLASSES}
        fields["review_months"] = {c: data[f"review_{c}"] for c in scorecard.CLASSES}
        return fields

    def add_service_errors(self, exc: ValidationError) -> None:
        """policy_update's error paths (`scorecard.factors.tenure.weight`, `class_floors.B`)
        onto the fields; a group's own errors (`class_floors`) onto its fieldset."""
        for path, errors in error_detail(exc).items():
            parts = path.split(".")
            if path in self.fields:
                self.add_error(path, errors)
            elif parts[0] == "scorecard" and len(parts) == 4 and parts[1:4:2] == ["factors", "weight"]:
                self.add_error(f"weight_{parts[2]}", errors)
            elif parts[0] == "scorecard":
                self.add_error("bands", [f"{'.'.join(parts[1:]) or 'scorecard'}: {e}" for e in errors])
            elif parts[0] in ("class_floors", "review_months"):
                prefix = "floor" if parts[0] == "class_floors" else "review"
                name = f"{prefix}_{parts[1]}" if len(parts) > 1 else ""
                if name in self.fields:
                    self.add_error(name, errors)
                else:
                    self.group_errors.setdefault(parts[0], []).extend(errors)
            else:
                self.add_error(None, errors)

    def has_errors(self) -> bool:
        return bool(self.errors or self.group_errors)

    def number_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.NUMBERS]

    def floor_fields(self) -> list[forms.BoundField]:
        return [self[f"floor_{c}"] for c in self.FLOOR_CLASSES]

    def review_fields(self) -> list[forms.BoundField]:
        return [self[f"review_{c}"] for c in scorecard.CLASSES]

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[f"weight_{key}"] for key in scorecard.FACTORS]

    def bands_fields(self) -> list[forms.BoundField]:
        return [self["bands"]]
