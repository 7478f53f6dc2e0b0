from rest_framework import serializers

from finance.models import AuditEvent, Organization


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "base_currency", "timezone", "language", "address", "created_at"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
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
