"""The education API: `/api/v1/experience/education-resources/`, `/education-sessions/` and
`/education-attendances/` (with `invite/`, a whole segment at once). Each view parses its input,
calls one service or selector of `experience.education` and answers with the output serializer;
the base viewset supplies tenancy, roles, cursor pagination and Idempotency-Key. Every id is
resolved inside the actor's tenant and visibility, so another tenant's id reads "does not exist"."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors as crm_selectors
from crm.models import Contact, LifecycleStage
from experience import education
from experience.models import Attendance, Resource, Session
from finance.api.base import KehuViewSet
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.filters import IdFilter, IsoDateTimeFilter
from finance.api.representation import ModelSerializer
from finance.models import Membership, User


def _resources(actor: Any) -> QuerySet[Resource]:
    return education.resources_visible_to(actor)


def _sessions(actor: Any) -> QuerySet[Session]:
    return education.sessions_visible_to(actor)


def _customers(actor: Any) -> Any:
    return crm_selectors.customers_visible_to(actor)


def _contacts(actor: Any) -> QuerySet[Contact]:
    return crm_selectors.contacts_visible_to(actor)


def _members(actor: Any) -> QuerySet[User]:
    return User.objects.filter(pk__in=Membership.objects.values("user_id"))


# Serializers ---------------------------------------------------------------------------------


class ResourceSerializer(ModelSerializer):
    """A guide, course or webinar. The figures count the places of the customers the caller may
    see; `completion_rate` is completed places as a percentage of all (null with none)."""

    invited = serializers.IntegerField(read_only=True, default=0)
    attended = serializers.IntegerField(read_only=True, default=0)
    completed = serializers.IntegerField(read_only=True, default=0)
    no_show = serializers.IntegerField(read_only=True, default=0)
    avg_rating = serializers.FloatField(read_only=True, allow_null=True, default=None)
    completion_rate = serializers.SerializerMethodField()

    class Meta:
        model = Resource
        fields = [
            "id",
            "title",
            "kind",
            "topic",
            "language",
            "url",
            "description",
            "is_active",
            "created_at",
            "invited",
            "attended",
            "completed",
            "no_show",
            "avg_rating",
            "completion_rate",
        ]
        read_only_fields = ["created_at"]

    def get_completion_rate(self, resource: Resource) -> float | None:
        return education.completion_rate(getattr(resource, "completed", 0), getattr(resource, "invited", 0))


class SessionSerializer(ModelSerializer):
    resource = ScopedPrimaryKeyRelatedField(_resources)
    host = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)
    invited = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Session
        fields = ["id", "resource", "starts_at", "duration_minutes", "location", "host", "invited"]


class SessionUpdateSerializer(SessionSerializer):
    class Meta(SessionSerializer.Meta):
        read_only_fields = ["resource"]


class AttendanceSerializer(ModelSerializer):
    class Meta:
        model = Attendance
        fields = [
            "id",
            "resource",
            "session",
            "customer",
            "contact",
            "status",
            "invited_on",
            "attended_on",
            "completed_on",
            "rating",
            "feedback",
            "updated_at",
        ]
        read_only_fields = fields


class AttendanceInSerializer(serializers.Serializer):
    """Invite one customer (and optionally one of its contacts) to a resource or one of its
    sessions. Inviting a place twice answers 200 with the first invitation."""

    resource = ScopedPrimaryKeyRelatedField(_resources)
    session = ScopedPrimaryKeyRelatedField(_sessions, required=False, allow_null=True)
    customer = ScopedPrimaryKeyRelatedField(_customers)
    contact = ScopedPrimaryKeyRelatedField(_contacts, required=False, allow_null=True)
    send_email = serializers.BooleanField(default=False)


class AttendanceUpdateSerializer(serializers.Serializer):
    """Move a place along invited → attended → completed (or no_show), dated `on` (default today),
    and record the rating (1-5) and feedback of a customer who attended."""

    status = serializers.ChoiceField(choices=Attendance.Status.choices, required=False)
    on = serializers.DateField(required=False)
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    feedback = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class InviteSegmentSerializer(serializers.Serializer):
    """Invite every active customer of a segment (all criteria given must match; at least one)."""

    resource = ScopedPrimaryKeyRelatedField(_resources)
    session = ScopedPrimaryKeyRelatedField(_sessions, required=False, allow_null=True)
    abc_class = serializers.ChoiceField(choices=["A", "B", "C"], required=False)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    customer_group = serializers.CharField(max_length=100, required=False)
    owner = ScopedPrimaryKeyRelatedField(_members, required=False)
    send_email = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs.get(name) for name in education.SEGMENT_FIELDS):
            raise serializers.ValidationError(
                {"segment": [_("Give at least one of abc_class, lifecycle_stage, customer_group, owner.")]}
            )
        return attrs


class InviteResultSerializer(serializers.Serializer):
    invited = serializers.IntegerField()
    already_invited = serializers.IntegerField()
    attendances = AttendanceSerializer(many=True)


# Filters -------------------------------------------------------------------------------------


class ResourceFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Resource.Kind.choices)
    language = django_filters.CharFilter()
    topic = django_filters.CharFilter(lookup_expr="icontains")
    is_active = django_filters.BooleanFilter()


class SessionFilter(django_filters.FilterSet):
    resource = IdFilter(field_name="resource_id")
    starts_after = IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")


class AttendanceFilter(django_filters.FilterSet):
    resource = IdFilter(field_name="resource_id")
    session = IdFilter(field_name="session_id")
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    status = django_filters.ChoiceFilter(choices=Attendance.Status.choices)


# Views ---------------------------------------------------------------------------------------


class ResourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    KehuViewSet,
):
    """The education catalogue with each resource's figures. Deleting a resource customers were
    invited to is refused (400): deactivate it instead."""

    queryset = Resource.unscoped.none()
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    search_fields = ["title", "topic"]
    ordering_fields = ["id", "title", "created_at"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "education.change",
        "partial_update": "education.change",
        "destroy": "education.change",
    }

    def scoped_queryset(self) -> QuerySet[Resource]:
        return education.with_figures(self.actor, education.resources_visible_to(self.actor))

    @extend_schema(request=ResourceSerializer, responses={201: ResourceSerializer})
    def create(self, request: Request) -> Response:
        serializer = ResourceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        resource = education.resource_create(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(resource)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ResourceSerializer, responses=ResourceSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        resource = self.get_object()
        serializer = ResourceSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        resource = education.resource_update(actor=self.actor, resource=resource, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(resource)).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        education.resource_delete(actor=self.actor, resource=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _fresh(self, resource: Resource) -> Resource:
        return self.get_queryset().get(pk=resource.pk)


class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Dated sessions of courses and webinars (guides have none), with `invited` counting the
    places of the caller's customers."""

    queryset = Session.unscoped.none()
    serializer_class = SessionSerializer
    filterset_class = SessionFilter
    ordering_fields = ["id", "starts_at"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "education.change",
        "partial_update": "education.change",
        "destroy": "education.change",
    }

    def scoped_queryset(self) -> QuerySet[Session]:
        visible = education._place_filter(self.actor, "attendances__")
        return education.sessions_visible_to(self.actor).annotate(invited=education._places(visible))

    @extend_schema(request=SessionSerializer, responses={201: SessionSerializer})
    def create(self, request: Request) -> Response:
        serializer = SessionSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        session = education.session_create(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(session)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SessionUpdateSerializer, responses=SessionSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        session = self.get_object()
        serializer = SessionUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        session = education.session_update(actor=self.actor, session=session, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(session)).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        education.session_delete(actor=self.actor, session=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _fresh(self, session: Session) -> Session:
        return self.get_queryset().get(pk=session.pk)


class AttendanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Customers' places on resources and sessions: invited, attended, completed or no_show, with
    dates, rating and feedback. A sales rep sees and invites their own customers only."""

    queryset = Attendance.unscoped.none()
    serializer_class = AttendanceSerializer
    filterset_class = AttendanceFilter
    ordering_fields = ["id", "invited_on", "updated_at"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "education.change",
        "partial_update": "education.change",
        "invite": "education.change",
    }

    def scoped_queryset(self) -> QuerySet[Attendance]:
        return education.attendances_visible_to(self.actor)

    @extend_schema(
        request=AttendanceInSerializer,
        responses={201: AttendanceSerializer, 200: AttendanceSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = AttendanceInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        attendance, created = education.attendance_invite(actor=self.actor, **serializer.validated_data)
        return Response(
            self.get_serializer(attendance).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(request=AttendanceUpdateSerializer, responses=AttendanceSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        attendance = self.get_object()
        serializer = AttendanceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        attendance = education.attendance_update(
            actor=self.actor, attendance=attendance, **serializer.validated_data
        )
        return Response(self.get_serializer(attendance).data)

    @extend_schema(request=InviteSegmentSerializer, responses={200: InviteResultSerializer})
    @action(detail=False, methods=["post"])
    def invite(self, request: Request) -> Response:
        serializer = InviteSegmentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        result = education.attendances_invite_segment(actor=self.actor, **serializer.validated_data)
        return Response(
            InviteResultSerializer(
                {"invited": result.count, "already_invited": result.already, "attendances": result.invited}
            ).data
        )
