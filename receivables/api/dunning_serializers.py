from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from finance.api.representation import ModelSerializer
from receivables.dunning_policies import LEVEL_FIELDS, POLICY_FIELDS
from receivables.models import DunningLevel, DunningPolicy, Reminder

MONEY = {"max_digits": 18, "decimal_places": 2, "min_value": Decimal("0")}


class TemplateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=20000)


class DunningLevelSerializer(ModelSerializer):
    id = serializers.IntegerField(required=False)
    minimum_amount = serializers.DecimalField(**MONEY, required=False)
    templates = serializers.DictField(child=TemplateSerializer(), required=False)

    class Meta:
        model = DunningLevel
        fields = ["id", "sequence", *LEVEL_FIELDS]
        read_only_fields = ["sequence"]


class DunningPolicySerializer(ModelSerializer):
    """A policy with its levels. Writing `levels` replaces them (ordered by days); a level keeps
    its identity (and its reminders) when its `id` is given."""

    customer_groups = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    abc_classes = serializers.ListField(child=serializers.CharField(max_length=1), required=False)
    risk_classes = serializers.ListField(child=serializers.CharField(max_length=1), required=False)
    late_fee_amount = serializers.DecimalField(**MONEY, required=False)
    late_fee_annual_rate = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=Decimal("0"), max_value=Decimal("100"), required=False
    )
    levels = DunningLevelSerializer(many=True, required=False)

    class Meta:
        model = DunningPolicy
        fields = ["id", *POLICY_FIELDS, "levels", "created_at"]
        read_only_fields = ["created_at"]
        # Uniqueness is checked by the service, inside the tenant.
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not attrs.get("levels"):
            raise serializers.ValidationError({"levels": ["Give the policy at least one level."]})
        return attrs


class ReminderSerializer(ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    level_name = serializers.CharField(source="level.name", read_only=True)
    channel = serializers.CharField(source="message.channel", read_only=True)
    recipient = serializers.CharField(source="message.recipient", read_only=True)
    status = serializers.CharField(source="message.status", read_only=True)
    attempts = serializers.IntegerField(source="message.attempts", read_only=True)
    sent_at = serializers.DateTimeField(source="message.sent_at", read_only=True)
    last_error = serializers.CharField(source="message.last_error", read_only=True)

    class Meta:
        model = Reminder
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "customer",
            "level",
            "level_name",
            "message",
            "run_date",
            "days_past_due",
            "outstanding",
            "channel",
            "recipient",
            "status",
            "attempts",
            "sent_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class PreviewQuerySerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="The run date (default: tomorrow, local time).")
    customer = serializers.IntegerField(required=False, min_value=1)


class PreviewInvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="invoice_id")
    number = serializers.CharField()
    currency = serializers.CharField()
    due_date = serializers.DateField()
    days_past_due = serializers.IntegerField()
    outstanding = serializers.DecimalField(max_digits=18, decimal_places=2)
    level = serializers.CharField(source="level.name")
    new = serializers.BooleanField()


class PreviewMessageSerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer_id")
    customer_name = serializers.CharField()
    policy = serializers.CharField(source="policy.name")
    level = serializers.CharField(source="level.name")
    level_id = serializers.IntegerField(source="level.pk")
    channel = serializers.CharField(source="level.channel")
    recipient = serializers.CharField()
    language = serializers.CharField()
    totals = serializers.SerializerMethodField()
    subject = serializers.CharField()
    invoices = PreviewInvoiceSerializer(many=True)

    def get_totals(self, message: Any) -> dict[str, str]:
        return {currency: str(amount) for currency, amount in message.totals.items()}
