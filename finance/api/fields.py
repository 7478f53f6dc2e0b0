"""Serializer fields that resolve ids inside the actor's tenant and visibility only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finance.actors import Actor


@extend_schema_field(OpenApiTypes.INT)
class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id resolved through `scope(actor)`: another tenant's id reads as 'does not exist'."""

    def __init__(self, scope: Callable[[Actor], QuerySet], **kwargs: Any) -> None:
        self.scope = scope
        kwargs.setdefault("queryset", None)
        if kwargs.get("read_only"):
            kwargs.pop("queryset")
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        actor = self.context["actor"] if "actor" in self.context else self.context["request"].auth
        return self.scope(actor)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not -(2**63) < pk < 2**63:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)
