"""The service API: `/api/v1/experience/service-requests/` (list, detail, create or upsert by
`external_id`, partial update, notes, resolve / close / reopen), `/experience/sla-policies/`
and `/experience/service-quality/`. Views parse input, call one service or selector of the
service part and answer with the output serializer; the base viewset supplies tenancy, roles,
pagination and Idempotency-Key. Every id resolves inside the actor's tenant and visibility."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors as crm_selectors
from crm.models import Contact
from experience import service, service_selectors
from experience.models import ServiceNote, ServiceRequest, SlaPolicy
from experience.models.service import Priority
from finance.api.base import KehuAPIView, KehuViewSet
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.filters import IdFilter, IsoDateTimeFilter
from finance.api.representation import ModelSerializer
from finance.models import Membership, User
from receivables.api.serializers import CustomerRefMixin

EMPTY_BODY = {"type": "object", "description": "No fields: an empty object (or no body)."}


def _contacts(actor: Any) -> QuerySet[Contact]:
    return Contact.objects.filter(customer__in=crm_selectors.customers_visible_to(actor))


def _members(actor: Any) -> QuerySet[User]:
    return User.objects.filter(pk__in=Membership.objects.values("user_id"))


# Serializers ----------------------------------------------------------------------------------


class NoteSerializer(ModelSerializer):
    author = serializers.CharField(source="author.email", default=None, read_only=True, allow_null=True)

    class Meta:
        model = ServiceNote
        fields = ["id", "kind", "body", "author", "created_at"]
        read_only_fields = fields


class NoteInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ServiceNote.Kind.choices, default=ServiceNote.Kind.INTERNAL)
    body = serializers.CharField(max_length=10000)


class ServiceRequestSerializer(ModelSerializer):
    """A request with its deadlines and SLA flags. `sla_alerts` lists the alerts already sent."""

    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    assignee_email = serializers.CharField(
        source="assignee.email", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "number",
            "external_id",
            "customer",
            "customer_external_id",
            "contact",
            "subject",
            "description",
            "category",
            "priority",
            "channel",
            "status",
            "assignee",
            "assignee_email",
            "opened_at",
            "first_response_at",
            "first_response_due",
            "first_response_breached",
            "resolved_at",
            "resolution_due",
            "resolution_breached",
            "closed_at",
            "reopen_count",
            "sla_alerts",
            "updated_at",
        ]
        read_only_fields = fields


class ServiceRequestDetailSerializer(ServiceRequestSerializer):
    notes = NoteSerializer(many=True, read_only=True)

    class Meta(ServiceRequestSerializer.Meta):
        fields = [*ServiceRequestSerializer.Meta.fields, "notes"]
        read_only_fields = fields


class ServiceRequestInSerializer(CustomerRefMixin, serializers.Serializer):
    """`customer` (id) or `customer_external_id`; with `external_id` the POST is an upsert."""

    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    subject = serializers.CharField(max_length=300)
    description = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=ServiceRequest.Category.choices, default="question")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    channel = serializers.ChoiceField(choices=ServiceRequest.Channel.choices, default="api")
    contact = ScopedPrimaryKeyRelatedField(_contacts, required=False, allow_null=True)
    assignee = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)
    opened_at = serializers.DateTimeField(required=False)


class ServiceRequestUpdateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300)
    description = serializers.CharField(max_length=10000, allow_blank=True)
    category = serializers.ChoiceField(choices=ServiceRequest.Category.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    channel = serializers.ChoiceField(choices=ServiceRequest.Channel.choices)
    status = serializers.ChoiceField(choices=ServiceRequest.Status.choices)
    contact = ScopedPrimaryKeyRelatedField(_contacts, allow_null=True)
    assignee = ScopedPrimaryKeyRelatedField(_members, allow_null=True)


class SlaPolicySerializer(ModelSerializer):
    class Meta:
        model = SlaPolicy
        fields = ["priority", "first_response_minutes", "resolution_minutes", "warn_percent"]
        read_only_fields = ["priority"]
        extra_kwargs = {
            "first_response_minutes": {"min_value": 1, "max_value": 100000},
            "resolution_minutes": {"min_value": 1, "max_value": 1000000},
            "warn_percent": {"min_value": 1, "max_value": 99},
        }


class QualityRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    opened = serializers.IntegerField()
    resolved = serializers.IntegerField()
    first_response_median_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    first_response_average_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    resolution_median_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    resolution_average_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    first_response_attainment = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    resolution_attainment = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    reopen_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    satisfaction = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    responses = serializers.IntegerField()


@extend_schema_serializer(many=False)  # one page object from a `list` action, not an array
class SlaPolicyPageSerializer(serializers.Serializer):
    results = SlaPolicySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=_("Always null: one page holds them all."))


@extend_schema_serializer(many=False)  # one page object from a `list` action, not an array
class QualityPageSerializer(serializers.Serializer):
    results = QualityRowSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=_("Always null: one page holds them all."))


class QualityInSerializer(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=36, default=6)
    group_by = serializers.ChoiceField(choices=service_selectors.GROUPS, default="month")
    customer = ScopedPrimaryKeyRelatedField(crm_selectors.customers_visible_to, required=False)


# Filters --------------------------------------------------------------------------------------


class ServiceRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ServiceRequest.Status.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    category = django_filters.ChoiceFilter(choices=ServiceRequest.Category.choices)
    assignee = IdFilter(field_name="assignee_id")
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    external_id = django_filters.CharFilter()
    breached = django_filters.BooleanFilter(method="filter_breached")
    opened_after = IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")

    def filter_breached(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        late = Q(first_response_breached=True) | Q(resolution_breached=True)
        return queryset.filter(late) if value else queryset.exclude(late)


# Views ----------------------------------------------------------------------------------------


class ServiceRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Service requests. POST opens one (201); with an `external_id` already known it updates
    that request instead (200): the ERP's upsert. PATCH changes fields (a new priority recomputes
    the deadlines; a new status follows the status flow). Sales reps see their own customers'."""

    queryset = ServiceRequest.unscoped.none()
    serializer_class = ServiceRequestSerializer
    filterset_class = ServiceRequestFilter
    search_fields = ["number", "subject", "external_id", "customer__name"]
    ordering_fields = ["id", "opened_at", "resolution_due"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "service.work",
        "partial_update": "service.work",
        "notes": "service.work",
        "resolve": "service.work",
        "close": "service.work",
        "reopen": "service.work",
    }

    def scoped_queryset(self) -> QuerySet[ServiceRequest]:
        requests = service_selectors.service_requests_visible_to(self.actor).select_related(
            "customer", "assignee"
        )
        if self.action == "retrieve":
            requests = requests.prefetch_related("notes__author")
        return requests

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ServiceRequestDetailSerializer if self.action == "retrieve" else ServiceRequestSerializer

    def _fresh(self, request: ServiceRequest) -> dict[str, Any]:
        fresh = (
            service_selectors.service_requests_visible_to(self.actor)
            .select_related("customer", "assignee")
            .prefetch_related("notes__author")
            .get(pk=request.pk)
        )
        return ServiceRequestDetailSerializer(fresh, context=self.get_serializer_context()).data

    @extend_schema(
        request=ServiceRequestInSerializer,
        responses={
            201: OpenApiResponse(ServiceRequestDetailSerializer, description="Opened."),
            200: OpenApiResponse(ServiceRequestDetailSerializer, description="Known external_id: updated."),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = ServiceRequestInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        external_id = data.pop("external_id", None)
        if external_id:
            result, created = service.service_request_upsert(
                actor=self.actor, external_id=external_id, **data
            )
        else:
            result, created = service.service_request_create(actor=self.actor, **data), True
        return Response(
            self._fresh(result), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=ServiceRequestUpdateSerializer, responses=ServiceRequestDetailSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        service_request = self.get_object()
        serializer = ServiceRequestUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        result = service.service_request_update(
            actor=self.actor, request=service_request, **serializer.validated_data
        )
        return Response(self._fresh(result))

    @extend_schema(request=NoteInSerializer, responses={201: NoteSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        service_request = self.get_object()
        serializer = NoteInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = service.service_note_add(
            actor=self.actor, request=service_request, **serializer.validated_data
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": EMPTY_BODY}, responses=ServiceRequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            self._fresh(service.service_request_resolve(actor=self.actor, request=self.get_object()))
        )

    @extend_schema(request={"application/json": EMPTY_BODY}, responses=ServiceRequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            self._fresh(service.service_request_close(actor=self.actor, request=self.get_object()))
        )

    @extend_schema(request={"application/json": EMPTY_BODY}, responses=ServiceRequestDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            self._fresh(service.service_request_reopen(actor=self.actor, request=self.get_object()))
        )


class SlaPolicyViewSet(KehuAPIView):
    """The SLA targets per priority (business minutes; defaults until saved). PATCH
    `/experience/sla-policies/{priority}/` changes one (owners and admins)."""

    action_permissions = {"list": "experience.view", "partial_update": "service.policy"}
    lookup_value_regex = "[a-z]+"

    @extend_schema(responses=SlaPolicyPageSerializer)
    def list(self, request: Request) -> Response:
        policies = service_selectors.sla_policies().values()
        return Response({"results": SlaPolicySerializer(policies, many=True).data, "next": None})

    @extend_schema(request=SlaPolicySerializer, responses=SlaPolicySerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        if pk not in Priority.values:
            return Response({"detail": _("Not found.")}, status=status.HTTP_404_NOT_FOUND)
        current = service_selectors.sla_policies()[pk]
        serializer = SlaPolicySerializer(current, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        values = {
            "first_response_minutes": current.first_response_minutes,
            "resolution_minutes": current.resolution_minutes,
            "warn_percent": current.warn_percent,
            **serializer.validated_data,
        }
        policy = service.sla_policy_update(actor=self.actor, priority=pk, **values)
        return Response(SlaPolicySerializer(policy).data)


class ServiceQualityViewSet(KehuAPIView):
    """Service quality per month, agent or category: volumes, first-response and resolution
    times in business hours, SLA attainment, reopen rate and satisfaction after closure."""

    action_permissions = {"list": "experience.view"}

    @extend_schema(
        parameters=[
            OpenApiParameter("months", int, description="1 to 36 (default 6), this month included."),
            OpenApiParameter("group_by", str, enum=list(service_selectors.GROUPS)),
            OpenApiParameter("customer", int, description="One customer's figures."),
        ],
        responses=QualityPageSerializer,
    )
    def list(self, request: Request) -> Response:
        serializer = QualityInSerializer(data=request.query_params, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = data.get("customer")
        rows = service_selectors.service_quality(
            actor=self.actor,
            months=data["months"],
            group_by=data["group_by"],
            customer_id=customer.pk if customer else None,
        )
        return Response({"results": QualityRowSerializer(rows, many=True).data, "next": None})
