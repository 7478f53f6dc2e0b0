from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm import selectors
from crm.models import Contact, Customer, FollowUp, Interaction
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.representation import ModelSerializer
from finance.api.sensitive import SensitiveSerializerMixin
from finance.money import country_codes, currency_codes
from finance.selectors import members


def _members(actor: Any) -> Any:
    return members()


class CustomerSerializer(SensitiveSerializerMixin, ModelSerializer):
    """`tax_id` and `bank_account` come masked ("••••" and the last 4 characters) unless the caller
    may see them (owner, admin, finance manager, write-scoped API keys); each unmasked customer is
    a `sensitive.viewed` audit event. A tax id already used by another customer is a 400."""

    owner = ScopedPrimaryKeyRelatedField(_members, allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    country = serializers.ChoiceField(choices=sorted(country_codes()), required=False)
    currency = serializers.ChoiceField(choices=sorted(currency_codes()), required=False)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "name",
            "legal_name",
            "tax_id",
            "bank_account",
            "country",
            "currency",
            "email",
            "phone",
            "billing_address",
            "industry",
            "customer_group",
            "owner",
            "lifecycle_stage",
            "status",
            "tags",
            "notes",
            "abc_class",
            "risk_class",
            "loyalty_tier",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "abc_class", "risk_class", "loyalty_tier", "created_at", "updated_at"]


class CustomerBulkItemSerializer(CustomerSerializer):
    external_id = serializers.CharField(max_length=100)


class CustomerBulkSerializer(serializers.Serializer):
    items = CustomerBulkItemSerializer(many=True, allow_empty=False, max_length=settings.BULK_MAX_ITEMS)


class BulkResultSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class ContactSerializer(SensitiveSerializerMixin, ModelSerializer):
    """`identity_number` comes masked unless the caller may see it; each unmasked view is audited."""

    customer = ScopedPrimaryKeyRelatedField(selectors.customers_visible_to)

    class Meta:
        model = Contact
        fields = [
            "id",
            "customer",
            "name",
            "title",
            "email",
            "phone",
            "identity_number",
            "preferred_language",
            "is_primary",
            "is_billing",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "customer" in attrs and attrs["customer"] != self.instance.customer:
            raise serializers.ValidationError({"customer": [_("A contact cannot move to another customer.")]})
        return attrs


class InteractionSerializer(ModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(selectors.customers_visible_to)
    contact = ScopedPrimaryKeyRelatedField(selectors.contacts_visible_to, allow_null=True, required=False)
    user = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    follow_up = serializers.SerializerMethodField()

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "contact",
            "kind",
            "occurred_at",
            "user",
            "summary",
            "outcome",
            "next_action",
            "next_action_due",
            "follow_up",
            "created_at",
        ]
        read_only_fields = ["id", "user", "created_at"]

    def get_follow_up(self, interaction: Interaction) -> int | None:
        follow_ups = getattr(interaction, "prefetched_follow_ups", None)
        if follow_ups is None:
            follow_ups = list(interaction.follow_ups.all())
        return follow_ups[0].pk if follow_ups else None


class FollowUpSerializer(ModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(selectors.customers_visible_to)
    assignee = ScopedPrimaryKeyRelatedField(_members, allow_null=True, required=False)
    interaction = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "customer",
            "interaction",
            "assignee",
            "title",
            "due_date",
            "done",
            "done_at",
            "created_at",
        ]
        read_only_fields = ["id", "interaction", "done_at", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "customer" in attrs and attrs["customer"] != self.instance.customer:
            raise serializers.ValidationError(
                {"customer": [_("A follow-up cannot move to another customer.")]}
            )
        return attrs
