"""Forms of the analytics pages. They parse input only: `services.policy_update` validates the
business rules and its ValidationErrors come back onto these forms' fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from analytics.models import AnalyticsPolicy, Segment
from analytics.services import POLICY_FIELDS
from crm.models import LifecycleStage
from finance.bulk import error_detail
from finance.selectors import members

NUMBER_INPUT = forms.NumberInput(attrs={"inputmode": "decimal", "class": "amount"})
WHOLE_INPUT = forms.NumberInput(attrs={"inputmode": "numeric", "class": "amount"})

SORTS = {
    "risk": ("-churn_risk", "-action_value"),
    "clv": ("-clv", "-churn_risk"),
    "revenue": ("-revenue_12m", "-clv"),
    "stake": ("-action_value", "-churn_risk"),
}
ABC_CLASSES = ("A", "B", "C")


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: each error on its field, the rest above it."""
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


class PolicyForm(forms.Form):
    """Every setting of the analytics policy, labelled and bounded as the model declares them, in
    the groups the settings page shows."""

    GROUPS = (
        (_("ABC classes"), ("abc_basis", "abc_a_percent", "abc_b_percent")),
        (_("Lifetime value"), ("margin_percent", "discount_rate_percent", "clv_horizon_months")),
        (_("Churn alerts"), ("churn_threshold", "alert_weekday", "outcome_days")),
        (_("Lifecycle stages"), ("churned_alive_percent", "churned_after_days", "loyal_min_tenure_days")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in POLICY_FIELDS:
            model_field = AnalyticsPolicy._meta.get_field(name)
            field = model_field.formfield()
            if isinstance(field, forms.DecimalField):
                field.widget = NUMBER_INPUT
            elif isinstance(field, forms.IntegerField) and not model_field.choices:
                field.widget = WHOLE_INPUT
            self.fields[name] = field

    @staticmethod
    def initial_for(policy: AnalyticsPolicy) -> dict[str, Any]:
        return {name: getattr(policy, name) for name in POLICY_FIELDS}

    def groups(self) -> list[tuple[Any, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]


class CustomerFilterForm(forms.Form):
    """The filters and the order of the analytics customer list (and of its exports). Bad values
    are ignored rather than refused: a shared link with a stale filter still opens."""

    segment = forms.ChoiceField(label=_("RFM segment"), required=False)
    abc = forms.ChoiceField(label=_("ABC class"), required=False)
    stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False)
    risk_min = forms.IntegerField(
        label=_("Churn risk at least"), required=False, min_value=0, max_value=100, widget=WHOLE_INPUT
    )
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("risk", _("Churn risk")),
            ("clv", _("Lifetime value")),
            ("revenue", _("Revenue, 12 months")),
            ("stake", _("Value at stake")),
        ],
    )

    def __init__(self, *args: Any, portfolio: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", _("All segments")), *Segment.choices]
        self.fields["abc"].choices = [("", _("All classes")), *((c, c) for c in ABC_CLASSES)]
        self.fields["stage"].choices = [("", _("All stages")), *LifecycleStage.choices]
        if portfolio:
            self.fields["owner"].choices = [
                ("", _("All owners")),
                ("0", _("No owner")),
                *((user.pk, str(user)) for user in members()),
            ]
        else:
            del self.fields["owner"]

    def filters(self) -> dict[str, Any]:
        """The valid filters (invalid ones dropped), with the sort key."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        result = {name: data.get(name) for name in self.fields if name not in self.errors}
        result["sort"] = result.get("sort") or "risk"
        return result
