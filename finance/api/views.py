from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from finance import selectors, webhooks
from finance.api.base import KehuViewSet
from finance.api.filters import IdFilter, IsoDateTimeFilter
from finance.api.serializers import (
    AuditEventSerializer,
    OrganizationSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)
from finance.models import AuditEvent, Organization, WebhookDelivery, WebhookEndpoint


class OrganizationViewSet(KehuViewSet):
    """The organization of the API key (or of the signed-in user's current membership)."""

    action_permissions = {"list": "organization.view"}
    queryset = Organization.objects.none()
    pagination_class = None
    serializer_class = OrganizationSerializer

    @extend_schema(responses=OrganizationSerializer)
    def list(self, request: Request) -> Response:
        return Response(OrganizationSerializer(self.actor.organization).data)


class AuditEventFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    actor_user = IdFilter(field_name="actor_user_id")
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """The audit log, read-only, for auditors and administrators."""

    queryset = AuditEvent.unscoped.none()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["id", "created_at"]
    action_permissions = {"list": "audit.view", "retrieve": "audit.view"}

    def scoped_queryset(self) -> QuerySet[AuditEvent]:
        return selectors.audit_events()


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Webhook endpoints. The signing secret is returned once, when the endpoint is created."""

    queryset = WebhookEndpoint.unscoped.none()
    serializer_class = WebhookEndpointSerializer
    action_permissions = {
        "list": "webhook.manage",
        "retrieve": "webhook.manage",
        "create": "webhook.manage",
        "destroy": "webhook.manage",
        "deliveries": "webhook.manage",
    }

    def scoped_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.all()

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.endpoint_create(actor=self.actor, **serializer.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=201)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        webhooks.endpoint_delete(actor=self.actor, endpoint=self.get_object())
        return Response(status=204)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        page = self.paginate_queryset(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
