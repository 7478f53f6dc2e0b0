"""Masking encrypted fields in API responses, and auditing every unmasked one.

`SensitiveSerializerMixin` (on a ModelSerializer) masks what the actor may not see
(finance/sensitive.py) and notes each object shown unmasked; `SensitiveAuditMixin` (on the viewset)
writes those notes as `sensitive.viewed` events in one insert when the response is ready, so a list
costs the same number of queries whatever its length.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework.request import Request
from rest_framework.response import Response

from finance import sensitive
from finance.actors import Actor
from finance.crypto import encrypted_fields


def _customer_id(instance: models.Model) -> int | None:
    if instance._meta.label_lower == "crm.customer":
        return instance.pk
    return getattr(instance, "customer_id", None)


class SensitiveSerializerMixin:
    context: dict[str, Any]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)  # type: ignore[misc]
        request = self.context.get("request")
        actor = getattr(request, "auth", None)
        actor = actor if isinstance(actor, Actor) else None
        shown: list[str] = []
        for field in encrypted_fields(type(instance)):
            if field.name not in data:
                continue
            value = getattr(instance, field.attname)
            if value is None or value == "":
                continue
            if sensitive.may_view(actor, field):
                shown.append(field.name)
            else:
                data[field.name] = sensitive.masked(actor, field, value)
        if shown and actor is not None:
            views = self.context.get("sensitive_views")
            if views is None:
                sensitive.record_views(actor, [(instance, shown, _customer_id(instance))])
            else:
                views.append((instance, shown, _customer_id(instance)))
        return data


class SensitiveAuditMixin:
    """Viewset mixin: the unmasked views its serializers noted become audit events (one insert)."""

    _sensitive_views: list[tuple[models.Model, list[str], int | None]] | None = None

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        if self._sensitive_views is None:
            self._sensitive_views = []
        context["sensitive_views"] = self._sensitive_views
        return context

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):  # noqa: ANN201
        views, self._sensitive_views = self._sensitive_views, None
        if views and response.status_code < 400 and isinstance(request.auth, Actor):
            sensitive.record_views(request.auth, views)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
