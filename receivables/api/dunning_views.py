"""`/api/v1/dunning-policies/` (read for integrators, write for admins) and `/api/v1/reminders/`
(read; `preview/` is the dry run of a day's dunning)."""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import selectors as crm_selectors
from finance.api.base import KehuViewSet
from finance.api.filters import IdFilter
from receivables import dunning, dunning_policies
from receivables.api import dunning_serializers as s
from receivables.models import DunningLevel, DunningPolicy, Reminder


def _levels_input(levels: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if levels is None:
        return None
    return [{key: value for key, value in level.items()} for level in levels]


class DunningPolicyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    KehuViewSet,
):
    queryset = DunningPolicy.unscoped.none()
    serializer_class = s.DunningPolicySerializer
    ordering_fields = ["id", "priority", "name"]
    action_permissions = {
        "list": "collections.view",
        "retrieve": "collections.view",
        "create": "dunning_policy.change",
        "update": "dunning_policy.change",
        "partial_update": "dunning_policy.change",
        "destroy": "dunning_policy.change",
    }

    def scoped_queryset(self) -> QuerySet[DunningPolicy]:
        levels = Prefetch("levels", queryset=DunningLevel.objects.order_by("days", "sequence"))
        return DunningPolicy.objects.prefetch_related(levels)

    def perform_create(self, serializer: s.DunningPolicySerializer) -> None:
        data = dict(serializer.validated_data)
        levels = _levels_input(data.pop("levels", None))
        serializer.instance = dunning_policies.policy_save(actor=self.actor, levels=levels, **data)

    def perform_update(self, serializer: s.DunningPolicySerializer) -> None:
        data = dict(serializer.validated_data)
        levels = _levels_input(data.pop("levels", None))
        policy = dunning_policies.policy_save(
            actor=self.actor, policy=serializer.instance, levels=levels, **data
        )
        serializer.instance = self.scoped_queryset().get(pk=policy.pk)

    def perform_destroy(self, instance: DunningPolicy) -> None:
        dunning_policies.policy_delete(actor=self.actor, policy=instance)


class ReminderFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    invoice = IdFilter(field_name="invoice_id")
    level = IdFilter(field_name="level_id")
    run_date = django_filters.DateFilter()
    run_after = django_filters.DateFilter(field_name="run_date", lookup_expr="gte")
    run_before = django_filters.DateFilter(field_name="run_date", lookup_expr="lte")
    status = django_filters.CharFilter(field_name="message__status")


class ReminderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Every reminder: one invoice reminded at one level, with its message's delivery state."""

    queryset = Reminder.unscoped.none()
    serializer_class = s.ReminderSerializer
    filterset_class = ReminderFilter
    ordering_fields = ["id", "run_date"]
    action_permissions = {
        "list": "collections.view",
        "retrieve": "collections.view",
        "preview": "collections.view",
    }

    def scoped_queryset(self) -> QuerySet[Reminder]:
        return Reminder.objects.filter(
            customer__in=crm_selectors.customers_visible_to(self.actor)
        ).select_related("invoice", "level", "message")

    @extend_schema(
        parameters=[s.PreviewQuerySerializer],
        responses={
            200: inline_serializer(
                "DunningPreview",
                {"run_date": serializers.DateField(), "messages": s.PreviewMessageSerializer(many=True)},
            )
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def preview(self, request: Request) -> Response:
        """What the dunning run of `date` (default tomorrow) would send; nothing is written."""
        query = s.PreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = self.actor.organization
        run_date = query.validated_data.get("date") or organization.local_today() + datetime.timedelta(days=1)
        visible = crm_selectors.customers_visible_to(self.actor)
        if "customer" in query.validated_data:
            visible = visible.filter(pk=query.validated_data["customer"])
        customer_ids = None
        if self.actor.sees_own_customers_only or "customer" in query.validated_data:
            customer_ids = list(visible.values_list("pk", flat=True))
        plan = dunning.dunning_plan(organization=organization, run_date=run_date, customer_ids=customer_ids)
        for message in plan.messages:
            dunning.render_message(message, organization=organization, run_date=run_date)
        return Response(
            {
                "run_date": run_date.isoformat(),
                "messages": s.PreviewMessageSerializer(plan.messages, many=True).data,
            },
            status=status.HTTP_200_OK,
        )
