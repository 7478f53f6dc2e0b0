"""Filters of the analytics API. Declared one by one (a FilterSet's Meta.fields would query a tenant
table at import); choices are validated and numbers bounded, so a bad value is a 400 with the
field's error, never a 500. `ordering` is a filter too, so an unknown ordering is refused like any
other bad value (DRF's OrderingFilter would silently ignore it)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.models import ChurnAlert, Segment
from crm.models import LifecycleStage
from finance.api.filters import IdFilter

ABC_CHOICES = [("A", "A"), ("B", "B"), ("C", "C")]

# The public name of each ordering and the queryset column it sorts by. Nullable figures are
# sorted through non-null annotations (see `views.CustomerAnalyticsViewSet.scoped_queryset`), as a
# cursor cannot point at a null.
CUSTOMER_ORDERINGS = (
    ("churn_rank", "churn_risk"),
    ("clv_rank", "clv"),
    ("revenue_12m", "revenue_12m"),
    ("action_value", "value_at_stake"),
    ("customer_name_sort", "customer_name"),
)


class RiskField(forms.IntegerField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 100)
        super().__init__(*args, **kwargs)


class RiskFilter(django_filters.NumberFilter):
    field_class = RiskField


class MoneyField(forms.DecimalField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)


class MoneyFilter(django_filters.NumberFilter):
    field_class = MoneyField


class CustomerAnalyticsFilter(django_filters.FilterSet):
    abc_class = django_filters.ChoiceFilter(field_name="customer__abc_class", choices=ABC_CHOICES)
    abc_revenue = django_filters.ChoiceFilter(choices=ABC_CHOICES)
    abc_cash = django_filters.ChoiceFilter(choices=ABC_CHOICES)
    segment = django_filters.ChoiceFilter(choices=Segment.choices)
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices)
    churn_risk_min = RiskFilter(field_name="churn_risk", lookup_expr="gte")
    churn_risk_max = RiskFilter(field_name="churn_risk", lookup_expr="lte")
    clv_min = MoneyFilter(field_name="clv", lookup_expr="gte")
    owner = IdFilter(field_name="customer__owner_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    ordering = django_filters.OrderingFilter(
        fields=CUSTOMER_ORDERINGS,
        field_labels={
            "churn_rank": _("Churn risk"),
            "clv_rank": _("Lifetime value"),
            "revenue_12m": _("Net revenue, 12 months"),
            "action_value": _("Value at stake"),
            "customer_name_sort": _("Customer name"),
        },
        help_text=_("Sort by a field; a leading minus sorts descending. Ties: by customer id."),
    )


class ChurnAlertFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=ChurnAlert.Outcome.choices)
    week = django_filters.DateFilter(help_text=_("The Monday of the alert's week."))
    customer = IdFilter(field_name="customer_id")
