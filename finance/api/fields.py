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


class PrefetchedListSerializer(serializers.ListSerializer):
    """A nested list read from `prefetched_<field>` when the view prefetched it with
    `Prefetch("<field>", to_attr="prefetched_<field>")`, else from the relation.

    A plain prefetch makes Django build a queryset per parent row to hold the prefetched rows
    (a filter compiled 50 times for a page of 50); `to_attr` stores a plain list instead. Input
    (writes) is unchanged: the field keeps its name."""

    def get_attribute(self, instance: Any) -> Any:
        prefetched = getattr(instance, f"prefetched_{self.field_name}", None)
        if prefetched is not None:
            return prefetched
        return super().get_attribute(instance)
