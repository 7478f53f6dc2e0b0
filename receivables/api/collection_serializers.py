"""Serializers of the collections API: promises to pay and disputes. Money is a string; every id is
resolved inside the actor's tenant and visibility, so another tenant's id reads "does not exist"."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.representation import ModelSerializer
from finance.models import Membership, User
from receivables.api.serializers import MONEY, CurrencyField, CustomerRefMixin, _invoices, context_actor
from receivables.models import Dispute, PromiseToPay


def _members(actor: Any) -> Any:
    return User.objects.filter(pk__in=Membership.objects.values("user_id"))


class PromiseSerializer(ModelSerializer):
    invoices = serializers.SerializerMethodField()

    class Meta:
        model = PromiseToPay
        fields = [
            "id",
            "external_id",
            "customer",
            "currency",
            "amount",
            "promised_date",
            "grace_days",
            "invoices",
            "status",
            "note",
            "source",
            "recorded_on",
            "resolved_on",
            "paid_amount",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"type": "integer"}})
    def get_invoices(self, promise: PromiseToPay) -> list[int]:
        return sorted(covered.invoice_id for covered in promise.covered.all())


class PromiseInSerializer(CustomerRefMixin, serializers.Serializer):
    """`invoices` (ids) the promise covers; without them, all the customer's open invoices in
    `currency`."""

    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    currency = CurrencyField()
    amount = serializers.DecimalField(**MONEY)
    promised_date = serializers.DateField()
    invoices = serializers.ListField(
        child=ScopedPrimaryKeyRelatedField(_invoices), required=False, max_length=500
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PromiseCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DisputeSerializer(ModelSerializer):
    class Meta:
        model = Dispute
        fields = [
            "id",
            "external_id",
            "invoice",
            "customer",
            "amount",
            "reason",
            "description",
            "status",
            "owner",
            "target_date",
            "opened_on",
            "resolved_on",
            "resolution",
            "credit_note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class DisputeInSerializer(serializers.Serializer):
    """`invoice` (id) or `invoice_external_id`; `amount` empty for the whole invoice."""

    invoice = ScopedPrimaryKeyRelatedField(_invoices, required=False)
    invoice_external_id = serializers.CharField(max_length=100, required=False, write_only=True)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    reason = serializers.ChoiceField(choices=Dispute.Reason.choices)
    amount = serializers.DecimalField(**MONEY, required=False, allow_null=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    owner = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)
    target_date = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        external = attrs.pop("invoice_external_id", None)
        if external is not None:
            if attrs.get("invoice") is not None:
                raise serializers.ValidationError(
                    {"invoice": [_("Give invoice or invoice_external_id, not both.")]}
                )
            invoice = _invoices(context_actor(self.context)).filter(external_id=external).first()
            if invoice is None:
                raise serializers.ValidationError(
                    {"invoice_external_id": [_("No invoice with this external id.")]}
                )
            attrs["invoice"] = invoice
        if attrs.get("invoice") is None:
            raise serializers.ValidationError({"invoice": [_("Give invoice or invoice_external_id.")]})
        return attrs


class DisputeUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in Dispute.ACTIVE], required=False)
    owner = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)
    target_date = serializers.DateField(required=False, allow_null=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class DisputeResolveSerializer(serializers.Serializer):
    credit_amount = serializers.DecimalField(**MONEY)
    credit_note_number = serializers.CharField(max_length=50, required=False, allow_blank=True)
    resolution = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    issue_date = serializers.DateField(required=False)


class DisputeRejectSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=5000)


__all__ = [
    "DisputeInSerializer",
    "DisputeRejectSerializer",
    "DisputeResolveSerializer",
    "DisputeSerializer",
    "DisputeUpdateSerializer",
    "OpenApiTypes",
    "PromiseCancelSerializer",
    "PromiseInSerializer",
    "PromiseSerializer",
]
