from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from finance.api.representation import ModelSerializer
from finance.models import AuditEvent, Organization, WebhookDelivery, WebhookEndpoint


# many=False: served by a `list` action, which drf-spectacular would otherwise document as an array.
@extend_schema_serializer(many=False)
class OrganizationSerializer(ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "base_currency", "timezone", "language", "address", "created_at"]
        read_only_fields = fields


class AuditEventSerializer(ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "actor_user",
            "actor_api_key",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "customer_id",
            "changes",
            "request_id",
        ]
        read_only_fields = fields


class WebhookEndpointSerializer(ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=50)
    url = serializers.URLField(max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "created_at"]
        read_only_fields = ["id", "is_active", "created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret"]


class WebhookDeliverySerializer(ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "payload",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields
