"""Filter pieces shared by every API: ids checked to fit a bigint, so no input reaches the database
as a number it cannot hold."""

import datetime
from typing import Any

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend

BIGINT_MAX = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, handed to the database in UTC: an offset PostgreSQL cannot hold
    (`+19:18`) or an instant past year 9999 is a 400, never a database error."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is None or timezone.is_naive(parsed):
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(_("Enter a date and time between the years 1 and 9999.")) from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, which builds and validates a form on every request, skipping that work
    when no query parameter names one of the filterset's filters (a plain page of a list): every
    filter would then be empty, and an empty filter leaves the queryset as it is."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names = tuple(filterset_class.base_filters)
        if not any(param.startswith(names) for param in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
