"""Filter pieces shared by every API: ids checked to fit a bigint, so no input reaches the database
as a number it cannot hold."""

from typing import Any

import django_filters
from django import forms

BIGINT_MAX = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField
