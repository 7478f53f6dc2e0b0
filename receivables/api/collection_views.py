"""The collections API: `/api/v1/promises/` and `/api/v1/disputes/`. Each view parses its input,
calls one service of `receivables.promises` or `receivables.disputes`, and answers with the
output serializer; the base viewset supplies tenancy, roles, pagination and Idempotency-Key."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from finance.api.base import KehuViewSet
from finance.api.filters import IdFilter
from receivables import disputes, promises
from receivables.api import collection_serializers as cs
from receivables.models import Dispute, PromiseInvoice, PromiseToPay


class PromiseFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    external_id = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=PromiseToPay.Status.choices)
    currency = django_filters.CharFilter()
    promised_after = django_filters.DateFilter(field_name="promised_date", lookup_expr="gte")
    promised_before = django_filters.DateFilter(field_name="promised_date", lookup_expr="lte")


class PromiseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Promises to pay. POST records one (covering the named invoices, else all the customer's open
    invoices in its currency); `POST /promises/{id}/cancel/` cancels an open one. The daily job
    marks each kept or broken."""

    queryset = PromiseToPay.unscoped.none()
    serializer_class = cs.PromiseSerializer
    filterset_class = PromiseFilter
    ordering_fields = ["id", "promised_date", "recorded_on", "amount"]
    action_permissions = {
        "list": "collections.view",
        "retrieve": "collections.view",
        "create": "promise.record",
        "cancel": "promise.record",
    }

    def scoped_queryset(self) -> QuerySet[PromiseToPay]:
        return promises.promises_visible_to(self.actor).prefetch_related(
            Prefetch("covered", queryset=PromiseInvoice.objects.order_by("invoice_id"))
        )

    @extend_schema(request=cs.PromiseInSerializer, responses={201: cs.PromiseSerializer})
    def create(self, request: Request) -> Response:
        serializer = cs.PromiseInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        promise = promises.promise_record(actor=self.actor, source="api", **serializer.validated_data)
        return Response(self.get_serializer(promise).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=cs.PromiseCancelSerializer, responses=cs.PromiseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        promise = self.get_object()
        serializer = cs.PromiseCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        promise = promises.promise_cancel(actor=self.actor, promise=promise, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(promise)).data)

    def _fresh(self, promise: PromiseToPay) -> PromiseToPay:
        return self.get_queryset().get(pk=promise.pk)


class DisputeFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    invoice = IdFilter(field_name="invoice_id")
    external_id = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=Dispute.Status.choices)
    reason = django_filters.ChoiceFilter(choices=Dispute.Reason.choices)
    owner = IdFilter(field_name="owner_id")
    opened_after = django_filters.DateFilter(field_name="opened_on", lookup_expr="gte")
    opened_before = django_filters.DateFilter(field_name="opened_on", lookup_expr="lte")


class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Disputes on invoices. PATCH moves one to review or changes its owner, target date or
    description; `resolve/` issues a credit note against the invoice; `reject/` closes it without."""

    queryset = Dispute.unscoped.none()
    serializer_class = cs.DisputeSerializer
    filterset_class = DisputeFilter
    ordering_fields = ["id", "opened_on", "target_date"]
    action_permissions = {
        "list": "collections.view",
        "retrieve": "collections.view",
        "create": "dispute.open",
        "partial_update": "dispute.open",
        "resolve": "dispute.resolve",
        "reject": "dispute.resolve",
    }

    def scoped_queryset(self) -> QuerySet[Dispute]:
        return disputes.disputes_visible_to(self.actor)

    @extend_schema(request=cs.DisputeInSerializer, responses={201: cs.DisputeSerializer})
    def create(self, request: Request) -> Response:
        serializer = cs.DisputeInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        dispute = disputes.dispute_open(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(dispute).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=cs.DisputeUpdateSerializer, responses=cs.DisputeSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        dispute = self.get_object()
        serializer = cs.DisputeUpdateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        dispute = disputes.dispute_update(actor=self.actor, dispute=dispute, **serializer.validated_data)
        return Response(self.get_serializer(dispute).data)

    @extend_schema(request=cs.DisputeResolveSerializer, responses=cs.DisputeSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        dispute = self.get_object()
        serializer = cs.DisputeResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        data["credit_note_number"] = data.get("credit_note_number") or None
        dispute = disputes.dispute_resolve(actor=self.actor, dispute=dispute, **data)
        return Response(self.get_serializer(dispute).data)

    @extend_schema(request=cs.DisputeRejectSerializer, responses=cs.DisputeSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        dispute = self.get_object()
        serializer = cs.DisputeRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispute = disputes.dispute_reject(actor=self.actor, dispute=dispute, **serializer.validated_data)
        return Response(self.get_serializer(dispute).data)
