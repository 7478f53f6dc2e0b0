"""`ModelSerializer`: DRF's, with a faster `to_representation` for the fields that map a model column;
`Serializer`: DRF's plain one with its fields built once per class.

DRF reads every field of every row through `Field.get_attribute` (a generic walk over `source_attrs`
with callables, `SkipField` and error handling) before `to_representation`. A list of 50 objects of 25
fields spends half its time there. This serializer plans each field once per serializer instance
(a `many=True` list uses one child for all its rows): a field whose source is one concrete column of
`Meta.model` reads the attribute directly, a primary-key relation reads the foreign key's column
(what DRF's "pk only" optimisation reads too), and every other field (methods, properties, nested
serializers, `source="*"`, dotted sources) goes through DRF's own path. Date-times in ISO 8601
are converted with the time zone looked up once per serializer rather than once per value. The
output is the same, key for key, as DRF's: `tests/test_api_representation.py` compares them on every
list and detail of the API.

It also builds its fields once per class instead of once per instance: `get_fields()` keeps the
unbound fields DRF built the first time and hands each instance copies of them. A leaf field is
copied shallowly (binding sets its name and parent on the copy; its choices, validators and
messages are never changed after they are built); a field holding other fields (nested
serializers, lists, dicts, many-relations) is deep-copied as DRF does, since its children are bound
to it and read the request's context through it.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from rest_framework import ISO_8601, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

# (field name, column attribute or None for DRF's path, the field, its to_representation)
Step = tuple[str, str | None, serializers.Field, Callable[[Any], Any]]


def _column(model: type, field: serializers.Field) -> str | None:
    """The model attribute to read for `field`, or None when DRF's own path is needed."""
    if model is None or len(field.source_attrs) != 1:
        return None
    try:
        model_field = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if not model_field.concrete or getattr(model_field, "attname", None) is None:
        return None
    if isinstance(field, relations.RelatedField):
        plain_pk = (
            isinstance(field, relations.PrimaryKeyRelatedField)
            and type(field).to_representation is relations.PrimaryKeyRelatedField.to_representation
            and type(field).get_attribute is relations.RelatedField.get_attribute
            and field.use_pk_only_optimization()
            and field.pk_field is None
            and model_field.many_to_one
        )
        return model_field.attname if plain_pk else None
    if model_field.is_relation or type(field).get_attribute is not serializers.Field.get_attribute:
        return None
    return model_field.attname


def _identity(value: Any) -> Any:
    return value


def _datetime_converter(field: serializers.Field) -> Callable[[Any], Any] | None:
    """DRF's DateTimeField.to_representation in ISO 8601 with the time zone looked up once per
    serializer (DRF asks for the current one for every value) instead of per value; anything
    unusual (a string, a naive value, a custom format or field) goes to DRF's own method."""
    kind = type(field)
    if not (
        isinstance(field, serializers.DateTimeField)
        and kind.to_representation is serializers.DateTimeField.to_representation
        and kind.enforce_timezone is serializers.DateTimeField.enforce_timezone
        and kind.default_timezone is serializers.DateTimeField.default_timezone
    ):
        return None
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if not isinstance(output_format, str) or output_format.lower() != ISO_8601:
        return None
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if zone is None:
        return None
    slow = field.to_representation

    def convert(value: Any) -> Any:
        if not isinstance(value, datetime.datetime) or not value or timezone.is_naive(value):
            return slow(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return slow(value)
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


_HOLDS_FIELDS = (
    serializers.BaseSerializer,
    relations.ManyRelatedField,
    serializers.ListField,
    serializers.DictField,
    serializers.HStoreField,
)


def _copy(field: serializers.Field) -> serializers.Field:
    return copy.deepcopy(field) if isinstance(field, _HOLDS_FIELDS) else copy.copy(field)


class FieldsOnce:
    """Builds a serializer class's fields once and gives each instance copies of them."""

    def get_fields(self) -> dict[str, serializers.Field]:
        prototypes = type(self).__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()  # type: ignore[misc]  # unbound: only copies are bound
            type(self)._field_prototypes = prototypes
        return {name: _copy(field) for name, field in prototypes.items()}


class Serializer(FieldsOnce, serializers.Serializer):
    """DRF's plain serializer with its fields built once per class (a hot path's input and answer,
    such as the credit check's): for a class whose fields are never changed after they are built."""


class ModelSerializer(FieldsOnce, serializers.ModelSerializer):
    _representation_plan: list[Step] | None = None

    def _plan(self) -> list[Step]:
        if self._representation_plan is None:
            model = getattr(getattr(self, "Meta", None), "model", None)
            steps: list[Step] = []
            for field in self._readable_fields:
                column = _column(model, field)
                if column is not None and isinstance(field, relations.RelatedField):
                    convert: Callable[[Any], Any] = _identity  # the primary key itself, as DRF's value.pk
                else:
                    convert = _datetime_converter(field) or field.to_representation
                steps.append((field.field_name, column, field, convert))
            self._representation_plan = steps
        return self._representation_plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        ret: dict[str, Any] = {}
        for name, column, field, convert in self._plan():
            if column is not None:
                value = getattr(instance, column)
                ret[name] = None if value is None else convert(value)
                continue
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[name] = None if check_for_none is None else field.to_representation(attribute)
        return ret
