"""Filters of the credit API. Declared one by one (a FilterSet's Meta.fields would query a tenant
table at import); ids and years are bounded, so no input reaches the database as a number its
column cannot hold."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from credit.models import CreditStatus, LimitRequest, OpenOrder, RiskClass
from finance.api.filters import IdFilter, IsoDateTimeFilter


class YearField(forms.IntegerField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1900)
        kwargs.setdefault("max_value", 2200)
        super().__init__(*args, **kwargs)


class YearFilter(django_filters.NumberFilter):
    field_class = YearField


class ProfileFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    status = django_filters.ChoiceFilter(choices=CreditStatus.choices)
    risk_class = django_filters.ChoiceFilter(choices=RiskClass.choices)
    blocked = django_filters.BooleanFilter()
    review_due_before = django_filters.DateFilter(field_name="next_review_on", lookup_expr="lte")


class LimitRequestFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    status = django_filters.ChoiceFilter(choices=LimitRequest.Status.choices)
    temporary = django_filters.BooleanFilter()
    requested_after = IsoDateTimeFilter(field_name="requested_at", lookup_expr="gte")
    requested_before = IsoDateTimeFilter(field_name="requested_at", lookup_expr="lt")


class StatementFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    fiscal_year = YearFilter()
    currency = django_filters.CharFilter()


class OrderFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    external_id = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=OpenOrder.Status.choices)
    currency = django_filters.CharFilter()
